"""The pipeline's one inference thread, lent to the OCR lane while it has nothing to score.

Scoring runs on one dedicated thread (torch keeps per-thread state, and the event loop must stay
free for heartbeats and fetches). Between batches that thread is idle, often for most of the time
at moderate load, while the OCR lane's thread may be reading a meme line by line. Lending the idle
thread to the lane lets a meme's text lines be recognised on both cores (models/ocr.py,
``_SharedRecognition``). The loan never delays scoring by more than one piece of lent work: a lent
job is started only while no scoring is queued or running, and it is told to hand the thread back
(``wanted_back``) as soon as scoring is submitted.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


class InferenceThread:
    """Runs the pipeline's own work on one thread and lends that thread out while it is idle."""

    def __init__(self, *, on_lent: Callable[[float], None] | None = None) -> None:
        """``on_lent`` is told the seconds of every lent job (a counter of lent time)."""
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postguard-inference")
        self._on_lent = on_lent
        self._lock = threading.Lock()
        # Own jobs submitted and not finished; a loan is offered only while this is 0.
        self._own = 0
        self._lent = False

    async def run(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run ``fn`` on the thread (after a lent job's current piece, if one is running)."""
        with self._lock:
            self._own += 1
        try:
            future = self._executor.submit(self._own_job, functools.partial(fn, *args, **kwargs))
        except BaseException:
            with self._lock:
                self._own -= 1
            raise
        return await asyncio.wrap_future(future)

    def _own_job(self, call: Callable[[], R]) -> R:
        try:
            return call()
        finally:
            # Counted down on the thread itself, the moment the work ends, not when the event
            # loop gets round to the result.
            with self._lock:
                self._own -= 1

    @property
    def busy(self) -> bool:
        """True while own work is queued or running."""
        return self._own > 0

    def offer(self, job: Callable[[Callable[[], bool]], None]) -> bool:
        """Start ``job(wanted_back)`` on the thread if no own work is queued or running and nothing
        else is lent; False otherwise (``job`` is not run). ``wanted_back()`` is True once own work
        is waiting: the job should then return after the piece it is on. Safe from any thread."""
        with self._lock:
            if self._own > 0 or self._lent:
                return False
            self._lent = True
        try:
            self._executor.submit(self._lent_job, job)
        except RuntimeError:  # shut down: nothing is lent any more
            with self._lock:
                self._lent = False
            return False
        return True

    def _lent_job(self, job: Callable[[Callable[[], bool]], None]) -> None:
        started = time.perf_counter()
        try:
            job(lambda: self.busy)
        except Exception:
            # The borrower's own bug: nobody waits on this future, so say it here.
            logger.exception("work lent to the inference thread failed")
        finally:
            with self._lock:
                self._lent = False
            if self._on_lent is not None:
                self._on_lent(time.perf_counter() - started)

    def shutdown(self, *, wait: bool = True) -> None:
        """Release the thread: wait for running work to finish, or (``wait=False``) cancel queued
        work and return at once, leaving a running call to end by itself (shutdown must not hang
        on a stuck inference; ``service.app.run_service`` bounds the process's exit)."""
        self._executor.shutdown(wait=wait, cancel_futures=not wait)
