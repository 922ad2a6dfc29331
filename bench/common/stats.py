"""The one percentile rule of the benchmarks (the package's, ``utils.stats``), and the median of
per-round ratios.

Every benchmark reports latency quantiles through ``percentile``, so a p99 from one benchmark
means what it means in another, and in the coordinator's dashboard.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from universal_decoder_node.utils.stats import percentile

__all__ = ["paired_ratio", "percentile"]


def paired_ratio(measured: Sequence[float], baseline: Sequence[float]) -> float:
    """The median over rounds of ``measured[i] / baseline[i]`` (rounds with a zero baseline skipped).

    The systems of one round run back to back, so the per-round ratio cancels most of the slow
    drift of a shared machine's speed that dividing overall medians would carry. Raises
    ``statistics.StatisticsError`` when no round has a baseline.
    """
    return statistics.median(a / b for a, b in zip(measured, baseline, strict=True) if b)
