"""Moderating one batch of Kafka records, independent of the Kafka plumbing.

:meth:`Pipeline.process` takes the raw records of one consumer batch and returns only when every
record has either a decision committed in PostgreSQL *and* published to the output topic, or has
been published to the dead-letter topic. The caller commits the batch's offsets after that, so a
crash at any point redelivers the batch; decisions are idempotent in the database (the stored row
wins on redelivery), so redelivery republishes the same decision instead of creating a new one.

Steps: parse -> load images -> score (one call, in the inference thread) -> policy -> store
(retried until the database takes it) -> publish decisions and dead letters -> return.

With the OCR lane on (service/ocr_lane.py), a batch's images that need OCR are the exception:
:meth:`Pipeline.process` hands them to the lane and returns without them (listed in
:attr:`BatchOutcome.deferred`); the lane decides them later through the same steps and reports them
to ``on_settled``. The caller then commits per partition only up to the first post that is not
decided yet (service/offsets.py), so the delivery guarantee is unchanged.

Logs name posts by ``post_id`` only: never their text or author.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import itertools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont
from pydantic import TypeAdapter, ValidationError

from models.errors import InputError, ModelError
from models.types import ModerationResult, PostContent

from .contract import Attribution, Decision, Post, Scores, parse_post
from .errors import ModelUnavailable, PostRejected
from .images import ImageLoader, LoadedImage
from .inference_thread import InferenceThread
from .memory import release_free_memory
from .metrics import ServiceMetrics
from .ocr_lane import OcrLane
from .policy import Policy
from .repository import DecisionRecord, SourceRef, StoredDecision
from .scoring import Scorer
from .storage_retry import StoreRetry

logger = logging.getLogger(__name__)

#: DLQ header names (see docs/contract.md).
HEADER_ERROR = "postguard-error"
HEADER_REASON = "postguard-reason"
HEADER_SOURCE_TOPIC = "postguard-source-topic"
HEADER_SOURCE_PARTITION = "postguard-source-partition"
HEADER_SOURCE_OFFSET = "postguard-source-offset"
#: Only on a dead letter whose value was dropped because it could not be republished: the size of
#: the original value, which stays readable at the source topic, partition and offset.
HEADER_ORIGINAL_BYTES = "postguard-original-bytes"

#: DLQ code for a post the model raised on (when the model gives no more precise code).
MODEL_ERROR = "model_error"
#: DLQ code for a post PostgreSQL refused as data (e.g. a NUL character): retrying cannot help.
DATABASE_REJECTED = "database_rejected"
#: DLQ code for a message over POSTGUARD_MAX_MESSAGE_BYTES (the broker may still deliver it).
MESSAGE_TOO_LARGE = "message_too_large"
#: The caption of the probe that tells a post the model cannot score from a model that scores nothing.
KNOWN_GOOD_TEXT = "Lovely weather today, we are going for a walk in the park."
#: A post that fails alone (the model works on a known-good post) is tried again after these
#: pauses before it is dead-lettered: the first failure may have been transient.
SINGLE_POST_RETRY_S = (0.2, 1.0)

# Kafka headers travel with every message; a reason longer than this is cut.
_MAX_REASON_CHARS = 500
# Room for the record's framing when deciding whether a dead letter fits the producer's size limit
# (the producer refuses a record over it, which would fail the batch on every redelivery).
_RECORD_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class RawRecord:
    """One Kafka record as consumed: the bytes and where they came from."""

    value: bytes | None
    key: bytes | None
    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None

    @property
    def position(self) -> tuple[str, int, int]:
        """Where it is in Kafka: (topic, partition, offset)."""
        return (self.topic, self.partition, self.offset)

    @property
    def source(self) -> SourceRef:
        return SourceRef(
            topic=self.topic, partition=self.partition, offset=self.offset, timestamp_ms=self.timestamp_ms
        )


@dataclass(frozen=True)
class DeadLetter:
    """A record that cannot be decided, with a stable ``code`` and a human-readable ``reason``."""

    record: RawRecord
    code: str
    reason: str
    post_id: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    """A message to publish: decision or dead letter."""

    topic: str
    value: bytes
    key: bytes | None
    headers: dict[str, str]


class DecisionStore(Protocol):
    """Persists decisions; returns each as stored (the existing row when it was already there)."""

    async def __call__(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]: ...


class Publisher(Protocol):
    """Publishes messages and returns once the broker has acknowledged all of them."""

    async def publish_all(self, messages: Sequence[OutgoingMessage]) -> None: ...


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch produced (for callers and tests; everything is already published)."""

    decisions: list[StoredDecision]
    dead_letters: list[DeadLetter]
    #: Records handed to the OCR lane: not decided yet, reported to ``on_settled`` once they are.
    deferred: list[RawRecord] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    """A post that parsed and whose image (if any) loaded: ready to be scored."""

    record: RawRecord
    post: Post
    image: LoadedImage | None
    #: The text in the image when it was already read (by the OCR lane).
    ocr_text: str | None = None


