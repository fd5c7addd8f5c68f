"""A shared memory budget for image decoding.

A batch's images are decoded concurrently on worker threads, and a few small files can decode
to gigabytes (a 155 KB PNG of 6320 x 6320 transparent pixels needs ~300 MiB). Each decode first
reads its image's header (``models.image_decoding.open_image`` estimates the memory it needs),
then holds that many bytes of this budget while it decodes: decodes that would overrun the
budget wait on the event loop (no thread is blocked), so decoding memory stays bounded whatever
the batch holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class DecodeBudget:
    """At most ``capacity`` bytes held at once; a single request larger than the whole budget
    runs alone (callers refuse such images before asking: the per-image limit is smaller)."""

    def __init__(self, capacity: int) -> None:
        if capacity <= 0:
            raise ValueError(f"decode budget must be positive, got {capacity}")
        self.capacity = capacity
        self._held = 0
        self._peak = 0
        self._changed = asyncio.Condition()

    @property
    def held(self) -> int:
        """Bytes held by decodes in progress."""
        return self._held

    @property
    def peak_held(self) -> int:
        """The most bytes held at once so far."""
        return self._peak

    @contextlib.asynccontextmanager
    async def hold(self, nbytes: int) -> AsyncIterator[None]:
        """Hold ``nbytes`` of the budget for the duration of the block, waiting until they fit."""
        async with self._changed:
            await self._changed.wait_for(lambda: self._held == 0 or self._held + nbytes <= self.capacity)
            self._held += nbytes
            self._peak = max(self._peak, self._held)
        try:
            yield
        finally:
            async with self._changed:
                self._held -= nbytes
                self._changed.notify_all()
