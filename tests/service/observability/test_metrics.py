"""Service metrics on their own registry, and the /metrics, /healthz, /readyz server."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from service.observability.metrics import HealthServer, ServiceMetrics, _make_handler, build_metrics


@pytest.fixture
def metrics() -> ServiceMetrics:
    return build_metrics(CollectorRegistry())


@pytest.fixture
def server(metrics: ServiceMetrics) -> Iterator[HealthServer]:
    health = HealthServer(metrics, "127.0.0.1", 0)
    health.start()
    try:
        yield health
    finally:
        health.stop()


def get(server: HealthServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{server.port}{path}", timeout=5, **kwargs)  # type: ignore[arg-type]


def test_metrics_use_their_own_registry(metrics: ServiceMetrics) -> None:
    metrics.decisions.labels(action="block").inc()
    assert metrics.registry.get_sample_value("postguard_decisions_total", {"action": "block"}) == 1.0
    assert REGISTRY.get_sample_value("postguard_decisions_total", {"action": "block"}) is None
    # Two bundles side by side do not collide.
    build_metrics(CollectorRegistry())


def test_names_follow_conventions(metrics: ServiceMetrics) -> None:
    names = {family.name for family in metrics.registry.collect()}
    ours = {name for name in names if name.startswith("postguard_")}
    assert {
        "postguard_posts_consumed",
        "postguard_decisions",
        "postguard_dead_lettered",
        "postguard_category_triggers",
        "postguard_other_language_posts",
        "postguard_inference_seconds",
        "postguard_batch_seconds",
        "postguard_db_write_seconds",
        "postguard_end_to_end_seconds",
        "postguard_batch_size",
        "postguard_db_write_errors",
        "postguard_db_retry_backoff_seconds",
        "postguard_consumer_paused",
        "postguard_ocr_lane_posts",
        "postguard_ocr_seconds",
        "postguard_ocr_lane_wait_seconds",
        "postguard_inference_thread_lent_seconds",
        "postguard_last_decision_timestamp_seconds",
        "postguard_model",
        "postguard_policy",
        "postguard_consumer_lag_messages",
        "postguard_review_queue_items",
        "postguard_metrics_refresh_errors",
    } <= ours
    # Process, platform and GC collectors share the registry (process metrics exist only where /proc does).
    assert "python_info" in names
    assert "python_gc_objects_collected" in names
    if os.path.exists("/proc/self/stat"):
        assert "process_cpu_seconds" in names


def test_all_actions_are_exported_before_the_first_decision(metrics: ServiceMetrics) -> None:
    for action in ("allow", "review", "block"):
        assert metrics.registry.get_sample_value("postguard_decisions_total", {"action": action}) == 0.0


def test_histogram_buckets(metrics: ServiceMetrics) -> None:
    metrics.inference_seconds.observe(0.003)
    metrics.end_to_end_seconds.observe(45)
    metrics.batch_size.observe(1024)
    sample = metrics.registry.get_sample_value
    assert sample("postguard_inference_seconds_bucket", {"le": "0.005"}) == 1
    assert sample("postguard_inference_seconds_bucket", {"le": "10.0"}) == 1
    assert sample("postguard_end_to_end_seconds_bucket", {"le": "30.0"}) == 0
    assert sample("postguard_end_to_end_seconds_bucket", {"le": "60.0"}) == 1
    assert sample("postguard_batch_size_bucket", {"le": "512.0"}) == 0
    assert sample("postguard_batch_size_bucket", {"le": "1024.0"}) == 1


def test_scrape_over_http(metrics: ServiceMetrics, server: HealthServer) -> None:
    metrics.posts_consumed.labels(topic="posts").inc(3)
    metrics.dead_lettered.labels(reason="invalid_json").inc()
    metrics.model_info.info({"version": "m-1", "sha256": "abc"})
    metrics.policy_info.info({"version": "2026-11-27.1"})
    metrics.consumer_paused.set(1)
    response = get(server, "/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    assert samples[("postguard_posts_consumed_total", (("topic", "posts"),))] == 3
    assert samples[("postguard_dead_lettered_total", (("reason", "invalid_json"),))] == 1
    assert samples[("postguard_model_info", (("sha256", "abc"), ("version", "m-1")))] == 1
    assert samples[("postguard_consumer_paused", ())] == 1


def test_openmetrics_is_negotiated(server: HealthServer) -> None:
    response = get(server, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.text.endswith("# EOF\n")


def test_health_and_readiness(server: HealthServer) -> None:
    assert get(server, "/healthz").json() == {"status": "ok"}
    not_ready = get(server, "/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "not ready", "reason": "starting"}

    server.set_ready(True)
    ready = get(server, "/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"

    server.set_ready(False, "database unavailable")
    again = get(server, "/readyz")
    assert again.status_code == 503
    assert again.json()["reason"] == "database unavailable"
    assert get(server, "/healthz").status_code == 200


def test_unknown_path_is_404(server: HealthServer) -> None:
    assert get(server, "/admin").status_code == 404


def test_a_client_that_hangs_up_early_is_not_an_error(
    server: HealthServer, caplog: pytest.LogCaptureFixture
) -> None:
    # A scraper that times out closes its end before the answer is written. A socket pair makes
    # that deterministic: writing to it once the peer is closed fails with EPIPE at once.
    service_end, client_end = socket.socketpair()
    client_end.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    client_end.close()
    with caplog.at_level(logging.DEBUG, logger="service.observability.metrics"):
        _make_handler(server)(service_end, ("127.0.0.1", 0), None)  # type: ignore[arg-type]
    service_end.close()
    assert any("hung up before the answer was sent" in r.getMessage() for r in caplog.records)
    assert get(server, "/healthz").status_code == 200  # and the server goes on answering


def test_port_and_lifecycle(metrics: ServiceMetrics) -> None:
    health = HealthServer(metrics, "127.0.0.1", 0)
    with pytest.raises(RuntimeError):
        _ = health.port
    with health:
        port = health.port
        assert port > 0
        assert get(health, "/healthz").status_code == 200
    health.stop()  # a second stop is harmless
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