class Pipeline:
    """Turns batches of raw records into stored and published decisions and dead letters."""

    def __init__(
        self,
        *,
        scorer: Scorer,
        policy: Policy,
        image_loader: ImageLoader,
        store: DecisionStore,
        publisher: Publisher,
        metrics: ServiceMetrics,
        output_topic: str,
        dlq_topic: str,
        max_text_chars: int = 10_000,
        max_message_bytes: int = 10 * 1024 * 1024,
        store_retry: StoreRetry | None = None,
        trim_memory: bool = False,
        needs_ocr: Callable[[Image.Image], bool] | None = None,
        cheapest_first: bool = True,
        ocr_lane: bool = False,
        ocr_lane_max_pending: int = 64,
        ocr_lane_readers: int = 1,
        read_image_text: Callable[..., str] | None = None,
        ocr_lane_borrows_idle_inference: bool = False,
        on_settled: Callable[[Sequence[RawRecord]], Awaitable[None]] | None = None,
        single_post_retry_s: Sequence[float] = SINGLE_POST_RETRY_S,
    ) -> None:
        """``single_post_retry_s``: pauses between the attempts at a post that fails alone (with
        the model working on a known-good post) before it is dead-lettered as ``model_error``.
        ``ocr_lane``: hand images that need OCR (``needs_ocr``; only with ``cheapest_first``) to
        an :class:`OcrLane` holding at most ``ocr_lane_max_pending`` posts, which reads them with
        ``read_image_text``, ``ocr_lane_readers`` at a time, on its own threads (None: the scorer
        reads them) and reports each group it decided to ``on_settled``.
        ``ocr_lane_borrows_idle_inference``: call ``read_image_text(image, spare=...)`` with the
        inference thread as the spare thread (models/ocr.py: it recognises text lines while it has
        nothing to score)."""
        self._scorer = scorer
        self._policy = policy
        self._images = image_loader
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._output_topic = output_topic
        self._dlq_topic = dlq_topic
        self._max_text_chars = max_text_chars
        self._max_message_bytes = max_message_bytes
        self._retry = store_retry or StoreRetry(metrics=metrics)
        self._trim_memory = trim_memory
        # Says which images will go through OCR (the model's text gate): those posts are scored
        # last, after the text-only posts and the plain photos of the same batch.
        self._needs_ocr = needs_ocr
        self._cheapest_first = cheapest_first
        # One dedicated thread: torch keeps per-thread state, and one inference at a time is what
        # the CPU budget allows anyway. The event loop stays free for heartbeats and fetches.
        self._inference = InferenceThread(on_lent=metrics.inference_thread_lent_seconds.inc)
        # Numbers the known-good probes, so that no two are alike (see _model_is_broken).
        self._probe_numbers = itertools.count(1)
        self._on_settled = on_settled
        self._single_post_retry_s = tuple(single_post_retry_s)
        self._ocr_lane: OcrLane[_Candidate] | None = None
        if ocr_lane and cheapest_first and needs_ocr is not None:
            read_text = read_image_text
            if read_image_text is not None and ocr_lane_borrows_idle_inference:
                if _takes_spare(read_image_text):
                    read_text = functools.partial(read_image_text, spare=self._inference)
                else:
                    logger.info(
                        "the scorer's read_image_text takes no spare thread: OCR reads use one thread"
                    )
            self._ocr_lane = OcrLane(
                image_of=_image_of,
                # Its Kafka position: a batch rewound and fetched again does not queue a post twice.
                key_of=_position_of,
                read_text=read_text,
                decide=self._decide_read,
                max_pending=ocr_lane_max_pending,
                readers=ocr_lane_readers,
                on_depth=metrics.ocr_lane_posts.set,
                on_read=self._observe_ocr,
                on_retry=metrics.ocr_lane_retries.inc,
            )

    @property
    def metrics(self) -> ServiceMetrics:
        """The metrics this pipeline records into (the consumer loop records its retries there too)."""
        return self._metrics

    def _observe_ocr(self, waited_s: float, read_s: float) -> None:
        self._metrics.ocr_lane_wait_seconds.observe(waited_s)
        self._metrics.ocr_seconds.observe(read_s)

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Decide everything in the OCR lane and take no more into it (before the consumer stops);
        False when ``timeout_s`` passed first (the rest is not committed and will be redelivered)."""
        return await self._ocr_lane.drain(timeout_s) if self._ocr_lane is not None else True

    async def aclose(self) -> None:
        """Stop the OCR lane and release the threads, without waiting for a call still running on
        them (the event loop must not block on a stuck OCR read or inference)."""
        if self._ocr_lane is not None:
            await self._ocr_lane.close()
        self._inference.shutdown(wait=False)

    def close(self) -> None:
        """Release the inference thread (waits for a running inference to finish)."""
        self._inference.shutdown()

    async def process(self, records: Sequence[RawRecord]) -> BatchOutcome:
        """Decide or dead-letter every record; return once all of it is stored and published, except
        the posts handed to the OCR lane (``deferred`` in the outcome), which are reported later."""
        started = time.perf_counter()
        for topic in {r.topic for r in records}:
            self._metrics.posts_consumed.labels(topic=topic).inc(sum(1 for r in records if r.topic == topic))
        self._metrics.batch_size.observe(len(records))
        outcome = await self._process_round(records)
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        return outcome

    async def _process_round(self, records: Sequence[RawRecord]) -> BatchOutcome:
        """One round of :meth:`process`. A ``post_id`` seen again in the batch (a producer retry)
        is decided in a later round, after its first copy is stored or dead-lettered: then it gets
        the stored decision republished, as a copy in a later batch would, or, when the first copy
        was rejected, a decision or dead letter of its own. No copy vanishes."""
        dead: list[DeadLetter] = []
        repeats: list[RawRecord] = []
        candidates, repeated_ids = await self._prepare(records, dead, repeats)
        # Cheapest posts first, each group stored and published before the next is scored: text
        # only (milliseconds), then images without text (the image tower), then images that need
        # OCR (up to a second each). A post does not wait for a slower post that happens to share
        # its batch. Nothing is committed on Kafka before it is stored: the caller commits the batch
        # after this returns, and the OCR lane's posts (and anything behind them) once they are.
        lanes = await self._lanes(candidates)
        deferred: list[_Candidate] = []
        ocr_lane = self._ocr_lane
        if ocr_lane is not None and not ocr_lane.closing and len(lanes) == 3 and lanes[2]:
            # Queued before the cheaper groups are scored, so the lane's thread reads these images
            # while the inference thread scores the rest. Waits while the lane is full. A post with
            # a repeat in this batch is decided here instead: the repeat must come after it.
            deferred = [c for c in lanes[2] if c.post.post_id not in repeated_ids]
            lanes[2] = [c for c in lanes[2] if c.post.post_id in repeated_ids]
            if deferred:
                await ocr_lane.put(deferred)
        decisions: list[StoredDecision] = []
        all_dead: list[DeadLetter] = []
        lane_dead = dead  # the parse and image rejections go out with the first lane's publish
        for lane in [lane for lane in lanes if lane] or [[]]:
            decisions += await self._decide_lane(lane, lane_dead)
            all_dead += lane_dead
            lane_dead = []
        if self._trim_memory and any(c.image is not None for c in candidates):
            await self._release_memory()
        deferred_records = [c.record for c in deferred]
        if repeats:
            later = await self._process_round(repeats)
            decisions += later.decisions
            all_dead += later.dead_letters
            deferred_records += later.deferred
        return BatchOutcome(decisions=decisions, dead_letters=all_dead, deferred=deferred_records)

    async def _decide_read(self, group: list[tuple[_Candidate, str | None]]) -> None:
        """The OCR lane's decider: posts whose image text was read (or not: then the scorer reads it)."""
        candidates = [
            candidate if text is None else replace(candidate, ocr_text=text) for candidate, text in group
        ]
        dead: list[DeadLetter] = []
        await self._decide_lane(candidates, dead)
        if self._trim_memory and self._ocr_lane is not None and self._ocr_lane.depth <= len(group):
            await self._release_memory()  # the lane is about to be empty: nothing more to decode soon
        if self._on_settled is not None:
            await self._on_settled([candidate.record for candidate in candidates])

    async def _release_memory(self) -> None:
        # Decoded images and their tensors were freed: give the pages back (service/memory.py).
        await self._inference.run(release_free_memory)

    async def _lanes(self, candidates: list[_Candidate]) -> list[list[_Candidate]]:
        """Candidates grouped by expected cost: text only, images without text, images with text
        (one group unless cheapest-first is off)."""
        if not self._cheapest_first:
            return [candidates]
        text_only = [c for c in candidates if c.image is None]
        with_image = [c for c in candidates if c.image is not None]
        if self._needs_ocr is None or not with_image:
            return [text_only, with_image]
        check = self._needs_ocr
        slow = await asyncio.gather(
            *(asyncio.to_thread(check, c.image.image) for c in with_image if c.image is not None)
        )
        plain_photos: list[_Candidate] = []
        needing_ocr: list[_Candidate] = []
        for candidate, has_text in zip(with_image, slow, strict=True):
            if has_text:
                needing_ocr.append(candidate)
            else:
                # The gate found no text: say so (empty image text), so the scorer does not ask it again.
                plain_photos.append(replace(candidate, ocr_text=""))
        return [text_only, plain_photos, needing_ocr]

    async def _decide_lane(self, lane: list[_Candidate], dead: list[DeadLetter]) -> list[StoredDecision]:
        """Score, decide, store and publish one group of candidates, and the dead letters in ``dead``
        (to which this lane's own failures are added)."""
        scored = await self._score(lane, dead)
        decided_at = datetime.now(UTC)
        decision_records = [self._decide(c, result, decided_at) for c, result in scored]
        stored, rejected = (
            await self._retry.run(self._store, decision_records) if decision_records else ([], [])
        )
        for index, reason in rejected:
            candidate = scored[index][0]
            dead.append(DeadLetter(candidate.record, DATABASE_REJECTED, reason, candidate.post.post_id))
        rejected_indexes = {index for index, _ in rejected}
        kept = [scored[i][0] for i in range(len(scored)) if i not in rejected_indexes]

        await self._publisher.publish_all(
            [self._decision_message(s) for s in stored] + [self._dead_letter_message(d) for d in dead]
        )
        self._observe(kept, stored, dead)
        return stored

    # --- steps ---------------------------------------------------------------------------------

    async def _prepare(
        self, records: Sequence[RawRecord], dead: list[DeadLetter], repeats: list[RawRecord]
    ) -> tuple[list[_Candidate], set[str]]:
        """Parse every record and load its image; rejected ones go to ``dead``, records whose
        ``post_id`` came earlier in ``records`` to ``repeats`` (for a later round). Returns the
        candidates and the post ids that have repeats."""
        posts: list[tuple[RawRecord, Post]] = []
        seen: set[str] = set()
        repeated_ids: set[str] = set()
        for record in records:
            size = len(record.value or b"")
            if size > self._max_message_bytes:
                reason = f"message is {size:,} bytes, more than the limit of {self._max_message_bytes:,}"
                dead.append(DeadLetter(record, MESSAGE_TOO_LARGE, reason))
                continue
            try:
                post = parse_post(record.value or b"", max_text_chars=self._max_text_chars)
            except PostRejected as exc:
                dead.append(DeadLetter(record, exc.code, exc.reason))
                continue
            if post.post_id in seen:
                # The same post twice in one batch (a producer retry): the first copy is decided
                # first and wins, as it does in the database; this one follows in the next round.
                logger.info(
                    "post %s appears twice in one batch; its first copy is decided first", post.post_id
                )
                repeats.append(record)
                repeated_ids.add(post.post_id)
                continue
            seen.add(post.post_id)
            posts.append((record, post))

        loaded = await asyncio.gather(*(self._load_image(post) for _, post in posts))
        candidates: list[_Candidate] = []
        for (record, post), image in zip(posts, loaded, strict=True):
            if isinstance(image, PostRejected):
                dead.append(DeadLetter(record, image.code, image.reason, post.post_id))
            else:
                candidates.append(_Candidate(record, post, image))
        return candidates, repeated_ids

    async def _load_image(self, post: Post) -> LoadedImage | PostRejected | None:
        if post.image is None:
            return None
        try:
            return await self._images.load(post.image)
        except PostRejected as exc:
            return exc

    async def _score(
        self, candidates: list[_Candidate], dead: list[DeadLetter]
    ) -> list[tuple[_Candidate, ModerationResult]]:
        """Score all candidates in one call; if that fails, one by one, dead-lettering the culprits."""
        if not candidates:
            return []
        contents = [_content(c) for c in candidates]
        try:
            results = await self._run_model(contents)
            return list(zip(candidates, results, strict=True))
        except Exception as exc:  # noqa: BLE001 - any model failure: isolate the culprit below
            logger.warning(
                "scoring a batch of %d posts failed (%s); scoring them one by one",
                len(candidates),
                type(exc).__name__,
            )
        scored: list[tuple[_Candidate, ModerationResult]] = []
        for candidate, content in zip(candidates, contents, strict=True):
            try:
                result = await self._score_alone(content)
            except Exception as exc:  # noqa: BLE001 - the post or the model: the probe tells which
                if await self._model_is_broken(exc, content):
                    # Dead-lettering here would empty the topic into the DLQ for as long as the model
                    # is broken (out of memory, a corrupt weight file, a bug): hold the posts instead.
                    self._metrics.model_unavailable.inc()
                    raise ModelUnavailable(
                        f"the model failed on post {candidate.post.post_id} ({exc!r}) and on a "
                        "known-good post too: the model is at fault, not the post; nothing is "
                        "dead-lettered or committed, the posts are tried again after a pause"
                    ) from exc
                code = exc.code if isinstance(exc, ModelError) else MODEL_ERROR
                attempts = 1 if isinstance(exc, InputError) else len(self._single_post_retry_s) + 1
                logger.warning(
                    "post %s cannot be scored (%s, %d attempt%s)",
                    candidate.post.post_id,
                    type(exc).__name__,
                    attempts,
                    "" if attempts == 1 else "s",
                )
                reason = f"the model failed {'once' if attempts == 1 else f'{attempts} times'}: {exc!r}"
                dead.append(DeadLetter(candidate.record, code, reason, candidate.post.post_id))
                continue
            scored.append((candidate, result))
        return scored

    async def _score_alone(self, content: PostContent) -> ModerationResult:
        """Score one post, trying again after the pauses of ``single_post_retry_s`` when it fails
        for a reason other than its input (a transient error must not dead-letter a good post)."""
        for pause in (*self._single_post_retry_s, None):
            try:
                (result,) = await self._run_model([content])
                return result
            except InputError:
                raise
            except Exception:
                if pause is None:
                    raise
                self._metrics.single_post_retries.inc()
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def _model_is_broken(self, error: Exception, failed: PostContent) -> bool:
        """Whether ``error``, raised scoring the post ``failed`` alone, is the model's fault: it also
        fails on a harmless post of the same shape (a caption; an image when ``failed`` has one,
        holding a line of text when the model was to read ``failed``'s image text itself, so that a
        broken OCR engine shows too). An :class:`InputError` names the post itself: no probe."""
        if isinstance(error, InputError):
            return False
        # Every probe is new content: the model caches encodings and OCR text by content, and a
        # cached answer to an earlier probe would pass with the encoders themselves broken.
        number = next(self._probe_numbers)
        probe = PostContent(
            text=f"{KNOWN_GOOD_TEXT} (check {number})",
            image=None
            if failed.image is None
            else _known_good_image(number, with_text=failed.ocr_text is None),
        )
        try:
            await self._run_model([probe])
        except Exception as exc:  # noqa: BLE001 - any failure here is the answer
            logger.error("the model fails on a known-good post too (%r)", exc)
            return True
        return False

    async def _run_model(self, contents: list[PostContent]) -> list[ModerationResult]:
        started = time.perf_counter()
        results = await self._inference.run(self._scorer.score, contents)
        self._metrics.inference_seconds.observe(time.perf_counter() - started)
        if len(results) != len(contents):
            raise RuntimeError(f"the scorer returned {len(results)} results for {len(contents)} posts")
        for result in results:
            _check_result(result)
        return results

    def _decide(
        self, candidate: _Candidate, result: ModerationResult, decided_at: datetime
    ) -> DecisionRecord:
        post = candidate.post
        # Deny/allow terms apply to every text the post shows: the caption and the text in the image.
        texts = [t for t in (post.text, result.ocr_text) if t]
        outcome = self._policy.decide(scores=result.scores, texts=texts)
        image = candidate.image
        return DecisionRecord(
            post_id=post.post_id,
            author_id=post.author_id,
            text=post.text,
            text_sha256=hashlib.sha256(post.text.encode()).hexdigest() if post.text is not None else None,
            image_sha256=image.sha256 if image else None,
            image_thumbnail_jpeg=image.thumbnail_jpeg if image else None,
            ocr_text=result.ocr_text,
            created_at=post.created_at,
            lang=post.lang,
            metadata=dict(post.metadata),
            source=candidate.record.source,
            model_version=self._scorer.version,
            policy_version=self._policy.version,
            action=outcome.action,
            scores=dict(result.scores),
            triggered=[rule.model_dump(mode="json") for rule in outcome.triggered],
            attribution={k: dict(v) for k, v in result.attribution.items()},
            decided_at=decided_at,
            review_priority=outcome.priority,
        )

    # --- messages ------------------------------------------------------------------------------

    def _decision_message(self, stored: StoredDecision) -> OutgoingMessage:
        # model_validate: the stored row holds plain JSON (dicts, str); the contract re-checks it.
        decision = Decision.model_validate(
            {
                "post_id": stored.post_id,
                "action": stored.action,
                "scores": stored.scores,
                "triggered": stored.triggered,
                "attribution": stored.attribution,
                "model_version": stored.model_version,
                "policy_version": stored.policy_version,
                "decided_at": stored.decided_at,
            }
        )
        return OutgoingMessage(
            topic=self._output_topic,
            value=decision.model_dump_json().encode(),
            key=stored.post_id.encode(),
            headers={"content-type": "application/json"},
        )

    def _dead_letter_message(self, dead: DeadLetter) -> OutgoingMessage:
        record = dead.record
        reason = (
            dead.reason if len(dead.reason) <= _MAX_REASON_CHARS else dead.reason[:_MAX_REASON_CHARS] + "..."
        )
        headers = {
            HEADER_ERROR: dead.code,
            HEADER_REASON: reason,
            HEADER_SOURCE_TOPIC: record.topic,
            HEADER_SOURCE_PARTITION: str(record.partition),
            HEADER_SOURCE_OFFSET: str(record.offset),
        }
        value, key = record.value or b"", record.key
        framing = _RECORD_OVERHEAD_BYTES + sum(len(k) + len(v.encode()) for k, v in headers.items())
        if framing + len(value) + len(key or b"") > self._max_message_bytes:
            # A copy the producer would refuse would fail this batch on every redelivery and block
            # the partition: drop the value (and a key that alone is too large), say so, and point
            # at the original through the source headers.
            headers[HEADER_ORIGINAL_BYTES] = str(len(value))
            value = b""
            if framing + len(key or b"") > self._max_message_bytes:
                key = None
        return OutgoingMessage(topic=self._dlq_topic, value=value, key=key, headers=headers)

    def _observe(self, kept: list[_Candidate], stored: list[StoredDecision], dead: list[DeadLetter]) -> None:
        """Count what was published (called after the sends were acknowledged)."""
        metrics = self._metrics
        now = time.time()
        for candidate, decision in zip(kept, stored, strict=True):
            # A redelivered post republishes its stored decision; count each decision once.
            if decision.created:
                metrics.decisions.labels(action=decision.action).inc()
                for rule in decision.triggered:
                    if rule.get("kind") == "category":
                        metrics.category_triggers.labels(category=str(rule.get("name"))).inc()
            else:
                # Read back from the database: an earlier delivery stored it, and (unless that
                # delivery's publish failed) published it too: this event is a duplicate.
                metrics.decisions_republished.inc()
            if candidate.record.timestamp_ms is not None:
                metrics.end_to_end_seconds.observe(max(0.0, now - candidate.record.timestamp_ms / 1000))
        for item in dead:
            metrics.dead_lettered.labels(reason=item.code).inc()
            logger.info(
                "dead-lettered %s (%s/%d@%d): %s",
                item.post_id or "a message",
                item.record.topic,
                item.record.partition,
                item.record.offset,
                item.code,
            )
        if stored:
            metrics.last_decision_timestamp_seconds.set(now)


