"""Running a command as a user does: a subprocess in the repository, with no POSTGUARD_* variables
from the caller's environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_module(
    module: str, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``python -m MODULE ARGS`` from the repository root; ``env`` adds variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    clean.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
