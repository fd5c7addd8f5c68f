"""Micro-batching across concurrent requests: posts that arrive while the model is busy, or within
a short wait of each other, are scored in one call.

The model scores a batch of N short texts in far less than N times one text's time, so under load
batching is what keeps the API's throughput near the consumer's. A lone request waits at most
``max_wait_s`` for company; the model call itself goes through the
:class:`~service.moderation.model_guard.ModelGuard` (one inference thread, a failing post isolated
from the rest of its batch, a broken model told apart from a bad post).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from models.types import ModerationResult, PostContent
from service.moderation.model_guard import ModelGuard, Unscorable

__all__ = ["MicroBatcher"]

logger = logging.getLogger(__name__)


@dataclass
class _Pending:
    content: PostContent
    post_id: str
    future: asyncio.Future[ModerationResult | Unscorable]


class MicroBatcher:
    """Collects posts from concurrent callers and scores them ``max_batch`` at a time."""

    def __init__(
        self,
        model: ModelGuard,
        *,
        max_batch: int = 32,
        max_wait_s: float = 0.005,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be >= 1, got {max_batch}")
        self._model = model
        self._max_batch = max_batch
        self._max_wait_s = max_wait_s
        self._on_batch = on_batch
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="api-micro-batcher")

    async def stop(self) -> None:
        """Stop scoring; callers still waiting get a ``RuntimeError``."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            pending = self._queue.get_nowait()
            if not pending.future.done():
                pending.future.set_exception(RuntimeError("the API is shutting down"))

    async def score(
        self, contents: list[PostContent], post_ids: list[str]
    ) -> list[ModerationResult | Unscorable]:
        """The result for each post (in order), scored together with whatever else is waiting.
        Raises :class:`~service.errors.ModelUnavailable` when the model is broken."""
        if self._task is None:
            raise RuntimeError("the batcher is not started")
        loop = asyncio.get_running_loop()
        pending = [_Pending(c, p, loop.create_future()) for c, p in zip(contents, post_ids, strict=True)]
        for item in pending:
            self._queue.put_nowait(item)
        return list(await asyncio.gather(*(item.future for item in pending)))

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self._max_wait_s
            while len(batch) < self._max_batch:
                remaining = deadline - asyncio.get_running_loop().time()
                if not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                    continue
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            live = [item for item in batch if not item.future.done()]  # a caller may have gone
            if not live:
                continue
            if self._on_batch is not None:
                self._on_batch(len(live))
            try:
                results = await self._model.score([i.content for i in live], [i.post_id for i in live])
            except Exception as exc:  # noqa: BLE001 - every waiting caller gets the failure
                for item in live:
                    if not item.future.done():
                        item.future.set_exception(exc)
                continue
            for item, result in zip(live, results, strict=True):
                if not item.future.done():
                    item.future.set_result(result)
