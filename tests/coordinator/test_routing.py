"""Choosing a node: pairs (loaded first), least outstanding work, circuits, expiry, readiness."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from pathlib import Path

import pytest

from universal_decoder_node.config import CoordinatorSettings
from universal_decoder_node.coordinator.records import NodeReport
from universal_decoder_node.coordinator.registry import NodeRegistry, RegistryFull
from universal_decoder_node.coordinator.routing import (
    NoNodeAvailable,
    PairNotServed,
    PowerOfTwoChoices,
    Router,
)
from universal_decoder_node.coordinator.state import StateStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def make_router(tmp_path: Path, clock: Clock, **config: object) -> Router:
    settings = CoordinatorSettings(state_file=tmp_path / "state.json", **config)  # type: ignore[arg-type]
    store = StateStore(settings, clock=clock)
    registry = NodeRegistry(store, settings, clock=clock)
    return Router(registry, settings, PowerOfTwoChoices(random.Random(7)))


def report(router: Router, node_id: str, **fields: object) -> None:
    body = {"url": f"http://127.0.0.1:1/{node_id}".rsplit("/", 1)[0], "pairs_available": ["en-pt"], **fields}
    asyncio.run(router.registry.report(node_id, NodeReport.model_validate(body)))


def test_least_loaded_of_the_two_sampled_wins(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock())
    report(router, "idle", pairs_loaded=["en-pt"], queued=0, in_flight=0)
    report(router, "busy", pairs_loaded=["en-pt"], queued=5, in_flight=3)
    assert {router.choose("en-pt").id for _ in range(50)} == {"idle"}


def test_outstanding_requests_from_this_coordinator_count_at_once(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock())
    report(router, "a", pairs_loaded=["en-pt"])
    report(router, "b", pairs_loaded=["en-pt"])
    router.outstanding["a"] = 4
    assert router.choose("en-pt").id == "b"


def test_load_is_per_unit_of_capacity(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock())
    report(router, "big", pairs_loaded=["en-pt"], in_flight=8, capacity=16)
    report(router, "small", pairs_loaded=["en-pt"], in_flight=2, capacity=2)
    assert router.choose("en-pt").id == "big"


def test_nodes_with_the_pair_loaded_come_first(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock())
    report(router, "cold", pairs_available=["en-pt"], pairs_loaded=[])
    report(router, "warm", pairs_available=["en-pt"], pairs_loaded=["en-pt"], queued=10)
    assert {router.choose("en-pt").id for _ in range(20)} == {"warm"}
    router.breaker("warm").on_failure()
    router.breaker("warm").on_failure()
    router.breaker("warm").on_failure()
    assert router.choose("en-pt").id == "cold"  # available but not loaded is the fallback


def test_open_circuits_and_retried_nodes_are_skipped(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock(), breaker_failures=1, breaker_reset=7)
    report(router, "a")
    report(router, "b")
    router.breaker("a").on_failure()
    assert {router.choose("en-pt").id for _ in range(20)} == {"b"}
    with pytest.raises(NoNodeAvailable, match="circuits are open") as info:
        router.choose("en-pt", exclude=frozenset({"b"}))
    assert 1 <= info.value.retry_after <= 7


def test_no_node_at_all_is_503_material_with_retry_after(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock(), heartbeat_interval=2.5)
    with pytest.raises(NoNodeAvailable, match="no decoder node") as info:
        router.choose("en-pt")
    assert info.value.retry_after == 3


def test_a_pair_no_node_serves_is_named_with_what_is_served(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock())
    report(router, "a", pairs_available=["en-pt", "pt-en"])
    with pytest.raises(
        PairNotServed, match="'de-en' is not served by any node; available pairs: en-pt, pt-en"
    ):
        router.choose("de-en")


def test_nodes_that_are_not_ready_or_expired_are_not_chosen(tmp_path: Path) -> None:
    clock = Clock()
    router = make_router(tmp_path, clock, node_expiry=10)
    report(router, "starting", ready=False)
    report(router, "old")
    clock.now += 11
    report(router, "fresh")
    assert {router.choose("en-pt").id for _ in range(20)} == {"fresh"}
    gone = asyncio.run(router.registry.expire())
    assert gone == ["starting", "old"]


def test_registry_caps_the_number_of_nodes(tmp_path: Path) -> None:
    router = make_router(tmp_path, Clock(), max_nodes=2)
    report(router, "a")
    report(router, "b")
    report(router, "a")  # a heartbeat from a known node is always taken
    with pytest.raises(RegistryFull, match="max_nodes = 2"):
        report(router, "c")


def test_policies_pick_from_the_candidates() -> None:
    candidates = ["a", "b", "c", "d"]
    loads = {"a": 0.0, "b": 1.0, "c": 2.0, "d": 3.0}
    policy = PowerOfTwoChoices(random.Random(1))
    p2c = Counter(policy.pick(candidates, loads.__getitem__) for _ in range(4000))
    # The most loaded node is never the better of two; the least loaded wins every pair it is in.
    assert p2c["d"] == 0 and p2c["a"] > p2c["b"] > p2c["c"]
