"""docs/operations.md stays in step with the code: every metric in the table, every alert in
the runbook, the dashboard picture present."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from service.observability.metrics import build_metrics

ROOT = Path(__file__).resolve().parents[2]
OPERATIONS = ROOT / "docs" / "operations.md"

_SUFFIX = {"counter": "_total", "info": "_info", "gauge": "", "histogram": ""}


def _text() -> str:
    return OPERATIONS.read_text()


def test_the_metrics_table_lists_every_postguard_metric() -> None:
    registry = CollectorRegistry()
    build_metrics(registry)
    documented = set(re.findall(r"^\| `(postguard_[a-z_]+)` \| (\w+) \|", _text(), flags=re.MULTILINE))
    declared = {
        (family.name + _SUFFIX[family.type], family.type)
        for family in registry.collect()
        if family.name.startswith("postguard_")
    }
    assert declared == documented, (
        f"missing from docs/operations.md: {declared - documented}; not exported: {documented - declared}"
    )


def test_every_alert_has_a_table_row_and_a_runbook_section() -> None:
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())
    alerts = [rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule]
    text = _text()
    runbook = text.split("## Runbook", 1)[1]
    for alert in alerts:
        assert re.search(rf"^\| {alert} \|", text, flags=re.MULTILINE), f"no table row for {alert}"
        assert f"\n### {alert}\n" in runbook, f"no runbook section for {alert}"


def test_the_dashboard_picture_is_there() -> None:
    (image,) = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", _text())
    path = OPERATIONS.parent / image
    assert path.is_file()
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_referenced_deploy_files_exist() -> None:
    for reference in set(re.findall(r"`(deploy/[^`\s]+)`", _text())) - {"deploy/.env"}:  # the user's copy
        assert (ROOT / reference.rstrip("/")).exists(), reference
