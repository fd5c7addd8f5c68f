"""Installing a Debian package a test needs (promtool, chromium) when it is missing."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

#: apt-get may download tens of MB on a fresh machine.
APT_TIMEOUT_S = 600


def apt_install(package: str, *, purpose: str) -> None:
    """``apt-get install -y package`` (root only; skips where that is impossible, fails if it fails)."""
    if os.geteuid() != 0:
        pytest.skip(f"{package} is not installed and only root may `apt-get install -y {package}`")
    if shutil.which("apt-get") is None:
        pytest.skip(f"{package} is not installed and this machine has no apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", package]
    result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if result.returncode != 0:
        # A fresh machine may have empty package lists.
        subprocess.run(["apt-get", "update"], capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
        result = subprocess.run(install, capture_output=True, text=True, env=env, timeout=APT_TIMEOUT_S)
    if result.returncode != 0:
        pytest.fail(
            f"`apt-get install -y {package}` failed; {purpose}:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}"
        )
