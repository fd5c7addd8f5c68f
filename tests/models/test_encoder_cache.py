"""The content-hash LRU caches of encoder outputs and OCR texts."""

from __future__ import annotations

import pytest
from PIL import Image

from models.encoder_cache import LruCache, image_key, text_key


def test_lru_evicts_the_least_recently_used_entry() -> None:
    cache: LruCache[int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1  # "a" is now the most recent
    cache.put("c", 3)
    assert cache.get("b") is None
    assert (cache.get("a"), cache.get("c")) == (1, 3)
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (3, 1)


def test_zero_entries_disables_the_cache() -> None:
    cache: LruCache[int] = LruCache(0)
    cache.put("a", 1)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_clear_forgets_entries_and_counts() -> None:
    cache: LruCache[str] = LruCache(4)
    cache.put("a", "x")
    cache.get("a")
    cache.clear()
    assert cache.get("a") is None
    assert (cache.hits, cache.misses) == (0, 1)


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        LruCache(-1)


def test_image_key_depends_on_pixels_and_size_only() -> None:
    red = Image.new("RGB", (8, 8), (255, 0, 0))
    assert image_key(red) == image_key(Image.new("RGB", (8, 8), (255, 0, 0)))
    assert image_key(red) != image_key(Image.new("RGB", (8, 8), (254, 0, 0)))
    assert image_key(red) != image_key(Image.new("RGB", (4, 16), (255, 0, 0)))


def test_text_key_is_exact() -> None:
    assert text_key("hello") == text_key("hello")
    assert text_key("hello") != text_key("hello ")
