"""The API's judgement: the consumer's model, policy and database, one request at a time.

For each input of a request: load its image (the consumer's :class:`ImageLoader`: same limits and
SSRF policy), score it through the micro-batcher, apply the policy, and store the post and its
decision (source ``api``, the request id; a ``review`` decision enters the moderators' queue) —
unless the caller asked that nothing be stored. Nothing here touches Kafka.

Post ids are ``api-<request id>-<n>``. A request carrying an ``Idempotency-Key`` gets a request id
derived from the key and the API key's name, so a retry finds the posts stored the first time and is
answered from their decisions: scored once, stored once.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from models.types import PostContent
from service.api.batcher import MicroBatcher
from service.api.errors import ApiError
from service.errors import ModelUnavailable, PostRejected
from service.moderation.contract import ImageRef
from service.moderation.deciding import decision_record
from service.moderation.images import ImageLoader, LoadedImage
from service.moderation.model_guard import Unscorable
from service.moderation.policy import Policy
from service.records import ApiRequestRef
from service.storage.api_records import StoredApiPost
from service.storage.repository import DecisionRecord, StoredDecision

__all__ = ["ApiStore", "Item", "Judge", "Judged", "request_id_for"]

logger = logging.getLogger(__name__)

#: How long a request waits for the database before it is answered 503 (nothing stored).
STORE_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Item:
    """One input to judge: a text, an image, or both (``param`` names it in error messages)."""

    text: str | None
    image: ImageRef | None
    param: str
    #: The image's own field (``input[1].image_url.url``), for errors about the image.
    image_param: str | None = None


@dataclass(frozen=True)
class Judged:
    """One input's decision, as the response formats need it."""

    post_id: str
    action: str
    scores: dict[str, float]
    triggered: list[dict[str, Any]]
    attribution: dict[str, dict[str, float]]
    model_version: str
    policy_version: str
    has_text: bool
    has_image: bool
    ocr_text: str | None
    #: False when the caller asked that nothing be stored.
    stored: bool
    #: True when answered from the decision an earlier request with the same Idempotency-Key stored.
    replayed: bool = False

    @classmethod
    def of(
        cls,
        post_id: str,
        decision: StoredDecision | DecisionRecord,
        *,
        has_text: bool,
        has_image: bool,
        ocr_text: str | None,
        stored: bool,
        replayed: bool,
    ) -> Judged:
        """The answer for one input from its decision, as stored or (nothing stored) as made."""
        return cls(
            post_id=post_id,
            action=decision.action,
            scores=dict(decision.scores),
            triggered=list(decision.triggered),
            attribution=dict(decision.attribution),
            model_version=decision.model_version,
            policy_version=decision.policy_version,
            has_text=has_text,
            has_image=has_image,
            ocr_text=ocr_text,
            stored=stored,
            replayed=replayed,
        )


class ApiStore(Protocol):
    """The database as the judge uses it (``service/api/server.py`` binds the real one)."""

    async def record(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]: ...

    async def find(self, post_ids: Sequence[str]) -> dict[str, StoredApiPost]: ...


def request_id_for(*, key_name: str, idempotency_key: str | None, fresh_id: str) -> str:
    """The request id: derived from (API key, Idempotency-Key) when there is one, else ``fresh_id``."""
    if idempotency_key is None:
        return fresh_id
    digest = hashlib.sha256(f"{key_name}\x00{idempotency_key}".encode()).hexdigest()
    return f"idem-{digest[:32]}"


def fingerprint(items: Sequence[Item]) -> str:
    """What a retry must repeat: the inputs' texts and images (a reused key with other inputs is refused)."""
    digest = hashlib.sha256()
    for item in items:
        for part in (
            item.text,
            item.image.data if item.image else None,
            item.image.url if item.image else None,
        ):
            digest.update(b"\x01" if part is None else b"\x02" + part.encode() + b"\x00")
    return digest.hexdigest()


