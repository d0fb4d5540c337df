"""The operator kit: alert rules pass promtool, dashboard and rules query only metrics the service exports."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.unit.service.harness import Harness

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = ROOT / "ops" / "grafana" / "dashboards" / "llm-provider.json"
METRIC = re.compile(r"\bllm_provider_[a-z0-9_]+")
_SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exported_metric_names() -> set[str]:
    """Every series name the service's registry can export (labelled families export nothing until used)."""
    registry = Harness().services.api.metrics.registry
    names: set[str] = set()
    for family in registry.collect():
        names.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return names


def _rule_expressions() -> list[str]:
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    return [rule["expr"] for group in groups for rule in group["rules"]]


def _dashboard_expressions() -> list[str]:
    panels = json.loads(DASHBOARD.read_text(encoding="utf-8"))["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_queries_name_only_exported_metrics(source: str) -> None:
    expressions = _rule_expressions() if source == "rules" else _dashboard_expressions()
    exported = exported_metric_names()
    used = {name for expression in expressions for name in METRIC.findall(expression)}
    assert used, "no query names a service metric"
    assert used <= exported, f"unknown metrics: {sorted(used - exported)}"


def test_the_kit_covers_what_operators_watch() -> None:
    dashboard = " ".join(_dashboard_expressions())
    watched = ("http_requests_total", "http_request_duration_seconds_bucket", "queue_depth",
               "queue_wait_seconds_bucket", "processing_seconds_bucket", "end_to_end_seconds_bucket",
               "outbox_backlog", "circuit_state", "provider_calls_total", "tokens_total", "cost_usd_total")  # fmt: skip
    for metric in watched:
        assert f"llm_provider_{metric}" in dashboard, metric
    alerts = {rule["alert"] for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}
    assert len(alerts) >= 6


def test_rules_pass_promtool() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool not found (Debian package prometheus; scripts/ensure-system-deps.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    done = subprocess.run([promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


def test_compose_wires_prometheus_and_grafana_to_the_kit() -> None:
    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    prometheus_mounts = " ".join(services["prometheus"]["volumes"])
    grafana_mounts = " ".join(services["grafana"]["volumes"])
    assert "ops/prometheus/alerts.yml" in prometheus_mounts
    assert "ops/grafana/dashboards" in grafana_mounts
    assert "ops/grafana/provisioning" in grafana_mounts
