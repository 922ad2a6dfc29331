"""The node registry: registration, heartbeats, expiry and clean deregistration.

A node registers and heartbeats with the same call (``PUT /nodes/{id}`` with a ``NodeReport``), so
a coordinator that lost its state learns a node back from its next heartbeat. A node that misses
heartbeats for ``node_expiry`` seconds expires; one that stops cleanly deregisters at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from ..config import CoordinatorSettings
from ..errors import RegistryFull
from .records import NodeRecord, NodeReport
from .state import StateStore

log = logging.getLogger(__name__)


class NodeRegistry:
    """Which nodes exist and whether they are alive, over the state store."""

    def __init__(
        self, store: StateStore, config: CoordinatorSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    async def report(self, node_id: str, report: NodeReport) -> NodeRecord:
        """Record a registration or heartbeat; raises RegistryFull for a new node past ``max_nodes``."""
        now = self.clock()
        previous = self.store.nodes.get(node_id)
        if previous is None and len(self.store.nodes) >= self.config.max_nodes:
            raise RegistryFull(
                f"{len(self.store.nodes)} nodes are registered, the most allowed "
                f"(coordinator.max_nodes = {self.config.max_nodes})"
            )
        if previous is None:
            log.info("node %s registered at %s", node_id, report.url)
        fields = report.model_dump()
        if report.capacity > self.config.max_node_capacity:
            # Capacity is the node's own claim, and routing divides by it: a node claiming more
            # than it has would draw every request. Counted at the cap, it keeps serving.
            fields["capacity"] = self.config.max_node_capacity
            if previous is None or previous.capacity != fields["capacity"]:
                log.warning(
                    "node %s claims a capacity of %d; counting it as %d (coordinator.max_node_capacity)",
                    node_id,
                    report.capacity,
                    self.config.max_node_capacity,
                )
        record = NodeRecord(
            id=node_id,
            registered_at=previous.registered_at if previous is not None else now,
            seen_at=now,
            **fields,
        )
        await self.store.put_node(record)
        return record

    async def deregister(self, node_id: str) -> bool:
        """Forget a node that stopped; True if it was registered."""
        known = await self.store.remove_node(node_id)
        if known:
            log.info("node %s deregistered", node_id)
        return known

    def age(self, record: NodeRecord) -> float:
        """Seconds since the node's last heartbeat."""
        return max(0.0, self.clock() - record.seen_at)

    def alive(self, record: NodeRecord) -> bool:
        """Whether the node still counts as registered."""
        if self.age(record) <= self.config.node_expiry:
            return True
        # While Redis is away, a node this coordinator has not heard from itself may be
        # heartbeating to another replica: keep routing to it (its circuit breaker guards us).
        return (
            self.store.mode == "redis"
            and not self.store.redis_available
            and (record.id not in self.store.heard_locally)
        )

    def health(self, record: NodeRecord) -> str:
        """ "ok", "late" (missed a heartbeat or more), or "not ready" (the node says it is not)."""
        if not record.ready:
            return "not ready"
        return "late" if self.age(record) > 2 * self.config.heartbeat_interval else "ok"

    def live_nodes(self) -> list[NodeRecord]:
        return [n for n in self.store.nodes.values() if self.alive(n)]

    async def expire(self) -> list[str]:
        """Drop expired nodes; returns their ids."""
        gone = await self.store.prune_nodes(self.alive, cutoff=self.clock() - self.config.node_expiry)
        for node_id in gone:
            log.warning("node %s expired: no heartbeat for %gs", node_id, self.config.node_expiry)
        return gone

    async def run_expiry(self) -> None:
        """Forever: expire nodes every heartbeat interval."""
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            await self.expire()
