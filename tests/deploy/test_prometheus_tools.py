"""The promtool/prometheus fixture: installs the Debian package as root, skips otherwise."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.utils import apt, prometheus


def test_found_tools_are_used_as_they_are(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prometheus.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert prometheus.ensure_prometheus_tools() == prometheus.PrometheusTools(
        promtool="/opt/bin/promtool", prometheus="/opt/bin/prometheus"
    )


def test_missing_tools_skip_when_not_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prometheus.shutil, "which", lambda name: None)
    monkeypatch.setattr(apt.os, "geteuid", lambda: 1000)
    with pytest.raises(pytest.skip.Exception, match="only root may"):
        prometheus.ensure_prometheus_tools()


def test_missing_tools_are_installed_as_root(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = {"done": False}
    calls: list[list[str]] = []

    def which(name: str) -> str | None:
        return f"/usr/bin/{name}" if installed["done"] else ({"apt-get": "/usr/bin/apt-get"}.get(name))

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        assert kwargs["env"]["DEBIAN_FRONTEND"] == "noninteractive"
        if command[:2] == ["apt-get", "update"]:
            return subprocess.CompletedProcess(command, 0, "", "")
        # The first install fails (empty package lists), the one after `apt-get update` works.
        ok = ["apt-get", "update"] in calls
        installed["done"] = ok
        return subprocess.CompletedProcess(command, 0 if ok else 100, "", "E: Unable to locate package")

    monkeypatch.setattr(prometheus.shutil, "which", which)
    monkeypatch.setattr(apt.os, "geteuid", lambda: 0)
    monkeypatch.setattr(apt.subprocess, "run", run)
    tools = prometheus.ensure_prometheus_tools()
    assert tools.promtool == "/usr/bin/promtool"
    assert [c[:2] for c in calls] == [["apt-get", "install"], ["apt-get", "update"], ["apt-get", "install"]]
    assert "prometheus" in calls[0] and "-y" in calls[0]


def test_a_failed_install_as_root_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    def which(name: str) -> str | None:
        return "/usr/bin/apt-get" if name == "apt-get" else None

    monkeypatch.setattr(prometheus.shutil, "which", which)
    monkeypatch.setattr(apt.os, "geteuid", lambda: 0)
    monkeypatch.setattr(
        apt.subprocess,
        "run",
        lambda command, **kwargs: subprocess.CompletedProcess(command, 100, "", "no network"),
    )
    with pytest.raises(pytest.fail.Exception, match="no network"):
        prometheus.ensure_prometheus_tools()
