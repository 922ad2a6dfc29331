"""The last 15 minutes of traffic as this coordinator saw it, kept in memory for the dashboard.

Each node (and the whole, under ``OVERALL``) has a ring of 10-second buckets: requests, errors,
and a bounded uniform sample of latencies (reservoir sampling), from which the percentiles of a
bucket are read. Nothing is shared with other replicas: each one shows what passed through it.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..utils.stats import percentile as nearest_rank

BUCKET_SECONDS = 10
SPAN_SECONDS = 15 * 60
SAMPLES_PER_BUCKET = 512  # latencies kept per bucket: enough for a p99 that means something
OVERALL = ""  # the series of every client request, whichever node answered


@dataclass(slots=True)
class Bucket:
    start: int  # epoch seconds, a multiple of BUCKET_SECONDS
    requests: int = 0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)  # seconds, a uniform sample of `requests`


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-quantile (0..1) of ``values`` by the nearest-rank rule of ``utils.stats``; None if empty."""
    return nearest_rank(values, q) if values else None


class TrafficHistory:
    """Per-node rings of 10-second buckets over the last 15 minutes (``SPAN_SECONDS``)."""

    def __init__(self, clock: Callable[[], float] = time.time, seed: int | None = None) -> None:
        self.clock = clock
        self._rings: dict[str, list[Bucket]] = {}
        self._random = random.Random(seed)

    def record(self, node_id: str, seconds: float, failed: bool) -> None:
        """One request answered (or failed) after ``seconds``; ``node_id`` OVERALL for the client's view."""
        bucket = self._bucket(node_id)
        bucket.requests += 1
        bucket.errors += int(failed)
        if len(bucket.latencies) < SAMPLES_PER_BUCKET:
            bucket.latencies.append(seconds)
        else:  # keep each of the bucket's requests with the same chance
            slot = self._random.randrange(bucket.requests)
            if slot < SAMPLES_PER_BUCKET:
                bucket.latencies[slot] = seconds

    def _bucket(self, node_id: str) -> Bucket:
        start = int(self.clock() // BUCKET_SECONDS) * BUCKET_SECONDS
        ring = self._rings.setdefault(node_id, [])
        if not ring or ring[-1].start != start:
            ring.append(Bucket(start))
            oldest = start - SPAN_SECONDS
            while ring and ring[0].start <= oldest:
                ring.pop(0)
        return ring[-1]

    def series(self) -> dict[str, Any]:
        """Every ring as points over the span (empty buckets included), oldest first; rings with
        nothing left in the span are dropped."""
        end = int(self.clock() // BUCKET_SECONDS) * BUCKET_SECONDS
        starts = range(end - SPAN_SECONDS + BUCKET_SECONDS, end + 1, BUCKET_SECONDS)
        out: dict[str, list[dict[str, Any]]] = {}
        for node_id in list(self._rings):
            ring = [b for b in self._rings[node_id] if b.start > end - SPAN_SECONDS]
            if not ring:
                del self._rings[node_id]
                continue
            self._rings[node_id] = ring
            by_start = {b.start: b for b in ring}
            out[node_id] = [_point(by_start.get(s), s) for s in starts]
        overall = out.pop(OVERALL, [_point(None, s) for s in starts])
        return {
            "now": round(self.clock(), 3),  # the last bucket covers only up to now
            "bucket_seconds": BUCKET_SECONDS,
            "span_seconds": SPAN_SECONDS,
            "overall": overall,
            "nodes": out,
        }


def _point(bucket: Bucket | None, start: int) -> dict[str, Any]:
    if bucket is None or not bucket.requests:
        return {"t": start, "requests": 0, "errors": 0, "p50_ms": None, "p99_ms": None}
    p50, p99 = percentile(bucket.latencies, 0.50), percentile(bucket.latencies, 0.99)
    return {
        "t": start,
        "requests": bucket.requests,
        "errors": bucket.errors,
        "p50_ms": None if p50 is None else round(p50 * 1000, 2),
        "p99_ms": None if p99 is None else round(p99 * 1000, 2),
    }
