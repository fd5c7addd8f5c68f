"""The periodically refreshed gauges: consumer lag and review queue depth, from fake sources."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry

from service.observability.metrics import ServiceMetrics, build_metrics
from service.observability.monitor import Monitor


class _FakeLag:
    def __init__(self, values: dict[int, int] | Exception) -> None:
        self.values = values
        self.closed = 0

    async def lag(self) -> dict[int, int]:
        if isinstance(self.values, Exception):
            raise self.values
        return dict(self.values)

    async def close(self) -> None:
        self.closed += 1


def _monitor(metrics: ServiceMetrics, lag: _FakeLag, counts: Mapping[str, int] | Exception) -> Monitor:
    async def review_counts() -> Mapping[str, int]:
        if isinstance(counts, Exception):
            raise counts
        return counts

    return Monitor(
        metrics=metrics, topic="posts", lag_source=lag, review_counts=review_counts, interval_s=0.01
    )


async def test_refresh_sets_the_gauges() -> None:
    metrics = build_metrics(CollectorRegistry())
    monitor = _monitor(metrics, _FakeLag({0: 5, 1: 0}), {"open": 3, "claimed": 1})
    await monitor.refresh()
    sample = metrics.registry.get_sample_value
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}) == 5
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "1"}) == 0
    assert sample("postguard_review_queue_items", {"status": "open"}) == 3
    assert sample("postguard_review_queue_items", {"status": "claimed"}) == 1
    assert sample("postguard_metrics_refresh_errors_total", {"source": "consumer_lag"}) == 0


async def test_a_failing_source_keeps_the_last_values_counts_and_logs_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = build_metrics(CollectorRegistry())
    lag = _FakeLag({0: 7})
    monitor = _monitor(metrics, lag, {"open": 2})
    await monitor.refresh()
    lag.values = ConnectionError("broker down")
    with caplog.at_level(logging.WARNING, logger="service.observability.monitor"):
        await monitor.refresh()
        await monitor.refresh()
    sample = metrics.registry.get_sample_value
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}) == 7
    assert sample("postguard_metrics_refresh_errors_total", {"source": "consumer_lag"}) == 2
    assert sample("postguard_metrics_refresh_errors_total", {"source": "review_queue"}) == 0
    assert sample("postguard_review_queue_items", {"status": "open"}) == 2  # the other source still works
    warnings = [r for r in caplog.records if "refreshing consumer_lag failed" in r.getMessage()]
    assert len(warnings) == 1
    assert "broker down" in warnings[0].getMessage()

    lag.values = {0: 1}
    with caplog.at_level(logging.INFO, logger="service.observability.monitor"):
        await monitor.refresh()
    assert sample("postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}) == 1
    assert any("works again" in r.getMessage() for r in caplog.records)


async def test_the_broker_check_follows_every_lag_refresh_and_only_it() -> None:
    """What ``/readyz`` follows: the broker is reachable while the lag refresh works."""
    told: list[tuple[bool, str]] = []
    lag = _FakeLag({0: 1})
    monitor = Monitor(
        metrics=build_metrics(CollectorRegistry()),
        topic="posts",
        lag_source=lag,
        review_counts=_failing_review_counts,
        interval_s=0.01,
        on_broker=lambda reachable, reason: told.append((reachable, reason)),
    )
    await monitor.refresh()  # the database failing says nothing about the broker
    lag.values = ConnectionError("broker down")
    await monitor.refresh()
    lag.values = {0: 0}
    await monitor.refresh()
    assert [reachable for reachable, _ in told] == [True, False, True]
    assert "ConnectionError: broker down" in told[1][1]


async def _failing_review_counts() -> Mapping[str, int]:
    raise OSError("database down")


async def test_a_hanging_source_times_out() -> None:
    metrics = build_metrics(CollectorRegistry())

    async def hang() -> Mapping[str, int]:
        await asyncio.sleep(60)
        return {}

    monitor = Monitor(
        metrics=metrics,
        topic="posts",
        lag_source=_FakeLag({}),
        review_counts=hang,
        interval_s=0.05,
        timeout_s=0.05,
    )
    await asyncio.wait_for(monitor.refresh(), 5)
    assert (
        metrics.registry.get_sample_value(
            "postguard_metrics_refresh_errors_total", {"source": "review_queue"}
        )
        == 1
    )


async def test_the_task_refreshes_until_stopped() -> None:
    metrics = build_metrics(CollectorRegistry())
    lag = _FakeLag({0: 1})
    monitor = _monitor(metrics, lag, {"open": 0})
    monitor.start()
    for _ in range(200):
        if metrics.registry.get_sample_value("postguard_review_queue_items", {"status": "open"}) == 0:
            break
        await asyncio.sleep(0.01)
    lag.values = {0: 4}
    await asyncio.sleep(0.1)
    await monitor.stop()
    await monitor.stop()  # harmless
    assert (
        metrics.registry.get_sample_value(
            "postguard_consumer_lag_messages", {"topic": "posts", "partition": "0"}
        )
        == 4
    )
    assert lag.closed == 2
