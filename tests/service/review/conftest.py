"""Fixtures of the review tests."""

from __future__ import annotations

import pytest

from tests.utils.browser import ensure_chromium


@pytest.fixture(scope="session")
def chromium() -> str:
    """Path of Debian's Chromium (installed when missing and root; otherwise the test is skipped)."""
    return ensure_chromium()
