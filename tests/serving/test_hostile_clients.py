"""Clients that misbehave at the HTTP level, against a real node over loopback.

Huge numbers, huge headers, bodies abandoned half-way: each gets a clear answer (or none, when
nobody is left to read it), the connection or the node keeps serving, and no traceback is logged.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import psutil
import pytest

from tests.support import (
    BEACH_EN,
    TIMEOUT,
    NodeProcess,
    RawConnection,
    eventually,
    http_request,
    metric_samples,
    sample,
    start_node,
    translate,
)

JSON = {"Content-Type": "application/json"}
GOOD = json.dumps({"q": "Good morning.", "source": "en", "target": "pt"}).encode()
HUGE_INTEGER = b'{"q": "Hi.", "source": "en", "target": "pt", "n": ' + b"7" * 4301 + b"}"
HEADER_LIMIT = 65_536


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def rss(node: NodeProcess) -> int:
    total = 0
    for pid in node.group_pids():
        with contextlib.suppress(psutil.Error):
            total += psutil.Process(pid).memory_info().rss
    return total


def test_a_huge_integer_is_a_400_and_the_connection_keeps_serving(node: NodeProcess) -> None:
    with RawConnection(port_of(node.url)) as conn:
        conn.send(http_request("POST", "/translate", HUGE_INTEGER, JSON))
        status, headers, body = conn.response()
        assert status == 400, body
        assert json.loads(body) == {
            "error": "request body has a number with more than 4300 digits; no field takes one that long"
        }
        assert headers.get("connection") != "close"
        conn.send(http_request("POST", "/translate", GOOD, JSON))  # the same connection
        status, _, body = conn.response()
        assert status == 200, body
        assert json.loads(body)["translatedText"]


def test_a_header_over_the_limit_is_a_431_before_the_head_even_ends(node: NodeProcess) -> None:
    with RawConnection(port_of(node.url)) as conn:
        head = http_request("GET", "/languages", headers={"X-Filler": "a" * (HEADER_LIMIT + 1024)})
        conn.send(head[:-4])  # never ends: a server that buffers first would wait forever
        status, headers, body = conn.response()
    assert status == 431
    assert json.loads(body) == {"error": f"request headers are larger than the limit of {HEADER_LIMIT} bytes"}
    assert headers["x-content-type-options"] == "nosniff"
    assert httpx.get(node.url + "/languages", timeout=TIMEOUT).status_code == 200


def test_huge_headers_sent_at_once_do_not_grow_the_node(node: NodeProcess) -> None:
    """Four clients each try to send a 64 MiB header; the node reads little of it and stays small."""
    before = rss(node)
    port = port_of(node.url)
    sockets: list[socket.socket] = []

    def flood() -> int:
        sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        sockets.append(sock)
        sent = 0
        try:
            sock.sendall(b"GET /languages HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: ")
            for _ in range(64):
                sock.sendall(b"a" * 2**20)
                sent += 2**20
        except OSError:  # cut off by the node
            pass
        return sent

    try:
        with ThreadPoolExecutor(4) as pool:
            sent = list(pool.map(lambda _: flood(), range(4)))
        grown = rss(node) - before  # measured while every connection is still open
    finally:
        for sock in sockets:
            sock.close()
    assert all(s < 64 * 2**20 for s in sent), sent  # nobody got to send it all
    assert grown < 32 * 2**20, f"the node grew by {grown / 2**20:.0f} MiB"
    response = translate(node.url, BEACH_EN)
    assert response.status_code == 200, response.text


def test_a_client_gone_mid_body_is_counted_499_and_logs_no_traceback(node: NodeProcess) -> None:
    log_before = len(node.log())
    counted = sample(metric_samples(node.url), "udn_requests_total", endpoint="/translate", code="499")
    with RawConnection(port_of(node.url)) as conn:
        head = http_request("POST", "/translate", b"x" * 100_000, JSON)
        conn.send(head[: len(head) - 99_000])  # the head and a tenth of the body, then hang up
    eventually(
        lambda: (
            sample(metric_samples(node.url), "udn_requests_total", endpoint="/translate", code="499")
            == counted + 1
        ),
        30,
        lambda: f"the abandoned request to be counted 499:\n{node.log()[log_before:]}",
    )
    samples = metric_samples(node.url)
    assert sample(samples, "udn_requests_total", endpoint="/translate", code="500") == 0
    new_log = node.log()[log_before:]
    assert "Traceback" not in new_log and "Exception in ASGI" not in new_log, new_log


def test_docs_list_no_guarded_route_and_litserve_info_is_not_public(node: NodeProcess) -> None:
    paths = httpx.get(node.url + "/openapi.json", timeout=TIMEOUT).json()["paths"]
    assert "/languages" in paths
    guarded = [p for p in paths if p.startswith(("/admin", "/_litserve/info"))]
    assert guarded == []
    assert httpx.get(node.url + "/docs", timeout=TIMEOUT).status_code == 200
    info = httpx.get(node.url + "/_litserve/info", timeout=TIMEOUT)
    assert info.status_code == 403  # this node has no admin token: admin endpoints are off
    assert "admin endpoints are disabled" in info.json()["error"]


@pytest.fixture(scope="module")
def quiet_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """docs off, an admin token set."""
    node = start_node(
        tmp_path_factory.mktemp("quiet"),
        {"models": {"warmup": False}, "serving": {"docs": False, "threads": 1}, "admin": {"token": "t0k"}},
    )
    yield node
    node.stop()


def test_docs_can_be_switched_off_and_info_is_for_the_admin(quiet_node: NodeProcess) -> None:
    for path in ("/docs", "/openapi.json"):
        assert httpx.get(quiet_node.url + path, timeout=TIMEOUT).status_code == 404, path
    assert httpx.get(quiet_node.url + "/_litserve/info", timeout=TIMEOUT).status_code == 401
    info = httpx.get(
        quiet_node.url + "/_litserve/info", headers={"Authorization": "Bearer t0k"}, timeout=TIMEOUT
    )
    assert info.status_code == 200
    assert "server" in info.json()
