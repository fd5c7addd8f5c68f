"""Moderating one batch of Kafka records, independent of the Kafka plumbing.

:meth:`Pipeline.process` takes the raw records of one consumer batch and returns only when every
record has either a decision committed in PostgreSQL *and* published to the output topic, or has
been published to the dead-letter topic. The caller commits the batch's offsets after that, so a
crash at any point redelivers the batch; decisions are idempotent in the database (the stored row
wins on redelivery), so redelivery republishes the same decision instead of creating a new one.

Steps: parse -> load images -> group by cost (text only, plain photos, images with text) -> for
each group: score (:class:`~service.moderation.model_guard.ModelGuard`: one call in the inference
thread, post by post when that fails) -> policy -> store (retried until the database takes it) ->
publish decisions and dead letters (:mod:`service.moderation.messages`) -> return.

With the OCR lane on (service/moderation/ocr_lane.py), a batch's images that need OCR are the exception:
:meth:`Pipeline.process` hands them to the lane and returns without them (listed in
:attr:`BatchOutcome.deferred`); the lane decides them later through the same steps and reports them
to ``on_settled``. The caller then commits per partition only up to the first post that is not
decided yet (service/kafka/offsets.py), so the delivery guarantee is unchanged.

Logs name posts by ``post_id`` only: never their text or author.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from PIL import Image

from models.types import ModerationResult
from service.errors import PostRejected
from service.moderation.candidates import Candidate, content_of, cost_groups, image_of, position_of
from service.moderation.contract import Post
from service.moderation.deciding import decision_record
from service.moderation.images import ImageLoader, LoadedImage
from service.moderation.inference_thread import InferenceThread
from service.moderation.memory import release_free_memory
from service.moderation.messages import DATABASE_REJECTED, MESSAGE_TOO_LARGE, DeadLetter, MessageEncoder
from service.moderation.model_guard import SINGLE_POST_RETRY_S, ModelGuard, Unscorable
from service.moderation.ocr_lane import OcrLane
from service.moderation.parsing import parse_post
from service.moderation.policy import Policy
from service.moderation.published_metrics import observe_published
from service.moderation.scoring import Scorer
from service.observability.metrics import ServiceMetrics
from service.records import OutgoingMessage, RawRecord
from service.storage.repository import DecisionRecord, StoredDecision
from service.storage.retry import StoreRetry

logger = logging.getLogger(__name__)


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
class OcrLaneOptions:
    """Images that need OCR read beside the consumer (:mod:`service.moderation.ocr_lane`): at most
    ``max_pending`` posts held, ``readers`` read at a time with ``read_image_text`` on the lane's
    own threads (None: the scorer reads them when it scores), each group decided reported to
    ``on_settled`` (so its offsets can be committed). ``borrows_idle_inference``: call
    ``read_image_text(image, spare=...)`` with the inference thread as the spare thread
    (models/ocr.py: it recognises text lines while it has nothing to score)."""

    max_pending: int = 64
    readers: int = 1
    read_image_text: Callable[..., str] | None = None
    borrows_idle_inference: bool = False
    on_settled: Callable[[Sequence[RawRecord]], Awaitable[None]] | None = None


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
        ocr_lane: OcrLaneOptions | None = None,
        single_post_retry_s: Sequence[float] = SINGLE_POST_RETRY_S,
    ) -> None:
        """``single_post_retry_s``: pauses between the attempts at a post that fails alone (with
        the model working on a known-good post) before it is dead-lettered as ``model_error``.
        ``ocr_lane``: hand images that need OCR (``needs_ocr``; only with ``cheapest_first``) to an
        :class:`OcrLane` (see :class:`OcrLaneOptions`); None: they are read while scored."""
        self._policy = policy
        self._images = image_loader
        self._store = store
        self._publisher = publisher
        self._metrics = metrics
        self._messages = MessageEncoder(output_topic, dlq_topic, max_message_bytes)
        self._max_text_chars = max_text_chars
        self._retry = store_retry or StoreRetry(metrics=metrics)
        self._trim_memory = trim_memory
        # Says which images will go through OCR (the model's text gate): those posts are scored
        # last, after the text-only posts and the plain photos of the same batch.
        self._needs_ocr = needs_ocr
        self._cheapest_first = cheapest_first
        # One dedicated thread: torch keeps per-thread state, and one inference at a time is what
        # the CPU budget allows anyway. The event loop stays free for heartbeats and fetches.
        self._inference = InferenceThread(on_lent=metrics.inference_thread_lent_seconds.inc)
        self._model = ModelGuard(scorer, self._inference, metrics, single_post_retry_s)
        self._on_settled = ocr_lane.on_settled if ocr_lane is not None else None
        self._ocr_lane: OcrLane[Candidate] | None = None
        if ocr_lane is not None and cheapest_first and needs_ocr is not None:
            read_image_text = ocr_lane.read_image_text
            read_text = read_image_text
            if read_image_text is not None and ocr_lane.borrows_idle_inference:
                if _takes_spare(read_image_text):
                    read_text = functools.partial(read_image_text, spare=self._inference)
                else:
                    logger.info(
                        "the scorer's read_image_text takes no spare thread: OCR reads use one thread"
                    )
            self._ocr_lane = OcrLane(
                image_of=image_of,
                # Its Kafka position: a batch rewound and fetched again does not queue a post twice.
                key_of=position_of,
                read_text=read_text,
                decide=self._decide_read,
                max_pending=ocr_lane.max_pending,
                readers=ocr_lane.readers,
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
        groups = await cost_groups(candidates, self._needs_ocr, cheapest_first=self._cheapest_first)
        deferred: list[Candidate] = []
        ocr_lane = self._ocr_lane
        if ocr_lane is not None and not ocr_lane.closing and len(groups) == 3 and groups[2]:
            # Queued before the cheaper groups are scored, so the lane's thread reads these images
            # while the inference thread scores the rest. Waits while the lane is full. A post with
            # a repeat in this batch is decided here instead: the repeat must come after it.
            deferred = [c for c in groups[2] if c.post.post_id not in repeated_ids]
            groups[2] = [c for c in groups[2] if c.post.post_id in repeated_ids]
            if deferred:
                await ocr_lane.put(deferred)
        decisions: list[StoredDecision] = []
        all_dead: list[DeadLetter] = []
        group_dead = dead  # the parse and image rejections go out with the first group's publish
        for group in [group for group in groups if group] or [[]]:
            decisions += await self._decide_group(group, group_dead)
            all_dead += group_dead
            group_dead = []
        if self._trim_memory and any(c.image is not None for c in candidates):
            await self._release_memory()
        deferred_records = [c.record for c in deferred]
        if repeats:
            later = await self._process_round(repeats)
            decisions += later.decisions
            all_dead += later.dead_letters
            deferred_records += later.deferred
        return BatchOutcome(decisions=decisions, dead_letters=all_dead, deferred=deferred_records)

    async def _decide_read(self, group: list[tuple[Candidate, str | None]]) -> None:
        """The OCR lane's decider: posts whose image text was read (or not: then the scorer reads it)."""
        candidates = [
            candidate if text is None else replace(candidate, ocr_text=text) for candidate, text in group
        ]
        dead: list[DeadLetter] = []
        await self._decide_group(candidates, dead)
        if self._trim_memory and self._ocr_lane is not None and self._ocr_lane.depth <= len(group):
            await self._release_memory()  # the lane is about to be empty: nothing more to decode soon
        if self._on_settled is not None:
            await self._on_settled([candidate.record for candidate in candidates])

    async def _release_memory(self) -> None:
        # Decoded images and their tensors were freed: give the pages back (service/moderation/memory.py).
        await self._inference.run(release_free_memory)

    async def _decide_group(self, group: list[Candidate], dead: list[DeadLetter]) -> list[StoredDecision]:
        """Score, decide, store and publish one group of candidates, and the dead letters in ``dead``
        (to which this group's own failures are added)."""
        results = await self._model.score([content_of(c) for c in group], [c.post.post_id for c in group])
        scored: list[tuple[Candidate, ModerationResult]] = []
        for candidate, result in zip(group, results, strict=True):
            if isinstance(result, Unscorable):
                dead.append(DeadLetter(candidate.record, result.code, result.reason, candidate.post.post_id))
            else:
                scored.append((candidate, result))
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
            [self._messages.decision(s) for s in stored] + [self._messages.dead_letter(d) for d in dead]
        )
        observe_published(self._metrics, [c.record for c in kept], stored, dead)
        return stored

    # --- steps ---------------------------------------------------------------------------------

    async def _prepare(
        self, records: Sequence[RawRecord], dead: list[DeadLetter], repeats: list[RawRecord]
    ) -> tuple[list[Candidate], set[str]]:
        """Parse every record and load its image; rejected ones go to ``dead``, records whose
        ``post_id`` came earlier in ``records`` to ``repeats`` (for a later round). Returns the
        candidates and the post ids that have repeats."""
        posts: list[tuple[RawRecord, Post]] = []
        seen: set[str] = set()
        repeated_ids: set[str] = set()
        for record in records:
            size, limit = len(record.value or b""), self._messages.max_message_bytes
            if size > limit:
                reason = f"message is {size:,} bytes, more than the limit of {limit:,}"
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
        candidates: list[Candidate] = []
        for (record, post), image in zip(posts, loaded, strict=True):
            if isinstance(image, PostRejected):
                dead.append(DeadLetter(record, image.code, image.reason, post.post_id))
            else:
                candidates.append(Candidate(record, post, image))
        return candidates, repeated_ids

    async def _load_image(self, post: Post) -> LoadedImage | PostRejected | None:
        if post.image is None:
            return None
        try:
            return await self._images.load(post.image)
        except PostRejected as exc:
            return exc

    def _decide(self, candidate: Candidate, result: ModerationResult, decided_at: datetime) -> DecisionRecord:
        post = candidate.post
        return decision_record(
            post_id=post.post_id,
            author_id=post.author_id,
            text=post.text,
            image=candidate.image,
            result=result,
            policy=self._policy,
            model_version=self._model.scorer.version,
            created_at=post.created_at,
            lang=post.lang,
            metadata=dict(post.metadata),
            source=candidate.record.source,
            decided_at=decided_at,
        )


def _takes_spare(read_image_text: Callable[..., str]) -> bool:
    """Whether ``read_image_text`` accepts ``spare=`` (Moderator's does; a custom scorer's may not)."""
    try:
        parameters = inspect.signature(read_image_text).parameters
    except (TypeError, ValueError):
        return False
    return "spare" in parameters or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
