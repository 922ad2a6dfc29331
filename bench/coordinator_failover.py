"""Two coordinators on one Redis, one of them SIGKILLed under load: does the other keep routing?

For each setup, a fresh pair of ``udn coordinator`` processes (default heartbeat interval and
node expiry) shares a Redis, and one real ``udn serve`` node with the bundled models registers:

- ``one URL``: the node is given the coordinator that will be killed only (what a node could do
  before ``--coordinator`` took a list): the baseline, measured in the same run;
- ``both URLs``: ``--coordinator A,B``.

Closed-loop clients send one-sentence translations to both coordinators (most to the survivor B).
After ``--before`` seconds coordinator A is SIGKILLed; the load goes on for ``--after`` seconds.
The script prints, per one-second window relative to the kill, the requests B answered and its
success ratio (200s over answers), then B's ratio before the kill and from 10 s after it.
Goal: with both URLs, B's ratio from 10 s after the kill is at least 0.95.

    .venv/bin/python bench/coordinator_failover.py [--clients 4] [--before 10] [--after 30]

Redis: a ``redis-server`` this script starts on a free port (nothing shared is touched), else
``REDIS_URL`` or 127.0.0.1:6379 under a prefix of its own, deleted afterwards. Results also go to
bench/results/coordinator_failover.json. Everything shares the machine's cores.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis

from common import RESULTS
from common.loadgen import Connection, http_post
from common.procs import Server, redis_for_bench, start_coordinator, start_node, wait_until
from common.report import machine_line, write_json

NODE_TOKEN = "bench-node-token"
BODY = json.dumps({"q": "The weather is nice today.", "source": "en", "target": "pt"}).encode()
SETTLE = 10.0  # seconds after the kill from which the goal applies
GOAL = 0.95


@dataclass
class Answers:
    """Every answer the clients got: (monotonic time, coordinator, status; -1 for no answer)."""

    rows: list[tuple[float, str, int]] = field(default_factory=list)

    def ratio(self, target: str, start: float, end: float) -> tuple[int, float]:
        codes = [code for t, name, code in self.rows if name == target and start <= t < end]
        return len(codes), (sum(code == 200 for code in codes) / len(codes) if codes else float("nan"))


async def client(url: str, name: str, answers: Answers, stop_at: float) -> None:
    """One request in flight at a time, reconnecting after a failure (a killed coordinator refuses)."""
    host, port = url.removeprefix("http://").split(":")
    request = http_post(host, int(port), "/translate", BODY)
    connection = Connection(host, int(port))
    while time.monotonic() < stop_at:
        try:
            status, _ = await asyncio.wait_for(connection.send(request), 35)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
            status = -1
            connection.close()
            await asyncio.sleep(0.05)  # a refused connection fails at once: do not spin
        answers.rows.append((time.monotonic(), name, status))
    connection.close()


async def load(
    urls: dict[str, str], clients: dict[str, int], seconds: float, kill_after: float, doomed: Server
) -> tuple[Answers, float]:
    answers = Answers()
    start = time.monotonic()
    stop_at = start + seconds
    tasks = [
        asyncio.create_task(client(urls[name], name, answers, stop_at))
        for name, count in clients.items()
        for _ in range(count)
    ]
    await asyncio.sleep(kill_after)
    os.kill(doomed.pid, signal.SIGKILL)
    killed_at = time.monotonic()
    await asyncio.gather(*tasks)
    return answers, killed_at


def drop_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


def run_setup(
    label: str, both: bool, redis_url: str, workdir: Path, args: argparse.Namespace
) -> dict[str, Any]:
    prefix = f"udn-bench-failover:{uuid.uuid4().hex[:8]}:"
    env = {"REDIS_URL": redis_url, "UDN_NODE_TOKEN": NODE_TOKEN}
    setup = "both" if both else "one"
    started: list[Server] = []
    try:
        for name in ("A", "B"):
            state = str(workdir / f"state-{name}-{setup}.json")
            config = {"coordinator": {"redis_prefix": prefix, "state_file": state}}
            started.append(start_coordinator(f"coordinator-{name}-{setup}", workdir, config, env))
        urls = {"A": started[0].url, "B": started[1].url}
        coordinators = f"{urls['A']},{urls['B']}" if both else urls["A"]
        node_config = {"serving": {"threads": 1}, "registration": {"node_id": "bench-node"}}
        started.append(
            start_node(f"node-{setup}", workdir, node_config, env, ["--coordinator", coordinators])
        )
        b_ready = urls["B"] + "/ready"
        wait_until(
            lambda: httpx.get(b_ready, timeout=5).status_code == 200, 60, "coordinator B never saw the node"
        )
        clients = {"A": max(1, args.clients // 2), "B": args.clients}
        answers, killed_at = asyncio.run(
            load(urls, clients, args.before + args.after, args.before, started[0])
        )
    finally:
        for server in reversed(started):
            server.stop()
        drop_prefix(redis_url, prefix)

    print(f"\n{label}: node registered with {'A and B' if both else 'A only'}; A SIGKILLed at t=0")
    print("  window (s)   B answers   B ok ratio   A answers   A ok ratio")
    windows = []
    first = -int(args.before)
    for second in range(first, int(args.after)):
        start = killed_at + second
        b_count, b_ratio = answers.ratio("B", start, start + 1)
        a_count, a_ratio = answers.ratio("A", start, start + 1)
        windows.append({"from": second, "b_answers": b_count, "b_ok": b_ratio, "a_answers": a_count})
        print(
            f"  {second:+4d}..{second + 1:+4d}   {b_count:9d}   {b_ratio:10.3f}"
            f"   {a_count:9d}   {a_ratio:10.3f}"
        )
    before_count, before = answers.ratio("B", killed_at - args.before, killed_at)
    after_count, after = answers.ratio("B", killed_at + SETTLE, killed_at + args.after)
    print(f"  B before the kill: {before:.3f} of {before_count} answers")
    print(f"  B from {SETTLE:g} s after the kill: {after:.3f} of {after_count} answers")
    return {
        "setup": label,
        "windows": windows,
        "b_ratio_before_kill": before,
        "b_answers_before_kill": before_count,
        "b_ratio_from_10s_after_kill": after,
        "b_answers_from_10s_after_kill": after_count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=4, help="clients on B (half as many on A)")
    parser.add_argument("--before", type=float, default=10.0, help="seconds of load before the kill")
    parser.add_argument("--after", type=float, default=30.0, help="seconds of load after the kill")
    args = parser.parse_args()
    if args.after <= SETTLE:
        parser.error(f"--after must be longer than {SETTLE:g} s")
    print(machine_line())
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="udn-bench-failover-") as tmp, redis_for_bench(Path(tmp)) as url:
        setups = [("one URL", False), ("both URLs", True)]
        results["setups"] = [run_setup(label, both, url, Path(tmp), args) for label, both in setups]
    baseline, fixed = results["setups"]
    ratio = fixed["b_ratio_from_10s_after_kill"]
    print(
        f"\nB's success ratio from {SETTLE:g} s after the kill: {ratio:.3f} with both URLs, "
        f"{baseline['b_ratio_from_10s_after_kill']:.3f} with one; goal >= {GOAL}: "
        f"{'met' if ratio >= GOAL else 'NOT met'}"
    )
    write_json(RESULTS / "coordinator_failover.json", results)


if __name__ == "__main__":
    main()
