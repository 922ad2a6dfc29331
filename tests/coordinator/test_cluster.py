"""The coordinator in front of two real nodes: the node's client API, keys, limits, operator view."""

from __future__ import annotations

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor

import httpx
import lz4.frame
import msgpack

from tests.support import (
    ADMIN,
    ADMIN_TOKEN,
    NODE_TOKEN,
    UDN,
    Cluster,
    away_from_a_window_edge,
    coordinator_env,
)

TEXT = {"q": "The weather is nice today, so we are going to the beach.", "source": "en", "target": "pt"}


def test_translates_like_a_node(cluster: Cluster) -> None:
    url = cluster.coordinator.url
    single = httpx.post(url + "/translate", json=TEXT, timeout=30)
    assert single.status_code == 200, single.text
    assert "praia" in single.json()["translatedText"]
    batch = httpx.post(url + "/translate", json={**TEXT, "q": ["Good morning.", "Thank you."]}, timeout=30)
    assert batch.status_code == 200 and len(batch.json()["translatedText"]) == 2
    form = httpx.post(url + "/translate", data={"q": "Hello.", "source": "en", "target": "pt"}, timeout=30)
    assert form.status_code == 200 and form.json()["translatedText"]
    direct = httpx.post(cluster.nodes["node-a"].url + "/translate", json=TEXT, timeout=30)
    assert single.json() == direct.json()


def test_languages_are_aggregated_over_nodes(cluster: Cluster) -> None:
    ours = httpx.get(cluster.coordinator.url + "/languages", timeout=10).json()
    node = httpx.get(cluster.nodes["node-a"].url + "/languages", timeout=10).json()
    assert ours == node


def test_decode_is_passed_through(cluster: Cluster) -> None:
    payload = lz4.frame.compress(
        msgpack.packb(
            {
                "text": "Good night.",
                "metadata": {"source_language": "en", "target_language": "pt", "text_hash": "h"},
            }
        )
    )
    headers = {"Content-Type": "application/octet-stream", "Accept": "application/msgpack"}
    ours = httpx.post(cluster.coordinator.url + "/decode", content=payload, headers=headers, timeout=30)
    assert ours.status_code == 200, ours.text
    assert ours.headers["content-type"] == "application/msgpack"
    answer = msgpack.unpackb(ours.content)
    assert answer["text_hash"] == "h" and answer["target_language"] == "pt" and answer["translation"]


def test_bad_input_is_refused_at_the_coordinator(cluster: Cluster) -> None:
    url = cluster.coordinator.url + "/translate"
    cases = [
        (
            httpx.post(url, content=b"{not json", headers={"Content-Type": "application/json"}),
            400,
            "not valid JSON",
        ),
        (httpx.post(url, json={"source": "en", "target": "pt"}), 400, "missing 'q'"),
        (httpx.post(url, content=b"q=1", headers={"Content-Type": "text/plain"}), 415, "Content-Type"),
        (httpx.post(url, json={**TEXT, "target": "de"}), 400, "'en-de' is not served by any node"),
    ]
    for response, status, message in cases:
        assert response.status_code == status, response.text
        assert message in response.json()["error"]


def test_requests_are_spread_over_the_nodes(cluster: Cluster) -> None:
    before = {n["id"]: n["requests"] for n in cluster.coordinator.status()["nodes"]}
    with ThreadPoolExecutor(4) as pool:
        codes = list(
            pool.map(
                lambda i: (
                    httpx.post(
                        cluster.coordinator.url + "/translate",
                        json={**TEXT, "q": f"Sentence number {i}."},
                        timeout=30,
                    ).status_code
                ),
                range(24),
            )
        )
    assert codes == [200] * 24
    after = {n["id"]: n["requests"] for n in cluster.coordinator.status()["nodes"]}
    assert all(after[node] > before.get(node, 0) for node in ("node-a", "node-b")), after


def test_status_ready_and_metrics(cluster: Cluster) -> None:
    httpx.post(cluster.coordinator.url + "/translate", json=TEXT, timeout=30)
    status = cluster.coordinator.status()
    assert status["status"] == "ok"
    assert status["state"]["mode"] == "redis" and status["state"]["redis_available"]
    assert status["state"]["mirror_age_seconds"] is not None
    nodes = {n["id"]: n for n in status["nodes"]}
    assert {"node-a", "node-b"} <= set(nodes)
    for node in (nodes["node-a"], nodes["node-b"]):
        assert node["health"] == "ok" and node["circuit"] == "closed"
        assert node["pairs_loaded"] == ["en-pt", "pt-en"] and node["capacity"] >= 1
        assert node["memory_percent"] is not None and node["version"]
    assert status["pairs"]["en-pt"] >= 2
    assert httpx.get(cluster.coordinator.url + "/ready", timeout=5).status_code == 200
    metrics = httpx.get(cluster.coordinator.url + "/metrics", timeout=5).text
    for line in (
        'udn_coordinator_node_circuit_state{node="node-a"} 0.0',
        "udn_coordinator_redis_available 1.0",
        "udn_coordinator_mirror_age_seconds ",
        'udn_coordinator_requests_total{code="200",endpoint="/translate"}',
        "udn_coordinator_node_request_duration_seconds_bucket{",
    ):
        assert line in metrics, line
    assert 'udn_coordinator_node_requests_total{node="node-' in metrics


