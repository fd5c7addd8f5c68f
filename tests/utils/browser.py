"""Headless Chromium for end-to-end tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser download is never used (``playwright install`` needs the internet):
:func:`ensure_chromium` finds ``/usr/bin/chromium``, installs the Debian package when it is missing
and the tests run as root, and otherwise skips the test with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

APT_TIMEOUT_S = 600
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
    if os.geteuid() != 0:
        pytest.skip("chromium is not installed and only root may `apt-get install -y chromium`")
    if shutil.which("apt-get") is None:
        pytest.skip("chromium is not installed and this machine has no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if result.returncode != 0:
        # A fresh machine may have empty package lists.
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    found = _find()
    if result.returncode != 0 or found is None:
        pytest.fail(
            "`apt-get install -y chromium` failed; the review page's end-to-end test needs it:\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
    return found
