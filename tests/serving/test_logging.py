"""A real node's log, in JSON: every line of every process parses, its start-up, ready and stop
lines are there, and each request has one access line with its id, which the answer echoes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN, ADMIN_TOKEN, NodeProcess, eventually, start_node
from tests.support.logs import JSON_LOGS, access_lines, json_lines, messages
from universal_decoder_node import __version__

TEXT = {"q": "Hello, world.", "source": "en", "target": "pt"}
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    tmp = tmp_path_factory.mktemp("logging-node")
    process = start_node(
        tmp,
        {"models": {"warmup": False}, "serving": {"threads": 1}, "admin": {"token": ADMIN_TOKEN}},
        env=JSON_LOGS,
    )
    yield process
    process.stop()


def records_when(node: NodeProcess, condition: str) -> list[dict[str, object]]:
    """The node's lines once one of them contains ``condition`` (the access line comes after the answer)."""
    eventually(lambda: condition in node.log(), 10, lambda: f"{condition!r} in the log:\n{node.log()}")
    return json_lines(node.log())


def test_a_request_has_one_access_line_with_its_id_echoed(node: NodeProcess) -> None:
    response = httpx.post(node.url + "/translate", json=TEXT, headers={"X-Request-ID": "client-id.42"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Request-ID"] == "client-id.42"
    (line,) = access_lines(records_when(node, '"client-id.42"'), request_id="client-id.42")
    assert line["method"] == "POST" and line["path"] == "/translate" and line["status"] == 200
    assert line["pair"] == "en-pt" and line["characters"] == len(TEXT["q"])
    assert line["client"] == "127.0.0.1" and line["level"] == "INFO"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["process_name"] == "LitServer-0"


def test_a_refused_request_is_logged_with_its_status(node: NodeProcess) -> None:
    response = httpx.post(
        node.url + "/translate", json={**TEXT, "target": "xx"}, headers={"X-Request-ID": "refused-1"}
    )
    assert response.status_code == 400, response.text
    assert response.headers["X-Request-ID"] == "refused-1"
    (line,) = access_lines(records_when(node, '"refused-1"'), request_id="refused-1")
    assert line["status"] == 400 and line["pair"] == "en-xx"


@pytest.mark.parametrize("sent", ["x" * 129, "<script>", "two words", ""])
def test_an_unusable_request_id_is_replaced(node: NodeProcess, sent: str) -> None:
    response = httpx.get(node.url + "/languages", headers={"X-Request-ID": sent})
    assert response.status_code == 200
    given = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(given), given
    (line,) = access_lines(records_when(node, given), request_id=given)
    assert line["path"] == "/languages"
    if sent:
        assert sent not in node.log()


def test_a_request_without_an_id_gets_one(node: NodeProcess) -> None:
    response = httpx.get(node.url + "/languages")
    given = response.headers["X-Request-ID"]
    assert GENERATED_ID.fullmatch(given), given
    assert len(access_lines(records_when(node, given), request_id=given)) == 1


def test_the_client_behind_a_trusted_proxy_is_logged(node: NodeProcess) -> None:
    # 127.0.0.1 is in https.trusted_proxies by default: its X-Forwarded-For names the client.
    response = httpx.get(
        node.url + "/languages", headers={"X-Forwarded-For": "203.0.113.9", "X-Request-ID": "proxied-1"}
    )
    assert response.status_code == 200
    (line,) = access_lines(records_when(node, '"proxied-1"'), request_id="proxied-1")
    assert line["client"] == "203.0.113.9"


def test_probes_are_not_logged_at_info(node: NodeProcess) -> None:
    for path in ("/health", "/ready", "/metrics"):
        response = httpx.get(node.url + path, headers={"X-Request-ID": f"probe{path.replace('/', '-')}"})
        assert response.status_code == 200
        assert response.headers["X-Request-ID"] == f"probe{path.replace('/', '-')}"
    httpx.get(node.url + "/languages", headers={"X-Request-ID": "after-probes"})
    records = records_when(node, '"after-probes"')
    assert not [r for r in records if str(r.get("request_id", "")).startswith("probe-")]
    assert not [r for r in access_lines(records) if r["path"] in ("/health", "/ready", "/metrics")]


def test_admin_requests_leave_no_token_in_the_log(node: NodeProcess) -> None:
    assert httpx.get(node.url + "/admin/models", headers=ADMIN).status_code == 200
    wrong = {"Authorization": "Bearer not-the-admin-token-at-all"}
    assert httpx.get(node.url + "/admin/models", headers=wrong).status_code == 401
    httpx.get(node.url + "/languages", headers={"X-Request-ID": "after-admin"})
    log = node.log()
    records = records_when(node, '"after-admin"')
    assert len(access_lines(records, path="/admin/models")) == 2
    assert ADMIN_TOKEN not in log and "not-the-admin-token-at-all" not in log


def test_every_process_logs_json_from_start_to_stop(tmp_path: Path) -> None:
    node = start_node(tmp_path, {"models": {"warmup": False}, "serving": {"threads": 1}}, env=JSON_LOGS)
    try:
        assert httpx.post(node.url + "/translate", json=TEXT).status_code == 200
        eventually(lambda: "POST /translate 200" in node.log(), 10, "the access line")
    finally:
        assert node.stop() == 0
    records = json_lines(node.log())
    assert all({"time", "level", "logger", "process", "message"} <= r.keys() for r in records)
    said = messages(records)
    (start,) = [m for m in said if m.startswith("node ") and " starting on " in m]
    assert start.startswith(f"node {__version__} starting on {node.url}: config ")
    assert f"node-{node.url.rsplit(':', 1)[1]}.yaml" in start and "en-pt, pt-en" in start
    assert "1 inference worker(s) x 1 thread(s)" in start
    assert f"node ready on {node.url}" in said
    assert "inference worker 0 ready; pairs loaded: en-pt, pt-en" in said
    assert "API server 0 serving (and the memory monitor)" in said
    assert "API server 0 stopped" in said and f"node on {node.url} stopped" in said
    # Main process, inference worker and API server all write through the same set-up.
    assert {"MainProcess", "inference-worker", "LitServer-0"} <= {r["process_name"] for r in records}
