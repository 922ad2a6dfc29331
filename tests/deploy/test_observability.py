"""The Grafana dashboard and the alert rules name only metrics a real node or coordinator serves."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import promql_parser
import pytest
import yaml

from tests.deploy.tools import DEPLOY
from tests.support.auth import NODE_TOKEN
from tests.support.coordinator import CoordinatorProcess, start_coordinator
from tests.support.node import start_node
from tests.support.polling import eventually

DASHBOARD = DEPLOY / "grafana" / "dashboards" / "udn-overview.json"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
# Series Prometheus makes itself for every scrape target.
SYNTHETIC = {"up"}
# Grafana's variables, replaced by what it would put there before parsing.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h"}


def metric_names(expr: str) -> set[str]:
    """Every metric an expression selects, by walking its PromQL syntax tree (a bad expression raises)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            assert node.name, f"a selector without a metric name in {expr!r}"
            names.add(node.name)
        for attribute in ("lhs", "rhs", "expr", "vector_selector", "param"):
            child = getattr(node, attribute, None)
            if child is not None:
                walk(child)
        for child in getattr(node, "args", None) or []:
            walk(child)

    walk(promql_parser.parse(expr))
    return names


def dashboard_expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    expressions = []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"]
            for variable, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, value)
            expressions.append(expr)
    return expressions


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def used_metrics() -> set[str]:
    expressions = dashboard_expressions() + [rule["expr"] for rule in alert_rules()]
    return set().union(*(metric_names(e) for e in expressions))


def exposed(url: str) -> set[str]:
    """The sample names a /metrics page serves (a histogram's _bucket, _sum and _count included)."""
    text = httpx.get(url + "/metrics", timeout=10).text
    return {line.split("{")[0].split()[0] for line in text.splitlines() if line and not line.startswith("#")}


def test_the_walker_finds_every_selector_and_refuses_bad_promql() -> None:
    expr = 'histogram_quantile(0.9, sum by (le) (rate(a_bucket{x="1"}[5m]))) > 2 and deriv(b[10m]) > 0 or -c'
    assert metric_names(expr) == {"a_bucket", "b", "c"}
    with pytest.raises(ValueError):
        metric_names("sum(rate(a[5m])")


def test_the_alerts_cover_what_operators_page_on() -> None:
    rules = alert_rules()
    by_name = {rule["alert"]: rule for rule in rules}
    assert len(by_name) == len(rules)
    for rule in rules:
        assert rule["labels"]["severity"] in {"critical", "warning", "info"}
        assert rule["annotations"]["summary"]
    uses = {name: metric_names(rule["expr"]) for name, rule in by_name.items()}
    assert "up" in uses["UdnNodeDown"]
    assert "udn_requests_queued" in uses["UdnQueueGrowing"]
    assert "udn_request_duration_seconds_bucket" in uses["UdnTranslateLatencyP99High"]
    assert "histogram_quantile(0.99" in by_name["UdnTranslateLatencyP99High"]["expr"]
    assert {"udn_system_memory_percent"} <= uses["UdnMemoryHigh"]
    assert "udn_requests_total" in uses["UdnErrorRateHigh"]
    assert "udn_coordinator_node_circuit_state" in uses["UdnCircuitOpen"]


def test_the_dashboard_is_provisioned_from_its_folder() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["panels"]
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yaml").read_text())
    uid = datasource["datasources"][0]["uid"]
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {uid}
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/udn.yaml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, CoordinatorProcess]]:
    """A real coordinator and a real node, configured so that every metric gets a sample: memory
    thresholds of 1% raise alerts and cleanups at once, and a 1 s request timeout lets long texts
    run past their deadline inside a worker."""
    tmp_path: Path = tmp_path_factory.mktemp("observability")
    coordinator = start_coordinator(tmp_path)
    try:
        node = start_node(
            tmp_path,
            {
                "models": {"warmup": False},
                "serving": {"threads": 1, "request_timeout": 1.0},
                "memory": {
                    "monitoring_interval_seconds": 0.5,
                    "memory_threshold_percent": 1,
                    "cleanup_threshold_percent": 1,
                    "cleanup_min_interval_seconds": 0,
                },
                "registration": {"node_id": "metrics-node"},
            },
            env={"UDN_NODE_TOKEN": NODE_TOKEN},
            args=["--coordinator", coordinator.url],
        )
    except BaseException:
        coordinator.stop()
        raise
    try:
        eventually(lambda: "metrics-node" in coordinator.node_ids(), 30, "the node to register")
        yield node.url, coordinator
    finally:
        node.stop()
        coordinator.stop()


def test_every_metric_used_is_served(cluster: tuple[str, CoordinatorProcess]) -> None:
    node_url, coordinator = cluster
    coordinator_url = coordinator.url
    wanted = used_metrics() - SYNTHETIC
    assert len(wanted) >= 20
    key = coordinator.create_key(name="metrics", requests_per_minute=1)["key"]
    codes = []
    for text in ("Hello, world.", "How are you?"):
        body = {"q": text, "source": "en", "target": "pt", "api_key": key}
        codes.append(httpx.post(coordinator_url + "/translate", json=body, timeout=30).status_code)
    assert codes == [200, 429]
    # Enough sentences to outlast the node's 1 s request timeout inside the worker.
    texts = [
        " ".join(f"This is sentence {i} of text {t}, which is rather long." for i in range(30))
        for t in range(40)
    ]
    response = httpx.post(
        node_url + "/translate", json={"q": texts, "source": "en", "target": "pt"}, timeout=30
    )
    assert response.status_code == 504, response.text

    def missing() -> set[str]:
        return wanted - exposed(node_url) - exposed(coordinator_url)

    eventually(lambda: not missing(), 60, lambda: f"these metrics to be served: {sorted(missing())}")
