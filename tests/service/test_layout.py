"""The house's layout holds: dependencies between the stages flow one way, production code never
imports the demo and test tooling, and no module grows past what one reader takes in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

#: Modules that only wire the stages together: they may import any of them.
WIRING = {
    "service.app",
    "service.cli",
    "service.categories_cli",
    "service.review.cli",
    "service.review.server",
    "service.api.cli",
    "service.api.server",
}
#: What each stage may import (besides itself). Kafka carries posts into moderation, moderation
#: stores through storage; review reads and writes storage; the API judges with moderation. Records, settings and errors sit
#: below everything.
ALLOWED = {
    "base": {"base"},
    "observability": {"base"},
    "storage": {"base", "observability"},
    "moderation": {"base", "observability", "storage"},
    "kafka": {"base", "observability", "storage", "moderation"},
    "review": {"base", "observability", "storage"},
    "api": {"base", "observability", "storage", "moderation"},
}
BASE = {"service.errors", "service.settings", "service.records", "service.background", "service.http_serving"}
#: Longest module in service/ (lines); beyond it a module does more than one job.
MAX_MODULE_LINES = 420


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _stage(module: str) -> str:
    if module in BASE:
        return "base"
    parts = module.split(".")
    if len(parts) >= 2 and parts[1] in ALLOWED:
        return parts[1]
    raise AssertionError(f"{module}: not in a stage; add it to one (or to WIRING if it only wires)")


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # "from service.storage import migrate" imports the module service.storage.migrate
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def _service_modules() -> list[Path]:
    return sorted((ROOT / "service").rglob("*.py"))


def _internal(imported: set[str]) -> set[str]:
    return {name for name in imported if name in _SERVICE_MODULES and name != "service"}


_SERVICE_MODULES = frozenset(_module_name(p) for p in _service_modules())


@pytest.mark.parametrize("path", _service_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path: Path) -> None:
    module = _module_name(path)
    if module in WIRING or module == "service":
        return
    stage = _stage(module)
    internal = _internal(_imports(path))
    wrong = sorted(
        name
        for name in internal
        if name not in WIRING and (target := _stage(name)) != stage and target not in ALLOWED[stage]
    )
    assert not wrong, f"{module} ({stage}) imports {wrong}: {stage} may only import {sorted(ALLOWED[stage])}"
    wired = sorted(name for name in internal if name in WIRING)
    assert not wired, f"{module} imports the wiring modules {wired}: wiring imports stages, not the reverse"


@pytest.mark.parametrize("package", ["service", "models", "migrations"])
def test_production_never_imports_the_tooling(package: str) -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / package).rglob("*.py")
        if any(name.split(".")[0] in {"devtools", "tests", "bench"} for name in _imports(path))
    )
    assert not offenders, f"installed code imports the demo/test tooling (not installed): {offenders}"


def test_models_does_not_import_the_service() -> None:
    offenders = sorted(
        str(path.relative_to(ROOT))
        for path in (ROOT / "models").rglob("*.py")
        if any(name.split(".")[0] == "service" for name in _imports(path))
    )
    assert not offenders, f"models/ is the ML package and must not depend on the service: {offenders}"


def test_a_violation_is_caught(tmp_path: Path) -> None:
    """The checker itself: a storage module importing moderation is refused."""
    stage, target = _stage("service.storage.repository"), _stage("service.moderation.pipeline")
    assert target not in ALLOWED[stage]
    assert _stage("service.kafka.offsets") == "kafka"
    assert "moderation" in ALLOWED["kafka"]
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from service.storage import migrate\n", encoding="utf-8")
    assert "service.storage.migrate" in _imports(sample)


@pytest.mark.parametrize("path", _service_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_is_too_long(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path.relative_to(ROOT)} has {lines} lines: split it by job"
