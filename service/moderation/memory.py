"""Keeping the consumer's resident memory flat (glibc malloc tuning; a no-op elsewhere).

Two things made one consumer's peak RSS grow from ~1.3 GB idle to over 2 GB after a burst of
posts with images, without any Python object leaking:

- glibc gives every thread that allocates under contention its own malloc arena (up to 8 per
  core), and each arena keeps the memory it once held. Image decoding threads, the inference
  thread and onnxruntime's threads each grew their own.
- Freed memory in the middle of an arena's heap is not returned to the kernel until the top of
  the heap is free.

``limit_arenas`` caps the number of arenas (what ``MALLOC_ARENA_MAX`` does, applied from inside
the process so no wrapper script is needed) and ``release_free_memory`` hands freed pages back
(``malloc_trim``), which the pipeline calls after each batch that decoded images.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import lru_cache

logger = logging.getLogger(__name__)

#: mallopt parameter number of M_ARENA_MAX in glibc's malloc.h.
_M_ARENA_MAX = -8


@lru_cache(maxsize=1)
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        # Only glibc has both; musl (Alpine) and others keep their own allocator behaviour.
        libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
        libc.malloc_trim.argtypes = [ctypes.c_size_t]
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas at ``count`` (0 leaves glibc's default). True if it was applied.

    Call it early: arenas that already exist stay, the cap stops new ones being made."""
    if count <= 0:
        return False
    libc = _glibc()
    if libc is None:
        logger.info("malloc arena limit not applied: not running on glibc")
        return False
    applied = bool(libc.mallopt(_M_ARENA_MAX, count))
    if not applied:
        logger.warning("glibc refused mallopt(M_ARENA_MAX, %d)", count)
    return applied


def release_free_memory() -> bool:
    """Return freed heap pages to the kernel (glibc ``malloc_trim(0)``). True if any were released."""
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.malloc_trim(0))


def resident_megabytes() -> float | None:
    """This process's resident set size in MB (Linux), for logs and tests."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None
