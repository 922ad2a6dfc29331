"""The one percentile rule of the benchmarks, and the median of per-round ratios.

Every benchmark reports latency quantiles through ``percentile``, so a p99 from one benchmark
means what it means in another.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence


def percentile(samples: Iterable[float], q: float) -> float:
    """The ``q`` quantile (0 < q <= 1) of ``samples`` by the nearest-rank rule; NaN when empty.

    Nearest rank: sort the n samples and take the one of rank ceil(q * n), counting from 1. The
    result is always a measured sample (never an interpolation); p50 of an even count is the
    lower of the two middle samples; p99 of 100 samples is the 99th, not the largest.
    """
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    # The small allowance keeps 0.99 * 100 (99.00000000000001 in floating point) at rank 99.
    rank = math.ceil(q * len(ordered) - 1e-9)
    return ordered[min(len(ordered), max(1, rank)) - 1]


def paired_ratio(measured: Sequence[float], baseline: Sequence[float]) -> float:
    """The median over rounds of ``measured[i] / baseline[i]`` (rounds with a zero baseline skipped).

    The systems of one round run back to back, so the per-round ratio cancels most of the slow
    drift of a shared machine's speed that dividing overall medians would carry. Raises
    ``statistics.StatisticsError`` when no round has a baseline.
    """
    return statistics.median(a / b for a, b in zip(measured, baseline, strict=True) if b)
