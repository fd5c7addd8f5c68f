"""Coalescing work across concurrent requests: the model scores, and the database stores, the
inputs of every request that arrives while the previous call runs (or within a short wait) in one
call.

The model scores a batch of N short texts in far less than N times one text's time, and one
transaction of N decisions costs little more than one of a single decision; per request, both
would leave the API far behind the consumer, which batches both. A lone request waits at most
``max_wait_s`` for company. The model call goes through the
:class:`~service.moderation.model_guard.ModelGuard` (one inference thread, a failing post isolated
from the rest of its batch, a broken model told apart from a bad post).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from models.types import ModerationResult, PostContent
from service.moderation.model_guard import ModelGuard, Unscorable
from service.storage.repository import DecisionRecord, StoredDecision

__all__ = ["Coalescer", "MicroBatcher", "StoreCoalescer"]

logger = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741 - an item
R = TypeVar("R")  # its result


@dataclass
class _Submission(Generic[I, R]):
    items: list[I]
    future: asyncio.Future[list[R]]


class Coalescer(Generic[I, R]):
    """Runs ``run_batch`` on the items of every submission waiting, ``max_items`` at most (a
    submission is never split). ``isolate``: when a call over several submissions fails, each is
    tried alone, so one caller's bad input fails only that caller."""

    def __init__(
        self,
        run_batch: Callable[[list[I]], Awaitable[Sequence[R]]],
        *,
        name: str,
        max_items: int = 32,
        max_wait_s: float = 0.005,
        isolate: bool = False,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be >= 1, got {max_items}")
        self._run_batch = run_batch
        self._name = name
        self._max_items = max_items
        self._max_wait_s = max_wait_s
        self._isolate = isolate
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Submission[I, R]] = asyncio.Queue()
        self._held: _Submission[I, R] | None = None  # did not fit the last batch: first in the next
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Stop; callers still waiting get a ``RuntimeError``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        waiting = [self._held] if self._held else []
        while not self._queue.empty():
            waiting.append(self._queue.get_nowait())
        for submission in waiting:
            if not submission.future.done():
                submission.future.set_exception(RuntimeError("the API is shutting down"))

    async def submit(self, items: Sequence[I]) -> list[R]:
        """The results of ``items``, in order, computed together with whatever else is waiting."""
        if self._task is None:
            raise RuntimeError(f"{self._name} is not started")
        if not items:
            return []
        submission: _Submission[I, R] = _Submission(list(items), asyncio.get_running_loop().create_future())
        self._queue.put_nowait(submission)
        return await submission.future

    async def _next_batch(self) -> list[_Submission[I, R]]:
        loop = asyncio.get_running_loop()
        first = self._held or await self._queue.get()
        self._held = None
        batch, size = [first], len(first.items)
        deadline = loop.time() + self._max_wait_s
        while size < self._max_items:
            remaining = deadline - loop.time()
            if self._queue.empty() and remaining <= 0:
                break
            try:
                submission = (
                    self._queue.get_nowait()
                    if not self._queue.empty()
                    else await asyncio.wait_for(self._queue.get(), remaining)
                )
            except TimeoutError:
                break
            if size + len(submission.items) > self._max_items:
                self._held = submission
                break
            batch.append(submission)
            size += len(submission.items)
        return batch

    async def _run(self) -> None:
        while True:
            batch = [s for s in await self._next_batch() if not s.future.done()]  # a caller may have gone
            if batch:
                await self._settle(batch)

    async def _settle(self, batch: list[_Submission[I, R]]) -> None:
        items = [item for submission in batch for item in submission.items]
        if self._on_batch is not None:
            self._on_batch(len(items))
        try:
            results = list(await self._run_batch(items))
        except Exception as exc:  # noqa: BLE001 - handed to the callers
            if self._isolate and len(batch) > 1:
                logger.warning(
                    "%s: a call over %d requests failed (%r); trying each alone", self._name, len(batch), exc
                )
                for submission in batch:
                    await self._settle([submission])
                return
            for submission in batch:
                if not submission.future.done():
                    submission.future.set_exception(exc)
            return
        start = 0
        for submission in batch:
            end = start + len(submission.items)
            if not submission.future.done():
                submission.future.set_result(results[start:end])
            start = end


class MicroBatcher:
    """The model's coalescer: scores the posts of concurrent requests ``max_batch`` at a time."""

    def __init__(
        self,
        model: ModelGuard,
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        async def score(pairs: list[tuple[PostContent, str]]) -> list[ModerationResult | Unscorable]:
            return await model.score([content for content, _ in pairs], [post_id for _, post_id in pairs])

        # The guard isolates a failing post itself; what still fails is the model: everyone's answer.
        self._coalescer: Coalescer[tuple[PostContent, str], ModerationResult | Unscorable] = Coalescer(
            score, name="api-model-batcher", max_items=max_batch, max_wait_s=max_wait_s, on_batch=on_batch
        )

    def start(self) -> None:
        self._coalescer.start()

    async def stop(self) -> None:
        await self._coalescer.stop()

    async def score(
        self, contents: Sequence[PostContent], post_ids: Sequence[str]
    ) -> list[ModerationResult | Unscorable]:
        """The result for each post (in order); raises ModelUnavailable when the model is broken."""
        return await self._coalescer.submit(list(zip(contents, post_ids, strict=True)))


class StoreCoalescer:
    """The database's coalescer: the decisions of concurrent requests in one transaction."""

    def __init__(
        self,
        record: Callable[[list[DecisionRecord]], Awaitable[list[StoredDecision]]],
        *,
        max_records: int = 256,
        max_wait_s: float = 0.002,
    ) -> None:
        self._coalescer: Coalescer[DecisionRecord, StoredDecision] = Coalescer(
            record, name="api-store-batcher", max_items=max_records, max_wait_s=max_wait_s, isolate=True
        )

    def start(self) -> None:
        self._coalescer.start()

    async def stop(self) -> None:
        await self._coalescer.stop()

    async def record(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        return await self._coalescer.submit(records)
