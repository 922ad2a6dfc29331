"""Forwarding details that a real node cannot be made to show on demand, with the fake node of
``tests/support/fake_node.py`` (it speaks the node's protocol and registers like one): traceparent
forwarding, a node answering 5xx, circuits opening, 503 with Retry-After, the client's API key kept
from nodes, and a node's claimed capacity capped."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import httpx
import pytest

from tests.support import NODE_TOKEN, ROOT, CoordinatorProcess, eventually, free_port, start_coordinator

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TEXT = {"q": "Hello.", "source": "en", "target": "pt"}


def start_fake_node(coordinator: CoordinatorProcess, node_id: str, *args: str) -> subprocess.Popen[bytes]:
    script = str(ROOT / "tests" / "support" / "fake_node.py")
    options = ["--port", str(free_port()), "--node-id", node_id, "--coordinator", coordinator.url]
    process = subprocess.Popen(
        [sys.executable, script, *options, "--token", NODE_TOKEN, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    eventually(lambda: node_id in coordinator.node_ids(), 60, f"fake node {node_id} to register")
    return process


@pytest.fixture
def coordinator(tmp_path: Path) -> Iterator[CoordinatorProcess]:
    process = start_coordinator(tmp_path, {"coordinator": {"breaker_failures": 2, "breaker_reset": 60}})
    yield process
    process.stop()


def test_traceparent_travels_and_failing_nodes_are_retried_then_cut_off(
    coordinator: CoordinatorProcess,
) -> None:
    good = start_fake_node(coordinator, "good")
    bad = start_fake_node(coordinator, "bad", "--status", "500")
    try:
        for _ in range(12):
            response = httpx.post(
                coordinator.url + "/translate", json=TEXT, headers={"traceparent": TRACEPARENT}, timeout=30
            )
            assert response.status_code == 200, response.text
            assert response.json() == {"translatedText": "Hello.", "node": "good", "traceparent": TRACEPARENT}
        nodes = {n["id"]: n for n in coordinator.status()["nodes"]}
        assert nodes["bad"]["circuit"] == "open" and nodes["bad"]["errors"] == 2
        assert nodes["bad"]["last_error"] == "HTTP 500"
        assert nodes["good"]["circuit"] == "closed"
        metrics = httpx.get(coordinator.url + "/metrics", timeout=5).text
        assert "udn_coordinator_retries_total 2.0" in metrics
        assert 'udn_coordinator_node_requests_total{node="bad",outcome="server_error"} 2.0' in metrics
        assert 'udn_coordinator_node_circuit_state{node="bad"} 2.0' in metrics
        good.terminate()  # it deregisters on the way out
        good.wait(30)
        eventually(lambda: "good" not in coordinator.node_ids(), 30, "the stopped node to deregister")
        refused = httpx.post(coordinator.url + "/translate", json=TEXT, timeout=30)
        assert refused.status_code == 503, refused.text
        assert "circuits are open" in refused.json()["error"]
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        ready = httpx.get(coordinator.url + "/ready", timeout=5)
        assert ready.status_code == 503 and "circuit is open" in ready.json()["reason"]
    finally:
        for process in (good, bad):
            process.terminate()
            process.wait(30)


def test_a_lone_failing_node_answer_is_passed_through(coordinator: CoordinatorProcess) -> None:
    bad = start_fake_node(coordinator, "only", "--status", "503")
    try:
        response = httpx.post(coordinator.url + "/translate", json=TEXT, timeout=30)
        assert response.status_code == 503  # no other node to retry on: the node's own answer
        assert response.json()["error"] == "fake node only fails on purpose"
    finally:
        bad.terminate()
        bad.wait(30)


def test_no_node_at_all(coordinator: CoordinatorProcess) -> None:
    response = httpx.post(coordinator.url + "/translate", json=TEXT, timeout=30)
    assert response.status_code == 503
    assert response.json()["error"] == "no decoder node is registered and ready"
    assert response.headers["Retry-After"] == "1"
    assert httpx.get(coordinator.url + "/languages", timeout=5).json() == []
    detecting = httpx.post(coordinator.url + "/translate", json={**TEXT, "source": "auto"}, timeout=30)
    assert detecting.status_code == 503  # the nodes are away, not the language
    assert detecting.json()["error"] == "no decoder node is registered and ready"


def test_the_api_key_never_reaches_a_node(coordinator: CoordinatorProcess) -> None:
    """Wherever the client puts its key, the coordinator checks it and the node never sees it."""
    echo = start_fake_node(coordinator, "echo", "--echo")
    key = coordinator.create_key(name="kept-from-nodes")["key"]
    url = coordinator.url + "/translate"
    # A Unicode escape names the same JSON field; a form spells it percent-encoded.
    escaped = json.dumps(TEXT)[:-1] + f', "api\\u005fkey": "{key}"}}'
    sent = {
        "json": httpx.post(url, json={**TEXT, "api_key": key}, timeout=30),
        "escaped json": httpx.post(
            url, content=escaped, headers={"Content-Type": "application/json"}, timeout=30
        ),
        "form": httpx.post(url, data={**TEXT, "api_key": key}, timeout=30),
        "percent-encoded form": httpx.post(
            url,
            content=f"q=Hello.&source=en&target=pt&api%5Fkey={key}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            timeout=30,
        ),
        "multipart form": httpx.post(url, data={**TEXT, "api_key": key}, files={"x": b""}, timeout=30),
        "query": httpx.post(url, params={"api_key": key}, json=TEXT, timeout=30),
        "query string alone (deep-translator)": httpx.post(url, params={**TEXT, "api_key": key}, timeout=30),
        "secret beside the key": httpx.post(url, json={**TEXT, "api_key": key, "secret": "s3"}, timeout=30),
        "bearer": httpx.post(url, json=TEXT, headers={"Authorization": f"Bearer {key}"}, timeout=30),
    }
    try:
        for how, response in sent.items():
            assert response.status_code == 200, (how, response.text)
            received = response.json()["received"]
            assert key not in json.dumps(received), (how, received)
            assert "api_key" not in received["body"] and received["query"] == "", (how, received)
            assert "secret" not in received["body"], (how, received)
            assert "authorization" not in received["headers"], (how, received)
            fields = (
                json.loads(received["body"])
                if received["headers"]["content-type"] == "application/json"
                else dict(parse_qsl(received["body"]))
            )
            assert {k: fields[k] for k in TEXT} == TEXT, (how, received)
        # The key is read wherever it is, so a bad one is refused wherever it is.
        bad = {"api_key": "udn_nope"}
        for refused in (
            httpx.post(url, params=bad, json=TEXT, timeout=30),
            httpx.post(url, data={**TEXT, **bad}, timeout=30),
            httpx.post(url, content=escaped.replace(key, "udn_nope"), timeout=30),
        ):
            assert refused.status_code == 403 and refused.json()["error"] == "API key is not valid"
    finally:
        echo.terminate()
        echo.wait(30)


def test_a_claimed_capacity_is_capped(coordinator: CoordinatorProcess) -> None:
    """Routing divides by capacity: a node claiming a million would draw every request."""
    headers = {"Authorization": f"Bearer {NODE_TOKEN}"}
    cap = 256  # coordinator.max_node_capacity's default
    for node_id, claimed, counted in (("greedy", 1_000_000, cap), ("modest", 4, 4)):
        body = {"url": "http://127.0.0.1:9", "pairs_available": ["en-pt"], "capacity": claimed}
        response = httpx.put(f"{coordinator.url}/nodes/{node_id}", json=body, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        nodes = {n["id"]: n for n in coordinator.status()["nodes"]}
        assert nodes[node_id]["capacity"] == counted
    assert f"node greedy claims a capacity of 1000000; counting it as {cap}" in coordinator.log()
    beyond = {"url": "http://127.0.0.1:9", "capacity": 10**7}
    refused = httpx.put(coordinator.url + "/nodes/huge", json=beyond, headers=headers, timeout=10)
    assert refused.status_code == 400 and "capacity" in refused.json()["error"]
