"""What the coordinator costs, and how well it spreads load.

Three measurements, each against a baseline measured in the same run:

1. Added latency: sequential requests on loopback to a trivial node (``tests/support/fake_node.py``)
   directly, and through ``udn coordinator`` (file-only state, no key; and, when a Redis answers,
   with Redis state and an API key under a per-key limit, which costs two Redis round trips).
   The target is a p50 overhead of at most 2 ms.
2. Throughput: concurrent clients for a few seconds, directly against one trivial node and through
   the coordinator in front of two.
3. A routing simulation (no processes): 100 nodes of skewed speeds under Poisson load, routed by
   the coordinator's own policy class (power of two choices on outstanding work), and by
   round-robin, random choice and a full scan for the least loaded node, defined here.

    .venv/bin/python bench/coordinator_overhead.py            # everything (about a minute)
    .venv/bin/python bench/coordinator_overhead.py --quick    # fewer requests, shorter runs

Results print as a table and go to bench/results/coordinator_overhead.json. The client, the
coordinator and the nodes share the machine's cores, so absolute figures depend on the machine
and on what else runs on it; the load average at start is printed with them.
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from common import RESULTS, ROOT
from common.loadgen import Connection, http_post, run_load
from common.procs import Server, free_port, shared_redis, start_coordinator, start_server, wait_until
from common.report import machine_line, write_json
from common.stats import percentile
from universal_decoder_node.coordinator.routing import Policy, PowerOfTwoChoices

NODE_TOKEN = "bench-node-token"
ADMIN_TOKEN = "bench-admin-token"
BODY = json.dumps({"q": "Hello, world.", "source": "en", "target": "pt"}).encode()


# ----- processes ----------------------------------------------------------------------------------
def start_fake_node(
    started: list[Server], workdir: Path, coordinator: str | None = None, node_id: str = ""
) -> str:
    port = free_port()
    command = [sys.executable, str(ROOT / "tests" / "support" / "fake_node.py"), "--port", str(port)]
    if coordinator:
        command += ["--coordinator", coordinator, "--token", NODE_TOKEN, "--node-id", node_id]
    url = f"http://127.0.0.1:{port}"
    started.append(Server(url, port, start_server(node_id or f"fake-{port}", workdir, command, {}, url)))
    return url


def start_bench_coordinator(
    started: list[Server], workdir: Path, name: str, redis_url: str | None = None
) -> str:
    config = {
        "coordinator": {
            "state_file": str(workdir / f"state-{name}.json"),
            "redis_prefix": f"udn-bench:{name}:",
            "heartbeat_interval": 1.0,
        }
    }
    env = {"UDN_NODE_TOKEN": NODE_TOKEN, "UDN_ADMIN_TOKEN": ADMIN_TOKEN}
    if redis_url:
        env["REDIS_URL"] = redis_url
    started.append(start_coordinator(name, workdir, config, env))
    return started[-1].url


def wait_for_nodes(coordinator: str, count: int) -> None:
    wait_until(
        lambda: len(httpx.get(coordinator + "/status", timeout=2).json()["nodes"]) >= count,
        60,
        f"{count} nodes did not register",
    )


def request_to(url: str, headers: dict[str, str] | None = None) -> tuple[Connection, bytes]:
    """A keep-alive connection to ``url`` and the pre-encoded translation request for it."""
    host, port = url.removeprefix("http://").split(":")
    return Connection(host, int(port)), http_post(host, int(port), "/translate", BODY, headers=headers)


def latency_figures(samples_ms: Sequence[float]) -> dict[str, float]:
    figures = {f"p{q}": round(percentile(samples_ms, q / 100), 3) for q in (50, 90, 99)}
    return {**figures, "mean": round(statistics.fmean(samples_ms), 3)}


async def sequential(
    targets: dict[str, tuple[Connection, bytes]], rounds: int, per_round: int
) -> dict[str, list[float]]:
    """Latency of one request at a time, alternating targets round by round so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    for conn, request in targets.values():  # warm up: connections, caches, the coordinator's pool
        for _ in range(100):
            assert (await conn.send(request))[0] == 200
    for _ in range(rounds):
        for name, (conn, request) in targets.items():
            for _ in range(per_round):
                started = time.perf_counter()
                status, _ = await conn.send(request)
                samples[name].append((time.perf_counter() - started) * 1000)
                assert status == 200, f"{name}: HTTP {status}"
    return samples


async def throughput(url: str, clients: int, seconds: float) -> dict[str, float]:
    """Requests per second from ``clients`` concurrent keep-alive connections for ``seconds``."""
    host, port = url.removeprefix("http://").split(":")
    request = http_post(host, int(port), "/translate", BODY)
    result = await run_load(host, int(port), [request], clients, seconds, warmup=0)
    return {"requests_per_second": round(result.requests_per_second, 1), "failed": result.errors}


