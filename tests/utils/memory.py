"""Peak resident memory of this process around a block of code (Linux).

Writing ``5`` to ``/proc/self/clear_refs`` resets the kernel's high-water mark (``VmHWM``) to
the current resident size, so the peak reached inside the block can be read afterwards. Freed
memory the allocator reuses makes the growth read low; what reads it high is another thread of
the process allocating during the block (threads an earlier test left running): a bound checked
with it needs headroom, and a regression that allocates gigabytes still shows.
"""

from __future__ import annotations

import contextlib
import gc
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")
MIB = 1024 * 1024


def _status_bytes(field: str) -> int:
    found = re.search(rf"^{field}:\s+(\d+) kB", _STATUS.read_text(), re.M)
    assert found, f"{field} missing from {_STATUS}"
    return int(found.group(1)) * 1024


@dataclass
class PeakGrowth:
    """Filled in when the block ends: how far the peak rose above the resident size at its start."""

    bytes: int = 0

    @property
    def mib(self) -> float:
        return self.bytes / MIB


@contextlib.contextmanager
def peak_rss_growth() -> Iterator[PeakGrowth]:
    """``with peak_rss_growth() as growth: ...`` then ``growth.bytes``."""
    try:
        gc.collect()
        _CLEAR_REFS.write_text("5")
    except OSError as exc:
        pytest.skip(f"cannot reset the peak resident size here ({exc}); the bound is checked on Linux")
    growth = PeakGrowth()
    start = _status_bytes("VmRSS")
    yield growth
    growth.bytes = max(0, _status_bytes("VmHWM") - start)
