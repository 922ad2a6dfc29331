"""Short requests while huge ones run: does one request's cost starve everyone else's?

The attack this measures: ``{"q": ["Hi.\\n" * 1250] * 20}`` (125 KB, 25,000 lines) once kept a
node from answering anything for about 45 s. Four closed-loop clients send one sentence each
(bench/common/loadgen.py), first alone (the baseline), then while two more clients keep sending huge
requests:

- ``attack``:   the attack's body against a node with the default limits, which refuse it (413);
- ``largest``:  the largest request the default limits admit (4 texts of 400 lines: 1600 segments);
- ``attack, admitted``: the attack's body against a second node whose segment limits admit it,
  so that only the translator's turn-taking and deadlines protect the short requests.

For each it prints the short requests' success ratio, p50 and p95 latency, their p95 against
the baseline's, and the huge requests' statuses, and checks the target: >= 95% success and
p95 <= 3 s for the short requests while two huge ones run.

Usage: .venv/bin/python bench/fairness.py [--seconds 20] [--warmup 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path
from typing import Any

from common.corpus import sentences
from common.loadgen import LoadResult, http_post, run_load, run_on_uvloop
from common.procs import start_node
from common.report import machine_line, markdown_table

ATTACK = {"q": ["Hi.\n" * 1250] * 20, "source": "en", "target": "pt"}
LARGEST = {"q": ["Hi.\n" * 400] * 4, "source": "en", "target": "pt"}
SHORT_CLIENTS = 4
HUGE_CLIENTS = 2


def _bodies(port: int, payloads: list[dict[str, Any]]) -> list[bytes]:
    return [http_post("127.0.0.1", port, "/translate", json.dumps(p).encode()) for p in payloads]


async def _phase(port: int, huge: dict[str, Any] | None, seconds: float, warmup: float) -> dict[str, Any]:
    short = _bodies(port, [{"q": s, "source": "en", "target": "pt"} for s in sentences()])
    loads = [run_load("127.0.0.1", port, short, SHORT_CLIENTS, seconds, warmup)]
    if huge is not None:
        loads.append(run_load("127.0.0.1", port, _bodies(port, [huge]), HUGE_CLIENTS, seconds, warmup))
    results: list[LoadResult] = await asyncio.gather(*loads)
    light = results[0]
    answered = sum(light.statuses.values())
    return {
        "short_success": light.statuses.get(200, 0) / answered if answered else 0.0,
        "short_answered": answered,
        "short_statuses": light.statuses,
        "short_p50_s": light.percentile(0.5),
        "short_p95_s": light.percentile(0.95),
        "short_per_second": light.requests_per_second,
        "huge_statuses": results[1].statuses if len(results) > 1 else {},
    }


def _run(port: int, huge: dict[str, Any] | None, seconds: float, warmup: float) -> dict[str, Any]:
    return run_on_uvloop(_phase(port, huge, seconds, warmup))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per phase")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    args = parser.parse_args()
    print(machine_line())
    rows: list[tuple[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="udn-bench-") as tmp:
        workdir = Path(tmp)
        nodes = {
            "default": {},
            # Segment limits high enough to admit the attack: only turn-taking and deadlines help.
            "open": {"max_segments_per_text": 2000, "max_segments_per_request": 30000},
        }
        for name, limits in nodes.items():
            node = start_node(name, workdir, {"serving": limits})
            port = node.port
            try:
                if name == "default":
                    rows.append(("alone (baseline)", _run(port, None, args.seconds, args.warmup)))
                    rows.append(("attack", _run(port, ATTACK, args.seconds, args.warmup)))
                    rows.append(("largest", _run(port, LARGEST, args.seconds, args.warmup)))
                else:
                    rows.append(("attack, admitted", _run(port, ATTACK, args.seconds, args.warmup)))
            finally:
                node.stop()
    baseline_p95 = rows[0][1]["short_p95_s"]
    print(
        f"\n{SHORT_CLIENTS} clients of one sentence each, {args.seconds:g} s measured per phase; "
        f"{HUGE_CLIENTS} clients of huge requests beside them\n"
    )
    header = ["phase", "short ok", "short answered", "p50 s", "p95 s", "p95 vs alone", "huge statuses"]
    table = []
    met = True
    for name, row in rows:
        ratio = row["short_p95_s"] / baseline_p95 if baseline_p95 else float("nan")
        table.append(
            [
                name,
                f"{row['short_success']:.1%}",
                row["short_answered"],
                f"{row['short_p50_s']:.3f}",
                f"{row['short_p95_s']:.3f}",
                f"{ratio:.1f}x",
                row["huge_statuses"] or "-",
            ]
        )
        if row["huge_statuses"]:
            met = met and row["short_success"] >= 0.95 and row["short_p95_s"] <= 3.0
    print(markdown_table(header, table))
    verdict = "met" if met else "NOT met"
    print(f"\ntarget (>= 95% of short requests answered, p95 <= 3 s, while huge ones run): {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
