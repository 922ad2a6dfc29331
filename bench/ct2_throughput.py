"""The node serving a CTranslate2 pair, against the raw engine's batched throughput and a naive server.

It builds a base-width random-weight CTranslate2 model at start (6 encoder / 3 decoder
layers, d=512, ffn 2048, 8 heads, a SentencePiece vocabulary of 4000 pieces; weights from
numpy with a fixed seed, tests/support/ct2_model.py) whose end token can never be decoded,
so every sentence decodes to exactly ``--output-tokens`` tokens (``max_decoding_length``):
the work per sentence is the same on every system and every machine. Then, on one-sentence
requests of the bench corpus:

- ``raw``:   the engine's best offline throughput in this process: ``translate_batch``
  calls of ``--raw-pool`` sentences, which CTranslate2 sorts by length and decodes in
  batches of ``--raw-batches`` sentences, every engine worker kept busy; with the node's
  thread layout (``--threads`` batches in parallel, one thread each) and with one batch at
  a time on ``--threads`` OpenMP threads. The best (layout, batch) of a first sweep is
  measured again in every round;
- ``node``:  ``udn serve`` with the model directory as a pair (``models.pairs.en-xx``,
  ``backend: ctranslate2``, the same decoding options, precision and device), one inference
  worker, ``--threads`` translation threads, over HTTP;
- ``naive``: bench/naive_ct2_server.py, a FastAPI endpoint calling the engine once per
  request (the node's thread layout), over HTTP.

For each number of concurrent closed-loop clients (bench/common/loadgen.py) each system is
measured in turn, in rotating order; the servers not being measured are paused (SIGSTOP).
Figures are medians over ``--rounds``; ratios are medians of per-round ratios. It prints
the table, checks the targets and writes JSON to ``--out``.

Usage: .venv/bin/python bench/ct2_throughput.py [--rounds 3] [--seconds 10] [--clients 1,16,64,256]
Targets: node at 64 clients >= 0.8x the raw engine's batched throughput and >= 2.5x the
naive server's; node p99 <= 2x its p50 at 64 clients.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import RESULTS, ROOT
from common.corpus import sentences
from common.loadgen import http_post
from common.procs import Server, free_port, pause, start_node, start_server
from common.report import machine, machine_line, markdown_table, write_json
from common.rounds import measure_server, median_of, paired, summarise

# Before CTranslate2 (and its OpenMP runtime) loads, as the node's workers do.
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(ROOT))  # tests.support, for the model builder
from tests.support import ct2_model  # imports CTranslate2

BASE = ct2_model.ModelSize(encoder_layers=6, decoder_layers=3, d_model=512, heads=8, ffn=2048, vocab=4000)
PAIR = "en-xx"
SYSTEMS = ("raw", "node", "naive")


def vocabulary_lines(seed: int = 13) -> list[str]:
    """Text to train a vocabulary of a few thousand pieces on, the same for a given seed.

    Generated words (6000 of them, Zipf-distributed) give the trainer enough distinct pieces;
    the bench corpus, repeated, makes its English words pieces of their own, so requests
    tokenize about as a real English model would tokenize them.
    """
    rng = random.Random(seed)
    consonants, vowels = "bcdfghjklmnprstvwz", "aeiou"
    words: set[str] = set()
    while len(words) < 6000:
        syllables = rng.randint(1, 4)
        words.add(
            "".join(
                rng.choice(consonants)
                + rng.choice(vowels)
                + (rng.choice("nrsl") if rng.random() < 0.3 else "")
                for _ in range(syllables)
            )
        )
    lexicon = sorted(words)
    weights = [1 / (rank + 1) for rank in range(len(lexicon))]
    lines = [
        " ".join(rng.choices(lexicon, weights, k=rng.randint(5, 15))).capitalize() + "."
        for _ in range(20_000)
    ]
    return lines + list(sentences()) * 50


def build_model(directory: Path) -> Path:
    """The base-width model (int8 weights) in ``directory``."""
    return ct2_model.build_ct2_model(
        directory, BASE, seed=1, lines=vocabulary_lines(), quantization="int8", end_token=False
    )


@dataclass
class Engine:
    """A loaded ``ctranslate2.Translator`` with its SentencePiece models and decoding options."""

    translator: Any
    source: Any
    target: Any
    decode: dict[str, Any]
    inter_threads: int

    @classmethod
    def load(
        cls, model: Path, settings: dict[str, Any], decode: dict[str, Any], inter: int, intra: int
    ) -> Engine:
        import ctranslate2
        import sentencepiece

        translator = ctranslate2.Translator(str(model), **settings, inter_threads=inter, intra_threads=intra)
        source = sentencepiece.SentencePieceProcessor(model_file=str(model / "source.spm"))
        target = sentencepiece.SentencePieceProcessor(model_file=str(model / "target.spm"))
        return cls(translator, source, target, decode, inter)

    def output_lengths(self, texts: list[str]) -> set[int]:
        """The numbers of tokens the engine decodes for ``texts`` (one call)."""
        tokens = [self.source.encode(text, out_type=str) for text in texts]
        results = self.translator.translate_batch(tokens, **self.decode)
        return {len(result.hypotheses[0]) for result in results}

    def offline_throughput(
        self, texts: list[str], pool: int, batch: int, seconds: float, warmup: float
    ) -> float:
        """Sentences per second translating ``pool`` texts per ``translate_batch`` call, ``batch`` per job.

        CTranslate2 sorts each call's texts by length and decodes them in jobs of ``batch``
        (as offline translation does); one feeding thread per engine worker keeps every worker
        busy. The texts are encoded and the answers decoded here, as a server does. Each
        call's start and end are known, so a call that straddles the edge of the measured
        window counts for the share of it inside.
        """
        start = time.monotonic()
        measure_from, stop_at = start + warmup, start + warmup + seconds
        feeders = self.inter_threads
        work = [0.0] * feeders  # sentences decoded inside the window, per feeder

        def feed(index: int) -> None:
            position = index * pool
            while (began := time.monotonic()) < stop_at:
                chunk = [texts[(position + i) % len(texts)] for i in range(pool)]
                position += feeders * pool
                tokens = [self.source.encode(text, out_type=str) for text in chunk]
                results = self.translator.translate_batch(tokens, max_batch_size=batch, **self.decode)
                for result in results:
                    self.target.decode(result.hypotheses[0])
                ended = time.monotonic()
                inside = min(ended, stop_at) - max(began, measure_from)
                if inside > 0:
                    work[index] += pool * inside / (ended - began)

        threads = [threading.Thread(target=feed, args=(i,)) for i in range(feeders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(work) / seconds

    def close(self) -> None:
        self.translator.unload_model()


def resolve_device(requested: str) -> str:
    """``cpu`` or ``cuda`` for ``--device`` (``auto``: CUDA when CTranslate2 finds a GPU)."""
    import ctranslate2

    gpus = ctranslate2.get_cuda_device_count()
    if requested == "auto":
        return "cuda" if gpus else "cpu"
    if requested == "cuda" and not gpus:
        raise SystemExit("bench: --device cuda, but CTranslate2 finds no CUDA device")
    return requested


def sweep(
    model: Path,
    settings: dict[str, Any],
    decode: dict[str, Any],
    threads: int,
    batches: list[int],
    pool: int,
    texts: list[str],
    seconds: float,
    warmup: float,
) -> list[dict[str, Any]]:
    """The raw engine's offline throughput for each thread layout and batch size, best first."""
    layouts = list(dict.fromkeys([(threads, 1), (1, threads)]))
    found = []
    for inter, intra in layouts:
        engine = Engine.load(model, settings, decode, inter, intra)
        try:
            for batch in batches:
                rate = engine.offline_throughput(texts, pool, batch, seconds, warmup)
                found.append(
                    {"inter_threads": inter, "intra_threads": intra, "batch": batch, "sentences_per_s": rate}
                )
                print(
                    f"raw engine, {inter} x {intra} threads, batches of {batch:3d}: {rate:6.1f} sentences/s",
                    flush=True,
                )
        finally:
            engine.close()
    return sorted(found, key=lambda r: -r["sentences_per_s"])


