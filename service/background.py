"""Two small helpers every long-running part of the service shares: exponential back-off between
attempts, and one background task with a clean start and stop."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any


@dataclass
class Backoff:
    """Exponential back-off: the pause after the n-th failure in a row is ``first_s * 2**(n-1)``,
    at most ``max_s``; a success starts again from ``first_s``."""

    first_s: float
    max_s: float
    failures: int = 0

    def failed(self) -> float:
        """Count a failure; the pause before the next attempt."""
        self.failures += 1
        return min(self.max_s, self.first_s * 2 ** (self.failures - 1))

    def succeeded(self) -> int:
        """Count a success; how many failures in a row it ends (0: none)."""
        ended, self.failures = self.failures, 0
        return ended


class BackgroundTask:
    """Runs ``run()`` as one named asyncio task in the running event loop until :meth:`stop`."""

    def __init__(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._run = run
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None

    def start(self) -> None:
        """Start the task; an error when it already runs (two loops would do the work twice)."""
        if self._task is not None:
            raise RuntimeError(f"{self._name} is already started")
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        """Cancel the task and wait until it has ended. Safe to call twice, or before start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
