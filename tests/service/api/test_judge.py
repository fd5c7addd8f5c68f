"""The judge with fakes around it: what it stores, when it answers from storage, how it fails."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError

from models.types import ModerationResult, PostContent
from service.api.errors import ApiError
from service.api.judge import Item, Judge, request_id_for
from service.errors import ModelUnavailable
from service.moderation.images import ImageLimits, ImageLoader
from service.moderation.model_guard import Unscorable
from service.moderation.policy import Policy, Thresholds
from service.records import ApiRequestRef
from service.storage.api_records import StoredApiPost
from service.storage.repository import DecisionRecord, StoredDecision

POLICY = Policy(version="p1", categories={"hate": Thresholds(0.5, 0.9)})


class FakeBatcher:
    def __init__(self, outcome: Any = None) -> None:
        self.outcome = outcome
        self.calls = 0

    async def score(self, contents: Sequence[PostContent], post_ids: Sequence[str]) -> list[Any]:
        self.calls += 1
        if isinstance(self.outcome, Exception):
            raise self.outcome
        if self.outcome is not None:
            return [self.outcome for _ in contents]
        return [
            ModerationResult({"hate": 0.7 if "hate" in (c.text or "") else 0.1}, {}, None) for c in contents
        ]


class FakeStore:
    def __init__(self, fail: Exception | None = None) -> None:
        self.posts: dict[str, tuple[DecisionRecord, StoredDecision]] = {}
        self.fail = fail

    async def record(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        if self.fail:
            raise self.fail
        out = []
        for n, r in enumerate(records):
            if r.post_id not in self.posts:
                stored = StoredDecision(
                    r.post_id,
                    n,
                    r.action,
                    r.scores,
                    r.triggered,
                    r.attribution,
                    r.model_version,
                    r.policy_version,
                    r.decided_at,
                    True,
                )
                self.posts[r.post_id] = (r, stored)
            else:
                stored = dataclasses.replace(self.posts[r.post_id][1], created=False)
            out.append(stored)
        return out

    async def find(self, post_ids: Sequence[str]) -> dict[str, StoredApiPost]:
        if self.fail:
            raise self.fail
        return {
            p: StoredApiPost(p, r.metadata, r.text is not None, r.image_sha256 is not None, r.ocr_text, d)
            for p, (r, d) in self.posts.items()
            if p in post_ids
        }


def _judge(batcher: FakeBatcher, store: FakeStore) -> Judge:
    return Judge(
        batcher=batcher,  # type: ignore[arg-type]
        policy=POLICY,
        image_loader=ImageLoader(ImageLimits()),
        store=store,
        model_version="m1",
    )


def _items(*texts: str) -> list[Item]:
    return [Item(text=t, image=None, param=f"input[{n}]") for n, t in enumerate(texts)]


async def test_decisions_are_stored_with_the_request_as_source() -> None:
    store = FakeStore()
    judged = await _judge(FakeBatcher(), store).judge(
        _items("hate you all", "hello"), request_id="r1", author_id="team", keep=True, idempotent=False
    )
    assert [j.action for j in judged] == ["review", "allow"] and all(j.stored for j in judged)
    record, _ = store.posts["api-r1-0"]
    assert record.source == ApiRequestRef("r1") and record.author_id == "team"
    assert record.metadata["request_sha256"] and record.triggered[0]["name"] == "hate"


async def test_nothing_is_stored_when_the_caller_says_so() -> None:
    store = FakeStore()
    (judged,) = await _judge(FakeBatcher(), store).judge(
        _items("hello"), request_id="r2", author_id="t", keep=False, idempotent=False
    )
    assert not judged.stored and store.posts == {}


async def test_an_idempotent_retry_is_answered_from_storage_without_scoring() -> None:
    store, batcher = FakeStore(), FakeBatcher()
    judge = _judge(batcher, store)
    first = await judge.judge(
        _items("hate x"), request_id="idem-1", author_id="t", keep=True, idempotent=True
    )
    again = await judge.judge(
        _items("hate x"), request_id="idem-1", author_id="t", keep=True, idempotent=True
    )
    assert batcher.calls == 1 and again[0].replayed and again[0].scores == first[0].scores
    with pytest.raises(ApiError) as caught:
        await judge.judge(_items("other"), request_id="idem-1", author_id="t", keep=True, idempotent=True)
    assert caught.value.status == 422


def test_request_ids_from_idempotency_keys_are_per_api_key() -> None:
    a = request_id_for(key_name="a", idempotency_key="k", fresh_id="x")
    assert a == request_id_for(key_name="a", idempotency_key="k", fresh_id="y")
    assert a != request_id_for(key_name="b", idempotency_key="k", fresh_id="x")
    assert request_id_for(key_name="a", idempotency_key=None, fresh_id="x") == "x"


@pytest.mark.parametrize(
    ("batcher", "store", "status", "code"),
    [
        (FakeBatcher(ModelUnavailable("down")), FakeStore(), 503, "model_unavailable"),
        (FakeBatcher(Unscorable("image_undecodable", "bad pixels")), FakeStore(), 400, "image_undecodable"),
        (
            FakeBatcher(),
            FakeStore(OperationalError("INSERT", {}, Exception("gone"))),
            503,
            "database_unavailable",
        ),
    ],
)
async def test_failures_become_api_errors(
    batcher: FakeBatcher, store: FakeStore, status: int, code: str
) -> None:
    with pytest.raises(ApiError) as caught:
        await _judge(batcher, store).judge(
            _items("x"), request_id="r", author_id="t", keep=True, idempotent=False
        )
    assert (caught.value.status, caught.value.code) == (status, code)


async def test_a_refused_image_names_its_field() -> None:
    from service.moderation.contract import ImageRef

    item = Item(
        text=None,
        image=ImageRef(data="bm90IGFuIGltYWdl"),
        param="input",
        image_param="input[1].image_url.url",
    )
    with pytest.raises(ApiError) as caught:
        await _judge(FakeBatcher(), FakeStore()).judge(
            [item], request_id="r", author_id="t", keep=True, idempotent=False
        )
    assert caught.value.status == 400 and caught.value.param == "input[1].image_url.url"
