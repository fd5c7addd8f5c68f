"""Micro-batching: concurrent requests share model calls; a failure reaches every waiting caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from models.types import ModerationResult, PostContent
from service.api.batcher import MicroBatcher
from service.errors import ModelUnavailable


class FakeGuard:
    """Records each call's size; scores a text by its length."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.calls: list[int] = []
        self.fail = fail

    async def score(self, contents: Sequence[PostContent], post_ids: Sequence[str]) -> list[Any]:
        self.calls.append(len(contents))
        await asyncio.sleep(0.01)  # the model is busy: later requests queue up meanwhile
        if self.fail is not None:
            raise self.fail
        return [ModerationResult({"toxic": len(c.text or "") / 100}, {}, None) for c in contents]


async def test_concurrent_requests_share_model_calls() -> None:
    guard = FakeGuard()
    batches: list[int] = []
    batcher = MicroBatcher(guard, max_batch=8, max_wait_s=0.005, on_batch=batches.append)  # type: ignore[arg-type]
    batcher.start()
    try:
        results = await asyncio.gather(
            *(batcher.score([PostContent(text="x" * n)], [f"p{n}"]) for n in range(20))
        )
    finally:
        await batcher.stop()
    scores = [r[0].scores["toxic"] for r in results if isinstance(r[0], ModerationResult)]
    assert scores == [n / 100 for n in range(20)]  # each gets its own
    assert sum(guard.calls) == 20 and max(guard.calls) == 8 and len(guard.calls) < 20
    assert batches == guard.calls


async def test_a_lone_request_waits_at_most_the_bounded_wait() -> None:
    guard = FakeGuard()
    batcher = MicroBatcher(guard, max_batch=32, max_wait_s=0.05)  # type: ignore[arg-type]
    batcher.start()
    try:
        loop = asyncio.get_running_loop()
        started = loop.time()
        await batcher.score([PostContent(text="hi")], ["p"])
        assert loop.time() - started < 0.05 + 0.01 + 0.2
    finally:
        await batcher.stop()
    assert guard.calls == [1]


async def test_a_model_outage_reaches_every_caller() -> None:
    batcher = MicroBatcher(FakeGuard(fail=ModelUnavailable("broken")), max_wait_s=0.001)  # type: ignore[arg-type]
    batcher.start()
    try:
        outcomes = await asyncio.gather(
            *(batcher.score([PostContent(text="a")], [str(n)]) for n in range(3)), return_exceptions=True
        )
    finally:
        await batcher.stop()
    assert all(isinstance(o, ModelUnavailable) for o in outcomes)


async def test_scoring_needs_a_started_batcher() -> None:
    with pytest.raises(RuntimeError, match="not started"):
        await MicroBatcher(FakeGuard()).score([PostContent(text="a")], ["p"])  # type: ignore[arg-type]


async def test_the_store_writes_concurrent_requests_in_one_call_and_isolates_a_bad_one() -> None:
    from service.api.batcher import StoreCoalescer

    calls: list[list[str]] = []

    async def write(records: list[Any]) -> list[str]:
        calls.append(list(records))
        await asyncio.sleep(0.01)
        if "bad" in records:
            raise ValueError("the database refuses 'bad'")
        return [f"stored {r}" for r in records]

    store = StoreCoalescer(write, max_records=10, max_wait_s=0.005)  # type: ignore[arg-type]
    store.start()
    try:
        outcomes = await asyncio.gather(
            store.record(["a1", "a2"]),  # type: ignore[list-item]
            store.record(["b1"]),  # type: ignore[list-item]
            store.record(["bad"]),  # type: ignore[list-item]
            return_exceptions=True,
        )
    finally:
        await store.stop()
    assert outcomes[0] == ["stored a1", "stored a2"] and outcomes[1] == ["stored b1"]
    assert isinstance(outcomes[2], ValueError)  # only the bad request fails
    assert calls[0] == ["a1", "a2", "b1", "bad"]  # first all together, then each alone


async def test_a_submission_that_does_not_fit_waits_for_the_next_call() -> None:
    from service.api.batcher import Coalescer

    sizes: list[int] = []

    async def run(items: list[int]) -> list[int]:
        sizes.append(len(items))
        return [i * 2 for i in items]

    coalescer: Coalescer[int, int] = Coalescer(run, name="test", max_items=4, max_wait_s=0.01)
    coalescer.start()
    try:
        results = await asyncio.gather(
            coalescer.submit([1, 2, 3]), coalescer.submit([4, 5]), coalescer.submit([6])
        )
    finally:
        await coalescer.stop()
    assert results == [[2, 4, 6], [8, 10], [12]]
    assert max(sizes) <= 4 and sum(sizes) == 6  # never split, never over the limit
