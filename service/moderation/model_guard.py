"""Scoring that tells a post the model cannot score from a model that is broken.

The scorer runs in the one inference thread. When a batch fails, its posts are scored one by one
(a post that fails for a reason other than its input is tried again after short pauses); a post
that still fails is probed against: a harmless post of the same shape. If the probe fails too,
the model is at fault and :class:`~service.errors.ModelUnavailable` holds the batch (nothing is
dead-lettered or committed); otherwise the post is :class:`Unscorable` and goes to the dead-letter
topic. Results must fit the published contract before anything is stored.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from PIL import Image, ImageDraw, ImageFont
from pydantic import TypeAdapter, ValidationError

from models.errors import InputError, ModelError
from models.types import ModerationResult, PostContent
from service.errors import ModelUnavailable
from service.moderation.contract import Attribution, Scores
from service.moderation.inference_thread import InferenceThread
from service.moderation.messages import MODEL_ERROR
from service.moderation.scoring import Scorer

logger = logging.getLogger(__name__)

#: The caption of the probe that tells a post the model cannot score from a model that scores nothing.
KNOWN_GOOD_TEXT = "Lovely weather today, we are going for a walk in the park."
#: A post that fails alone (the model works on a known-good post) is tried again after these
#: pauses before it is dead-lettered: the first failure may have been transient.
SINGLE_POST_RETRY_S = (0.2, 1.0)


class _Counter(Protocol):
    def inc(self, amount: float = 1) -> None: ...


class _Histogram(Protocol):
    def observe(self, amount: float) -> None: ...


class GuardMetrics(Protocol):
    """What the guard records (the consumer's ServiceMetrics and the API's ApiMetrics both have it)."""

    @property
    def model_unavailable(self) -> _Counter: ...
    @property
    def single_post_retries(self) -> _Counter: ...
    @property
    def inference_seconds(self) -> _Histogram: ...


@dataclass(frozen=True)
class Unscorable:
    """A post the model fails on while it scores a known-good post: its dead-letter code and reason."""

    code: str
    reason: str


class ModelGuard:
    """Runs ``scorer`` in ``inference`` and isolates the posts it cannot score."""

    def __init__(
        self,
        scorer: Scorer,
        inference: InferenceThread,
        metrics: GuardMetrics,
        single_post_retry_s: Sequence[float] = SINGLE_POST_RETRY_S,
    ) -> None:
        self.scorer = scorer
        self._inference = inference
        self._metrics = metrics
        self._single_post_retry_s = tuple(single_post_retry_s)
        # Numbers the known-good probes, so that no two are alike (see model_is_broken).
        self._probe_numbers = itertools.count(1)

    async def score(
        self, contents: Sequence[PostContent], post_ids: Sequence[str]
    ) -> list[ModerationResult | Unscorable]:
        """A result for every post: all in one call; if that fails, one by one, each post that
        fails alone (with the model working) as :class:`Unscorable`. Raises
        :class:`~service.errors.ModelUnavailable` when the model fails on a known-good post too."""
        if not contents:
            return []
        try:
            return list(await self.run(list(contents)))
        except Exception as exc:  # noqa: BLE001 - any model failure: isolate the culprit below
            logger.warning(
                "scoring a batch of %d posts failed (%s); scoring them one by one",
                len(contents),
                type(exc).__name__,
            )
        scored: list[ModerationResult | Unscorable] = []
        for post_id, content in zip(post_ids, contents, strict=True):
            try:
                result = await self._score_alone(content)
            except Exception as exc:  # noqa: BLE001 - the post or the model: the probe tells which
                if await self.model_is_broken(exc, content):
                    # Dead-lettering here would empty the topic into the DLQ for as long as the model
                    # is broken (out of memory, a corrupt weight file, a bug): hold the posts instead.
                    self._metrics.model_unavailable.inc()
                    raise ModelUnavailable(
                        f"the model failed on post {post_id} ({exc!r}) and on a "
                        "known-good post too: the model is at fault, not the post; nothing is "
                        "dead-lettered or committed, the posts are tried again after a pause"
                    ) from exc
                code = exc.code if isinstance(exc, ModelError) else MODEL_ERROR
                attempts = 1 if isinstance(exc, InputError) else len(self._single_post_retry_s) + 1
                logger.warning(
                    "post %s cannot be scored (%s, %d attempt%s)",
                    post_id,
                    type(exc).__name__,
                    attempts,
                    "" if attempts == 1 else "s",
                )
                reason = f"the model failed {'once' if attempts == 1 else f'{attempts} times'}: {exc!r}"
                scored.append(Unscorable(code, reason))
                continue
            scored.append(result)
        return scored

    async def _score_alone(self, content: PostContent) -> ModerationResult:
        """Score one post, trying again after the pauses of ``single_post_retry_s`` when it fails
        for a reason other than its input (a transient error must not dead-letter a good post)."""
        for pause in (*self._single_post_retry_s, None):
            try:
                (result,) = await self.run([content])
                return result
            except InputError:
                raise
            except Exception:
                if pause is None:
                    raise
                self._metrics.single_post_retries.inc()
                await asyncio.sleep(pause)
        raise AssertionError("unreachable")

    async def model_is_broken(self, error: Exception, failed: PostContent) -> bool:
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
            await self.run([probe])
        except Exception as exc:  # noqa: BLE001 - any failure here is the answer
            logger.error("the model fails on a known-good post too (%r)", exc)
            return True
        return False

    async def run(self, contents: list[PostContent]) -> list[ModerationResult]:
        """The scorer's results for ``contents``, in the inference thread, checked against the contract."""
        started = time.perf_counter()
        results = await self._inference.run(self.scorer.score, contents)
        self._metrics.inference_seconds.observe(time.perf_counter() - started)
        if len(results) != len(contents):
            raise RuntimeError(f"the scorer returned {len(results)} results for {len(contents)} posts")
        for result in results:
            _check_result(result)
        return results


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
