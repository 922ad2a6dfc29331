"""/health, /ready, /status and /metrics of a running node."""

from __future__ import annotations

import re

import httpx

from tests.support import TIMEOUT, NodeProcess, metric_samples, sample, translate

MEMORY_KEYS = {
    "system_memory_percent",
    "gpu_memory_percent",
    "system_memory_used_gb",
    "gpu_memory_used_gb",
    "system_memory_total_gb",
    "gpu_memory_total_gb",
}


def test_health_is_ok(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/health", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_after_warm_up(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/ready", timeout=TIMEOUT)
    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is True
    assert body["workers"] and set(body["workers"].values()) == {"ready"}


def test_status_shape(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/status", timeout=TIMEOUT)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert re.fullmatch(r"(\d+d )?\d+h \d+m \d+s", body["uptime"]), body["uptime"]
    hours, minutes, seconds = (int(x) for x in re.findall(r"\d+", body["uptime"])[-3:])
    assert minutes < 60 and seconds < 60
    assert abs(hours * 3600 + minutes * 60 + seconds - body["uptime_seconds"]) <= 1.5
    assert isinstance(body["version"], str) and body["version"]
    memory = body["memory"]
    assert set(memory) >= MEMORY_KEYS
    for key in MEMORY_KEYS:
        assert isinstance(memory[key], float), (key, memory[key])
    assert 0.0 < memory["system_memory_percent"] <= 100.0
    assert 0.0 < memory["system_memory_used_gb"] <= memory["system_memory_total_gb"]


def test_status_without_a_gpu_says_why(node: NodeProcess) -> None:
    body = httpx.get(node.url + "/status", timeout=TIMEOUT).json()
    if body["gpu_available"]:  # on a GPU machine the figures are real and the reason absent
        assert body["memory"]["gpu_memory_total_gb"] > 0.0
        return
    assert body["gpu_available"] is False
    for key in ("gpu_memory_percent", "gpu_memory_used_gb", "gpu_memory_total_gb"):
        assert body["memory"][key] == 0.0
    assert isinstance(body["gpu_unavailable_reason"], str) and body["gpu_unavailable_reason"]


def test_status_uptime_advances(node: NodeProcess) -> None:
    first = httpx.get(node.url + "/status", timeout=TIMEOUT).json()["uptime_seconds"]
    second = httpx.get(node.url + "/status", timeout=TIMEOUT).json()["uptime_seconds"]
    assert second >= first > 0


def test_metrics_names(node: NodeProcess) -> None:
    assert translate(node.url, "Good morning.").status_code == 200
    assert translate(node.url, "").status_code == 400
    response = httpx.get(node.url + "/metrics", timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = metric_samples(node.url)
    names = {name for name, _ in samples}
    expected = {
        "udn_requests_total",
        "udn_request_duration_seconds_bucket",
        "udn_queue_time_seconds_bucket",
        "udn_inference_duration_seconds_bucket",
        "udn_batch_size_bucket",
        "udn_requests_in_flight",
        "udn_requests_queued",
        "udn_sentences_translated_total",
        "udn_characters_translated_total",
        "udn_process_resident_memory_bytes",
        "udn_model_memory_bytes",
        "udn_system_memory_percent",
        "udn_gpu_memory_percent",
    }
    assert expected <= names, expected - names
    assert sample(samples, "udn_requests_total", endpoint="/translate", code="200") >= 1
    assert sample(samples, "udn_requests_total", endpoint="/translate", code="400") >= 1
    assert sample(samples, "udn_request_duration_seconds_count", endpoint="/translate") >= 2


def test_metrics_cover_the_inference_worker(node: NodeProcess) -> None:
    # Sentences, batches, inference time and model memory are recorded only in the
    # inference worker process; /metrics is served by the API process.
    before = metric_samples(node.url)
    text = "Good morning. How are you? I like books."
    response = translate(node.url, text)
    assert response.status_code == 200, response.text
    after = metric_samples(node.url)

    def grew(name: str, **labels: str) -> float:
        return sample(after, name, **labels) - sample(before, name, **labels)

    assert grew("udn_sentences_translated_total", pair="en-pt") >= 3
    assert grew("udn_characters_translated_total", pair="en-pt") >= len(text)
    assert grew("udn_batch_size_count") >= 1
    assert grew("udn_inference_duration_seconds_count") >= 1
    assert grew("udn_queue_time_seconds_count") >= 1
    assert sample(after, "udn_model_memory_bytes", pair="en-pt") > 1_000_000
    assert sample(after, "udn_model_memory_bytes", pair="pt-en") > 1_000_000
    assert sample(after, "udn_process_resident_memory_bytes") > 10_000_000
    assert 0.0 < sample(after, "udn_system_memory_percent") <= 100.0
    # Every answered request has left the in-flight and queued gauges.
    assert sample(after, "udn_requests_in_flight") == 0
    assert sample(after, "udn_requests_queued") == 0
