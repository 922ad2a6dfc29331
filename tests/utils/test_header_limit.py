"""The header size limit in uvicorn's httptools protocol, over real connections to a real uvicorn."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.types import Receive, Scope, Send

from tests.support import RawConnection, eventually, free_port, http_request
from universal_decoder_node.utils.header_limit import header_limited_protocol

LIMIT = 4096


async def echo_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the size of the request's body."""
    if scope["type"] != "http":
        return
    size = 0
    more = True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    port = free_port()
    config = uvicorn.Config(
        echo_app, host="127.0.0.1", port=port, http=header_limited_protocol(LIMIT), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    eventually(lambda: server.started, 30, "uvicorn to start", interval=0.05)
    yield port
    server.should_exit = True
    thread.join(10)


def request(filler: int = 0, body: bytes = b"") -> bytes:
    return http_request("POST", "/", body, {"X-Filler": "a" * filler} if filler else None)


def test_a_head_within_the_limit_is_served(port: int) -> None:
    with RawConnection(port) as conn:
        conn.send(request(filler=LIMIT - 200))
        assert conn.response()[0] == 200


def test_a_head_over_the_limit_is_answered_431_before_it_ends(port: int) -> None:
    with RawConnection(port) as conn:
        conn.send(request(filler=LIMIT * 4)[: LIMIT * 3])  # the head never ends
        status, headers, body = conn.response()
    assert status == 431
    assert json.loads(body) == {"error": f"request headers are larger than the limit of {LIMIT} bytes"}
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in headers  # plain HTTP


def test_the_limit_is_per_request_and_bodies_do_not_count(port: int) -> None:
    with RawConnection(port) as conn:
        big_body = b"x" * (LIMIT * 8)
        conn.send(request(body=big_body))
        assert conn.response()[2] == str(len(big_body)).encode()
        for _ in range(3):  # together far over the limit, each well within it
            conn.send(request(filler=LIMIT // 2))
            assert conn.response()[0] == 200


def test_pipelined_requests_arriving_in_one_piece(port: int) -> None:
    with RawConnection(port) as conn:
        conn.send(request(filler=LIMIT // 2, body=b"abc") * 6)
        for _ in range(6):
            assert conn.response()[:3:2] == (200, b"3")
        conn.send(request(filler=LIMIT * 3))
        assert conn.response()[0] == 431


def test_a_client_that_keeps_sending_is_cut_off(port: int) -> None:
    with RawConnection(port) as conn:
        conn.send(request(filler=LIMIT * 2)[: LIMIT * 2])
        assert conn.response()[0] == 431
        with pytest.raises(OSError):  # dropped, then reset; never buffered
            for _ in range(1000):
                conn.send(b"a" * 65536)
