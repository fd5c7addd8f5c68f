"""deploy/grafana: the dashboard's structure, its PromQL (parsed by promtool, reading only
metrics the service exports), and the provisioning files that load it without edits."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from tests.utils.prometheus import PrometheusTools, promtool
from tests.utils.promql import exported_series_names, metric_names

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "postguard.json"
COMPOSE = ROOT / "deploy" / "compose.yaml"

# What on-call must see (the list), each as a metric some panel has to read.
REQUIRED_VIEWS = {
    "throughput": "postguard_posts_consumed_total",
    "decisions by action": "postguard_decisions_total",
    "dead letters by reason": "postguard_dead_lettered_total",
    "latency percentiles": "postguard_end_to_end_seconds_bucket",
    "consumer lag": "postguard_consumer_lag_messages",
    "review queue depth": "postguard_review_queue_items",
    "model version": "postguard_model_info",
}
# Grafana variables, replaced by a value Prometheus accepts before checking the syntax.
VARIABLES = {"$__rate_interval": "5m", "$job": ".*"}


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def _panels() -> list[dict[str, Any]]:
    return [panel for panel in _dashboard()["panels"] if panel["type"] != "row"]


def _targets() -> list[tuple[str, dict[str, Any]]]:
    return [(panel["title"], target) for panel in _panels() for target in panel["targets"]]


def test_dashboard_metadata() -> None:
    dashboard = _dashboard()
    assert dashboard["uid"] == "postguard"
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    # Provisioned dashboards must not carry a database id.
    assert dashboard.get("id") is None
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"


def test_panels_are_well_formed_and_do_not_overlap() -> None:
    panels = _dashboard()["panels"]
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    occupied: set[tuple[int, int]] = set()
    for panel in panels:
        grid = panel["gridPos"]
        assert 0 <= grid["x"] and grid["x"] + grid["w"] <= 24, panel["title"]
        assert grid["h"] > 0 and grid["w"] > 0, panel["title"]
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{panel['title']} overlaps another panel"
        occupied |= cells
    for panel in _panels():
        assert panel["type"] in ("timeseries", "stat"), panel["title"]
        assert panel["title"] and panel["description"], panel["id"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_every_query_reads_only_exported_metrics() -> None:
    exported = exported_series_names()
    for title, target in _targets():
        names = metric_names(target["expr"])
        assert names, f"{title}: {target['expr']!r} reads no metric"
        assert names <= exported, f"{title} reads metrics the service does not export: {names - exported}"
        # Every selector honours the $job variable.
        for name in names:
            assert re.search(rf'{name}\{{job=~"\$job"\}}', target["expr"]), (
                f"{title}: {name} is not filtered by $job"
            )


def test_required_views_exist() -> None:
    read = set().union(*(metric_names(target["expr"]) for _, target in _targets()))
    missing = {view for view, metric in REQUIRED_VIEWS.items() if metric not in read}
    assert not missing, f"no panel shows {missing}"
    expressions = " ".join(target["expr"] for _, target in _targets())
    for quantile in ("0.5", "0.95", "0.99"):
        assert (
            f"histogram_quantile({quantile}, sum by (le) (rate(postguard_end_to_end_seconds_bucket"
            in expressions
        )
    assert "sum by (action)" in expressions and "sum by (reason)" in expressions
    assert "max by (topic, partition) (postguard_consumer_lag_messages" in expressions
    assert "max by (status) (postguard_review_queue_items" in expressions


def test_promtool_parses_every_query(prometheus_tools: PrometheusTools, tmp_path: Path) -> None:
    rules = []
    for index, (_, target) in enumerate(_targets()):
        expr = target["expr"]
        for variable, value in VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = promtool(prometheus_tools, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


def test_provisioning_loads_the_dashboard_from_where_compose_mounts_it() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    assert datasources["apiVersion"] == 1
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True
    assert source["url"] == "http://prometheus:9090"

    providers = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "postguard.yml").read_text())
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    dashboards_dir = provider["options"]["path"]

    grafana = yaml.safe_load(COMPOSE.read_text())["services"]["grafana"]
    mounts = dict(
        volume.rsplit(":", 1)[0].split(":", 1) for volume in grafana["volumes"] if volume.startswith("./")
    )
    assert mounts["./grafana/postguard.json"] == f"{dashboards_dir}/postguard.json"
    assert mounts["./grafana/provisioning/dashboards"] == "/etc/grafana/provisioning/dashboards"
    assert mounts["./grafana/provisioning/datasources"] == "/etc/grafana/provisioning/datasources"
    for local in mounts:
        assert (COMPOSE.parent / local).exists(), local