def _takes_spare(read_image_text: Callable[..., str]) -> bool:
    """Whether ``read_image_text`` accepts ``spare=`` (Moderator's does; a custom scorer's may not)."""
    try:
        parameters = inspect.signature(read_image_text).parameters
    except (TypeError, ValueError):
        return False
    return "spare" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _known_good_image(number: int, *, with_text: bool) -> Image.Image:
    """A harmless picture: flat grey, or white with :data:`KNOWN_GOOD_TEXT`'s first words in black
    (Pillow's built-in font, large enough for the text gate and the OCR to take it as text). The
    first eight pixels of its top row hold ``number``'s bytes, so each probe's pixels are new."""
    if not with_text:
        image = Image.new("RGB", (64, 64), (128, 128, 128))
    else:
        image = Image.new("RGB", (480, 96), (255, 255, 255))
        top_left = (16, 24)
        words = " ".join(KNOWN_GOOD_TEXT.split()[:3])
        ImageDraw.Draw(image).text(top_left, words, fill=(0, 0, 0), font=ImageFont.load_default(size=36))
    for x, byte in enumerate(number.to_bytes(8, "little")):
        image.putpixel((x, 0), (byte, byte, byte))
    return image


class InvalidScores(RuntimeError):
    """The scorer returned a score or attribution share the published contract cannot carry."""