def raw_row(rates: list[float]) -> dict[str, Any]:
    """``median_of``'s shape for the offline engine (no latency: it serves no requests)."""
    runs = [{"requests_per_s": r, "sentences_per_s": r} for r in rates]
    median = statistics.median(rates)
    return {"requests_per_s": median, "sentences_per_s": median, "rounds": runs}


@contextlib.contextmanager
def start_servers(
    workdir: Path, model: Path, settings: dict[str, Any], decode: dict[str, Any], threads: int
) -> Iterator[dict[str, Server]]:
    """The node and the naive server, both serving ``model`` with the same engine settings, paused.

    Stopped on leaving, whatever happens (a server that fails to start stops the benchmark).
    """
    with contextlib.ExitStack() as stack:
        pair = {"path": str(model), "backend": "ctranslate2", **settings, **decode}
        config = {
            "serving": {"threads": threads, "workers": 1, "request_timeout": 600},
            "models": {"bundled": False, "pairs": {PAIR: pair}},
        }
        node = start_node("node", workdir, config)
        stack.callback(node.stop)
        port = free_port()
        command = [
            *(sys.executable, str(ROOT / "bench" / "naive_ct2_server.py"), "--port", str(port)),
            *(
                "--model",
                str(model),
                "--device",
                settings["device"],
                "--compute-type",
                settings["compute_type"],
            ),
            *("--inter-threads", str(threads), "--intra-threads", "1"),
            *(
                "--beam-size",
                str(decode["beam_size"]),
                "--max-decoding-length",
                str(decode["max_decoding_length"]),
            ),
        ]
        url = f"http://127.0.0.1:{port}"
        naive = Server(url, port, start_server("naive", workdir, command, {}, url, ready_path="/health"))
        stack.callback(naive.stop)
        servers = {"node": node, "naive": naive}
        for server in servers.values():
            pause(server.pid)
        yield servers


