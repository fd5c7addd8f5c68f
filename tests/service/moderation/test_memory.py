"""glibc malloc tuning (service/moderation/memory.py) on this Linux machine."""

from __future__ import annotations

import sys

import pytest

from service.moderation import memory

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc only")


def test_zero_leaves_the_allocator_alone() -> None:
    assert memory.limit_arenas(0) is False


@linux_only
def test_arena_cap_is_applied_on_glibc() -> None:
    # mallopt returns 1 on success; on a non-glibc libc the helper says it did nothing
    assert memory.limit_arenas(8) is (memory._glibc() is not None)


@linux_only
def test_freed_memory_goes_back_to_the_kernel() -> None:
    memory.release_free_memory()  # start from a trimmed heap: free pages left by earlier tests
    before = memory.resident_megabytes()
    assert before is not None and before > 0
    # ~256 MB in 64 KB blocks, every page written (zeroed memory may never become resident)
    blocks = [bytearray(b"\x01") * (64 * 1024) for _ in range(4000)]
    grown = memory.resident_megabytes()
    assert grown is not None and grown > before + 100
    del blocks
    memory.release_free_memory()
    after = memory.resident_megabytes()
    assert after is not None and after < grown - 100
