"""What ``format: "html"`` costs on a list of snippets, against the same texts as plain text.

A web page's translator sends a page's text nodes as one request: a list of small HTML snippets.
This starts ``udn serve`` (the bundled en-pt pair) and times, in alternating rounds, one
``/translate`` request of ``--snippets`` corpus sentences wrapped in markup (``<p>`` with a
``<b>`` inside, ``format: "html"``) and one of the same sentences as plain text. The plain list
is the baseline: the node translates it as one work item, its sentences batched together. The
ratio (html / text, median of per-round ratios) is what the markup path adds. With
``--ctranslate2`` the node serves bench/ct2_throughput.py's base-width random CTranslate2 model
(20 tokens decoded per text) instead: a batched engine, where one call of many texts costs far
less than many calls of one.

    .venv/bin/python bench/html_lists.py                       # 7 rounds, 32 snippets, bundled en-pt
    .venv/bin/python bench/html_lists.py --ctranslate2 --rounds 9 --snippets 64
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

from common.corpus import sentences
from common.procs import start_node
from common.report import machine_line
from common.stats import paired_ratio


def timed(client: httpx.Client, url: str, body: dict[str, object]) -> float:
    """Seconds one request took; exits if it is not answered 200."""
    began = time.perf_counter()
    response = client.post(url + "/translate", json=body)
    seconds = time.perf_counter() - began
    if response.status_code != 200:
        raise SystemExit(f"bench: {response.status_code} {response.text[:200]}")
    return seconds


def node_config(workdir: Path, ctranslate2: bool) -> tuple[dict[str, object], str]:
    """The node's configuration and the pair's target language."""
    serving = {"request_timeout": 600}
    if not ctranslate2:
        return {"serving": serving}, "pt"
    import ct2_throughput  # builds the model with tests/support; imports CTranslate2

    model = ct2_throughput.build_model(workdir / ct2_throughput.PAIR)
    pair = {"path": str(model), "backend": "ctranslate2", "max_decoding_length": 20}
    return {"serving": serving, "models": {"bundled": False, "pairs": {ct2_throughput.PAIR: pair}}}, "xx"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--snippets", type=int, default=32)
    parser.add_argument("--ctranslate2", action="store_true", help="serve a random CTranslate2 model")
    args = parser.parse_args()
    print(machine_line())
    corpus = list(sentences())
    texts = [corpus[i % len(corpus)] for i in range(args.snippets)]
    words = [text.split(" ", 2) for text in texts]
    markup = [
        f"<p>{w[0]} <b>{w[1]}</b> {w[2]}</p>" if len(w) == 3 else f"<p>{' '.join(w)}</p>" for w in words
    ]
    with tempfile.TemporaryDirectory(prefix="udn-bench-") as workdir:
        config, target = node_config(Path(workdir), args.ctranslate2)
        plain = {"q": texts, "source": "en", "target": target}
        html = {"q": markup, "source": "en", "target": target, "format": "html"}
        node = start_node("node", Path(workdir), config)
        try:
            with httpx.Client(timeout=600) as client:
                timed(client, node.url, plain)  # warm up both paths
                timed(client, node.url, html)
                text_s: list[float] = []
                html_s: list[float] = []
                for r in range(args.rounds):
                    order = [(plain, text_s), (html, html_s)]
                    for body, out in order if r % 2 == 0 else order[::-1]:
                        out.append(timed(client, node.url, body))
                    ms = (text_s[-1] * 1000, html_s[-1] * 1000)
                    print(f"round {r + 1}: text {ms[0]:7.1f} ms, html {ms[1]:7.1f} ms")
        finally:
            node.stop()
    print(
        f"\n{args.snippets} snippets per request: text {statistics.median(text_s) * 1000:.1f} ms, "
        f"html {statistics.median(html_s) * 1000:.1f} ms, html/text {paired_ratio(html_s, text_s):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
