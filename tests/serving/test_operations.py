"""Operations on a real node with two inference workers: admin access, memory, profiling, tracing.

One node serves the whole module. Its memory thresholds are set to 1% so the monitor alerts
(and cleans up automatically) at its first sample; its traces go to a real OTLP/HTTP
receiver in this process.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN, ADMIN_TOKEN, NodeProcess, eventually, start_node, translate
from tests.support.otlp_receiver import OTLPReceiver, ReceivedSpan, start_receiver

ADMIN_GETS = [
    "/admin/memory",
    "/admin/profiling/stats",
    "/admin/profiling/bottlenecks",
    "/admin/profiling/export",
]
ADMIN_POSTS = ["/admin/memory/cleanup", "/admin/profiling/reset"]


@pytest.fixture(scope="module")
def receiver() -> Iterator[OTLPReceiver]:
    r = start_receiver()
    yield r
    r.close()


@pytest.fixture(scope="module")
def ops_node(tmp_path_factory: pytest.TempPathFactory, receiver: OTLPReceiver) -> Iterator[NodeProcess]:
    config = {
        "serving": {"workers": 2, "max_batch_size": 8},
        "memory": {
            "monitoring_interval_seconds": 0.5,
            "memory_threshold_percent": 1,
            "cleanup_threshold_percent": 1,
        },
        "profiling": {"enable_profiling": True, "bottleneck_threshold_ms": 100.0},
    }
    env = {
        "UDN_ADMIN_TOKEN": ADMIN_TOKEN,
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,  # the exporter must add /v1/traces itself
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    node = start_node(tmp_path_factory.mktemp("ops"), config, env=env, ready_timeout=180)
    yield node
    node.stop()


def admin(node: NodeProcess, method: str, path: str, **kw: Any) -> httpx.Response:
    return httpx.request(method, node.url + path, headers=ADMIN, timeout=60, **kw)


def test_admin_endpoints_are_refused_without_a_configured_token(node: NodeProcess) -> None:
    for method, path in [("GET", p) for p in ADMIN_GETS] + [("POST", p) for p in ADMIN_POSTS]:
        r = httpx.request(method, node.url + path, headers=ADMIN, timeout=10)
        assert r.status_code == 403, (path, r.text)
        assert "set UDN_ADMIN_TOKEN" in r.json()["error"]


def test_admin_endpoints_need_the_right_token(ops_node: NodeProcess) -> None:
    for method, path in [("GET", p) for p in ADMIN_GETS] + [("POST", p) for p in ADMIN_POSTS]:
        missing = httpx.request(method, ops_node.url + path, timeout=10)
        assert missing.status_code == 401, path
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in missing.json()["error"]
        wrong = httpx.request(
            method, ops_node.url + path, headers={"Authorization": "Bearer nope"}, timeout=10
        )
        assert wrong.status_code == 401, path
        assert wrong.json() == {"error": "admin token is not valid"}
    assert admin(ops_node, "GET", "/admin/memory").status_code == 200


def test_memory_report_covers_every_process(ops_node: NodeProcess) -> None:
    body = admin(ops_node, "GET", "/admin/memory").json()
    for key in ("system_memory_percent", "system_memory_total_gb", "gpu_memory_percent", "process_memory_gb"):
        assert key in body["stats"]
    workers = body["workers"]
    assert sorted(w["worker"] for w in workers) == ["worker-0", "worker-1"]
    assert all(w["ok"] for w in workers)
    api_pid = ops_node.process.pid
    assert len({w["pid"] for w in workers} | {api_pid}) == 3
    for w in workers:
        settings = w["inference_settings"]
        assert settings["backend"] == "bergamot"
        assert settings["inference_only"] is True
        assert "int8" in settings["precision"]
        assert (
            1 <= settings["threads"] <= max(1, settings["usable_cores"] // 2)
        )  # two workers share the cores
        assert w["process_memory_bytes"] > w["model_memory_bytes"] > 10 * 2**20
    assert isinstance(body["recommendations"], list)
    assert body["settings"]["cleanup_threshold_percent"] == 1


def test_monitor_alerts_count_and_clean_up_on_its_own(ops_node: NodeProcess) -> None:
    def status_with_an_alert() -> dict[str, Any] | None:
        status: dict[str, Any] = httpx.get(ops_node.url + "/status", timeout=10).json()
        return status if status["alerts"] else None

    status = eventually(status_with_an_alert, 20, "the monitor to raise an alert at a 1% threshold")
    alert = status["alerts"][0]
    assert alert["kind"] == "system_memory"
    assert alert["threshold_percent"] == 1
    assert "above the 1% threshold" in alert["message"]
    metrics = httpx.get(ops_node.url + "/metrics", timeout=10).text
    assert 'udn_memory_alerts_total{kind="system_memory"} 1.0' in metrics
    eventually(
        lambda: 'udn_memory_cleanups_total{trigger="auto"}' in httpx.get(ops_node.url + "/metrics").text,
        20,
        "the monitor to clean up on its own",
    )
    report = admin(ops_node, "GET", "/admin/memory").json()
    assert report["alerts"][0]["kind"] == "system_memory"
    assert report["monitor"]["monitoring"] is True
    assert "memory_near_threshold" in [r["id"] for r in report["recommendations"]]


def test_status_shows_the_inference_settings_each_worker_applied(ops_node: NodeProcess) -> None:
    status = httpx.get(ops_node.url + "/status", timeout=10).json()
    assert set(status["inference_settings"]) == {"worker-0", "worker-1"}
    assert status["inference_settings"]["worker-0"]["allocator"] == {"MIMALLOC_PURGE_DELAY": "0"}
    assert status["profiling_enabled"] is True
    assert status["tracing_enabled"] is True


def test_cleanup_through_the_api_acts_in_every_worker(ops_node: NodeProcess) -> None:
    translate(ops_node.url, "The weather is nice today.", expect=200, timeout=30)
    translate(ops_node.url, "O tempo está bom hoje.", "pt", "en", expect=200, timeout=30)
    recent = admin(ops_node, "POST", "/admin/memory/cleanup").json()  # default: idle for 300 s
    assert recent["unloaded_pairs"] == {"worker-0": [], "worker-1": []}

    r = admin(ops_node, "POST", "/admin/memory/cleanup", params={"idle_seconds": 0})
    assert r.status_code == 200, r.text
    body = r.json()
    assert sorted(body["unloaded_pairs"]) == ["worker-0", "worker-1"]
    for worker in body["workers"]:
        assert worker["ok"], worker
        assert worker["pid"] != ops_node.process.pid  # it ran where the models are
        engine = worker["released"]["engine"]
        assert sorted(engine["unloaded_pairs"]) == ["en-pt", "pt-en"]
        assert engine["model_bytes_released"] > 40 * 2**20
        assert engine["loaded_pairs"] == []
        # The allocator hands the unloaded models back to the OS: RSS really drops.
        assert worker["rss_before_bytes"] - worker["rss_after_bytes"] > 40 * 2**20
    assert body["freed_bytes"] >= sum(w["freed_bytes"] for w in body["workers"])

    report = admin(ops_node, "GET", "/admin/memory").json()
    for worker in report["workers"]:
        assert not any(p["loaded"] for p in worker["pairs"].values())
        assert worker["last_cleanup"]["trigger"] == "manual"
    # Loaded again on demand.
    assert translate(ops_node.url, "Good morning.", expect=200, timeout=30).json()["translatedText"]
    metrics = httpx.get(ops_node.url + "/metrics", timeout=10).text
    assert 'udn_memory_cleanups_total{trigger="manual"}' in metrics


def test_bad_cleanup_input_is_a_clear_400(ops_node: NodeProcess) -> None:
    r = admin(ops_node, "POST", "/admin/memory/cleanup", params={"idle_seconds": "-5"})
    assert r.status_code == 400
    assert "idle_seconds" in r.json()["error"]


def test_worker_profiles_show_up_in_the_api_process(ops_node: NodeProcess) -> None:
    assert admin(ops_node, "POST", "/admin/profiling/reset").json()["reset"] == [
        "api",
        "worker-0",
        "worker-1",
    ]
    for i in range(6):
        translate(ops_node.url, f"Sentence number {i} is short.", expect=200, timeout=30)
    body = admin(ops_node, "GET", "/admin/profiling/stats").json()
    assert body["enabled"] is True
    assert {p["process"] for p in body["processes"]} == {"api", "worker-0", "worker-1"}
    stats = body["stats"]
    assert set(stats) >= {"prepare_inputs", "inference", "postprocess"}
    batches = stats["inference"]["calls"]
    assert 1 <= batches <= 6
    assert stats["prepare_inputs"]["calls"] == stats["postprocess"]["calls"] == batches
    inference = stats["inference"]
    assert 0 < inference["min_ms"] <= inference["p50_ms"] <= inference["p95_ms"] <= inference["max_ms"]

    found = admin(ops_node, "GET", "/admin/profiling/bottlenecks", params={"threshold_ms": 0}).json()
    assert found["threshold_ms"] == 0
    names = [b["name"] for b in found["bottlenecks"]]
    assert names[0] == "inference"
    assert sum(b["share_percent"] for b in found["bottlenecks"]) == pytest.approx(100, abs=0.1)
    default = admin(ops_node, "GET", "/admin/profiling/bottlenecks").json()
    assert default["threshold_ms"] == 100.0

    history = admin(ops_node, "GET", "/admin/profiling/history", params={"name": "inference"}).json()
    assert sum(h["calls"] for h in history["history"]) == batches
    unknown = admin(ops_node, "GET", "/admin/profiling/history", params={"name": "nope"})
    assert unknown.status_code == 404
    assert "inference" in unknown.json()["error"]


def test_profiles_export_as_downloads_and_files(ops_node: NodeProcess) -> None:
    translate(ops_node.url, "Export this.", expect=200, timeout=30)
    out_dir = Path(ops_node.log_path).parent / "profiles"  # profile_output_dir, relative to the node's cwd
    as_csv = admin(ops_node, "GET", "/admin/profiling/export", params={"format": "csv"})
    assert as_csv.status_code == 200
    assert as_csv.headers["content-type"].startswith("text/csv")
    filename = as_csv.headers["content-disposition"].split('filename="')[1].rstrip('"')
    rows = {r["name"]: r for r in csv.DictReader(io.StringIO(as_csv.text))}
    assert int(rows["inference"]["calls"]) >= 1
    assert (out_dir / filename).read_text() == as_csv.text
    as_json = admin(ops_node, "GET", "/admin/profiling/export", params={"format": "json"})
    assert json.loads(as_json.text)["stats"]["inference"]["calls"] >= 1
    as_txt = admin(ops_node, "GET", "/admin/profiling/export", params={"format": "txt"})
    assert as_txt.text.startswith("name")
    bad = admin(ops_node, "GET", "/admin/profiling/export", params={"format": "xml"})
    assert bad.status_code == 400
    assert bad.json() == {"error": "format 'xml' is not supported; use one of: json, csv, txt"}


def test_profiling_switches_off_and_on_at_run_time(ops_node: NodeProcess) -> None:
    admin(ops_node, "POST", "/admin/profiling/reset")
    assert admin(ops_node, "POST", "/admin/profiling/disable").json()["enabled"] is False
    try:
        translate(ops_node.url, "Not recorded.", expect=200, timeout=30)
        body = admin(ops_node, "GET", "/admin/profiling/stats").json()
        assert body["stats"] == {}
        assert not any(p["enabled"] for p in body["processes"])
    finally:
        assert admin(ops_node, "POST", "/admin/profiling/enable").json()["enabled"] is True
    translate(ops_node.url, "Recorded again.", expect=200, timeout=30)
    assert admin(ops_node, "GET", "/admin/profiling/stats").json()["stats"]["inference"]["calls"] >= 1


def test_a_trace_crosses_into_the_inference_worker(ops_node: NodeProcess, receiver: OTLPReceiver) -> None:
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    caller_span = "b7ad6b7169203331"
    traceparent = {"traceparent": f"00-{trace_id}-{caller_span}-01"}
    translate(ops_node.url, "Tracing is useful.", headers=traceparent, expect=200, timeout=30)

    def complete(spans: list[ReceivedSpan]) -> bool:
        names = {s.name for s in spans if s.trace_id == trace_id}
        return {"POST /translate", "udn.batch", "udn.inference"} <= names

    spans = [s for s in receiver.wait_for(complete) if s.trace_id == trace_id]
    assert set(receiver.paths) == {"/v1/traces"}
    server = next(s for s in spans if s.name == "POST /translate")
    batch = next(s for s in spans if s.name == "udn.batch")
    inference = next(s for s in spans if s.name == "udn.inference")
    assert server.parent_span_id == caller_span  # the caller's trace continues
    assert server.resource["service.name"] == "decoder-node"
    assert server.resource["udn.process.role"] == "api"
    assert batch.resource["udn.process.role"] in {"worker-0", "worker-1"}
    assert batch.resource["process.pid"] != server.resource["process.pid"]  # another process
    assert batch.parent_span_id == server.span_id  # carried across the queue in the work item
    assert inference.parent_span_id == batch.span_id
    assert batch.attributes["udn.pair"] == "en-pt"


def test_health_and_metrics_are_not_traced_on_the_node(ops_node: NodeProcess, receiver: OTLPReceiver) -> None:
    for _ in range(3):
        httpx.get(ops_node.url + "/health", timeout=10)
        httpx.get(ops_node.url + "/metrics", timeout=10)
    httpx.get(ops_node.url + "/languages", timeout=10)  # traced, and exported after the others
    receiver.wait_for(lambda spans: any(s.name == "GET /languages" for s in spans))
    names = {s.name for s in receiver.spans}
    assert "GET /health" not in names
    assert "GET /metrics" not in names


def test_spans_still_queued_when_the_node_stops_are_exported(tmp_path: Path, receiver: OTLPReceiver) -> None:
    # Spans wait in each process's batch processor for a minute, so only the export at
    # shutdown can deliver them: the inference worker must exit cleanly on SIGTERM.
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_BSP_SCHEDULE_DELAY": "60000"}
    node = start_node(tmp_path, {"serving": {"workers": 1}}, env=env)
    trace_id = "5bf92f3577b34da6a3ce929d0e0e4736"
    try:
        traceparent = {"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"}
        translate(node.url, "Stop after this.", headers=traceparent, expect=200, timeout=30)
    finally:
        assert node.stop() == 0

    def complete(spans: list[ReceivedSpan]) -> bool:
        names = {s.name for s in spans if s.trace_id == trace_id}
        return {"POST /translate", "udn.batch", "udn.inference"} <= names

    receiver.wait_for(complete)