def test_registration_and_admin_need_their_tokens(cluster: Cluster) -> None:
    url = cluster.coordinator.url
    body = {"url": "http://127.0.0.1:9", "pairs_available": ["en-pt"]}
    assert httpx.put(url + "/nodes/intruder", json=body).status_code == 401
    wrong = httpx.put(url + "/nodes/intruder", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"] == "node token is not valid"
    bad = httpx.put(
        url + "/nodes/x", json={"url": "ftp://x"}, headers={"Authorization": f"Bearer {NODE_TOKEN}"}
    )
    assert bad.status_code == 400 and "url" in bad.json()["error"]
    assert httpx.get(url + "/admin/keys").status_code == 401
    assert httpx.get(url + "/admin/keys", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert "intruder" not in cluster.coordinator.node_ids()


def test_api_keys_in_the_body_or_as_bearer(cluster: Cluster) -> None:
    url = cluster.coordinator.url + "/translate"
    key = cluster.coordinator.create_key(name="clients")["key"]
    assert httpx.post(url, json={**TEXT, "api_key": key}, timeout=30).status_code == 200
    assert httpx.post(url, data={**TEXT, "api_key": key}, timeout=30).status_code == 200
    assert (
        httpx.post(url, json=TEXT, headers={"Authorization": f"Bearer {key}"}, timeout=30).status_code == 200
    )
    unknown = httpx.post(url, json={**TEXT, "api_key": "udn_not-a-key"}, timeout=30)
    assert unknown.status_code == 403 and unknown.json()["error"] == "API key is not valid"
    listed = httpx.get(cluster.coordinator.url + "/admin/keys", headers=ADMIN).json()["keys"]
    assert any(k["name"] == "clients" for k in listed)
    assert all("digest" not in k and "key" not in k for k in listed)  # keys are stored hashed, never shown


def test_a_revoked_key_is_refused_everywhere_at_once(cluster: Cluster) -> None:
    """Keys made and revoked with ``udn keys``; a second coordinator process shares the state."""
    replica = cluster.replica()
    env = coordinator_env({"UDN_ADMIN_TOKEN": ADMIN_TOKEN})
    try:
        created = subprocess.run(
            [*UDN, "keys", "--url", cluster.coordinator.url, "create", "--name", "soon-revoked"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip()
        assert key.startswith("udn_") and "shown only this once" in created.stderr
        for coordinator in (cluster.coordinator, replica):
            ok = httpx.post(coordinator.url + "/translate", json={**TEXT, "api_key": key}, timeout=30)
            assert ok.status_code == 200, ok.text
        listed = subprocess.run(
            [*UDN, "keys", "--url", replica.url, "list", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        key_id = next(k["id"] for k in json.loads(listed.stdout) if k["name"] == "soon-revoked")
        revoked = subprocess.run(
            [*UDN, "keys", "--url", cluster.coordinator.url, "revoke", key_id],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert revoked.returncode == 0 and f"revoked key {key_id}" in revoked.stdout, revoked.stderr
        for coordinator in (replica, cluster.coordinator):  # the replica first: it heard nothing directly
            refused = httpx.post(coordinator.url + "/translate", json={**TEXT, "api_key": key}, timeout=30)
            assert refused.status_code == 403 and refused.json()["error"] == "API key has been revoked"
    finally:
        replica.stop()


def test_limits_hold_across_two_coordinator_processes(cluster: Cluster) -> None:
    replica = cluster.replica()
    try:
        key = cluster.coordinator.create_key(name="limited", requests_per_minute=6)["key"]
        urls = [cluster.coordinator.url, replica.url]
        away_from_a_window_edge(margin=15)

        def send(i: int) -> httpx.Response:
            return httpx.post(
                urls[i % 2] + "/translate", json={**TEXT, "q": "Hi.", "api_key": key}, timeout=30
            )

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(send, range(20)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [200] * 6 + [429] * 14, codes
        refused = next(r for r in responses if r.status_code == 429)
        # Until the sliding count leaves room: up to two minutes when the burst opened a window.
        assert 1 <= int(refused.headers["Retry-After"]) <= 120
        assert "reached its limit of 6 requests per minute" in refused.json()["error"]
        # Characters too: 40 characters a minute fits two requests of 15.
        chars_key = cluster.coordinator.create_key(characters_per_minute=40)["key"]
        text = {**TEXT, "q": "x" * 15, "api_key": chars_key}
        codes = [httpx.post(u + "/translate", json=text, timeout=30).status_code for u in urls + urls]
        assert codes == [200, 200, 429, 429]
        too_big = httpx.post(urls[0] + "/translate", json={**text, "q": "y" * 41}, timeout=30)
        assert too_big.status_code == 413 and "more than key" in too_big.json()["error"]
    finally:
        replica.stop()


def test_nodes_are_shared_through_redis(cluster: Cluster) -> None:
    replica = cluster.replica()
    try:
        assert {"node-a", "node-b"} <= replica.node_ids()  # it heard no heartbeat itself
        assert httpx.post(replica.url + "/translate", json=TEXT, timeout=30).status_code == 200
    finally:
        replica.stop()
