"""A trivial stand-in for a decoder node, speaking the node's HTTP protocol, for benchmarks and fault tests.

It answers ``POST /translate`` at once with the text it was sent (and, so tests can see what
arrived, the ``traceparent`` header and its own id), ``/ready`` and ``/health`` with 200, and
registers and heartbeats with a coordinator exactly as a node does (``PUT /nodes/{id}``). With
``--status 500`` it fails every translation, to exercise retries and circuit breakers; with
``--echo`` its answer also holds the request it received (body, query string, headers), so a test
can see exactly what the coordinator forwarded. It stands
in for a real node only where a real one cannot be made to do what is measured or tested: answer
in microseconds, or fail on demand.

    python tests/support/fake_node.py --port 9001 --coordinator http://127.0.0.1:5100 --token T --node-id f1
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
from typing import Any

import httpx
import uvicorn

PAIRS = ["en-pt", "pt-en"]


class FakeNode:
    """A raw ASGI app: no framework, so it costs as little as possible per request."""

    def __init__(self, node_id: str, status: int, delay: float, echo: bool = False) -> None:
        self.node_id = node_id
        self.status = status
        self.delay = delay
        self.echo = echo
        self.in_flight = 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path = scope["path"]
        if path in ("/ready", "/health"):
            await self._answer(send, 200, {"status": "ok"})
            return
        if path not in ("/translate", "/decode"):
            await self._answer(send, 404, {"error": "not found"})
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        self.in_flight += 1
        try:
            if self.delay:
                await asyncio.sleep(self.delay)
            if self.status >= 400:
                await self._answer(send, self.status, {"error": f"fake node {self.node_id} fails on purpose"})
                return
            headers = dict(scope["headers"])
            q: Any = None
            with contextlib.suppress(ValueError, AttributeError):
                q = json.loads(body).get("q")
            answer: dict[str, Any] = {
                "translatedText": q,
                "node": self.node_id,
                "traceparent": headers.get(b"traceparent", b"").decode() or None,
            }
            if self.echo:
                answer["received"] = {
                    "body": body.decode(errors="replace"),
                    "query": scope["query_string"].decode(errors="replace"),
                    "headers": {k.decode(): v.decode(errors="replace") for k, v in scope["headers"]},
                }
            await self._answer(send, 200, answer)
        finally:
            self.in_flight -= 1

    @staticmethod
    async def _answer(send: Any, status: int, data: dict[str, Any]) -> None:
        payload = json.dumps(data).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


def heartbeat(app: FakeNode, coordinator: str, token: str, url: str, stop: threading.Event) -> None:
    """Register and heartbeat like ``serving.registration`` does, until ``stop``."""
    endpoint = f"{coordinator.rstrip('/')}/nodes/{app.node_id}"
    headers = {"Authorization": f"Bearer {token}"}
    interval = 1.0
    with httpx.Client(timeout=5) as client:
        while not stop.is_set():  # register only once this node answers
            with contextlib.suppress(httpx.HTTPError):
                if client.get(url + "/ready").status_code == 200:
                    break
            stop.wait(0.05)
        while not stop.is_set():
            body = {
                "url": url,
                "pairs_loaded": PAIRS,
                "pairs_available": PAIRS,
                "language_names": {"en": "English", "pt": "Portuguese"},
                "capacity": 64,
                "queued": 0,
                "in_flight": app.in_flight,
                "version": "fake",
            }
            with contextlib.suppress(httpx.HTTPError, ValueError):
                interval = float(
                    client.put(endpoint, json=body, headers=headers).json()["heartbeat_interval"]
                )
            stop.wait(interval)
        with contextlib.suppress(httpx.HTTPError):
            client.delete(endpoint, headers=headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--node-id", default=None)
    parser.add_argument("--status", type=int, default=200, help="answer every translation with this status")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds to wait before answering")
    parser.add_argument("--echo", action="store_true", help="answer with the request received, too")
    parser.add_argument("--coordinator", help="register with this coordinator")
    parser.add_argument("--token", default="", help="the coordinator's node token")
    args = parser.parse_args()
    app = FakeNode(args.node_id or f"fake-{args.port}", args.status, args.delay, args.echo)
    stop = threading.Event()
    thread: threading.Thread | None = None
    if args.coordinator:
        url = f"http://127.0.0.1:{args.port}"
        thread = threading.Thread(
            target=heartbeat, args=(app, args.coordinator, args.token, url, stop), daemon=True
        )
        thread.start()
    try:
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    finally:
        stop.set()
        if thread is not None:
            thread.join(5)  # lets it deregister


if __name__ == "__main__":
    main()
