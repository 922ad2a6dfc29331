"""The coordinator's own errors, answered over real HTTP through the table it shares with the node
(``protocol.errors``): statuses, messages and the headers a client acts on."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import ADMIN, NODE_TOKEN, free_port, start_coordinator

TEXT = {"q": "Hello.", "source": "en", "target": "pt"}


def test_refusals_carry_their_status_message_and_headers(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path, {"coordinator": {"require_api_key": True}})
    try:
        url = coordinator.url
        keyless = httpx.post(url + "/translate", json=TEXT, timeout=30)
        assert (keyless.status_code, keyless.headers["WWW-Authenticate"]) == (401, "Bearer")
        admin = httpx.get(url + "/admin/keys", timeout=10)
        assert (admin.status_code, admin.headers["WWW-Authenticate"]) == (401, "Bearer")
        assert admin.json() == {"error": "admin token required: send 'Authorization: Bearer <token>'"}
        intruder = httpx.put(url + "/nodes/n1", json={"url": "http://127.0.0.1:9"}, timeout=10)
        assert (intruder.status_code, intruder.headers["WWW-Authenticate"]) == (401, "Bearer")
        unknown = httpx.delete(url + "/admin/keys/k_nope", headers=ADMIN, timeout=10)
        assert unknown.status_code == 404
        assert unknown.json() == {"error": "there is no API key with id 'k_nope'"}
        key = coordinator.create_key(name="errors")["key"]
        no_node = httpx.post(url + "/translate", json={**TEXT, "api_key": key}, timeout=30)
        assert (no_node.status_code, no_node.headers["Retry-After"]) == (503, "1")
        assert no_node.json() == {"error": "no decoder node is registered and ready"}
    finally:
        coordinator.stop()


def test_a_node_that_cannot_be_reached_is_a_502_and_no_node_is_counted_once(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path)
    try:
        url = coordinator.url
        assert httpx.post(url + "/translate", json=TEXT, timeout=30).status_code == 503
        nobody = f"http://127.0.0.1:{free_port()}"  # a port no process listens on
        registered = httpx.put(
            url + "/nodes/gone",
            json={"url": nobody, "pairs_available": ["en-pt"]},
            headers={"Authorization": f"Bearer {NODE_TOKEN}"},
            timeout=10,
        )
        assert registered.status_code == 200, registered.text
        unreachable = httpx.post(url + "/translate", json=TEXT, timeout=30)
        assert unreachable.status_code == 502
        assert unreachable.json() == {"error": "node gone could not be reached (ConnectError)"}
        # The retry found no other node: that is the 502's story, not one more request without a node.
        metrics = httpx.get(url + "/metrics", timeout=5).text
        assert "udn_coordinator_no_node_total 1.0" in metrics.splitlines()
    finally:
        coordinator.stop()
