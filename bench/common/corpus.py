"""The benchmarks' text: 64 English sentences of everyday prose (``bench/data/sentences_en.txt``)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[1] / "data" / "sentences_en.txt"


@cache
def sentences() -> tuple[str, ...]:
    """The corpus's sentences, in file order, one per non-empty line."""
    return tuple(line.strip() for line in CORPUS.read_text(encoding="utf-8").splitlines() if line.strip())


def request_texts(shape: int) -> list[list[str]]:
    """One request per sentence of the corpus, each of ``shape`` consecutive sentences (cycling)."""
    corpus = sentences()
    n = len(corpus)
    return [[corpus[(i * shape + j) % n] for j in range(shape)] for i in range(n)]