def requests(port: int, texts: list[str]) -> list[bytes]:
    """One pre-encoded one-sentence ``/translate`` request per text."""
    source, target = PAIR.split("-")
    return [
        http_post(
            "127.0.0.1", port, "/translate", json.dumps({"q": t, "source": source, "target": target}).encode()
        )
        for t in texts
    ]


def check_targets(results: dict[str, Any]) -> list[tuple[str, float, float, bool]]:
    """(description, measured, target, met) for each of the issue's targets (paired ratios)."""
    row = results["64"]
    r_raw = paired(row, "node", "raw", "requests_per_s")
    r_naive = paired(row, "node", "naive", "requests_per_s")
    tail = row["node"]["p99_ms"] / row["node"]["p50_ms"]
    return [
        ("node/raw batched throughput, 64 clients", r_raw, 0.8, r_raw >= 0.8),
        ("node/naive throughput, 64 clients", r_naive, 2.5, r_naive >= 2.5),
        ("node p99/p50, 64 clients", tail, 2.0, tail <= 2.0),
    ]


def results_table(results: dict[str, Any]) -> str:
    header = ["clients", "system", "sentences/s", "p50 ms", "p99 ms", "CPU ms/request", "vs raw", "vs naive"]
    rows = []
    for clients, row in results.items():
        for system in SYSTEMS:
            m = row[system]
            latency = [format(m[k], ".0f") if k in m else "-" for k in ("p50_ms", "p99_ms")]
            cpu = m.get("cpu_ms_per_request")
            ratios = [format(paired(row, system, base, "requests_per_s"), ".2f") for base in ("raw", "naive")]
            rows.append(
                [
                    clients,
                    system,
                    f"{m['sentences_per_s']:.1f}",
                    *latency,
                    f"{cpu:.1f}" if cpu else "-",
                    *ratios,
                ]
            )
    return markdown_table(header, rows)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    parser.add_argument("--rounds", type=int, default=3, help="runs per system and load; the median counts")
    parser.add_argument("--clients", default="1,16,64,256")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="the node's serving.threads")
    parser.add_argument(
        "--raw-batches", default="16,32,64", help="batch sizes (sentences) the raw engine's sweep tries"
    )
    parser.add_argument("--raw-pool", type=int, default=256, help="sentences per raw translate_batch call")
    parser.add_argument(
        "--output-tokens", type=int, default=20, help="tokens decoded per sentence (all systems)"
    )
    parser.add_argument("--beam-size", type=int, default=2)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--compute-type", help="default: the node's (int8 on CPU, int8_float16 on CUDA)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    batches = [int(b) for b in args.raw_batches.split(",")]

    import ctranslate2

    device = resolve_device(args.device)
    compute_type = args.compute_type or ("int8_float16" if device == "cuda" else "int8")
    settings = {"device": device, "compute_type": compute_type}
    decode = {"beam_size": args.beam_size, "max_decoding_length": args.output_tokens}
    where = machine()
    print(machine_line())
    print(
        f"CTranslate2 {ctranslate2.__version__} on {device} ({compute_type}), {args.threads} threads, "
        f"beam {args.beam_size}, {args.output_tokens} tokens decoded per sentence"
    )
    texts = list(sentences())
    results: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="udn-bench-")))
        began = time.monotonic()
        model = build_model(workdir / PAIR)
        size = (model / "model.bin").stat().st_size >> 20
        print(f"built the model in {time.monotonic() - began:.1f} s ({size} MiB)")

        found = sweep(
            model, settings, decode, args.threads, batches, args.raw_pool, texts, args.seconds, args.warmup
        )
        best = found[0]
        raw = Engine.load(model, settings, decode, best["inter_threads"], best["intra_threads"])
        stack.callback(raw.close)
        lengths = raw.output_lengths(texts)
        if lengths != {args.output_tokens}:
            raise SystemExit(f"bench: output lengths {sorted(lengths)}, not all {args.output_tokens}")
        print(f"every corpus sentence decodes to {args.output_tokens} tokens; best raw: {best}")

        servers = stack.enter_context(start_servers(workdir, model, settings, decode, args.threads))
        bodies = {name: requests(server.port, texts) for name, server in servers.items()}
        slowest = best["sentences_per_s"] / 4  # a first guess; then the slowest system's last rate
        for c in clients:
            # A closed loop needs a few full cycles (every client answered) to be measured.
            cycle = c / slowest
            warmup, seconds = max(args.warmup, cycle), max(args.seconds, 3 * cycle)
            runs: dict[str, list[Any]] = {s: [] for s in SYSTEMS}
            for r in range(args.rounds):
                for system in SYSTEMS[r % 3 :] + SYSTEMS[: r % 3]:
                    if system == "raw":
                        rate = raw.offline_throughput(
                            texts, args.raw_pool, best["batch"], args.seconds, args.warmup
                        )
                        runs[system].append(rate)
                        continue
                    result, cpu = measure_server(servers[system], bodies[system], c, seconds, warmup)
                    runs[system].append(summarise(result, 1, cpu))
            row: dict[str, Any] = {"raw": raw_row(runs["raw"])}
            row |= {s: median_of(runs[s]) for s in ("node", "naive")}
            row["window_s"] = {"warmup": warmup, "measured": seconds}
            results[str(c)] = row
            slowest = max(1.0, min(row[s]["sentences_per_s"] for s in SYSTEMS))
            print(
                f"{c:3d} clients: raw {row['raw']['sentences_per_s']:6.1f} sent/s; "
                + "; ".join(
                    f"{s} {row[s]['sentences_per_s']:6.1f} sent/s p50 {row[s]['p50_ms']:7.1f} "
                    f"p99 {row[s]['p99_ms']:7.1f} ms err {row[s]['errors']}"
                    for s in ("node", "naive")
                ),
                flush=True,
            )

    print(f"\nload average after: {os.getloadavg()}")
    print("\nMedians over the rounds; ratios are medians of per-round ratios; raw is offline (no latency).\n")
    print(results_table(results))
    checks = check_targets(results) if "64" in results else []
    if checks:
        print("\nTargets:")
        for name, value, target, met in checks:
            print(f"  {'PASS' if met else 'MISS'}  {name}: {value:.3f} (target {target:g})")
    payload = {
        "machine": where,
        "ctranslate2": ctranslate2.__version__,
        "device": device,
        "compute_type": compute_type,
        "threads": args.threads,
        "beam_size": args.beam_size,
        "output_tokens": args.output_tokens,
        "seconds": args.seconds,
        "rounds": args.rounds,
        "raw_pool": args.raw_pool,
        "raw_sweep": found,
        "results": results,
        "targets": [{"check": n, "value": v, "target": t, "met": m} for n, v, t, m in checks],
    }
    print()
    write_json(args.out / "ct2_throughput.json", payload)
    return 0 if all(met for *_, met in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