def _check_result(result: ModerationResult) -> None:
    """Scores and attribution must fit the published contract (``contract.Scores`` and
    ``Attribution``: finite shares in [0, 1]): checked before anything is stored, so no row is
    written that cannot be published."""
    for adapter, what, value in (
        (_SCORES, "scores must lie in [0, 1]", result.scores),
        (
            _ATTRIBUTION,
            "attribution shares must lie in [0, 1], per modality of the contract",
            result.attribution,
        ),
    ):
        try:
            adapter.validate_python(value)
        except ValidationError as exc:
            error = exc.errors(include_url=False)[0]
            where = "/".join(repr(part) for part in error["loc"])
            raise InvalidScores(
                f"the model returned {error['input']!r} for {where} ({error['msg']}); {what}"
            ) from None


_SCORES: TypeAdapter[Scores] = TypeAdapter(Scores)
_ATTRIBUTION: TypeAdapter[Attribution] = TypeAdapter(Attribution)


def _position_of(candidate: _Candidate) -> tuple[str, int, int]:
    return candidate.record.position


def _content(candidate: _Candidate) -> PostContent:
    return PostContent(
        text=candidate.post.text,
        image=candidate.image.image if candidate.image else None,
        ocr_text=candidate.ocr_text,
    )


def _image_of(candidate: _Candidate) -> Image.Image:
    if candidate.image is None:  # cannot happen: only posts with an image enter the OCR lane
        raise ValueError(f"post {candidate.post.post_id} has no image to read")
    return candidate.image.image