class Judge:
    """Decides the inputs of API requests like the consumer decides posts."""

    def __init__(
        self,
        *,
        batcher: MicroBatcher,
        policy: Policy,
        image_loader: ImageLoader,
        store: ApiStore,
        model_version: str,
    ) -> None:
        self._batcher = batcher
        self._policy = policy
        self._images = image_loader
        self._store = store
        self.model_version = model_version
        self.policy_version = policy.version

    async def judge(
        self,
        items: Sequence[Item],
        *,
        request_id: str,
        author_id: str,
        keep: bool,
        idempotent: bool,
        metadata: dict[str, Any] | None = None,
    ) -> list[Judged]:
        """Decide every input (in order). ``keep``: store posts and decisions; ``idempotent``: the
        request id came from an Idempotency-Key, so look for the decisions of an earlier try first.
        Raises :class:`ApiError` for a bad input (400), a model or database outage (503)."""
        post_ids = [f"api-{request_id}-{n}" for n in range(len(items))]
        request_sha256 = fingerprint(items)
        if idempotent and keep:
            earlier = await self._find(post_ids)
            if earlier:
                return self._replay(post_ids, earlier, request_sha256)
        images = await asyncio.gather(*(self._load(item) for item in items))
        contents = [
            PostContent(text=item.text, image=image.image if image else None)
            for item, image in zip(items, images, strict=True)
        ]
        try:
            results = await self._batcher.score(contents, post_ids)
        except ModelUnavailable as exc:
            raise ApiError(503, "the model is unavailable; try again shortly", "model_unavailable") from exc
        decided_at = datetime.now(UTC)
        metadata = {**(metadata or {}), "request_sha256": request_sha256}
        records = []
        for item, image, result, post_id in zip(items, images, results, post_ids, strict=True):
            if isinstance(result, Unscorable):
                raise ApiError(
                    400, f"{item.param} cannot be scored: {result.reason}", result.code, item.param
                )
            records.append(
                decision_record(
                    post_id=post_id,
                    author_id=author_id,
                    text=item.text,
                    image=image,
                    result=result,
                    policy=self._policy,
                    model_version=self.model_version,
                    created_at=decided_at,
                    lang=None,
                    metadata=metadata,
                    source=ApiRequestRef(request_id),
                    decided_at=decided_at,
                )
            )
        if not keep:
            return [_answer(r, r, stored=False, replayed=False) for r in records]
        stored = await self._record_all(records)
        # The row as stored: an identical request racing this one may have stored it first.
        return [
            _answer(r, s, stored=True, replayed=not s.created) for r, s in zip(records, stored, strict=True)
        ]

    async def _find(self, post_ids: Sequence[str]) -> dict[str, StoredApiPost]:
        try:
            return await asyncio.wait_for(self._store.find(post_ids), STORE_TIMEOUT_S)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.warning("reading earlier API decisions failed: %r", exc)
            raise ApiError(
                503, "the database is unavailable; try again shortly", "database_unavailable"
            ) from exc

    async def _record_all(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        try:
            return await asyncio.wait_for(self._store.record(records), STORE_TIMEOUT_S)
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            logger.warning("storing %d API decisions failed: %r", len(records), exc)
            # A write that timed out may still commit: only a refused one surely stored nothing.
            stored = "it may still be stored" if isinstance(exc, TimeoutError) else "nothing was stored"
            raise ApiError(
                503,
                f"the database is unavailable ({stored}); retry, with the same Idempotency-Key to be "
                "decided once",
                "database_unavailable",
            ) from exc

    def _replay(
        self, post_ids: Sequence[str], earlier: dict[str, StoredApiPost], request_sha256: str
    ) -> list[Judged]:
        posts = [earlier.get(post_id) for post_id in post_ids]
        if any(post is None or post.metadata.get("request_sha256") != request_sha256 for post in posts):
            raise ApiError(
                422,
                "this Idempotency-Key was used before with a different request; use a new key",
                "idempotency_key_reused",
            )
        return [
            Judged.of(
                post.post_id,
                post.decision,
                has_text=post.has_text,
                has_image=post.has_image,
                ocr_text=post.ocr_text,
                stored=True,
                replayed=True,
            )
            for post in posts
            if post is not None
        ]

    async def _load(self, item: Item) -> LoadedImage | None:
        if item.image is None:
            return None
        try:
            return await self._images.load(item.image)
        except PostRejected as exc:
            param = item.image_param or item.param
            raise ApiError(400, f"{param}: {exc.reason}", exc.code, param) from exc


def _answer(
    record: DecisionRecord, decision: StoredDecision | DecisionRecord, *, stored: bool, replayed: bool
) -> Judged:
    return Judged.of(
        record.post_id,
        decision,
        has_text=record.text is not None,
        has_image=record.image_sha256 is not None,
        ocr_text=record.ocr_text,
        stored=stored,
        replayed=replayed,
    )
