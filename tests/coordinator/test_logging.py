"""A real coordinator's log, in JSON, with a real node behind it: one request id from the client
through the coordinator to the node, registration lines on both sides, probes quiet, and no
token or API key in any line after a run of admin and key operations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.support import (
    ADMIN,
    ADMIN_TOKEN,
    NODE_TOKEN,
    CoordinatorProcess,
    NodeProcess,
    eventually,
    start_coordinator,
    start_registered_node,
    udn,
)
from tests.support.logs import JSON_LOGS, access_lines, json_lines, messages
from universal_decoder_node import __version__

TEXT = {"q": "Hello, world.", "source": "en", "target": "pt"}


@dataclass
class Pair:
    coordinator: CoordinatorProcess
    node: NodeProcess


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    tmp = tmp_path_factory.mktemp("logging-coordinator")
    coordinator = start_coordinator(tmp, env=JSON_LOGS)
    try:
        node = start_registered_node(tmp, coordinator, "node-logs", env=JSON_LOGS)
    except BaseException:
        coordinator.stop()
        raise
    yield Pair(coordinator, node)
    node.stop()
    coordinator.stop()


def lines_with(process: CoordinatorProcess | NodeProcess, text: str) -> list[dict[str, object]]:
    eventually(lambda: text in process.log(), 10, lambda: f"{text!r} in the log:\n{process.log()}")
    return json_lines(process.log())


def test_the_request_id_is_followed_from_client_to_coordinator_to_node(pair: Pair) -> None:
    response = httpx.post(
        pair.coordinator.url + "/translate", json=TEXT, headers={"X-Request-ID": "follow-me-1"}, timeout=30
    )
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "follow-me-1"
    (at_coordinator,) = access_lines(lines_with(pair.coordinator, '"follow-me-1"'), request_id="follow-me-1")
    (at_node,) = access_lines(lines_with(pair.node, '"follow-me-1"'), request_id="follow-me-1")
    for line in (at_coordinator, at_node):
        assert line["method"] == "POST" and line["path"] == "/translate" and line["status"] == 200
        assert line["pair"] == "en-pt" and line["characters"] == len(TEXT["q"])


def test_an_id_the_coordinator_generates_reaches_the_node(pair: Pair) -> None:
    response = httpx.post(pair.coordinator.url + "/translate", json=TEXT, timeout=30)
    assert response.status_code == 200, response.text
    generated = response.headers["X-Request-ID"]
    assert len(generated) == 32
    assert len(access_lines(lines_with(pair.coordinator, generated), request_id=generated)) == 1
    assert len(access_lines(lines_with(pair.node, generated), request_id=generated)) == 1


def test_registration_and_start_are_logged_on_both_sides(pair: Pair) -> None:
    coordinator = messages(json_lines(pair.coordinator.log()))
    (start,) = [m for m in coordinator if m.startswith("coordinator ") and "starting on" in m]
    assert start.startswith(f"coordinator {__version__} starting on {pair.coordinator.url}: config ")
    assert any(m.startswith("coordinator ready") for m in coordinator)
    assert any(m.startswith("node node-logs registered at ") for m in coordinator)
    node = messages(json_lines(pair.node.log()))
    assert any(m.startswith(f"registered with {pair.coordinator.url}/nodes/node-logs") for m in node)


def test_probes_and_heartbeats_are_not_logged_at_info(pair: Pair) -> None:
    for path in ("/health", "/ready", "/metrics"):
        assert httpx.get(pair.coordinator.url + path, timeout=10).status_code == 200
    httpx.get(pair.coordinator.url + "/languages", headers={"X-Request-ID": "after-probes"}, timeout=10)
    records = lines_with(pair.coordinator, '"after-probes"')
    paths = {line["path"] for line in access_lines(records)}
    assert not paths & {"/health", "/ready", "/metrics", "/nodes/node-logs"}, paths


def test_admin_and_key_operations_leave_no_secret_in_any_line(pair: Pair, tmp_path: Path) -> None:
    url = pair.coordinator.url
    created = httpx.post(url + "/admin/keys", json={"name": "logs"}, headers=ADMIN, timeout=10)
    assert created.status_code == 201, created.text
    key, key_id = created.json()["key"], created.json()["id"]
    # The key as LibreTranslate clients send it: body field, query string, bearer token.
    uses = [
        {"json": {**TEXT, "api_key": key}},
        {"json": TEXT, "params": {"api_key": key}},
        {"json": TEXT, "headers": {"Authorization": f"Bearer {key}"}},
        {"data": {**TEXT, "api_key": key}},
    ]
    for use in uses:
        response = httpx.post(url + "/translate", timeout=30, **use)  # type: ignore[arg-type]
        assert response.status_code == 200, response.text
    assert httpx.get(url + "/admin/keys", headers=ADMIN, timeout=10).status_code == 200
    wrong = {"Authorization": "Bearer wrong-admin-token-guess"}
    assert httpx.get(url + "/admin/keys", headers=wrong, timeout=10).status_code == 401
    env = {"UDN_ADMIN_TOKEN": ADMIN_TOKEN}
    made = udn(["keys", "--url", url, "create", "--name", "cli"], env, tmp_path)
    assert made.returncode == 0, made.stderr
    cli_key = next(word for word in made.stdout.split() if word.startswith("udn_"))
    assert udn(["keys", "--url", url, "list"], env, tmp_path).returncode == 0
    assert httpx.delete(url + f"/admin/keys/{key_id}", headers=ADMIN, timeout=10).status_code == 200
    refused = httpx.post(url + "/translate", json={**TEXT, "api_key": key}, timeout=10)
    assert refused.status_code in (401, 403), refused.text
    bogus = httpx.post(url + "/translate", json=TEXT, params={"api_key": "udn_" + "b" * 43}, timeout=10)
    assert bogus.status_code in (401, 403), bogus.text
    httpx.get(url + "/languages", headers={"X-Request-ID": "after-keys"}, timeout=10)
    lines_with(pair.coordinator, '"after-keys"')
    for process in (pair.coordinator, pair.node):
        log = process.log()
        json_lines(log)
        for secret in (ADMIN_TOKEN, NODE_TOKEN, key, cli_key, "wrong-admin-token-guess", "b" * 43):
            assert secret not in log, f"{secret!r} in the log of {process.url}"
    # The operations were logged all the same.
    assert len(access_lines(json_lines(pair.coordinator.log()), path="/admin/keys")) >= 4


def test_a_node_leaving_and_the_coordinator_stopping_are_logged(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path, env=JSON_LOGS)
    try:
        node = start_registered_node(tmp_path, coordinator, "node-leaving", env=JSON_LOGS)
        assert node.stop() == 0
        eventually(lambda: "node-leaving" not in coordinator.node_ids(), 10, "the node to leave")
    finally:
        coordinator.stop()
    said = messages(json_lines(node.log()))
    assert f"deregistered from {coordinator.url}/nodes/node-leaving" in said
    assert f"node on {node.url} stopped" in said
    said = messages(json_lines(coordinator.log()))
    assert "node node-leaving deregistered" in said
    assert said[-2:] == ["coordinator stopping: writing its state file", "coordinator stopped"]
