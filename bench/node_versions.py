"""This tree's node against the node of another source tree, under the same load, in one run.

For a change that must not cost throughput: check out the baseline revision somewhere
(``git worktree add /tmp/base <rev>``) and pass its ``src`` directory. Both nodes (one worker,
default settings) start side by side; each round loads one, then the other (the idle one
paused, so it takes no CPU), in alternating order, with the same closed-loop load
(bench/common/loadgen.py). Ratios are medians of per-round ratios (bench/common/stats.py).

Usage: .venv/bin/python bench/node_versions.py --baseline-src /tmp/base/src [--rounds 3]
       [--seconds 5] [--clients 16,64] [--shapes 1,16]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common.corpus import request_texts
from common.loadgen import http_post
from common.procs import pause, start_node
from common.report import machine_line, markdown_table
from common.rounds import measure_server, median_of, paired, summarise

SRC = Path(__file__).resolve().parents[1] / "src"


def _bodies(port: int, texts: list[list[str]]) -> list[bytes]:
    payloads = [{"q": t[0] if len(t) == 1 else t, "source": "en", "target": "pt"} for t in texts]
    return [http_post("127.0.0.1", port, "/translate", json.dumps(p).encode()) for p in payloads]


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline-src", type=Path, required=True, help="the baseline's src directory")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.5, help="seconds of load before measuring")
    parser.add_argument("--clients", default="16,64")
    parser.add_argument("--shapes", default="1,16", help="sentences per request")
    args = parser.parse_args()
    baseline_src = args.baseline_src.resolve()
    if not (baseline_src / "universal_decoder_node").is_dir():
        raise SystemExit(f"{baseline_src} holds no universal_decoder_node package")
    print(machine_line())
    print(f"baseline: {baseline_src}; this tree: {SRC}")
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="udn-bench-") as tmp:
        workdir = Path(tmp)
        config = {"serving": {"workers": 1}}
        nodes = {
            "baseline": start_node("baseline", workdir, config, env={"PYTHONPATH": str(baseline_src)}),
            "this": start_node("this", workdir, config, env={"PYTHONPATH": str(SRC)}),
        }
        try:
            for node in nodes.values():
                pause(node.pid)
            for shape in (int(s) for s in args.shapes.split(",")):
                texts = request_texts(shape)
                for clients in (int(c) for c in args.clients.split(",")):
                    runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "this": []}
                    for r in range(args.rounds):
                        for name in ("baseline", "this") if r % 2 == 0 else ("this", "baseline"):
                            node = nodes[name]
                            result, cpu = measure_server(
                                node, _bodies(node.port, texts), clients, args.seconds, args.warmup
                            )
                            if result.errors:
                                raise SystemExit(f"{result.errors} requests failed: {result.statuses}")
                            runs[name].append(summarise(result, shape, cpu))
                    row = {name: median_of(runs[name]) for name in runs}
                    ratio = paired(row, "this", "baseline", "requests_per_s")
                    per_round = ", ".join(
                        f"{t['requests_per_s'] / b['requests_per_s']:.2f}"
                        for t, b in zip(runs["this"], runs["baseline"], strict=True)
                    )
                    for name in ("baseline", "this"):
                        median = row[name]
                        rows.append(
                            [
                                str(shape),
                                str(clients),
                                name,
                                f"{median['requests_per_s']:.1f}",
                                f"{median['p50_ms']:.0f}",
                                f"{median['p99_ms']:.0f}",
                                f"{median['cpu_ms_per_request']:.2f}",
                                f"{ratio:.2f} ({per_round})" if name == "this" else "1.00",
                            ]
                        )
        finally:
            for node in nodes.values():
                node.stop()
    header = [
        "sentences/request",
        "clients",
        "node",
        "requests/s",
        "p50 ms",
        "p99 ms",
        "CPU ms/request",
        "vs baseline (per round)",
    ]
    print(markdown_table(header, rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
