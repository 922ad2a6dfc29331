"""The one percentile rule: the coordinator's dashboard and the benchmarks report quantiles by it."""

from __future__ import annotations

import math
from collections.abc import Iterable


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
