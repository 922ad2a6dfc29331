"""The node's scheduler alone (no HTTP, no worker process) against the raw engine, on CTranslate2.

The same base-width random model as bench/ct2_throughput.py (every sentence decodes to the same
number of tokens). ``scheduler``: ``--clients`` closed-loop threads in this process, each
submitting one-sentence jobs to the node's ``BatchTranslator`` (the registry, backend and
batching a worker uses, ``--threads`` translation threads); ``raw``: the raw engine's offline
throughput (``translate_batch`` calls of ``--raw-pool`` sentences decoded in batches of
``--raw-batch``, every engine worker fed). Each round measures both; the ratio is the median of
per-round ratios. Set beside bench/ct2_throughput.py's node figure, it splits what the node loses
to the raw engine between its batching and its serving stack (HTTP, the request and answer
pipes, the processes sharing the cores).

Usage: .venv/bin/python bench/ct2_scheduler.py [--rounds 3] [--seconds 6] [--clients 64]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before CTranslate2 loads, as a worker sets it

import ct2_throughput as bench
from common.report import machine_line
from common.stats import paired_ratio
from universal_decoder_node.config import load_settings
from universal_decoder_node.engine import BatchTranslator, TranslationJob
from universal_decoder_node.serving.worker.api import build_registry


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def closed_loop(
    translator: BatchTranslator, texts: list[str], clients: int, seconds: float
) -> tuple[float, float]:
    """Sentences per second and CPU milliseconds per sentence (this whole process) over ``seconds``."""
    stop = time.monotonic() + seconds
    done = [0] * clients

    def client(index: int) -> None:
        position = index
        while time.monotonic() < stop:
            translator.translate([TranslationJob(bench.PAIR, [texts[position % len(texts)]])])
            position += clients
            done[index] += 1

    began, cpu = time.monotonic(), cpu_seconds()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = sum(done)
    return total / (time.monotonic() - began), 1000 * (cpu_seconds() - cpu) / max(1, total)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--raw-pool", type=int, default=256)
    parser.add_argument("--raw-batch", type=int, default=16)
    args = parser.parse_args()
    print(machine_line())
    texts = list(bench.sentences())
    decode = {"beam_size": 2, "max_decoding_length": 20}
    with tempfile.TemporaryDirectory(prefix="udn-bench-") as workdir:
        model = bench.build_model(Path(workdir) / bench.PAIR)
        pair = {
            "path": str(model),
            "backend": "ctranslate2",
            "device": "cpu",
            "compute_type": "int8",
            **decode,
        }
        settings = load_settings(
            None, models={"bundled": False, "pairs": {bench.PAIR: pair}}, serving={"threads": args.threads}
        )
        registry = build_registry(settings, args.threads)
        registry.load(bench.PAIR)
        translator = BatchTranslator(registry, args.threads)
        raw = bench.Engine.load(model, {"device": "cpu", "compute_type": "int8"}, decode, args.threads, 1)
        closed_loop(translator, texts, args.clients, 1.0)  # warm up
        scheduled: list[float] = []
        offline: list[float] = []
        for r in range(args.rounds):
            rate, cpu = closed_loop(translator, texts, args.clients, args.seconds)
            scheduled.append(rate)
            offline.append(raw.offline_throughput(texts, args.raw_pool, args.raw_batch, args.seconds, 1.0))
            print(
                f"round {r + 1}: scheduler {rate:6.1f} sent/s ({cpu:.2f} ms CPU/sentence), "
                f"raw {offline[-1]:6.1f} sent/s",
                flush=True,
            )
        translator.close()
        raw.close()
    print(
        f"\n{args.clients} clients, {args.threads} threads: "
        f"scheduler {statistics.median(scheduled):.1f} sent/s, raw {statistics.median(offline):.1f} sent/s, "
        f"scheduler/raw {paired_ratio(scheduled, offline):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
