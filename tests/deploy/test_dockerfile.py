"""deploy/Dockerfile and .dockerignore, checked as text (no container engine runs here)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stages.append([])
        if stages:
            stages[-1].append((keyword, rest))
    return stages


def test_multi_stage_with_a_slim_runtime() -> None:
    stages = _stages()
    assert len(stages) >= 2
    runtime = stages[-1]
    assert runtime[0][0] == "FROM"
    assert "${PYTHON_IMAGE}" in runtime[0][1]
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.1[1-9]-slim", DOCKERFILE.read_text())
    # The runtime stage copies the built environment, it does not build it.
    assert any(k == "COPY" and "--from=build" in rest for k, rest in runtime)
    assert not any(k == "RUN" and "pip install" in rest for k, rest in runtime)


def test_cpu_torch_pinned_like_pyproject() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    (torch,) = [d for d in pyproject["project"]["dependencies"] if d.startswith("torch")]
    version = torch.split("==")[1]
    text = DOCKERFILE.read_text()
    assert f"ARG TORCH_VERSION={version}" in text
    assert "--index-url https://download.pytorch.org/whl/cpu" in text
    installs = [rest for k, rest in _instructions() if k == "RUN" and "pip install" in rest]
    assert all('"torch==${TORCH_VERSION}"' in rest for rest in installs), "every install pins torch"


def test_non_root_healthcheck_and_entrypoint() -> None:
    runtime = _stages()[-1]
    users = [rest for k, rest in runtime if k == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert users[-1] == "10001:10001"
    (healthcheck,) = [rest for k, rest in runtime if k == "HEALTHCHECK"]
    assert "/healthz" in healthcheck and "CMD" in healthcheck
    assert ("EXPOSE", "9108") in runtime
    assert ("ENTRYPOINT", '["postguard"]') in runtime
    assert ("CMD", '["serve"]') in runtime
    env = " ".join(rest for k, rest in runtime if k == "ENV")
    assert "HF_HUB_OFFLINE=1" in env and "TRANSFORMERS_OFFLINE=1" in env, "nothing downloads at run time"


def test_dockerignore_keeps_the_context_small() -> None:
    lines = [
        line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and not line[0] == "#"
    ]
    assert lines[0] == "*", "allow-list: everything is excluded first"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = {rest.split()[0] for k, rest in _instructions() if k == "COPY" and not rest.startswith("--from")}
    copied |= {
        word
        for k, rest in _instructions()
        if k == "COPY" and not rest.startswith("--from")
        for word in rest.split()[:-1]
    }
    assert copied <= allowed, f"COPY of paths the context excludes: {copied - allowed}"
