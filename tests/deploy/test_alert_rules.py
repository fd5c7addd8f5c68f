"""deploy/prometheus: the alert rules pass ``promtool check rules`` and their unit tests
(``promtool test rules``), the Compose scrape config passes ``promtool check config``, and every
rule reads metrics the service exports."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.utils.prometheus import PrometheusTools, promtool
from tests.utils.promql import exported_series_names, metric_names

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
ALERTS = PROMETHEUS / "alerts.yml"
OPERATIONS = ROOT / "docs" / "operations.md"

# What the issue asks the rules to catch, by alert name.
REQUIRED_ALERTS = {
    "PostguardConsumerLagGrowing",
    "PostguardNoDecisions",
    "PostguardDeadLetterRateHigh",
    "PostguardDatabaseWriteErrors",
    "PostguardLatencyAboveSLO",
}


def _rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERTS.read_text())
    return [rule for group in document["groups"] for rule in group["rules"]]


def _alerts() -> list[dict[str, Any]]:
    return [rule for rule in _rules() if "alert" in rule]


def test_promtool_check_rules(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_test_rules(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "test", "rules", str(PROMETHEUS / "alerts_test.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_check_config(prometheus_tools: PrometheusTools) -> None:
    result = promtool(prometheus_tools, "check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_required_alerts_exist_with_severity_summary_and_runbook() -> None:
    alerts = _alerts()
    assert REQUIRED_ALERTS <= {alert["alert"] for alert in alerts}
    runbook = OPERATIONS.read_text()
    anchors = {_anchor(heading) for heading in re.findall(r"^#+ (.+)$", runbook, flags=re.MULTILINE)}
    for alert in alerts:
        assert alert["labels"]["severity"] in ("warning", "critical"), alert["alert"]
        assert alert["annotations"]["summary"].strip(), alert["alert"]
        assert "for" in alert, f"{alert['alert']} fires on a single evaluation"
        url = alert["annotations"]["runbook_url"]
        assert url == f"docs/operations.md#{alert['alert'].lower()}"
        assert url.split("#", 1)[1] in anchors, (
            f"docs/operations.md has no runbook section for {alert['alert']}"
        )


def test_every_alert_is_unit_tested() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts_test.yml").read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    names = {alert["alert"] for alert in _alerts()}
    assert names == tested
    assert names == firing, f"never shown to fire: {names - firing}"


def test_rules_read_only_metrics_the_service_exports() -> None:
    exported = exported_series_names()
    recorded = {rule["record"] for rule in _rules() if "record" in rule}
    for rule in _rules():
        unknown = metric_names(rule["expr"]) - exported - recorded - {"up"}
        assert not unknown, f"{rule.get('alert') or rule.get('record')} reads {unknown}"


@pytest.mark.parametrize("heading", ["PostguardNoDecisions", "Consumer lag growing"])
def test_anchor(heading: str) -> None:
    assert _anchor(heading) == heading.lower().replace(" ", "-")


def _anchor(heading: str) -> str:
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")
