"""What the header size limit costs: uvicorn's httptools protocol, the header-limited one, and h11.

The node and the coordinator run uvicorn with ``utils.header_limit``'s protocol (httptools,
fed at most ``max_header_bytes`` of a request head at a time). This serves a trivial ASGI app
with each protocol in turn, in its own process, and drives it with the closed-loop generator
(``bench/common/loadgen.py``): small keep-alive POSTs carrying a browser's worth of headers. Rounds
alternate between the protocols, and ratios are medians of per-round ratios against plain
httptools measured in the same round, so the machine's drift cancels out.

    .venv/bin/python bench/http_protocol.py                 # 6 rounds of 2 s, 8 clients
    .venv/bin/python bench/http_protocol.py --rounds 10 --seconds 3 --clients 16
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from common.loadgen import http_post, run_load_sync
from common.procs import free_port, start_server, stop_server
from common.report import machine_line
from common.stats import paired_ratio

PROTOCOLS = ("httptools", "header-limited", "h11")
BODY = b'{"q": "Good morning.", "source": "en", "target": "pt"}'
HEADERS = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0",
    "Accept": "application/json, text/plain, */*",
    "Accept-Language": "en-US,en;q=0.9,pt;q=0.8",
    "Accept-Encoding": "gzip, deflate, br",
    "Cookie": "session=" + "x" * 200,
    "Traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
}


async def app(scope: dict, receive, send) -> None:  # type: ignore[no-untyped-def]
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    body = b'{"translatedText": "Bom dia."}' if scope["path"] != "/ready" else b"ok"
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def serve(protocol: str, port: int) -> None:
    import uvicorn

    http: object = protocol
    if protocol == "header-limited":
        from universal_decoder_node.utils.header_limit import header_limited_protocol

        http = header_limited_protocol(65_536)
    uvicorn.run(app, host="127.0.0.1", port=port, http=http, log_level="warning", access_log=False)  # type: ignore[arg-type]


def request(port: int) -> bytes:
    return http_post("127.0.0.1", port, "/translate", BODY, headers=HEADERS)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve", choices=PROTOCOLS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    print(f"{machine_line()}; {args.clients} clients, {args.seconds:g} s rounds")
    servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
    rates: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    p50: dict[str, list[float]] = {p: [] for p in PROTOCOLS}
    with tempfile.TemporaryDirectory() as where:
        try:
            for protocol in PROTOCOLS:
                port = free_port()
                command = [sys.executable, __file__, "--serve", protocol, "--port", str(port)]
                servers[protocol] = (
                    start_server(protocol, Path(where), command, {}, f"http://127.0.0.1:{port}"),
                    port,
                )
            for _ in range(args.rounds):
                for protocol, (_, port) in servers.items():
                    result = run_load_sync(
                        "127.0.0.1", port, [request(port)], args.clients, args.seconds, 0.5
                    )
                    assert result.errors == 0, result.statuses
                    rates[protocol].append(result.requests_per_second)
                    p50[protocol].append(result.percentile(0.5) * 1000)
        finally:
            for proc, _ in servers.values():
                stop_server(proc)
    print(f"{'protocol':<16}{'req/s (median)':>16}{'p50 ms':>10}{'ratio to httptools':>20}")
    for protocol in PROTOCOLS:
        ratio = paired_ratio(rates[protocol], rates["httptools"])
        print(
            f"{protocol:<16}{statistics.median(rates[protocol]):>16.0f}"
            f"{statistics.median(p50[protocol]):>10.2f}{ratio:>20.3f}"
        )


if __name__ == "__main__":
    main()
