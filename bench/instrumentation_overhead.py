"""What profiling and tracing cost: node throughput with them on, off, and taken out, in one run.

Real nodes (bundled en->pt model) are started side by side, four by default (``--configs``):

- ``none``: the node with the instrumentation taken out (bench/_uninstrumented_node.py);
- ``off``:  the normal node with profiling disabled and no tracing configured;
- ``on``:   profiling enabled and every request traced, spans exported over OTLP/HTTP to a
  receiver in this process;
- ``prof`` and ``trace`` (not run by default): ``on`` with only profiling, or only tracing;
- ``on10``: ``on`` with the standard head sampler keeping one trace in ten
  (``OTEL_TRACES_SAMPLER=parentbased_traceidratio``, ``OTEL_TRACES_SAMPLER_ARG=0.1``).

Each round sends the same closed-loop load (``--concurrency`` clients, ``--sentences``
sentences of the benchmarks' corpus per request, as one text) to every node in turn, rotating
the order, for ``--seconds`` each; the median over rounds is compared with ``none``. Besides
requests per second it reports the CPU time all of a node's processes spent per request: on a
machine shared with other work, wall-clock throughput swings with the neighbours' load, while
CPU time per request is what the instrumentation adds, and what a dedicated CPU-bound node's
throughput is inversely proportional to. It also times a disabled ``@profile`` call and a
disabled ``profile_section`` in nanoseconds against the bare call, what one span costs the
OpenTelemetry SDK (start and end, OTLP encoding) in microseconds, and tracing's own work for
one request on each side of a node, in this process with the spans exported to the receiver:
the API server's ASGI app with tracing off and on, and the worker's spans. That last figure has
no engine beside it, so it is tracing's cost without noise, and without the cache misses it
causes a real node.

Usage: .venv/bin/python bench/instrumentation_overhead.py [--rounds 5] [--seconds 8]
Targets: ``on`` loses at most 3% of ``none``'s throughput; ``off`` at most 0.5%.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import timeit
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import ROOT
from common.corpus import request_texts
from common.loadgen import http_post, run_load_sync
from common.procs import UDN, Server, cpu_seconds, pause, resume, start_node
from common.stats import paired_ratio
from universal_decoder_node.utils.profiler import FunctionProfiler, profile, profile_section


def disabled_call_cost(number: int = 2_000_000, repeat: int = 7) -> dict[str, float]:
    """Nanoseconds per call, best of ``repeat``: bare call, disabled @profile, disabled section."""
    prof = FunctionProfiler(enabled=False)

    def bare(x: int) -> int:
        return x

    decorated = profile(name="bare", profiler=prof)(bare)
    enabled_prof = FunctionProfiler(enabled=True)
    enabled = profile(name="bare", profiler=enabled_prof)(bare)

    def with_section() -> None:
        with profile_section("s", prof):
            pass

    def without_section() -> None:
        pass

    def best(stmt: Any, n: int = number) -> float:
        return min(timeit.repeat(stmt, number=n, repeat=repeat)) / n * 1e9

    return {
        "bare_call_ns": best(lambda: bare(1)),
        "profile_disabled_ns": best(lambda: decorated(1)),
        "profile_enabled_ns": best(lambda: enabled(1), number // 10),
        "empty_block_ns": best(without_section),
        "section_disabled_ns": best(with_section),
    }


def span_cost(number: int = 5000, repeat: int = 5) -> dict[str, float]:
    """Microseconds per span with the OpenTelemetry SDK in this process, best of ``repeat``:
    start and end (bare, and with a server span's eight attributes), and OTLP protobuf encoding."""
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("bench")
    attributes: dict[str, Any] = {
        "url.scheme": "http",
        "http.request.method": "POST",
        "network.protocol.version": "1.1",
        "server.address": "127.0.0.1",
        "server.port": 8000,
        "url.path": "/translate",
    }

    def bare() -> None:
        tracer.start_span("span").end()

    def server() -> None:
        span = tracer.start_span("POST", attributes=attributes)
        span.set_attributes({"http.route": "/translate", "http.response.status_code": 200})
        span.end()

    def best(stmt: Any, n: int = number) -> float:
        return min(timeit.repeat(stmt, number=n, repeat=repeat)) / n * 1e6

    start_end = best(bare)
    with_attributes = best(server)
    memory.clear()
    for _ in range(512):
        server()
    spans = memory.get_finished_spans()
    encode = best(lambda: encode_spans(spans).SerializeToString(), 20) / len(spans)
    return {"span_us": start_end, "server_span_us": with_attributes, "encode_us": encode}


# Export every this many requests: in a tight loop spans are made faster than the exporting
# thread gets the GIL, and a full queue would drop them (and their export cost) silently.
_FLUSH_EVERY = 256


def in_process_tracing_cost(otlp: str, number: int = 5000, repeat: int = 3) -> dict[str, float]:
    """What tracing one request costs each side of a node, in CPU microseconds, best of ``repeat``.

    API server: ``GET /languages`` through a node's whole ASGI app in this process (every
    middleware, FastAPI's telemetry, no inference worker), tracing off and then on. Worker:
    the spans an inference worker makes for one traced request (``tracing.batch_trace``:
    ``udn.batch`` and ``udn.inference``), without the translation. Spans are exported over
    OTLP/HTTP to ``otlp``; the exporting thread's CPU is included.
    """
    import asyncio
    import time

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from universal_decoder_node.config import Settings
    from universal_decoder_node.serving.app import build_server
    from universal_decoder_node.utils import tracing

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/languages",
        "raw_path": b"/languages",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    def per_request(app: Any) -> float:
        async def run(n: int) -> float:
            started = time.process_time()
            for i in range(n):
                await app(dict(scope), receive, send)
                if i % _FLUSH_EVERY == _FLUSH_EVERY - 1:
                    tracing.force_flush()
            return (time.process_time() - started) / n

        with asyncio.Runner() as runner:
            runner.run(run(number // 5))  # warm up
            best = min(runner.run(run(number)) for _ in range(repeat))
            tracing.force_flush()
        return best * 1e6

    off = per_request(build_server(Settings()).app)
    on_app = build_server(Settings()).app
    tracing.setup_tracing(
        on_app,
        exporter=OTLPSpanExporter(endpoint=tracing.traces_endpoint({"OTEL_EXPORTER_OTLP_ENDPOINT": otlp})),
    )
    on = per_request(on_app)
    if set(statuses) != {200}:
        raise SystemExit(f"GET /languages answered {sorted(set(statuses))} in process")

    def worker_spans(n: int) -> float:
        with tracing.start_span("POST /translate"):
            context = tracing.current_context()
        attributes = {"udn.pair": "en-pt", "udn.texts": 1, "udn.queue.wait_ms": 0.1}
        batch_attributes = {"udn.batch.size": 1, "udn.worker": 0}
        started = time.process_time()
        for i in range(n):
            trace = tracing.batch_trace([context], lambda _: attributes, **batch_attributes)
            trace.begin("udn.inference", **{"udn.jobs": 1})
            trace.end_item(0)
            if i % _FLUSH_EVERY == _FLUSH_EVERY - 1:
                tracing.force_flush()
        tracing.force_flush()
        return (time.process_time() - started) / n

    worker = min(worker_spans(number) for _ in range(repeat)) * 1e6
    return {"off_us": off, "on_us": on, "worker_us": worker}


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts and discards span batches."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.posts += 1  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def requests_for(port: int, sentences: int) -> list[bytes]:
    out = []
    for texts in request_texts(sentences):
        body = json.dumps({"q": " ".join(texts), "source": "en", "target": "pt"}).encode()
        out.append(http_post("127.0.0.1", port, "/translate", body))
    return out


def measure(port: int, pid: int, seconds: float, concurrency: int, sentences: int) -> tuple[float, float]:
    """(requests per second, node CPU milliseconds per request) over one slice of load."""
    resume(pid)
    try:
        before = cpu_seconds(pid)
        result = run_load_sync("127.0.0.1", port, requests_for(port, sentences), concurrency, seconds, 0.5)
        spent = cpu_seconds(pid) - before
    finally:
        pause(pid)  # an idle node takes no CPU from the one measured next
    if result.errors:
        raise SystemExit(f"node on port {port}: {result.errors} failed requests {result.statuses}")
    done = len(result.latencies)
    # CPU over warm-up and measurement, per measured request.
    return result.requests_per_second, 1000 * spent * seconds / (seconds + 0.5) / max(done, 1)


def report(title: str, unit: str, values: dict[str, list[float]], digits: int) -> dict[str, float]:
    median = {n: statistics.median(v) for n, v in values.items()}
    print(title)
    for name, v in values.items():
        spread = f"{min(v):.{digits}f}-{max(v):.{digits}f}"
        ratio = median[name] / median["none"]
        print(
            f"  {name:5s} {median[name]:9.{digits}f} {unit}   (rounds {spread})   ratio to none {ratio:.4f}"
        )
    return median


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sentences", type=int, default=1, help="sentences per request (default 1)")
    parser.add_argument("--configs", default="none,off,on,on10", help="nodes to compare (none is required)")
    args = parser.parse_args()

    costs = disabled_call_cost()
    print("Disabled instrumentation, per call (best of 7):")
    print(f"  bare function call          {costs['bare_call_ns']:7.1f} ns")
    extra = costs["profile_disabled_ns"] - costs["bare_call_ns"]
    print(f"  @profile, profiling off     {costs['profile_disabled_ns']:7.1f} ns  (+{extra:.1f} ns)")
    print(f"  @profile, profiling on      {costs['profile_enabled_ns']:7.1f} ns")
    print(f"  empty block                 {costs['empty_block_ns']:7.1f} ns")
    extra = costs["section_disabled_ns"] - costs["empty_block_ns"]
    print(f"  profile_section, off        {costs['section_disabled_ns']:7.1f} ns  (+{extra:.1f} ns)")

    span_costs = span_cost()
    print("A span with the OpenTelemetry SDK, this process (best of 5):")
    print(f"  start and end               {span_costs['span_us']:7.1f} us")
    print(f"  with 8 attributes           {span_costs['server_span_us']:7.1f} us")
    print(f"  OTLP protobuf encoding      {span_costs['encode_us']:7.1f} us")

    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    sink.posts = 0  # type: ignore[attr-defined]
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    otlp = f"http://127.0.0.1:{sink.server_address[1]}"

    stack = in_process_tracing_cost(otlp)
    print("Tracing one request, in this process (best of 3):")
    print("  API server: GET /languages through the node's ASGI app")
    print(f"    tracing off               {stack['off_us']:7.1f} us")
    added = stack["on_us"] - stack["off_us"]
    print(
        f"    tracing on, span exported {stack['on_us']:7.1f} us  (+{added:.1f} us: "
        "FastAPI's telemetry and the SDK's server span)"
    )
    print(f"  worker: udn.batch and udn.inference spans, exported {stack['worker_us']:7.1f} us")
    traced = {"UDN_PROFILING__ENABLE_PROFILING": "true", "OTEL_EXPORTER_OTLP_ENDPOINT": otlp}
    configs: dict[str, tuple[list[str], dict[str, str]]] = {
        "none": (
            [sys.executable, str(ROOT / "bench" / "_uninstrumented_node.py")],
            {"UDN_PROFILING__ENABLE_PROFILING": "false"},
        ),
        "off": (UDN, {"UDN_PROFILING__ENABLE_PROFILING": "false"}),
        "on": (UDN, traced),
        "prof": (UDN, {"UDN_PROFILING__ENABLE_PROFILING": "true"}),
        "trace": (UDN, {**traced, "UDN_PROFILING__ENABLE_PROFILING": "false"}),
        "on10": (
            UDN,
            {**traced, "OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.1"},
        ),
    }
    wanted = args.configs.split(",")
    configs = {name: configs[name] for name in wanted if name in configs}
    nodes: dict[str, Server] = {}
    config = {"serving": {"workers": 1}, "memory": {"enable_monitoring": False}}
    rps: dict[str, list[float]] = {name: [] for name in configs}
    cpu: dict[str, list[float]] = {name: [] for name in configs}
    names = list(configs)
    with tempfile.TemporaryDirectory(prefix="udn-bench-") as tmp:
        workdir = Path(tmp)
        try:
            for name, (command, env) in configs.items():
                nodes[name] = start_node(name, workdir, config, env, command=command)
                pause(nodes[name].pid)
            for name in names:  # warm each node's path up once
                measure(nodes[name].port, nodes[name].pid, 1.0, args.concurrency, args.sentences)
            for r in range(args.rounds):
                shift = r % len(names)
                for name in names[shift:] + names[:shift]:
                    node = nodes[name]
                    speed, cpu_ms = measure(
                        node.port, node.pid, args.seconds, args.concurrency, args.sentences
                    )
                    rps[name].append(speed)
                    cpu[name].append(cpu_ms)
                print(
                    f"round {r + 1}: "
                    + ", ".join(f"{n} {rps[n][-1]:.1f} req/s {cpu[n][-1]:.2f} ms" for n in names)
                )
        finally:
            for node in nodes.values():
                node.stop()
    sink.shutdown()

    print(
        f"\n{args.rounds} rounds of {args.seconds:g}s per node, {args.concurrency} clients, "
        f"{args.sentences} sentence(s) per request, {os.cpu_count()} cores "
        "(if the machine is shared, read the spread as well)."
    )
    speed_median = report("Throughput, median:", "req/s", rps, 1)
    cost_median = report("Node CPU time per request (all its processes), median:", "ms   ", cpu, 3)
    paired_speed = {n: paired_ratio(rps[n], rps["none"]) for n in names}
    paired_cpu = {n: paired_ratio(cpu[n], cpu["none"]) for n in names}
    print("Median of the per-round ratios to none:")
    for name, target in (("on", 3.0), ("on10", 3.0), ("prof", 3.0), ("trace", 3.0), ("off", 0.5)):
        if name not in paired_speed:
            continue
        print(
            f"  {name:4s}: throughput {100 * (1 - paired_speed[name]):+.2f}% lost, "
            f"CPU per request {100 * (paired_cpu[name] - 1):+.2f}%   "
            f"(medians alone: {100 * (1 - speed_median[name] / speed_median['none']):+.2f}% lost, "
            f"{100 * (cost_median[name] / cost_median['none'] - 1):+.2f}% CPU; "
            f"target: at most {target:g}% lost)"
        )
    added_ms = (stack["on_us"] - stack["off_us"] + stack["worker_us"]) / 1000
    print(
        f"  tracing's own work per request (in process, above): {added_ms:.3f} ms, "
        f"{100 * added_ms / cost_median['none']:.1f}% of none's CPU per request"
    )
    print(f"  OTLP export requests received from the traced nodes: {sink.posts}")  # type: ignore[attr-defined]
    return 0


if __name__ == "__main__":
    sys.exit(main())
