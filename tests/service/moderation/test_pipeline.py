"""Unit tests of the batch pipeline on FastStream's in-memory test broker.

No Kafka, no PostgreSQL, no model: a deterministic fake scorer (scores from text hashes) and an
in-memory decision store stand in for them. The real parser, image loader and policy are used.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import TopicPartition
from faststream.kafka import KafkaBroker, TestKafkaBroker
from faststream.kafka.annotations import KafkaMessage
from PIL import Image
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import DBAPIError, OperationalError

from models.encoder_cache import image_key, text_key
from models.errors import InputError
from models.ocr import OcrEngine
from models.text_gate import TextGate
from models.types import ModerationResult, PostContent
from service.errors import ModelUnavailable
from service.kafka.clients import build_broker
from service.kafka.consumer import BatchRetry, handle_batch, subscribe
from service.kafka.offsets import OffsetTracker
from service.kafka.publishers import BrokerPublisher
from service.moderation.contract import Decision
from service.moderation.images import ImageLimits, ImageLoader
from service.moderation.messages import (
    HEADER_ERROR,
    HEADER_ORIGINAL_BYTES,
    HEADER_REASON,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
)
from service.moderation.model_guard import KNOWN_GOOD_TEXT
from service.moderation.pipeline import BatchOutcome, OcrLaneOptions, Pipeline
from service.moderation.policy import load_policy
from service.observability.metrics import ServiceMetrics, build_metrics
from service.records import OutgoingMessage, RawRecord, SourceRef
from service.settings import Settings, load_settings
from service.storage.repository import DecisionRecord, StoredDecision
from service.storage.retry import StoreRetry
from tests.utils.ocr_lane import BlockingReader, until

LABELS = ("hate", "offensive", "toxic")
#: Every category the default policy moderates: the checkpoint's and the bundled example-defined ones
#: (the fake scores the latter 0, so the decisions below turn on the first three only).
POLICY_LABELS = tuple(load_policy().categories)


class FakeScorer:
    """Deterministic scores from a hash of the caption; raises on posts whose text says so."""

    labels = POLICY_LABELS
    version = "fake-1"

    def __init__(self) -> None:
        self.calls: list[int] = []
        self.seen: list[PostContent] = []
        self.broken = False  # True: fails on every post, as a model out of memory would
        self.flaky = 0  # fails this many more calls holding a "FLAKY" post, then works
        self.nan = False  # True: every score NaN, as a model with corrupt weights would give

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        self.calls.append(len(posts))
        self.seen.extend(posts)
        if self.broken:
            raise MemoryError("the fake model ran out of memory")
        if any(p.text and "EXPLODE" in p.text for p in posts):
            raise RuntimeError("the fake model cannot score this post")
        if any(p.text and "UNSCORABLE" in p.text for p in posts):
            raise InputError("the fake model refuses this input")
        if self.flaky and any(p.text and "FLAKY" in p.text for p in posts):
            self.flaky -= 1
            raise TimeoutError("the fake model timed out once")
        results = [self._one(p) for p in posts]
        for post, result in zip(posts, results, strict=True):
            if self.nan or (post.text and "NAN" in post.text):
                result.scores["toxic"] = float("nan")
        return results

    def _one(self, post: PostContent) -> ModerationResult:
        seed = (post.text or "") + ("|image" if post.image is not None else "")
        scores = {label: hashlib.sha256(f"{label}:{seed}".encode()).digest()[0] / 255 for label in LABELS}
        scores |= {label: 0.0 for label in POLICY_LABELS if label not in LABELS}
        if post.text and "hateful" in post.text:
            scores["hate"] = 0.995  # above the default policy's hate block threshold (0.98)
        present = tuple(
            name for name, ok in (("caption", post.text), ("image_pixels", post.image is not None)) if ok
        )
        share = {
            m: (1 / len(present) if m in present else 0.0) for m in ("caption", "image_pixels", "image_text")
        }
        return ModerationResult(
            scores=scores,
            attribution={label: dict(share) for label in POLICY_LABELS},
            ocr_text=None,
            modalities_present=present,
        )


@dataclass
class FakeStore:
    """record_decisions in memory: first decision per (post, model version) wins."""

    failures_before_success: int = 0
    reject_post_ids: frozenset[str] = frozenset()
    rows: dict[tuple[str, str], StoredDecision] = field(default_factory=dict)
    calls: int = 0

    async def __call__(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        self.calls += 1
        if self.failures_before_success > 0:
            self.failures_before_success -= 1
            raise OperationalError("INSERT ...", {}, ConnectionRefusedError("database is down"))
        if any(r.post_id in self.reject_post_ids for r in records):
            raise DBAPIError("INSERT ...", {}, _SqlStateError("22021"))
        result = []
        for record in records:
            key = (record.post_id, record.model_version)
            existing = self.rows.get(key)
            if existing is None:
                existing = StoredDecision(
                    post_id=record.post_id,
                    decision_id=len(self.rows) + 1,
                    action=record.action,
                    scores=record.scores,
                    triggered=record.triggered,
                    attribution=record.attribution,
                    model_version=record.model_version,
                    policy_version=record.policy_version,
                    decided_at=record.decided_at,
                    created=True,
                )
                self.rows[key] = existing
                result.append(existing)
            else:
                result.append(_replace_created(existing))
        return result


def _replace_created(stored: StoredDecision) -> StoredDecision:
    return replace(stored, created=False)


class _SqlStateError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(f"invalid byte sequence (SQLSTATE {sqlstate})")
        self.sqlstate = sqlstate


async def _no_sleep(_: float) -> None:
    return None


@dataclass
class Harness:
    broker: KafkaBroker
    settings: Settings
    scorer: FakeScorer
    store: FakeStore
    metrics: ServiceMetrics
    pipeline: Pipeline
    decisions: list[tuple[bytes | None, dict[str, Any]]] = field(default_factory=list)
    dead: list[tuple[bytes, bytes | None, dict[str, str]]] = field(default_factory=list)


def _settings() -> Settings:
    return load_settings(
        kafka_bootstrap="127.0.0.1:9092",
        database_url="postgresql://postguard@127.0.0.1:5432/postguard",
        input_topic="posts",
        output_topic="decisions",
        dlq_topic="posts.dlq",
    )


@pytest.fixture
def make_harness() -> Iterator[Callable[..., Harness]]:
    """Builds harnesses and releases their inference threads afterwards."""
    built: list[Harness] = []

    def make(store: FakeStore | None = None) -> Harness:
        harness = _harness(store)
        built.append(harness)
        return harness

    yield make
    for harness in built:
        harness.pipeline.close()


def _harness(store: FakeStore | None = None) -> Harness:
    settings = _settings()
    broker = build_broker(settings)
    metrics = build_metrics(CollectorRegistry())
    scorer = FakeScorer()
    store = store or FakeStore()
    pipeline = Pipeline(
        scorer=scorer,
        policy=load_policy(),
        image_loader=ImageLoader(ImageLimits.from_settings(settings)),
        store=store,
        publisher=BrokerPublisher(broker),
        metrics=metrics,
        output_topic=settings.output_topic,
        dlq_topic=settings.dlq_topic,
        store_retry=StoreRetry(metrics=metrics, _sleep=_no_sleep),
        single_post_retry_s=(0.0, 0.0),
    )
    subscribe(broker, settings, pipeline)
    harness = Harness(broker, settings, scorer, store, metrics, pipeline)

    @broker.subscriber(settings.output_topic)
    async def on_decision(message: KafkaMessage) -> None:
        record = message.raw_message
        harness.decisions.append((record.key, json.loads(record.value)))  # type: ignore[union-attr]

    @broker.subscriber(settings.dlq_topic)
    async def on_dead_letter(message: KafkaMessage) -> None:
        record = message.raw_message
        harness.dead.append((record.value, record.key, dict(message.headers)))  # type: ignore[union-attr]

    return harness


def _post(post_id: str, **fields: Any) -> bytes:
    document = {"post_id": post_id, "author_id": "u-1", "created_at": "2026-01-02T03:04:05Z", **fields}
    return json.dumps(document).encode()


def _image(fmt: str = "PNG", colour: tuple[int, int, int] = (200, 30, 30)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (48, 32), colour).save(buffer, format=fmt)
    return base64.b64encode(buffer.getvalue()).decode()


def _record(value: bytes, offset: int) -> RawRecord:
    """A consumed record of partition 0 of the input topic."""
    return RawRecord(value=value, key=None, topic="posts", partition=0, offset=offset, timestamp_ms=None)


def _counted(calls: list[int]) -> bool:
    """A stand-in for release_free_memory that counts its calls (and says memory was released)."""
    calls.append(1)
    return True


def _value(metric: Any, **labels: str) -> float:
    return float((metric.labels(**labels) if labels else metric)._value.get())


async def test_valid_posts_are_decided_and_published(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    messages = [
        _post("p-text", text="what a lovely morning"),
        _post("p-image", image={"data": _image()}),
        _post("p-both", text="look at this", image={"data": _image(colour=(0, 0, 255))}),
        _post("p-hate", text="a hateful caption"),
    ]
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(*messages, topic=h.settings.input_topic)

    assert h.dead == []
    assert h.scorer.calls == [2, 2]  # one model call for the text-only posts, one for the image posts
    # text-only posts are published first (they do not wait for the image posts)
    assert [key for key, _ in h.decisions] == [b"p-text", b"p-hate", b"p-image", b"p-both"]
    for _, payload in h.decisions:
        decision = Decision.model_validate(payload)
        assert set(decision.scores) == set(POLICY_LABELS)
        assert decision.model_version == "fake-1"
        assert decision.policy_version == load_policy().version
    by_id = {payload["post_id"]: payload for _, payload in h.decisions}
    assert by_id["p-hate"]["action"] == "block"
    assert {"kind": "category", "name": "hate"}.items() <= by_id["p-hate"]["triggered"][0].items()
    stored = {post_id for post_id, _ in h.store.rows}
    assert stored == {"p-text", "p-image", "p-both", "p-hate"}
    assert _value(h.metrics.posts_consumed, topic="posts") == 4
    hate_triggers = sum(
        1
        for _, p in h.decisions
        for rule in p["triggered"]
        if rule["kind"] == "category" and rule["name"] == "hate"
    )
    assert _value(h.metrics.category_triggers, category="hate") == hate_triggers >= 1
    assert h.metrics.last_decision_timestamp_seconds._value.get() > 0


async def test_a_post_in_another_language_is_reviewed_named_and_counted(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    spanish = "Los inmigrantes son basura y deberían volver a su país"
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(_post("p-es", text=spanish), topic=h.settings.input_topic)
    ((_, payload),) = h.decisions
    decision = Decision.model_validate(payload)
    language = [rule for rule in decision.triggered if rule.kind == "language"]
    assert [(r.name, r.action) for r in language] == [("es", "review")]
    # The fake scores may reach a threshold too; the language rule only ever raises allow to review.
    assert decision.action == "review" or any(r.kind == "category" for r in decision.triggered)
    assert _value(h.metrics.other_language_posts, language="es") == 1


async def test_decision_record_carries_source_hashes_and_no_image_bytes(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    seen: list[DecisionRecord] = []
    original = h.store.__call__

    async def spy(records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        seen.extend(records)
        return await original(records)

    h.pipeline._store = spy
    record = RawRecord(
        value=_post("p-1", text="hello", image={"data": _image()}, lang="en", metadata={"k": 1}),
        key=b"p-1",
        topic="posts",
        partition=3,
        offset=17,
        timestamp_ms=1_700_000_000_000,
    )
    async with TestKafkaBroker(h.broker):
        outcome = await h.pipeline.process([record])
    assert [d.post_id for d in outcome.decisions] == ["p-1"]
    (stored,) = seen
    assert isinstance(stored.source, SourceRef)
    assert stored.source.partition == 3 and stored.source.offset == 17
    assert stored.text_sha256 == hashlib.sha256(b"hello").hexdigest()
    assert stored.image_sha256 is not None and stored.image_thumbnail_jpeg is not None
    assert stored.lang == "en" and stored.metadata == {"k": 1}
    assert stored.created_at == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b'{"post_id": "p-1", "author_id": ', "invalid_json"),
        (b"\xff\xfe not utf-8", "invalid_encoding"),
        (_post("p-2", text="x", unknown_field=1), "schema_violation"),
        (
            json.dumps(
                {"post_id": "p-3", "text": "no author", "created_at": "2026-01-02T03:04:05Z"}
            ).encode(),
            "schema_violation",
        ),
        (_post("p-4", image={"data": "@@@ not base64 @@@"}), "image_base64_invalid"),
        (_post("p-5", image={"data": _image("BMP")}), "image_unsupported_format"),
        (
            _post("p-6", image={"data": base64.b64encode(b"\x89PNG\r\n\x1a\n truncated").decode()}),
            "image_corrupt",
        ),
        (_post("p-7", text="   "), "empty_post"),
    ],
)
async def test_bad_messages_go_to_the_dlq_with_headers(
    value: bytes, code: str, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish(value, h.settings.input_topic, key=b"the-key")

    assert h.decisions == []
    ((dead_value, dead_key, headers),) = h.dead
    assert dead_value == value  # the original bytes, untouched
    assert dead_key == b"the-key"
    assert headers[HEADER_ERROR] == code
    assert headers[HEADER_REASON]
    assert headers[HEADER_SOURCE_TOPIC] == "posts"
    assert headers[HEADER_SOURCE_PARTITION] == "0"
    assert headers[HEADER_SOURCE_OFFSET] == "0"
    assert _value(h.metrics.dead_lettered, reason=code) == 1
    assert h.store.rows == {}


async def test_mixed_batch_decides_good_and_dead_letters_bad(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("good-1", text="fine"),
            b"not json",
            _post("good-2", image={"data": _image()}),
            topic=h.settings.input_topic,
        )
    assert sorted(payload["post_id"] for _, payload in h.decisions) == ["good-1", "good-2"]
    assert [headers[HEADER_ERROR] for _, _, headers in h.dead] == ["invalid_json"]


async def test_model_error_dead_letters_only_the_culprit(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("ok-1", text="fine"),
            _post("bad", text="EXPLODE please"),
            _post("ok-2", text="also fine"),
            topic=h.settings.input_topic,
        )
    # the batch, then one by one; "bad" fails three times (a first failure may be transient), then
    # a known-good post shows the model works
    assert h.scorer.calls == [3, 1, 1, 1, 1, 1, 1]
    assert [p.text for p in h.scorer.seen[4:8]] == ["EXPLODE please"] * 3 + [f"{KNOWN_GOOD_TEXT} (check 1)"]
    assert sorted(payload["post_id"] for _, payload in h.decisions) == ["ok-1", "ok-2"]
    ((value, _, headers),) = h.dead
    assert json.loads(value)["post_id"] == "bad"
    assert headers[HEADER_ERROR] == "model_error"
    assert _value(h.metrics.model_unavailable) == 0


async def test_a_post_that_fails_once_is_tried_again_not_dead_lettered(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.scorer.flaky = 2  # the batch call, then the post's first call alone
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("ok-1", text="fine"), _post("p", text="FLAKY once"), topic=h.settings.input_topic
        )
    assert sorted(payload["post_id"] for _, payload in h.decisions) == ["ok-1", "p"]
    assert h.dead == []
    assert _value(h.metrics.single_post_retries) == 1


async def test_a_score_outside_0_1_is_never_stored(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("ok-1", text="fine"), _post("p", text="NAN please"), topic=h.settings.input_topic
        )
    assert [payload["post_id"] for _, payload in h.decisions] == ["ok-1"]
    ((value, _, headers),) = h.dead
    assert json.loads(value)["post_id"] == "p" and headers[HEADER_ERROR] == "model_error"
    assert "scores must lie in [0, 1]" in headers[HEADER_REASON]
    assert [key for key, _ in h.store.rows] == ["ok-1"]


async def test_a_model_giving_nan_for_everything_holds_the_posts(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.scorer.nan = True
    async with TestKafkaBroker(h.broker) as br:
        with pytest.raises(ModelUnavailable):
            await h.pipeline.process(
                [
                    RawRecord(
                        value=_post("p", text="hello"),
                        key=b"p",
                        topic="posts",
                        partition=0,
                        offset=0,
                        timestamp_ms=None,
                    )
                ]
            )
    assert h.store.rows == {} and h.dead == []
    del br


async def test_an_input_the_model_refuses_is_dead_lettered_without_a_probe(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("ok-1", text="fine"), _post("bad", text="UNSCORABLE"), topic=h.settings.input_topic
        )
    assert h.scorer.calls == [2, 1, 1]  # an InputError names the post: no known-good probe
    ((value, _, headers),) = h.dead
    assert json.loads(value)["post_id"] == "bad" and headers[HEADER_ERROR] == "invalid_input"


async def test_a_broken_model_holds_the_posts_instead_of_dead_lettering_them(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.scorer.broken = True
    records = [
        _record(_post("p-1", text="hello"), 0),
        _record(_post("p-2", text="look", image={"data": _image()}), 1),
    ]
    async with TestKafkaBroker(h.broker):
        with pytest.raises(ModelUnavailable, match="known-good post too"):
            await h.pipeline.process(records)
        # The text post failed first: probed with a known-good text, which failed too.
        assert h.scorer.seen[-1].text == f"{KNOWN_GOOD_TEXT} (check 1)" and h.scorer.seen[-1].image is None
        assert h.dead == [] and h.decisions == [] and h.store.calls == 0
        assert _value(h.metrics.model_unavailable) == 1

        h.scorer.broken = False  # the model recovers: the same posts are decided
        outcome = await h.pipeline.process(records)
    assert sorted(d.post_id for d in outcome.decisions) == ["p-1", "p-2"] and h.dead == []


async def test_an_image_post_is_probed_with_a_known_good_image(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    h.scorer.broken = True
    async with TestKafkaBroker(h.broker):
        with pytest.raises(ModelUnavailable):
            await h.pipeline.process([_record(_post("p-1", image={"data": _image()}), 0)])
    probe = h.scorer.seen[-1]
    assert probe.text == f"{KNOWN_GOOD_TEXT} (check 1)" and probe.image is not None and probe.ocr_text is None
    # The post's image text was not read yet (the model would read it): the probe holds text, so
    # that a broken OCR engine fails the probe as well. The real gate and OCR take it as text.
    assert TextGate().likely_has_text(probe.image)
    assert OcrEngine(detection_max_side=640, threads=1).read(probe.image).lower().startswith("lovely weather")


async def test_a_probe_for_a_post_whose_text_was_read_needs_no_text(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.scorer.broken = True
    candidate_with_text = PostContent(text="look", image=Image.new("RGB", (8, 8)), ocr_text="read already")
    assert await h.pipeline._model.model_is_broken(RuntimeError("boom"), candidate_with_text)
    probe = h.scorer.seen[-1]
    assert probe.image is not None and probe.image.crop((0, 1, 64, 64)).getextrema() == ((128, 128),) * 3
    assert [probe.image.getpixel((x, 0)) for x in range(3)] == [(1, 1, 1), (0, 0, 0), (0, 0, 0)]  # number 1


@pytest.mark.parametrize("ocr_text", [None, "read already"])
async def test_no_two_probes_are_alike_so_no_cache_can_answer_one(
    make_harness: Callable[..., Harness], ocr_text: str | None
) -> None:
    # The model caches encodings and OCR text by content: a probe answered from a cache would pass
    # with the encoders broken. Each probe's caption and pixels differ from every earlier one's.
    h = make_harness()
    h.scorer.broken = True
    failed = PostContent(text="look", image=Image.new("RGB", (8, 8)), ocr_text=ocr_text)
    for _ in range(3):
        assert await h.pipeline._model.model_is_broken(RuntimeError("boom"), failed)
    probes = h.scorer.seen[-3:]
    assert len({text_key(p.text or "") for p in probes}) == 3
    assert len({image_key(p.image) for p in probes if p.image is not None}) == 3


async def test_handle_batch_rewinds_a_batch_the_broken_model_cannot_score(
    monkeypatch: pytest.MonkeyPatch, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    h.scorer.broken = True
    monkeypatch.setattr("service.kafka.consumer.REDELIVERY_PAUSE_S", 0.0)
    consumer = _RecordingConsumer()
    offsets = OffsetTracker()
    async with TestKafkaBroker(h.broker):
        message = _FakeMessage([_Record(_post("p-1", text="hi"), offset=3)], consumer)
        await handle_batch(message, h.pipeline, offsets)  # type: ignore[arg-type]
        assert message.nacked and consumer.seeks == [(TopicPartition("posts", 0), 3)]
        assert consumer.commits == [] and h.dead == []

        h.scorer.broken = False
        again = _FakeMessage([_Record(_post("p-1", text="hi"), offset=3)], consumer)
        await handle_batch(again, h.pipeline, offsets)  # type: ignore[arg-type]
    assert not again.nacked and consumer.commits == [{TopicPartition("posts", 0): 4}]
    assert [payload["post_id"] for _, payload in h.decisions] == ["p-1"]


async def test_database_outage_is_retried_not_dropped(make_harness: Callable[..., Harness]) -> None:
    h = make_harness(FakeStore(failures_before_success=3))
    async with TestKafkaBroker(h.broker) as br:
        await br.publish(_post("p-1", text="hello"), h.settings.input_topic)
    assert h.store.calls == 4
    assert [payload["post_id"] for _, payload in h.decisions] == ["p-1"]
    assert _value(h.metrics.db_write_errors) == 3
    assert h.metrics.consumer_paused._value.get() == 0
    assert h.metrics.db_retry_backoff_seconds._value.get() == 0


async def test_data_rejected_by_the_database_dead_letters_that_post_only(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness(FakeStore(reject_post_ids=frozenset({"p-bad"})))
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("p-ok", text="hello"), _post("p-bad", text="hello too"), topic=h.settings.input_topic
        )
    assert [payload["post_id"] for _, payload in h.decisions] == ["p-ok"]
    ((_, _, headers),) = h.dead
    assert headers[HEADER_ERROR] == "database_rejected"
    assert "22021" in headers[HEADER_REASON]


async def test_redelivered_post_republishes_the_stored_decision(make_harness: Callable[..., Harness]) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish(_post("p-1", text="first text"), h.settings.input_topic)
        # Same post_id again (redelivery or a producer retry), even with other content.
        await br.publish(_post("p-1", text="other text"), h.settings.input_topic)
    first, second = (payload for _, payload in h.decisions)
    assert first == second  # the stored row wins
    assert len(h.store.rows) == 1
    assert _value(h.metrics.decisions, action=first["action"]) == 1


async def test_a_repeat_in_one_batch_gets_the_first_copys_decision(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(_post("p-1", text="a"), _post("p-1", text="b"), topic=h.settings.input_topic)
    # Each copy ends in a decision event: the stored one (first content wins), published twice.
    first, second = (payload for _, payload in h.decisions)
    assert first == second and first["post_id"] == "p-1"
    assert len(h.store.rows) == 1 and h.dead == []
    assert _value(h.metrics.decisions_republished) == 1  # the second event is counted as such


async def test_a_repeat_whose_first_copy_is_rejected_is_decided_on_its_own(
    make_harness: Callable[..., Harness],
) -> None:
    """The first copy fails at image loading: the second (a producer retry with a good image)
    used to be dropped at parse time and vanish, neither decided nor dead-lettered."""
    h = make_harness()
    async with TestKafkaBroker(h.broker) as br:
        await br.publish_batch(
            _post("p-1", image={"data": "@@@ not base64 @@@"}),
            _post("p-1", image={"data": _image()}),
            _post("p-1", text="third copy"),
            topic=h.settings.input_topic,
        )
    assert [headers[HEADER_ERROR] for _, _, headers in h.dead] == ["image_base64_invalid"]
    decided = [payload for _, payload in h.decisions]
    assert [d["post_id"] for d in decided] == ["p-1", "p-1"]  # the second copy, then the third's echo
    assert decided[0] == decided[1]
    assert len(h.store.rows) == 1


class _RecordingConsumer:
    """Stands in for the aiokafka consumer: records explicit commits and seeks."""

    def __init__(self) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.commits.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.seeks.append((partition, offset))


class _FakeMessage:
    def __init__(self, records: list[Any], consumer: _RecordingConsumer) -> None:
        self.raw_message = tuple(records)
        self.consumer = consumer
        self.nacked = False

    async def nack(self) -> None:
        self.nacked = True
        for record in self.raw_message:
            self.consumer.seek(TopicPartition(record.topic, record.partition), record.offset)


@dataclass
class _Record:
    value: bytes
    key: bytes | None = None
    topic: str = "posts"
    partition: int = 0
    offset: int = 0
    timestamp: int = 1_700_000_000_000


async def test_handle_batch_commits_after_success_and_rewinds_on_failure(
    monkeypatch: pytest.MonkeyPatch, make_harness: Callable[..., Harness]
) -> None:
    h = make_harness()
    monkeypatch.setattr("service.kafka.consumer.REDELIVERY_PAUSE_S", 0.0)
    consumer = _RecordingConsumer()
    offsets = OffsetTracker()
    async with TestKafkaBroker(h.broker):
        ok = _FakeMessage([_Record(_post("p-1", text="hi"), offset=7)], consumer)
        await handle_batch(ok, h.pipeline, offsets)  # type: ignore[arg-type]
        # explicit position: the next offset to read, for exactly this partition
        assert consumer.commits == [{TopicPartition("posts", 0): 8}] and not ok.nacked

        async def broken(records: Sequence[DecisionRecord]) -> list[StoredDecision]:
            raise TypeError("a bug, not a database error")

        h.pipeline._retry = StoreRetry(metrics=h.metrics, _sleep=_no_sleep)
        h.pipeline._store = broken
        failed = _FakeMessage([_Record(_post("p-2", text="hi"), offset=8)], consumer)
        await handle_batch(failed, h.pipeline, offsets)  # type: ignore[arg-type]
        assert failed.nacked and consumer.seeks == [(TopicPartition("posts", 0), 8)]
        assert len(consumer.commits) == 1  # nothing committed past the failed post
        assert offsets.committable() == {}  # and it holds the partition back until redelivered


async def test_a_batch_failing_again_and_again_backs_off_exponentially_up_to_the_cap(
    make_harness: Callable[..., Harness],
) -> None:
    h = make_harness()
    h.scorer.broken = True  # the model fails on every post, the probe included: batches are held
    pauses: list[float] = []

    async def no_sleep(seconds: float) -> None:
        pauses.append(seconds)

    consumer, offsets = _RecordingConsumer(), OffsetTracker()
    retry = BatchRetry(first_s=1.0, max_s=10.0, sleep=no_sleep)
    async with TestKafkaBroker(h.broker):
        for _ in range(6):
            message = _FakeMessage([_Record(_post("p-1", text="hi"), offset=3)], consumer)
            await handle_batch(message, h.pipeline, offsets, retry)  # type: ignore[arg-type]
            assert message.nacked
        assert pauses == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
        assert _value(h.metrics.batch_retries) == 6
        assert _value(h.metrics.batch_retry_backoff_seconds) == 10.0

        h.scorer.broken = False  # the model works again: the pause resets
        again = _FakeMessage([_Record(_post("p-1", text="hi"), offset=3)], consumer)
        await handle_batch(again, h.pipeline, offsets, retry)  # type: ignore[arg-type]
        assert consumer.commits[-1] == {TopicPartition("posts", 0): 4}
        assert retry.failures == 0 and _value(h.metrics.batch_retry_backoff_seconds) == 0


class _RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None:
        self.sent.extend(messages)


def _bare_pipeline(
    *,
    publisher: Any = None,
    store: FakeStore | None = None,
    metrics: ServiceMetrics | None = None,
    scorer: FakeScorer | None = None,
    **options: Any,
) -> Pipeline:
    """A pipeline with the fake scorer and store, publishing to a recorder (no broker at all)."""
    metrics = metrics or build_metrics(CollectorRegistry())
    return Pipeline(
        scorer=scorer or FakeScorer(),
        policy=load_policy(),
        image_loader=ImageLoader(ImageLimits()),
        store=store or FakeStore(),
        publisher=publisher or _RecordingPublisher(),
        metrics=metrics,
        output_topic="decisions",
        dlq_topic="posts.dlq",
        store_retry=StoreRetry(metrics=metrics, _sleep=_no_sleep),
        **options,
    )


async def _process_once(
    pipeline: Pipeline, values: Sequence[bytes], key: bytes | None = None
) -> BatchOutcome:
    """Run one batch of raw values (offsets 0, 1, ... on partition 0) and release the pipeline."""
    records = [
        RawRecord(value=v, key=key, topic="posts", partition=0, offset=i, timestamp_ms=None)
        for i, v in enumerate(values)
    ]
    try:
        return await pipeline.process(records)
    finally:
        pipeline.close()


async def test_dead_letters_always_fit_the_producer_limit() -> None:
    # A dead letter the producer refused would fail its batch on every redelivery: the partition
    # would be blocked for good. Over the limit, the value is dropped and its size recorded.
    metrics = build_metrics(CollectorRegistry())
    publisher = _RecordingPublisher()
    pipeline = _bare_pipeline(publisher=publisher, metrics=metrics, max_message_bytes=4096)
    too_big = _post("big", text="x" * 5000)  # over the message limit: refused before parsing
    nearly = b"{" + b" " * 3500 + b"oops"  # within it, but not with the dead-letter headers added
    small = b"not json"
    values = [too_big, nearly, small, _post("ok", text="fine")]
    outcome = await _process_once(pipeline, values, key=b"k")

    dead = {m.headers[HEADER_SOURCE_OFFSET]: m for m in publisher.sent if m.topic == "posts.dlq"}
    assert dead["0"].headers[HEADER_ERROR] == "message_too_large"
    assert (dead["0"].value, dead["0"].headers[HEADER_ORIGINAL_BYTES]) == (b"", str(len(too_big)))
    assert dead["1"].headers[HEADER_ERROR] == "invalid_json"
    assert (dead["1"].value, dead["1"].headers[HEADER_ORIGINAL_BYTES]) == (b"", str(len(nearly)))
    assert dead["2"].value == small and HEADER_ORIGINAL_BYTES not in dead["2"].headers
    assert all(m.key == b"k" for m in dead.values())
    assert [d.post_id for d in outcome.decisions] == ["ok"]
    assert _value(metrics.dead_lettered, reason="message_too_large") == 1


class _OrderedStore(FakeStore):
    """Records which posts each store call carried."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[list[str]] = []

    async def __call__(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        self.batches.append([r.post_id for r in records])
        return await super().__call__(records)


def _image_post(post_id: str) -> bytes:
    return _post(post_id, text=f"caption {post_id}", image={"data": _image()})


async def test_text_posts_are_stored_and_published_before_the_batchs_image_posts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A text post must not wait for the OCR of an image post that happens to share its batch.
    trims: list[int] = []
    monkeypatch.setattr("service.moderation.pipeline.release_free_memory", lambda: _counted(trims))
    publisher = _RecordingPublisher()
    store = _OrderedStore()
    pipeline = _bare_pipeline(publisher=publisher, store=store, trim_memory=True)
    values = [_image_post("img-1"), _post("txt-1", text="hello"), b"not json", _image_post("img-2")]
    values.append(_post("txt-2", text="again"))
    outcome = await _process_once(pipeline, values, key=b"k")

    assert store.batches == [["txt-1", "txt-2"], ["img-1", "img-2"]]
    published = [(m.topic, m.key) for m in publisher.sent]
    # text decisions and the batch's dead letter first, image decisions after
    assert published[:3] == [("decisions", b"txt-1"), ("decisions", b"txt-2"), ("posts.dlq", b"k")]
    assert published[3:] == [("decisions", b"img-1"), ("decisions", b"img-2")]
    assert sorted(d.post_id for d in outcome.decisions) == ["img-1", "img-2", "txt-1", "txt-2"]
    assert [d.code for d in outcome.dead_letters] == ["invalid_json"]
    assert trims == [1]  # the batch decoded images: freed pages are handed back once


async def test_text_only_batches_do_not_trim_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    trims: list[int] = []
    monkeypatch.setattr("service.moderation.pipeline.release_free_memory", lambda: _counted(trims))
    pipeline = _bare_pipeline(trim_memory=True)
    outcome = await _process_once(pipeline, [_post("t", text="hi")])
    assert [d.post_id for d in outcome.decisions] == ["t"] and trims == []


async def test_images_that_need_ocr_are_decided_after_plain_photos() -> None:
    # The text gate says which images go through OCR (up to a second each): plain photos in the
    # same batch are stored first. Here "needs OCR" = a blue image.
    store = _OrderedStore()
    pipeline = _bare_pipeline(store=store, needs_ocr=lambda image: image.getpixel((0, 0)) == (0, 0, 255))
    values = [
        _post("meme", text="look", image={"data": _image(colour=(0, 0, 255))}),
        _post("photo", text="nice", image={"data": _image()}),
        _post("text", text="hello"),
    ]
    await _process_once(pipeline, values)
    assert store.batches == [["text"], ["photo"], ["meme"]]


async def test_images_the_gate_found_no_text_in_reach_the_scorer_as_read() -> None:
    # The gate already looked at the photo: the scorer gets empty image text and must not run the
    # gate (or OCR) on it again; the meme arrives unread, for the scorer to read.
    scorer = _RecordingScorer()
    pipeline = _bare_pipeline(scorer=scorer, needs_ocr=_is_blue)
    values = [
        _post("meme", text="look", image={"data": _image(colour=(0, 0, 255))}),
        _post("photo", text="nice", image={"data": _image()}),
    ]
    await _process_once(pipeline, values)
    assert scorer.ocr_texts == ["", None] and scorer.repaired == [True, False]


async def test_cheapest_first_can_be_turned_off() -> None:
    store = _OrderedStore()
    pipeline = _bare_pipeline(store=store, cheapest_first=False, needs_ocr=lambda image: True)
    values = [_post("meme", image={"data": _image()}), _post("text", text="hello")]
    await _process_once(pipeline, values)
    assert store.batches == [["meme", "text"]]  # one group, in batch order


class _RecordingScorer(FakeScorer):
    """FakeScorer that remembers the image text each post arrived with."""

    def __init__(self) -> None:
        super().__init__()
        self.ocr_texts: list[str | None] = []
        self.repaired: list[bool] = []

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        self.ocr_texts += [post.ocr_text for post in posts if post.image is not None]
        self.repaired += [post.ocr_text_repaired for post in posts if post.image is not None]
        return super().score(posts)


def _is_blue(image: Image.Image) -> bool:
    return image.getpixel((0, 0)) == (0, 0, 255)


def _meme(post_id: str) -> bytes:
    return _post(post_id, text=f"caption {post_id}", image={"data": _image(colour=(0, 0, 255))})


def _records(values: Sequence[bytes], first_offset: int = 0) -> list[RawRecord]:
    return [
        RawRecord(value=v, key=None, topic="posts", partition=0, offset=first_offset + i, timestamp_ms=None)
        for i, v in enumerate(values)
    ]


def _lane_pipeline(
    reader: Callable[..., str] | None, settled: list[list[int]], **options: Any
) -> tuple[Pipeline, _OrderedStore, _RecordingScorer]:
    store = _OrderedStore()
    scorer = _RecordingScorer()

    async def on_settled(records: Sequence[RawRecord]) -> None:
        settled.append([r.offset for r in records])

    pipeline = _bare_pipeline(
        store=store,
        needs_ocr=_is_blue,
        ocr_lane=OcrLaneOptions(read_image_text=reader, on_settled=on_settled, **options),
    )
    pipeline._model.scorer = scorer
    return pipeline, store, scorer


async def test_ocr_lane_lets_the_batch_return_before_its_memes_are_read() -> None:
    reader = BlockingReader()
    settled: list[list[int]] = []
    pipeline, store, scorer = _lane_pipeline(reader, settled)
    try:
        values = [
            _meme("meme"),
            _post("photo", text="nice", image={"data": _image()}),
            _post("text", text="hi"),
        ]
        outcome = await pipeline.process(_records(values))
        # The batch is back while the meme is still being read: its cheaper posts are decided.
        assert [r.offset for r in outcome.deferred] == [0]
        assert sorted(d.post_id for d in outcome.decisions) == ["photo", "text"]
        assert store.batches == [["text"], ["photo"]] and settled == []

        reader.release.set()
        await until(lambda: settled == [[0]])
        assert store.batches[-1] == ["meme"]
        assert reader.threads and all(name.startswith("postguard-ocr") for name in reader.threads)
        # The text read in the lane reached the scorer: it did not read the image a second time.
        assert scorer.ocr_texts[-1] == "text read in the lane"
        # ... as the scorer's own repaired read, which it must not repair a second time
        assert scorer.repaired[-1] is True
        assert pipeline._metrics.ocr_lane_posts._value.get() == 0
        assert _histogram(pipeline._metrics.ocr_seconds)[0] == 1  # one image read in the lane
        assert await pipeline.drain(timeout_s=5)
    finally:
        reader.release.set()
        await pipeline.aclose()


async def test_a_full_ocr_lane_holds_the_consumer_back() -> None:
    reader = BlockingReader()
    settled: list[list[int]] = []
    # Room for two posts in the whole lane: one being read, one waiting to be read.
    pipeline, _, _ = _lane_pipeline(reader, settled, max_pending=2)
    try:
        await pipeline.process(_records([_meme("m-1")]))  # being read (taken from the queue)
        await until(lambda: len(reader.threads) == 1)
        await pipeline.process(_records([_meme("m-2")], first_offset=1))  # fills the lane
        third = asyncio.create_task(pipeline.process(_records([_meme("m-3")], first_offset=2)))
        await asyncio.sleep(0.3)
        assert not third.done(), "a full lane must make the consumer wait"
        assert pipeline._metrics.ocr_lane_posts._value.get() == 3
        reader.release.set()
        await asyncio.wait_for(third, timeout=10)
        await until(lambda: sorted(o for group in settled for o in group) == [0, 1, 2])
        # m-2 waited in the lane at least as long as m-1 was held in its reader (0.3 s)
        waits, waited_s = _histogram(pipeline._metrics.ocr_lane_wait_seconds)
        assert waits == 3 and waited_s >= 0.3, (waits, waited_s)
        assert _histogram(pipeline._metrics.ocr_seconds)[0] == 3
    finally:
        reader.release.set()
        await pipeline.aclose()


async def test_ocr_lane_retries_a_group_whose_decision_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("service.moderation.ocr_lane.RETRY_PAUSE_S", 0.0)
    reader = BlockingReader()
    reader.release.set()
    settled: list[list[int]] = []
    pipeline, store, _ = _lane_pipeline(reader, settled)
    real_store = pipeline._store
    failures = [RuntimeError("the broker went away")]

    async def flaky(records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        if failures:
            raise failures.pop()
        return await real_store(records)

    pipeline._store = flaky
    try:
        await pipeline.process(_records([_meme("meme")]))
        await until(lambda: settled == [[0]])
        assert [post_id for post_id, _ in store.rows] == ["meme"] and not failures
    finally:
        await pipeline.aclose()


async def test_ocr_failure_in_the_lane_leaves_the_reading_to_the_scorer() -> None:
    reader = BlockingReader(fail=True)
    reader.release.set()
    settled: list[list[int]] = []
    pipeline, store, scorer = _lane_pipeline(reader, settled)
    try:
        await pipeline.process(_records([_meme("meme")]))
        await until(lambda: settled == [[0]])
        assert scorer.ocr_texts == [None] and [p for p, _ in store.rows] == ["meme"]
    finally:
        await pipeline.aclose()


async def test_after_drain_memes_are_decided_inside_their_batch() -> None:
    reader = BlockingReader()
    reader.release.set()
    settled: list[list[int]] = []
    pipeline, store, _ = _lane_pipeline(reader, settled)
    try:
        assert await pipeline.drain(timeout_s=5)
        outcome = await pipeline.process(_records([_meme("meme"), _post("text", text="hi")]))
        assert outcome.deferred == [] and sorted(d.post_id for d in outcome.decisions) == ["meme", "text"]
        assert store.batches == [["text"], ["meme"]] and settled == []
    finally:
        await pipeline.aclose()


async def test_drain_gives_up_after_its_timeout() -> None:
    reader = BlockingReader()
    pipeline, _, _ = _lane_pipeline(reader, [])
    try:
        await pipeline.process(_records([_meme("meme")]))
        assert not await pipeline.drain(timeout_s=0.2)
    finally:
        reader.release.set()
        await pipeline.aclose()


def _histogram(histogram: Any) -> tuple[float, float]:
    """(count, sum) of an unlabelled prometheus histogram."""
    samples = {sample.name.rsplit("_", 1)[-1]: sample.value for sample in histogram.collect()[0].samples}
    return samples["count"], samples["sum"]


class _LendingReader:
    """read_image_text that has its 'lines' read by the spare thread it is given, when lent."""

    def __init__(self) -> None:
        self.spares: list[object] = []
        self.lent_on: list[str] = []

    def __call__(self, image: Image.Image, spare: Any = None) -> str:
        self.spares.append(spare)
        done = threading.Event()

        def job(wanted_back: Callable[[], bool]) -> None:
            self.lent_on.append(threading.current_thread().name)
            done.set()

        if spare is not None and spare.offer(job):
            assert done.wait(5)
        return "read with help"


async def _one_meme_through_the_lane(
    reader: Callable[..., str], **options: Any
) -> tuple[Pipeline, _RecordingScorer]:
    """Decide one meme through an OCR lane read by ``reader``; the pipeline is closed on return."""
    settled: list[list[int]] = []
    pipeline, _, scorer = _lane_pipeline(reader, settled, **options)
    try:
        await pipeline.process(_records([_meme("meme")]))
        await until(lambda: settled == [[0]])
    finally:
        await pipeline.aclose()
    return pipeline, scorer


@pytest.mark.parametrize("borrow", [True, False])
async def test_the_ocr_lane_borrows_the_idle_inference_thread_when_asked(borrow: bool) -> None:
    reader = _LendingReader()
    pipeline, scorer = await _one_meme_through_the_lane(reader, borrows_idle_inference=borrow)
    assert scorer.ocr_texts[-1] == "read with help"
    lent_s = pipeline._metrics.inference_thread_lent_seconds._value.get()
    if borrow:
        assert reader.spares == [pipeline._inference]
        assert reader.lent_on and reader.lent_on[0].startswith("postguard-inference")
        assert lent_s > 0
    else:
        assert reader.spares == [None] and reader.lent_on == [] and lent_s == 0


async def test_a_reader_that_takes_no_spare_is_called_as_before() -> None:
    reader = BlockingReader()  # read_image_text(image) only: a custom scorer's
    reader.release.set()
    _, scorer = await _one_meme_through_the_lane(reader, borrows_idle_inference=True)
    assert scorer.ocr_texts[-1] == "text read in the lane"
