"""Which node serves a request: nodes that can serve the pair (loaded first), least outstanding work.

The default policy is the power of two choices: pick two eligible nodes at random and send to the
one with less outstanding work per unit of capacity. It balances almost as well as asking every
node, without herding every coordinator replica onto the same "least loaded" node between two
heartbeats. Round-robin and random choice are here for comparison (``bench/coordinator_overhead.py``).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from ..config import CoordinatorSettings
from ..errors import NoNodeAvailable, PairNotServed
from .breaker import CircuitBreaker
from .records import NodeRecord
from .registry import NodeRegistry

T = TypeVar("T")


class Policy(Protocol):
    name: str

    def pick(self, candidates: Sequence[T], load: Callable[[T], float]) -> T:
        """One of ``candidates`` (never empty); ``load`` gives a candidate's outstanding work."""
        ...


class PowerOfTwoChoices:
    name = "p2c"

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng or random.Random()

    def pick(self, candidates: Sequence[T], load: Callable[[T], float]) -> T:
        if len(candidates) == 1:
            return candidates[0]
        a, b = self.rng.sample(candidates, 2)
        load_a, load_b = load(a), load(b)
        if load_a == load_b:
            return a if self.rng.random() < 0.5 else b
        return a if load_a < load_b else b


class Router:
    """Chooses nodes, and tracks each node's circuit breaker and this process's outstanding requests."""

    def __init__(
        self, registry: NodeRegistry, config: CoordinatorSettings, policy: Policy | None = None
    ) -> None:
        self.registry = registry
        self.config = config
        self.policy: Policy = policy or PowerOfTwoChoices()
        self.breakers: dict[str, CircuitBreaker] = {}
        self.outstanding: dict[str, int] = {}

    def breaker(self, node_id: str) -> CircuitBreaker:
        breaker = self.breakers.get(node_id)
        if breaker is None:
            breaker = CircuitBreaker(self.config.breaker_failures, self.config.breaker_reset)
            self.breakers[node_id] = breaker
        return breaker

    def load(self, node: NodeRecord) -> float:
        """Outstanding work per unit of capacity: the node's last report plus what we sent it since.

        The report (queued + in flight) lags by up to a heartbeat; this process's own outstanding
        count is exact, so a burst is spread at once instead of at the next heartbeat.
        """
        return (node.queued + node.in_flight + self.outstanding.get(node.id, 0)) / node.capacity

    def choose(self, pair: str, exclude: frozenset[str] = frozenset()) -> NodeRecord:
        """The node to send a ``pair`` request to, skipping ``exclude``.

        Raises PairNotServed when no live node lists the pair, NoNodeAvailable when none can take it now.
        """
        live = [n for n in self.registry.live_nodes() if n.ready]
        if not live:
            raise NoNodeAvailable("no decoder node is registered and ready", self.config.heartbeat_interval)
        servers = [n for n in live if pair in n.pairs_loaded or pair in n.pairs_available]
        if not servers:
            served = sorted({p for n in live for p in (*n.pairs_available, *n.pairs_loaded)})
            raise PairNotServed(
                f"language pair {pair!r} is not served by any node; "
                f"available pairs: {', '.join(served) or 'none'}"
            )
        usable = [n for n in servers if n.id not in exclude and self.breaker(n.id).available()]
        if not usable:
            waits = [self.breaker(n.id).retry_after() for n in servers if n.id not in exclude]
            raise NoNodeAvailable(
                f"every node serving {pair} is failing; their circuits are open",
                min(waits, default=self.config.breaker_reset),
            )
        loaded = [n for n in usable if pair in n.pairs_loaded]
        return self.policy.pick(loaded or usable, self.load)

    def forget(self, node_id: str) -> None:
        self.breakers.pop(node_id, None)
        self.outstanding.pop(node_id, None)
