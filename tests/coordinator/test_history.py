"""The dashboard's traffic history and the nodes that left, on a clock the test moves."""

from __future__ import annotations

import pytest

from tests.support.records import node
from universal_decoder_node.coordinator.departures import KEPT_SECONDS, Departures
from universal_decoder_node.coordinator.history import (
    BUCKET_SECONDS,
    OVERALL,
    SAMPLES_PER_BUCKET,
    SPAN_SECONDS,
    TrafficHistory,
    percentile,
)


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_percentiles_by_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.99), percentile(values, 1.0)) == (50, 99, 100)
    assert percentile([], 0.5) is None


def test_buckets_cover_fifteen_minutes_and_forget_older_traffic() -> None:
    clock = Clock(1_000_000.0)
    history = TrafficHistory(clock, seed=1)
    for ms in (10, 20, 30, 40):
        history.record("n1", ms / 1000, failed=ms == 40)
        history.record(OVERALL, ms / 1000, failed=False)
    series = history.series()
    assert len(series["overall"]) == SPAN_SECONDS // BUCKET_SECONDS
    last = series["nodes"]["n1"][-1]
    assert (last["requests"], last["errors"], last["p50_ms"], last["p99_ms"]) == (4, 1, 20.0, 40.0)
    assert series["nodes"]["n1"][0] == {"t": last["t"] - SPAN_SECONDS + BUCKET_SECONDS, "requests": 0,
                                        "errors": 0, "p50_ms": None, "p99_ms": None}  # fmt: skip
    clock.now += SPAN_SECONDS - BUCKET_SECONDS
    assert history.series()["nodes"]["n1"][0]["requests"] == 4  # the oldest bucket still shown
    clock.now += BUCKET_SECONDS
    assert history.series()["nodes"] == {}  # gone with the span, and the ring with it
    assert all(p["requests"] == 0 for p in history.series()["overall"])


def test_a_busy_bucket_keeps_a_bounded_uniform_sample() -> None:
    history = TrafficHistory(Clock(500.0), seed=3)
    for i in range(20 * SAMPLES_PER_BUCKET):
        history.record("n1", (i % 100) / 1000, failed=False)  # 0..99 ms, evenly
    point = history.series()["nodes"]["n1"][-1]
    assert point["requests"] == 20 * SAMPLES_PER_BUCKET
    assert point["p50_ms"] == pytest.approx(49, abs=8) and point["p99_ms"] >= 95


def test_departed_nodes_are_kept_ten_minutes_with_their_counts() -> None:
    clock = Clock(10_000.0)
    departures = Departures(clock)
    counts = {"a": (7, 1), "b": (3, 0)}.__getitem__
    departures.observe([node("a"), node("b")], counts)
    departures.observe([node("b")], counts)  # a left (expired, or through another replica)
    (gone,) = departures.recent()
    assert (gone.id, gone.requests, gone.errors, gone.left_at) == ("a", 7, 1, 10_000.0)
    clock.now += 1
    departures.left("b", counts)  # b deregistered here
    assert [d.id for d in departures.recent()] == ["b", "a"]  # most recent first
    departures.observe([node("a")], counts)  # a came back
    assert [d.id for d in departures.recent()] == ["b"]
    departures.left("never-seen", counts)
    clock.now += KEPT_SECONDS + 1
    assert departures.recent() == []
