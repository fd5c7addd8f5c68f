"""Content-addressed LRU caches for encoder outputs and OCR results.

Reposted images and copy-paste spam waves send the same bytes many times; encoding them (and
OCR, ~0.3 s an image) again is pure waste. Keys are sha256 digests of the content (the
normalised text, or the decoded pixels with their size), so a hit is exact, never approximate.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Generic, TypeVar

from PIL import Image

V = TypeVar("V")


def text_key(text: str) -> str:
    """Cache key of a (normalised) text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def image_key(image: Image.Image) -> str:
    """Cache key of decoded pixels: mode and size are part of it, so equal bytes mean equal images."""
    digest = hashlib.sha256(f"{image.mode}:{image.size[0]}x{image.size[1]}:".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()


class LruCache(Generic[V]):
    """A thread-safe least-recently-used map with at most ``max_entries`` entries (0 disables it)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 0:
            raise ValueError(f"max_entries must be >= 0, got {max_entries}")
        self.max_entries = max_entries
        self._entries: OrderedDict[str, V] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> V | None:
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: str, value: V) -> None:
        if self.max_entries == 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.hits = self.misses = 0
