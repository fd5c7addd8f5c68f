"""What on-call sees, from the real running service: its /metrics checked by ``promtool check
metrics``, every metric it declares actually updated, and a real Prometheus server scraping it with
the alert rules of ``deploy/prometheus/alerts.yml`` loaded.

The service runs against the session's Tansu broker and PostgreSQL with a tiny random-weight
checkpoint of the real architecture; each test has its own topics and consumer group.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import func, select

from devtools.embedded import TansuBroker
from service.app import PostguardApp, build_app
from service.kafka.producer import OutgoingPost, publish
from service.moderation.scoring import Scorer, load_scorer
from service.settings import Settings
from service.storage.database import create_engine_from_url, session_factory
from service.storage.repository import review_queue_depth
from service.storage.tables import DecisionRow
from tests.utils.prometheus import PrometheusTools, promtool, run_prometheus
from tests.utils.service import isolated_settings

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
WAIT_S = 60.0

# Posts of every kind, and messages that end on the dead-letter topic.
POSTS = 12
BAD = [b'{"post_id": "cut', json.dumps({"post_id": "no-author", "text": "x"}).encode()]
AUTHOR = "author-7f3a"


@pytest.fixture(scope="module")
def scorer(tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    from devtools.testing import build_tiny_checkpoint

    checkpoint = build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint"))
    return load_scorer(
        _settings("127.0.0.1:1", "postgresql://unused@localhost/unused", model_path=checkpoint)
    )


def _settings(bootstrap: str, database_url: str, **overrides: Any) -> Settings:
    return isolated_settings(bootstrap, database_url, **{"metrics_refresh_interval_s": 0.2, **overrides})


def _image(colour: tuple[int, int, int]) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _messages(prefix: str) -> list[OutgoingPost]:
    posts = []
    for i in range(POSTS):
        document: dict[str, Any] = {
            "post_id": f"{prefix}-{i}",
            "author_id": AUTHOR,
            "created_at": "2026-01-02T03:04:05Z",
            "text": f"secret caption {prefix} {i}",
        }
        if i == 1:  # one post in a language the classifier does not read (the [languages] rule)
            document["text"] = (
                f"secret caption {prefix} {i}: hoy fuimos a la playa con mis primos y comimos paella"
            )
        if i % 3 == 0:
            document["image"] = {"data": _image((20 * i, 80, 160))}
        posts.append(OutgoingPost(key=document["post_id"].encode(), value=json.dumps(document).encode()))
    return posts + [OutgoingPost(key=None, value=value) for value in BAD]


async def _decisions(url: str) -> int:
    engine = create_engine_from_url(url)
    try:
        async with session_factory(engine)() as session:
            return int(await session.scalar(select(func.count()).select_from(DecisionRow)) or 0)
    finally:
        await engine.dispose()


async def _review_depth(url: str) -> dict[str, int]:
    engine = create_engine_from_url(url)
    try:
        return await review_queue_depth(sessions=session_factory(engine))
    finally:
        await engine.dispose()


async def _scrape(app: PostguardApp) -> str:
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{app.metrics_port}/metrics", timeout=5)
    response.raise_for_status()
    return response.text


def _samples(text: str) -> Iterator[tuple[str, str, Sample]]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield family.name, family.type, sample


def _value(text: str, name: str, **labels: str) -> float | None:
    for _, _, sample in _samples(text):
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


async def _until(condition: Any, timeout_s: float = WAIT_S, what: str = "") -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.1)


async def test_scrape_of_the_running_service_passes_promtool_and_every_metric_is_updated(
    tansu: TansuBroker, migrated_db: str, scorer: Scorer, prometheus_tools: PrometheusTools
) -> None:
    settings = _settings(tansu.bootstrap, migrated_db)
    app = build_app(settings, scorer=scorer, registry=CollectorRegistry())
    async with app:
        messages = _messages("obs")
        await publish(settings, messages)

        async def decided() -> bool:
            return await _decisions(migrated_db) >= POSTS

        await _until(decided, what=f"{POSTS} decisions")
        expected_queue = await _review_depth(migrated_db)

        async def refreshed() -> bool:
            # The monitor has seen the committed offsets and the final review queue.
            text = await _scrape(app)
            lags = [s.value for _, _, s in _samples(text) if s.name == "postguard_consumer_lag_messages"]
            queue = {
                s.labels["status"]: s.value
                for _, _, s in _samples(text)
                if s.name == "postguard_review_queue_items"
            }
            return len(lags) == 4 and not any(lags) and queue == expected_queue

        await _until(refreshed, what="the lag to reach 0 and the review queue gauge to match the database")
        text = await _scrape(app)
        declared = {
            family.name: family.type
            for family in app.metrics.registry.collect()
            if family.name.startswith("postguard_")
        }

    # 1. promtool: no problems at all.
    checked = promtool(prometheus_tools, "check", "metrics", stdin=text)
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        f"promtool check metrics:\n{checked.stdout}{checked.stderr}"
    )

    # 2. Every postguard metric the app declares is exported with at least one series...
    suffix = {"counter": "_total", "histogram": "_count", "info": "_info", "gauge": ""}
    expected = {name + suffix[kind] for name, kind in declared.items()}
    exported = {sample.name for _, _, sample in _samples(text)}
    assert expected <= exported, f"declared but never exported: {expected - exported}"
    # ...and the running service updated it (counters and histograms moved, gauges were set).
    moved = {
        "postguard_posts_consumed_total": len(messages),
        "postguard_dead_lettered_total": len(BAD),
        "postguard_decisions_total": POSTS,
        "postguard_inference_seconds_count": 1,
        "postguard_batch_seconds_count": 1,
        "postguard_db_write_seconds_count": 1,
        "postguard_end_to_end_seconds_count": POSTS,
        "postguard_batch_size_count": 1,
    }
    for name, at_least in moved.items():
        total = sum(s.value for _, _, s in _samples(text) if s.name == name)
        assert total >= at_least, f"{name} is {total}, expected at least {at_least}"
    assert (_value(text, "postguard_last_decision_timestamp_seconds") or 0) > time.time() - 300
    assert _value(text, "postguard_model_info", version=scorer.version) == 1
    assert _value(text, "postguard_policy_info") == 1
    for label in scorer.labels:
        assert _value(text, "postguard_category_triggers_total", category=label) is not None
    assert _value(text, "postguard_other_language_posts_total", language="es") == 1
    partitions = {
        s.labels["partition"] for _, _, s in _samples(text) if s.name == "postguard_consumer_lag_messages"
    }
    assert partitions == {"0", "1", "2", "3"}
    # Database health gauges are exported at their idle value (storage retries set them: test_pipeline).
    assert _value(text, "postguard_consumer_paused") == 0
    assert _value(text, "postguard_db_write_errors_total") == 0
    # Process metrics come from the same registry.
    assert (_value(text, "process_resident_memory_bytes") or 0) > 0
    assert (_value(text, "process_cpu_seconds_total") or 0) > 0

    # 3. No post ids, author ids or text in label values.
    forbidden = [AUTHOR, "obs-", "secret caption"]
    for _, _, sample in _samples(text):
        for value in sample.labels.values():
            assert not any(word in value for word in forbidden), f"{sample.name} leaks {value!r}"


async def test_a_real_prometheus_scrapes_the_service_and_loads_the_alert_rules(
    tansu: TansuBroker, migrated_db: str, scorer: Scorer, prometheus_tools: PrometheusTools
) -> None:
    settings = _settings(tansu.bootstrap, migrated_db)
    app = build_app(settings, scorer=scorer, registry=CollectorRegistry())
    started = time.monotonic()
    async with app:
        target = f"127.0.0.1:{app.metrics_port}"
        with run_prometheus(prometheus_tools, [target], rule_files=[ALERTS]) as prometheus:
            await publish(settings, _messages("prom"))
            up = await asyncio.to_thread(prometheus.wait_for, 'up{job="postguard"} == 1', 20)
            assert up[0]["metric"]["instance"] == target
            decided = await asyncio.to_thread(prometheus.wait_for, "sum(postguard_decisions_total) > 0", 30)
            assert float(decided[0]["value"][1]) > 0
            info = await asyncio.to_thread(prometheus.query, "postguard_model_info")
            assert info[0]["metric"]["version"] == scorer.version

            async with httpx.AsyncClient() as client:
                response = await client.get(f"{prometheus.url}/api/v1/rules", timeout=5)
            groups = response.json()["data"]["groups"]
            alerts = {
                rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"
            }
            assert {
                "PostguardConsumerLagGrowing",
                "PostguardNoDecisions",
                "PostguardDeadLetterRateHigh",
            } <= alerts
            unhealthy = [
                (rule["name"], rule.get("lastError"))
                for group in groups
                for rule in group["rules"]
                if rule.get("health") == "err"
            ]
            assert not unhealthy, unhealthy
    assert time.monotonic() - started < 90
