"""Prometheus' own tools in tests: promtool and a throwaway Prometheus server on loopback.

Both come from the Debian package ``prometheus``. :func:`ensure_prometheus_tools` installs it
when it is missing and the tests run as root (CI: a Debian machine with the package registry
reachable); anywhere else the tests that need it are skipped with the reason.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devtools.embedded import free_port
from tests.utils.apt import apt_install

#: A scrape every second: the tests wait for one or two of them.
SCRAPE_INTERVAL = "1s"
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PrometheusTools:
    promtool: str
    prometheus: str


def ensure_prometheus_tools() -> PrometheusTools:
    """Paths of ``promtool`` and ``prometheus``; installs the Debian package if needed, else skips."""
    found = _find()
    if found is not None:
        return found
    apt_install("prometheus", purpose="promtool is needed to validate the metrics and the alert rules")
    found = _find()
    if found is None:
        pytest.fail("prometheus was installed but promtool/prometheus were not found")
    return found


def _find() -> PrometheusTools | None:
    promtool, prometheus = shutil.which("promtool"), shutil.which("prometheus")
    if promtool is None or prometheus is None:
        return None
    return PrometheusTools(promtool=promtool, prometheus=prometheus)


def promtool(
    tools: PrometheusTools, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``promtool ARGS`` (60 s at most) and return the finished process."""
    return subprocess.run(
        [tools.promtool, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@dataclass(frozen=True)
class RunningPrometheus:
    url: str
    log: Path

    def query(self, expr: str) -> list[dict[str, Any]]:
        """The result vector of an instant query (raises on an API error)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def wait_for(self, expr: str, timeout_s: float) -> list[dict[str, Any]]:
        """Poll ``expr`` until it returns a non-empty vector; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while True:
            result = self.query(expr)
            if result:
                return result
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{expr!r} returned nothing within {timeout_s} s; log:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


@contextmanager
def run_prometheus(
    tools: PrometheusTools, targets: Sequence[str], rule_files: Sequence[Path] = ()
) -> Iterator[RunningPrometheus]:
    """A Prometheus server on 127.0.0.1 scraping ``targets`` (job ``postguard``) every second."""
    with tempfile.TemporaryDirectory(prefix="postguard-prometheus-") as directory:
        root = Path(directory)
        config = {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
            "rule_files": [str(path) for path in rule_files],
            "scrape_configs": [{"job_name": "postguard", "static_configs": [{"targets": list(targets)}]}],
        }
        (root / "prometheus.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        log = root / "prometheus.log"
        with log.open("wb") as log_file:
            process = subprocess.Popen(
                [
                    tools.prometheus,
                    f"--config.file={root / 'prometheus.yml'}",
                    f"--storage.tsdb.path={root / 'data'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--storage.tsdb.retention.time=1h",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=root,
            )
        running = RunningPrometheus(url=f"http://127.0.0.1:{port}", log=log)
        try:
            _wait_ready(running, process)
            yield running
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def _wait_ready(running: RunningPrometheus, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"prometheus exited with {process.returncode}:\n{running.log_tail()}")
        try:
            if httpx.get(f"{running.url}/-/ready", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"prometheus was not ready within {START_TIMEOUT_S} s:\n{running.log_tail()}")
