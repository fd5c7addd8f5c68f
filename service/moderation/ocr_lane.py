"""The OCR lane: images that need OCR are read beside the consumer, not in its way.

Reading the text in a meme takes ~0.2 s of a core (RapidOCR), 10-50 times what scoring a text
post costs. If the consumer waited for it, every post fetched behind a meme would wait too. So the
pipeline hands those posts to this lane and returns; the consumer goes on fetching and scoring
text posts and photos while the lane, on its own threads, reads the images (``readers`` at a
time: one leaves the other core to the consumer's inference; two shorten the queue behind a meme
under heavy load, at the cost of text latency, docs/performance.md), then has the ready ones
decided (scored, stored and published) in small groups through a callback, and reports them as settled so their offsets can be committed
(service/kafka/offsets.py keeps the commit from passing a post that is not decided yet).

The lane holds at most ``max_pending`` posts in all — waiting to be read, being read, waiting to
be decided and being decided: when it is full, :meth:`OcrLane.put` waits, which stops the consumer
from fetching more (backpressure) instead of buffering images without bound, however slow the
decider. A post already in the lane (the same ``key``: a batch rewound after a failure fetches
its memes again) is not queued a second time. Deciding is idempotent (the database keeps the first
decision of a post), so a group that fails is retried after a pause that doubles up to a minute,
and whatever is unsettled when the service stops is simply redelivered.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Hashable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Generic, TypeVar

from PIL import Image

from service.background import Backoff

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Pause before a group whose decision failed (database or broker trouble, the model down) is tried
#: again, doubled per consecutive failure up to the cap.
RETRY_PAUSE_S = 1.0
RETRY_PAUSE_MAX_S = 60.0


class OcrLane(Generic[T]):
    """A bounded queue of posts to read, a reader on its own thread, and a decider."""

    def __init__(
        self,
        *,
        image_of: Callable[[T], Image.Image],
        key_of: Callable[[T], Hashable] = id,
        read_text: Callable[[Image.Image], str] | None,
        decide: Callable[[list[tuple[T, str | None]]], Awaitable[None]],
        max_pending: int = 64,
        max_group: int = 32,
        readers: int = 1,
        on_depth: Callable[[int], None] | None = None,
        on_read: Callable[[float, float], None] | None = None,
        on_retry: Callable[[], None] | None = None,
    ) -> None:
        """``read_text`` runs in the lane's threads (None: the decider's scorer reads the images
        itself), ``readers`` images at a time, so it must be thread-safe when ``readers`` > 1;
        ``decide`` gets (post, text read) pairs and must store and publish them; ``on_depth`` is
        told the number of posts in the lane whenever it changes (a gauge); ``on_read`` is told, for
        each image read, how long it waited in the lane and how long reading it took (seconds);
        ``key_of`` names a post (its Kafka position): a post whose key is in the lane is not
        queued again; ``on_retry`` is told each time a failed group is tried again."""
        if max_pending < 1 or max_group < 1 or readers < 1:
            raise ValueError("max_pending, max_group and readers must be at least 1")
        self._readers = readers
        self._image_of = image_of
        self._read_text = read_text
        self._decide = decide
        self._max_group = max_group
        self._on_depth = on_depth
        self._on_read = on_read
        self._on_retry = on_retry
        self._key_of = key_of
        # Room for posts anywhere in the lane: taken by put, given back once a post is decided.
        self._room = asyncio.Semaphore(max_pending)
        self._keys: set[Hashable] = set()
        # (post, when it was queued: time.perf_counter())
        self._to_read: asyncio.Queue[tuple[T, float]] = asyncio.Queue()
        self._to_decide: asyncio.Queue[tuple[T, str | None]] = asyncio.Queue()
        self._in_lane = 0
        self._empty = asyncio.Event()
        self._empty.set()
        self._closing = False
        self._thread = ThreadPoolExecutor(max_workers=readers, thread_name_prefix="postguard-ocr")
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def depth(self) -> int:
        """Posts put and not yet decided."""
        return self._in_lane

    @property
    def closing(self) -> bool:
        return self._closing

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [
                *(
                    asyncio.create_task(self._reader(), name=f"postguard-ocr-reader-{n}")
                    for n in range(self._readers)
                ),
                asyncio.create_task(self._decider(), name="postguard-ocr-decider"),
            ]

    async def put(self, items: Sequence[T]) -> int:
        """Queue posts for reading; waits while the lane is full. Posts already in the lane are
        skipped; returns how many were queued."""
        self.start()
        fresh = []
        for item in items:
            key = self._key_of(item)
            if key not in self._keys:
                self._keys.add(key)
                fresh.append(item)
        # Count the whole batch before the first wait: a drain that starts while this put waits
        # for room must wait for every post of the batch, not only those already queued.
        if fresh:
            self._changed(+len(fresh))
        for item in fresh:
            await self._room.acquire()
            self._to_read.put_nowait((item, time.perf_counter()))
        return len(fresh)

    async def drain(self, timeout_s: float | None = None) -> bool:
        """Stop taking new posts (the pipeline then reads images inline) and wait until every post in
        the lane is decided; False when ``timeout_s`` passed first."""
        self._closing = True
        try:
            await asyncio.wait_for(self._empty.wait(), timeout_s)
        except TimeoutError:
            logger.warning(
                "%d posts were still waiting for OCR at shutdown; they are not committed and will be redelivered",
                self._in_lane,
            )
            return False
        return True

    async def close(self) -> None:
        """Cancel the lane's tasks and release its threads (after :meth:`drain`). Does not wait for
        a read in progress: a stuck OCR call must not hang the shutdown (it ends by itself, or with
        the process)."""
        self._closing = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._thread.shutdown(wait=False, cancel_futures=True)

    # --- the two stages ---------------------------------------------------------------------

    async def _reader(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            item, queued_at = await self._to_read.get()
            text: str | None = None
            if self._read_text is not None:
                picked_at = time.perf_counter()
                try:
                    text, read_s = await loop.run_in_executor(self._thread, self._read, self._image_of(item))
                except Exception as exc:  # noqa: BLE001 - the scorer reads it again and reports the error
                    logger.info("OCR failed in the lane (%s); the scorer will read the image itself", exc)
                else:
                    if self._on_read is not None:
                        self._on_read(picked_at - queued_at, read_s)
            await self._to_decide.put((item, text))

    def _read(self, image: Image.Image) -> tuple[str, float]:
        """The text in ``image`` and the seconds reading it took (runs on a lane thread)."""
        assert self._read_text is not None
        started = time.perf_counter()
        text = self._read_text(image)
        return text, time.perf_counter() - started

    async def _decider(self) -> None:
        while True:
            group = [await self._to_decide.get()]
            while len(group) < self._max_group and not self._to_decide.empty():
                group.append(self._to_decide.get_nowait())
            backoff = Backoff(RETRY_PAUSE_S, RETRY_PAUSE_MAX_S)
            while True:
                try:
                    await self._decide(group)
                    break
                except asyncio.CancelledError:
                    raise
                except Exception:
                    # Decisions are idempotent: trying again cannot duplicate one. Nothing is
                    # committed past these posts meanwhile, so a crash here loses nothing either.
                    pause = backoff.failed()
                    logger.exception(
                        "deciding %d posts from the OCR lane failed (%d in a row); retrying in %.0f s",
                        len(group),
                        backoff.failures,
                        pause,
                    )
                    if self._on_retry is not None:
                        self._on_retry()
                    await asyncio.sleep(pause)
            for item, _ in group:
                self._keys.discard(self._key_of(item))
                self._room.release()
            self._changed(-len(group))

    def _changed(self, delta: int) -> None:
        self._in_lane += delta
        if self._in_lane == 0:
            self._empty.set()
        else:
            self._empty.clear()
        if self._on_depth is not None:
            self._on_depth(self._in_lane)