# ----- routing simulation -------------------------------------------------------------------------
@dataclass
class SimNode:
    speed: float  # work units per second per slot
    slots: int
    busy: int = 0
    queue: list[tuple[float, float]] = field(default_factory=list)  # (arrival, work)
    head: int = 0
    served: int = 0
    busy_time: float = 0.0

    @property
    def outstanding(self) -> int:
        return self.busy + len(self.queue) - self.head


# The coordinator routes with PowerOfTwoChoices alone; these are what it is compared with.
class RoundRobin:
    name = "round_robin"

    def __init__(self) -> None:
        self.turn = 0

    def pick(self, candidates: Sequence[Any], load: Callable[[Any], float]) -> Any:
        self.turn += 1
        return candidates[self.turn % len(candidates)]


class RandomChoice:
    name = "random"

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def pick(self, candidates: Sequence[Any], load: Callable[[Any], float]) -> Any:
        return self.rng.choice(candidates)


class LeastLoaded:
    """Reference only: scan every node (what P2C approximates with two samples)."""

    name = "least_loaded_scan"

    def pick(self, candidates: Sequence[Any], load: Callable[[Any], float]) -> Any:
        return min(candidates, key=load)


def simulate(
    policy: Policy, nodes: list[SimNode], utilisation: float, requests: int, seed: int
) -> dict[str, float]:
    """Poisson arrivals at ``utilisation`` of total capacity, exponential work; FIFO slots per node."""
    rng = random.Random(seed)
    capacity = sum(n.speed * n.slots for n in nodes)
    rate = utilisation * capacity  # arrivals per second, work has mean 1 unit
    events: list[tuple[float, int, int]] = []  # (time, kind 0=arrival 1=completion, node index)
    latencies: list[float] = []
    now = 0.0
    index = list(range(len(nodes)))

    def load(i: int) -> float:
        return nodes[i].outstanding / nodes[i].slots

    def start(i: int, arrival: float, work: float, at: float) -> None:
        node = nodes[i]
        node.busy += 1
        duration = work / node.speed
        node.busy_time += duration
        heapq.heappush(events, (at + duration, 1, i))
        latencies.append(at + duration - arrival)

    next_arrival = rng.expovariate(rate)
    sent = 0
    while sent < requests or events:
        if sent < requests and (not events or next_arrival <= events[0][0]):
            now = next_arrival
            sent += 1
            i = policy.pick(index, load)
            node = nodes[i]
            work = rng.expovariate(1.0)
            if node.busy < node.slots:
                start(i, now, work, now)
            else:
                node.queue.append((now, work))
            next_arrival = now + rng.expovariate(rate)
        else:
            now, _, i = heapq.heappop(events)
            node = nodes[i]
            node.busy -= 1
            node.served += 1
            if node.head < len(node.queue):
                arrival, work = node.queue[node.head]
                node.head += 1
                start(i, arrival, work, now)
    utilisations = [n.busy_time / (n.slots * now) for n in nodes]
    stats = latency_figures([x * 1000 for x in latencies])
    return {
        "latency_p50_ms": stats["p50"],
        "latency_p99_ms": stats["p99"],
        "latency_mean_ms": stats["mean"],
        "busiest_node_utilisation": round(max(utilisations), 3),
        "utilisation_stdev": round(statistics.pstdev(utilisations), 3),
        "share_served_by_slowest_fifth": round(
            sum(n.served for n in sorted(nodes, key=lambda n: n.speed)[: len(nodes) // 5]) / requests, 3
        ),
        "makespan_s": round(now, 1),
    }


def skewed_nodes(count: int, seed: int) -> list[SimNode]:
    """Half the nodes at full speed, 30% at half speed, 20% at a fifth; 4 slots each; speeds in
    work units per second scaled so a unit of work takes 20 ms on a fast node."""
    rng = random.Random(seed)
    speeds = [50.0] * (count // 2) + [25.0] * (count * 3 // 10)
    speeds += [10.0] * (count - len(speeds))
    rng.shuffle(speeds)
    return [SimNode(speed=s, slots=4) for s in speeds]


def routing_simulation(requests: int) -> list[dict[str, Any]]:
    rows = []
    for utilisation in (0.7, 0.9):
        policies: list[Policy] = [
            PowerOfTwoChoices(random.Random(11)),
            RoundRobin(),
            RandomChoice(random.Random(11)),
            LeastLoaded(),
        ]
        for policy in policies:
            result = simulate(policy, skewed_nodes(100, seed=5), utilisation, requests, seed=3)
            rows.append({"utilisation": utilisation, "policy": policy.name, **result})
    return rows


# ----- main -------------------------------------------------------------------------------------------
def main() -> None:
    parser = argparse.ArgumentParser(description="coordinator overhead, throughput and routing simulation")
    parser.add_argument("--quick", action="store_true", help="fewer requests and shorter runs")
    parser.add_argument("--skip-processes", action="store_true", help="only the routing simulation")
    args = parser.parse_args()
    rounds, per_round, seconds, sim_requests = (4, 250, 3.0, 60_000) if args.quick else (6, 500, 5.0, 200_000)
    results: dict[str, Any] = {"load_average_at_start": os.getloadavg(), "cores": os.cpu_count()}
    print(machine_line())

    if not args.skip_processes:
        started: list[Server] = []
        with tempfile.TemporaryDirectory(prefix="udn-coord-bench-") as tmp:
            try:
                results.update(asyncio.run(measure_processes(started, Path(tmp), rounds, per_round, seconds)))
            finally:
                for server in reversed(started):
                    server.stop()

    print("\nrouting simulation: 100 nodes (50 fast, 30 at 1/2 speed, 20 at 1/5), 4 slots each")
    rows = routing_simulation(sim_requests)
    results["routing_simulation"] = rows
    columns = ("p50 ms", "p99 ms", "busiest", "util sd", "slow 1/5")
    print(f"{'load':>5} {'policy':<18} " + " ".join(f"{c:>8}" for c in columns))
    for row in rows:
        print(
            f"{row['utilisation']:>5} {row['policy']:<18} {row['latency_p50_ms']:>8.1f} "
            f"{row['latency_p99_ms']:>9.1f} {row['busiest_node_utilisation']:>8.3f} "
            f"{row['utilisation_stdev']:>8.3f} {row['share_served_by_slowest_fifth']:>8.3f}"
        )
    print()
    write_json(RESULTS / "coordinator_overhead.json", results)


async def measure_processes(
    started: list[Server], workdir: Path, rounds: int, per_round: int, seconds: float
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    direct = start_fake_node(started, workdir)
    coordinator = start_bench_coordinator(started, workdir, "file")
    start_fake_node(started, workdir, coordinator, "bench-1")
    wait_for_nodes(coordinator, 1)
    targets = {"direct": request_to(direct), "coordinator (file state)": request_to(coordinator)}
    redis_url = shared_redis()
    if redis_url:
        keyed = start_bench_coordinator(started, workdir, "redis", redis_url)
        start_fake_node(started, workdir, keyed, "bench-redis-1")
        wait_for_nodes(keyed, 1)
        created = httpx.post(
            keyed + "/admin/keys",
            json={"name": "bench", "requests_per_minute": 10**9, "characters_per_minute": 10**12},
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        ).json()
        targets["coordinator (Redis, key, limits)"] = request_to(
            keyed, {"Authorization": f"Bearer {created['key']}"}
        )
    samples = await sequential(targets, rounds, per_round)
    for conn, _ in targets.values():
        conn.close()
    latency = {name: latency_figures(values) for name, values in samples.items()}
    base = latency["direct"]
    print(f"\nadded latency, {rounds * per_round} sequential requests per target on loopback (ms)")
    print(f"{'target':<34} {'p50':>7} {'p90':>7} {'p99':>7} {'added p50':>10} {'added p99':>10}")
    for name, stats in latency.items():
        added50 = round(stats["p50"] - base["p50"], 3)
        added99 = round(stats["p99"] - base["p99"], 3)
        stats.update(added_p50=added50, added_p99=added99)
        print(
            f"{name:<34} {stats['p50']:>7.3f} {stats['p90']:>7.3f} {stats['p99']:>7.3f} "
            f"{added50:>10.3f} {added99:>10.3f}"
        )
    out["latency_ms"] = latency
    out["latency_target_met"] = latency["coordinator (file state)"]["added_p50"] <= 2.0

    start_fake_node(started, workdir, coordinator, "bench-2")
    wait_for_nodes(coordinator, 2)
    print(f"\nthroughput, {seconds:g}s per run (requests per second)")
    runs = {}
    for clients in (1, 16):
        runs[f"direct, one node, {clients} clients"] = await throughput(direct, clients, seconds)
        runs[f"coordinator, two nodes, {clients} clients"] = await throughput(coordinator, clients, seconds)
    for name, figures in runs.items():
        print(f"{name:<40} {figures['requests_per_second']:>9.1f}  failed {figures['failed']}")
    out["throughput"] = runs
    return out


if __name__ == "__main__":
    main()
