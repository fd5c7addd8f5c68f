"""The real service against a real Tansu broker and a real PostgreSQL (started by the fixtures),
with a tiny random-weight checkpoint of the real architecture.

Every test uses its own topics and consumer group: the broker lives for the whole session.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from PIL import Image
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from devtools.embedded import TansuBroker
from models.types import ModerationResult, PostContent
from service.app import build_app
from service.kafka.producer import OutgoingPost, publish
from service.moderation.messages import HEADER_ERROR, HEADER_SOURCE_TOPIC
from service.moderation.scoring import Scorer, load_scorer
from service.settings import Settings
from service.storage.database import create_engine_from_url, session_factory
from service.storage.tables import DecisionRow, PostRow
from tests.utils.categories import bundled_names_bundle
from tests.utils.service import isolated_settings

pytestmark = pytest.mark.integration

WAIT_S = 90.0


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from devtools.testing import build_tiny_checkpoint

    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint"))


@pytest.fixture(scope="module")
def scorer(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    # the bundled categories fit only the bundled checkpoint: the same names on the tiny one's tower
    categories = bundled_names_bundle(tiny_checkpoint, tmp_path_factory.mktemp("categories"))
    return load_scorer(
        _settings(
            "127.0.0.1:1",
            "postgresql://unused@localhost/unused",
            model_path=tiny_checkpoint,
            categories_path=categories,
        )
    )


def _settings(bootstrap: str, database_url: str, **overrides: Any) -> Settings:
    return isolated_settings(bootstrap, database_url, **{"batch_max_size": 16, **overrides})


def _image(colour: tuple[int, int, int], fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def _post(post_id: str, **fields: Any) -> OutgoingPost:
    document = {"post_id": post_id, "author_id": "u-1", "created_at": "2026-01-02T03:04:05Z", **fields}
    return OutgoingPost(key=post_id.encode(), value=json.dumps(document).encode())


BAD_MESSAGES: list[tuple[bytes, str]] = [
    (b'{"post_id": "cut', "invalid_json"),
    (
        json.dumps({"post_id": "no-author", "text": "x", "created_at": "2026-01-02T03:04:05Z"}).encode(),
        "schema_violation",
    ),
    (
        json.dumps(
            {
                "post_id": "b64",
                "author_id": "u",
                "created_at": "2026-01-02T03:04:05Z",
                "image": {"data": "%%%"},
            }
        ).encode(),
        "image_base64_invalid",
    ),
    (
        json.dumps(
            {
                "post_id": "bmp",
                "author_id": "u",
                "created_at": "2026-01-02T03:04:05Z",
                "image": {"data": _image((1, 2, 3), "BMP")},
            }
        ).encode(),
        "image_unsupported_format",
    ),
]


async def _read_topic(
    settings: Settings, topic: str, expected: int, timeout_s: float = 30.0
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` from the beginning, waiting until at least ``expected`` arrived."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=settings.max_message_bytes,
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"topic {topic} does not exist"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[ConsumerRecord[Any, Any]] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                records.extend(batch)
            if len(records) >= expected:
                # One more short poll: anything beyond ``expected`` would be a duplicate to report.
                for batch in (await consumer.getmany(timeout_ms=300)).values():
                    records.extend(batch)
                break
        return records
    finally:
        await consumer.stop()


async def _decision_counts(url: str) -> tuple[int, int]:
    """(decision rows, distinct posts with a decision)."""
    engine = create_engine_from_url(url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalar(select(func.count()).select_from(DecisionRow))
            posts = await session.scalar(select(func.count(func.distinct(DecisionRow.post_id))))
            return int(rows or 0), int(posts or 0)
    finally:
        await engine.dispose()


async def _wait_for_decisions(url: str, expected: int, timeout_s: float = WAIT_S) -> int:
    deadline = time.monotonic() + timeout_s
    rows = 0
    while time.monotonic() < deadline:
        rows, _ = await _decision_counts(url)
        if rows >= expected:
            return rows
        await asyncio.sleep(0.2)
    return rows


async def test_posts_of_every_kind_are_decided_or_dead_lettered(
    tansu: TansuBroker, migrated_db: str, scorer: Scorer
) -> None:
    n = 4
    settings = _settings(tansu.bootstrap, migrated_db)
    posts = (
        [_post(f"text-{i}", text=f"sample caption number {i}") for i in range(n)]
        + [_post(f"image-{i}", image={"data": _image((40 * i, 90, 200))}) for i in range(n)]
        + [
            _post(f"both-{i}", text=f"look {i}", image={"data": _image((200, 40 * i, 20), "JPEG")})
            for i in range(n)
        ]
        + [OutgoingPost(key=None, value=value) for value, _ in BAD_MESSAGES]
    )
    app = build_app(settings, scorer=scorer, registry=CollectorRegistry())
    async with app:
        await publish(settings, posts)
        rows = await _wait_for_decisions(migrated_db, 3 * n)
        decisions = await _read_topic(settings, settings.output_topic, 3 * n)
        dead = await _read_topic(settings, settings.dlq_topic, len(BAD_MESSAGES))

    assert rows == 3 * n
    assert await _decision_counts(migrated_db) == (3 * n, 3 * n)
    assert len(decisions) == 3 * n
    keys = sorted(r.key.decode() for r in decisions)
    assert keys == sorted(f"{kind}-{i}" for kind in ("text", "image", "both") for i in range(n))
    for record in decisions:
        payload = json.loads(record.value)
        assert payload["post_id"] == record.key.decode()
        assert payload["action"] in ("allow", "review", "block")
        assert payload["model_version"] == scorer.version
        # example-defined categories (the bundled names) are scored, stored and published like the checkpoint's
        assert set(payload["scores"]) == {
            "hate",
            "offensive",
            "toxic",
            "self_harm",
            "sexual",
            "spam",
            "violence",
        }
        assert payload["attribution"]["spam"]["image_pixels"] == 0.0
    assert "+categories-" in scorer.version
    assert len(dead) == len(BAD_MESSAGES)
    headers = [dict(r.headers) for r in dead]
    assert sorted(h[HEADER_ERROR].decode() for h in headers) == sorted(code for _, code in BAD_MESSAGES)
    assert {h[HEADER_SOURCE_TOPIC].decode() for h in headers} == {settings.input_topic}
    assert sorted(r.value for r in dead) == sorted(value for value, _ in BAD_MESSAGES)


class _SlowScorer:
    """The real scorer, slowed down so a restart lands in the middle of the stream."""

    def __init__(self, inner: Scorer, delay_s: float) -> None:
        self._inner = inner
        self._delay_s = delay_s
        self.labels = inner.labels
        self.version = inner.version

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        time.sleep(self._delay_s)
        return self._inner.score(posts)


async def test_restart_mid_stream_decides_every_post_exactly_once(
    tansu: TansuBroker, migrated_db: str, scorer: Scorer
) -> None:
    total = 60
    settings = _settings(tansu.bootstrap, migrated_db, batch_max_size=4)
    slow = _SlowScorer(scorer, delay_s=0.15)
    await _start_and_publish_then_stop_midway(settings, slow, total, migrated_db)

    # A second member of the same group takes over from the committed offsets.
    second = build_app(settings, scorer=scorer, registry=CollectorRegistry())
    async with second:
        rows = await _wait_for_decisions(migrated_db, total)
        decisions = await _read_topic(settings, settings.output_topic, total)

    assert rows == total
    assert await _decision_counts(migrated_db) == (total, total)  # none missing, none twice
    assert {r.key.decode() for r in decisions} == {f"p-{i:03d}" for i in range(total)}
    engine = create_engine_from_url(migrated_db)
    try:
        async with session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(PostRow)) == total
    finally:
        await engine.dispose()


class _BrokenUntilMended:
    """The real scorer, failing on every post (as a model out of memory would) until mended."""

    def __init__(self, inner: Scorer) -> None:
        self._inner = inner
        self.labels = inner.labels
        self.version = inner.version
        self.mended = False

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        if not self.mended:
            raise MemoryError("out of memory (injected)")
        return self._inner.score(posts)


async def test_a_broken_model_holds_every_post_until_it_works_again(
    tansu: TansuBroker, migrated_db: str, scorer: Scorer
) -> None:
    total = 6
    settings = _settings(tansu.bootstrap, migrated_db)
    broken = _BrokenUntilMended(scorer)
    registry = CollectorRegistry()
    posts = [_post(f"text-{i}", text=f"caption {i}") for i in range(total // 2)] + [
        _post(f"image-{i}", image={"data": _image((60 * i, 90, 200))}) for i in range(total // 2)
    ]
    app = build_app(settings, scorer=broken, registry=registry)
    async with app:
        await publish(settings, posts)
        deadline = time.monotonic() + WAIT_S
        held = 0.0
        while time.monotonic() < deadline and held < 3:
            held = registry.get_sample_value("postguard_model_unavailable_total") or 0.0
            await asyncio.sleep(0.1)
        assert held >= 3, "the batch was not held back and retried"
        assert await _decision_counts(migrated_db) == (0, 0)

        broken.mended = True
        rows = await _wait_for_decisions(migrated_db, total)
    assert rows == total and await _decision_counts(migrated_db) == (total, total)
    assert await _read_topic(settings, settings.dlq_topic, 0, timeout_s=1.0) == []  # nothing dead-lettered


async def _start_and_publish_then_stop_midway(
    settings: Settings, scorer: Scorer, total: int, url: str
) -> None:
    first = build_app(settings, scorer=scorer, registry=CollectorRegistry())
    await first.start()
    try:
        await publish(settings, [_post(f"p-{i:03d}", text=f"post {i}") for i in range(total)])
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            rows, _ = await _decision_counts(url)
            if rows >= 8:
                break
            await asyncio.sleep(0.05)
    finally:
        await first.stop()
    rows, _ = await _decision_counts(url)
    assert 0 < rows < total, f"the restart did not land mid-stream ({rows} of {total} decided)"
