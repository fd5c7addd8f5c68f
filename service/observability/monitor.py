"""Gauges that no batch updates: consumer lag and review queue depth, re-read on a timer.

:class:`Monitor` runs one background task in the service's event loop. Every
``POSTGUARD_METRICS_REFRESH_INTERVAL_S`` it asks Kafka for the consumer group's lag on each input
partition (log-end offset minus committed offset) and PostgreSQL for the review items per status.
Every call is asynchronous and bounded by a timeout, so a slow broker or database delays only
the next refresh, never the consumer. A failed refresh keeps the previous values, counts
``postguard_metrics_refresh_errors_total{source}`` and is logged once per streak of failures:
these gauges are for people and alerts, and must never take the service down.

Every replica reports the lag of the whole group (not only its own partitions), so the lag stays
visible while partitions are being reassigned; dashboards aggregate with ``max by (partition)``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Protocol

from service.background import BackgroundTask
from service.observability.metrics import ServiceMetrics

logger = logging.getLogger(__name__)

#: Longest a single refresh may take before it counts as failed.
REFRESH_TIMEOUT_S = 10.0
#: Longest a stop waits for the lag clients' start in flight to end, so it can close them cleanly.
START_GRACE_S = 5.0


class LagSource(Protocol):
    """Reads the consumer group's lag per partition of one topic."""

    async def lag(self) -> dict[int, int]: ...

    async def close(self) -> None: ...


ReviewCounter = Callable[[], Awaitable[Mapping[str, int]]]


class Monitor:
    """Refreshes the lag and review-queue gauges every ``interval_s`` in a background task."""

    def __init__(
        self,
        *,
        metrics: ServiceMetrics,
        topic: str,
        lag_source: LagSource,
        review_counts: ReviewCounter,
        interval_s: float,
        timeout_s: float = REFRESH_TIMEOUT_S,
        on_broker: Callable[[bool, str], None] | None = None,
    ) -> None:
        """``on_broker(reachable, reason)``: told after every lag refresh whether the broker
        answered (the service's ``/readyz`` follows it)."""
        self._metrics = metrics
        self._on_broker = on_broker
        self._topic = topic
        self._lag_source = lag_source
        self._review_counts = review_counts
        self._interval_s = interval_s
        self._timeout_s = min(timeout_s, max(interval_s, 1.0))
        self._loop = BackgroundTask("postguard-monitor", self._run)
        self._failing: set[str] = set()

    def start(self) -> None:
        """Start refreshing (the first refresh runs at once)."""
        self._loop.start()

    async def stop(self) -> None:
        """Stop refreshing and close the Kafka clients. Safe to call twice."""
        await self._loop.stop()
        await self._lag_source.close()

    async def refresh(self) -> None:
        """One refresh of both sources (what the task does every interval)."""
        await asyncio.gather(
            self._guarded("consumer_lag", self._refresh_lag),
            self._guarded("review_queue", self._refresh_review_queue),
        )

    async def _run(self) -> None:
        while True:
            await self.refresh()
            await asyncio.sleep(self._interval_s)

    async def _refresh_lag(self) -> None:
        lag = await self._lag_source.lag()
        for partition, value in lag.items():
            self._metrics.consumer_lag.labels(topic=self._topic, partition=str(partition)).set(value)

    async def _refresh_review_queue(self) -> None:
        counts = await self._review_counts()
        for status, value in counts.items():
            self._metrics.review_queue_items.labels(status=status).set(value)

    async def _guarded(self, source: str, refresh: Callable[[], Awaitable[None]]) -> None:
        try:
            await asyncio.wait_for(refresh(), self._timeout_s)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an observability refresh must not stop the service
            self._metrics.refresh_errors.labels(source=source).inc()
            if source == "consumer_lag" and self._on_broker is not None:
                self._on_broker(False, f"the Kafka broker did not answer ({type(exc).__name__}: {exc})"[:300])
            if source not in self._failing:
                self._failing.add(source)
                logger.warning(
                    "refreshing %s failed (%s: %s); keeping the last values and retrying every %.0f s",
                    source,
                    type(exc).__name__,
                    exc,
                    self._interval_s,
                )
            return
        if source == "consumer_lag" and self._on_broker is not None:
            self._on_broker(True, "")
        if source in self._failing:
            self._failing.discard(source)
            logger.info("refreshing %s works again", source)
