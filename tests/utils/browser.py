"""Headless Chromium for end-to-end tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download is never used (``playwright install`` needs the internet):
:func:`ensure_chromium` finds ``/usr/bin/chromium``, installs the Debian package when it is missing
and the tests run as root, and otherwise skips the test with the reason.
"""

from __future__ import annotations

import shutil

import pytest

from tests.utils.apt import apt_install

#: Flags for a sandbox-less container without network or GPU (see /work/shared/INFRA.md).
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
)


def _find() -> str | None:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def ensure_chromium() -> str:
    """The Chromium executable; installs Debian's package if needed (root only), else skips."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        pytest.skip("the Python package playwright is not installed (pip install -e '.[dev]')")
    found = _find()
    if found is not None:
        return found
    apt_install("chromium", purpose="the review page's end-to-end test needs it")
    found = _find()
    if found is None:
        pytest.fail("chromium was installed but no chromium executable was found")
    return found
