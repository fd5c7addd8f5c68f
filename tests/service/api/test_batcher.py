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
