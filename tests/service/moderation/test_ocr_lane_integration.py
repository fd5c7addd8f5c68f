"""The OCR lane against the real Tansu broker and PostgreSQL: a meme whose image is still being read
does not hold back the posts behind it, and the group's committed offset never passes it.

The reader is the test's own (it waits until released), so the meme stays "in OCR" for as long as
the test needs; scoring is the tiny real-architecture checkpoint.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from PIL import Image
from prometheus_client import CollectorRegistry
from sqlalchemy import select

from devtools.embedded import TansuBroker
from models.types import ModerationResult, PostContent
from service.app import build_app
from service.kafka.clients import DEFAULT_PARTITIONS
from service.kafka.producer import OutgoingPost, publish
from service.moderation.scoring import Scorer, load_scorer
from service.settings import Settings
from service.storage.database import create_engine_from_url, session_factory
from service.storage.tables import DecisionRow
from tests.utils.service import isolated_settings

pytestmark = pytest.mark.integration

WAIT_S = 60.0
#: Every post carries this key, so all of them land in one partition, in publish order.
KEY = b"one-partition"


@pytest.fixture(scope="module")
def tiny_scorer(tmp_path_factory: pytest.TempPathFactory) -> Scorer:
    from devtools.testing import build_tiny_checkpoint

    path = build_tiny_checkpoint(tmp_path_factory.mktemp("tiny-checkpoint"))
    return load_scorer(
        isolated_settings("127.0.0.1:1", "postgresql://unused@localhost/unused", model_path=path)
    )


class _HeldReader:
    """A scorer whose OCR (``read_image_text``, called by the lane on its own thread) waits until
    released; scoring is the real tiny model."""

    def __init__(self, inner: Scorer) -> None:
        self._inner = inner
        self.labels = inner.labels
        self.version = inner.version
        self.release = threading.Event()
        self.reading = threading.Event()

    def read_image_text(self, image: Image.Image) -> str:
        self.reading.set()
        self.release.wait(timeout=WAIT_S)
        return "words inside the picture"

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        return self._inner.score(posts)


def _settings(tansu: TansuBroker, url: str) -> Settings:
    # Gate threshold 0: every image counts as "needs OCR", so the meme goes to the lane.
    return isolated_settings(tansu.bootstrap, url, ocr_gate_threshold=0.0, batch_max_size=8)


def _image_data() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 60, 200)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def _post(post_id: str, **fields: Any) -> OutgoingPost:
    document = {"post_id": post_id, "author_id": "u-1", "created_at": "2026-01-02T03:04:05Z", **fields}
    return OutgoingPost(key=KEY, value=json.dumps(document).encode())


async def _decided(url: str) -> dict[str, int]:
    """post_id -> number of decision rows."""
    engine = create_engine_from_url(url)
    try:
        async with session_factory(engine)() as session:
            ids = (await session.scalars(select(DecisionRow.post_id))).all()
    finally:
        await engine.dispose()
    counts: dict[str, int] = {}
    for post_id in ids:
        counts[post_id] = counts.get(post_id, 0) + 1
    return counts


async def _wait_decided(url: str, expected: set[str]) -> dict[str, int]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        decided = await _decided(url)
        if expected <= set(decided):
            return decided
        await asyncio.sleep(0.1)
    raise AssertionError(f"not decided in {WAIT_S} s: {sorted(expected - set(await _decided(url)))}")


async def _committed(settings: Settings) -> dict[int, int]:
    """The group's committed position per partition of the input topic (only those it committed)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        # Partitions named explicitly: Tansu mis-encodes the "all partitions" form of OffsetFetch.
        partitions = [TopicPartition(settings.input_topic, p) for p in range(DEFAULT_PARTITIONS)]
        offsets = await admin.list_consumer_group_offsets(settings.group_id, partitions=partitions)
    finally:
        await admin.close()
    return {
        tp.partition: meta.offset
        for tp, meta in offsets.items()
        if isinstance(tp, TopicPartition) and tp.topic == settings.input_topic and meta.offset >= 0
    }


async def _committed_reaches(settings: Settings, position: int) -> set[int]:
    """The set of committed positions, once every committed partition reached ``position`` (or time ran out)."""
    deadline = time.monotonic() + WAIT_S
    positions = set((await _committed(settings)).values())
    while positions != {position} and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        positions = set((await _committed(settings)).values())
    return positions


async def test_posts_behind_a_meme_in_ocr_are_decided_and_the_commit_waits_for_it(
    tansu: TansuBroker, migrated_db: str, tiny_scorer: Scorer
) -> None:
    settings = _settings(tansu, migrated_db)
    scorer = _HeldReader(tiny_scorer)
    texts = [f"text-{i}" for i in range(6)]
    app = build_app(settings, scorer=scorer, registry=CollectorRegistry())
    async with app:
        await publish(settings, [_post("meme", text="look", image={"data": _image_data()})])
        assert await asyncio.to_thread(scorer.reading.wait, WAIT_S), "the meme never reached the OCR lane"
        await publish(settings, [_post(post_id, text=f"caption of {post_id}") for post_id in texts])

        decided = await _wait_decided(migrated_db, set(texts))
        assert "meme" not in decided  # the text posts behind it did not wait for its OCR
        committed = await _committed(settings)
        # Offset 0 (the meme) is not decided: nothing may be committed past it.
        assert all(position == 0 for position in committed.values()), committed

        scorer.release.set()
        decided = await _wait_decided(migrated_db, {"meme", *texts})
        assert await _committed_reaches(settings, 1 + len(texts)) == {1 + len(texts)}
    assert all(count == 1 for count in decided.values())


async def test_a_meme_still_in_ocr_at_shutdown_is_decided_by_the_next_member(
    tansu: TansuBroker, migrated_db: str, tiny_scorer: Scorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("service.app.GRACEFUL_TIMEOUT_S", 0.5)  # the lane's drain gives up quickly
    settings = _settings(tansu, migrated_db)
    held = _HeldReader(tiny_scorer)
    first = build_app(settings, scorer=held, registry=CollectorRegistry())
    await first.start()
    try:
        await publish(settings, [_post("meme", text="look", image={"data": _image_data()})])
        await publish(settings, [_post("text-0", text="a caption")])
        await _wait_decided(migrated_db, {"text-0"})
        assert await asyncio.to_thread(held.reading.wait, WAIT_S)
    finally:
        # The reader thread is released only after the drain gave up: the meme is not decided by
        # this member, and its offset is not committed.
        threading.Timer(2.0, held.release.set).start()
        await first.stop()
    assert "meme" not in await _decided(migrated_db)

    second = build_app(settings, scorer=tiny_scorer, registry=CollectorRegistry())
    async with second:
        decided = await _wait_decided(migrated_db, {"meme", "text-0"})
    assert decided == {"meme": 1, "text-0": 1}
