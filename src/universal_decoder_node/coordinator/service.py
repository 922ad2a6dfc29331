"""The coordinator's parts wired together, with their background work and what the HTTP layer asks of them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from typing import Any

import httpx

from .. import __version__
from ..config import Settings
from ..errors import (
    LimitReached,
    NodeUnreachable,
    NoNodeAvailable,
    RequestExceedsLimit,
    UpstreamFailed,
    UpstreamTimeout,
)
from ..protocol.languages import language_list
from . import metrics
from .departures import Departures
from .history import OVERALL, TrafficHistory
from .keys import KeyRejected, KeyService
from .limits import RateLimiter
from .proxy import Forwarder, NodeAnswer
from .records import KeyRecord, NodeRecord
from .registry import NodeRegistry
from .routing import Router
from .state import StateStore

log = logging.getLogger(__name__)


class Coordinator:
    """Everything one coordinator process holds: state, registry, router, forwarder, keys, limits."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = settings.coordinator
        self.store = StateStore(self.config)
        self.registry = NodeRegistry(self.store, self.config)
        self.router = Router(self.registry, self.config)
        self.labels = metrics.NodeLabels(self.config.max_nodes)
        self.keys = KeyService(self.store)
        self.limiter = RateLimiter(self.store, self.config)
        self.history = TrafficHistory()
        self.departures = Departures()
        self.started = time.time()
        self._client: httpx.AsyncClient | None = None
        self._forwarder: Forwarder | None = None
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def forwarder(self) -> Forwarder:
        assert self._forwarder is not None, "start() has not run"
        return self._forwarder

    async def start(self) -> None:
        """Load state (snapshot, then Redis), open the node connection pool, start background work."""
        await self.store.start()
        # One pooled keep-alive client for every node: a request reuses a warm connection.
        self._client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=1000, max_keepalive_connections=200, keepalive_expiry=30),
            timeout=httpx.Timeout(self.config.request_timeout, connect=self.config.connect_timeout),
        )
        self._forwarder = Forwarder(self.router, self.config, self._client, self.labels, self.history)
        await self.store.mirror()
        self._tasks = [
            asyncio.create_task(self.store.run_sync(), name="state-sync"),
            asyncio.create_task(self.store.run_mirror(), name="state-mirror"),
            asyncio.create_task(self._run_expiry(), name="node-expiry"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.store.mirror()
        if self._client is not None:
            await self._client.aclose()
        await self.store.close()

    async def _run_expiry(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            for node_id in await self.registry.expire():
                self.forget(node_id)
            # Also nodes that left through another replica sharing this Redis.
            self.departures.observe(self.registry.live_nodes(), self._counts)

    def _counts(self, node_id: str) -> tuple[int, int]:
        stats = self.forwarder.stats.get(node_id)
        return (stats.requests, stats.errors) if stats else (0, 0)

    def forget(self, node_id: str) -> None:
        self.departures.left(node_id, self._counts)
        self.router.forget(node_id)
        self.labels.forget(node_id)
        self.forwarder.stats.pop(node_id, None)

    async def admit(self, key: str | None, characters: int) -> KeyRecord | None:
        """Check the client's key and count the request against its limits.

        Raises KeyRejected, or LimitReached (RequestExceedsLimit when the request alone is over a limit).
        """
        record = await self.keys.check(key, self.config.require_api_key)
        if record is None:
            return None
        rpm, cpm = self.limiter.limits_for(record)
        if cpm and characters > cpm:
            raise RequestExceedsLimit(
                f"the request has {characters} characters, "
                f"more than key {record.id}'s limit of {cpm} per minute",
            )
        decision = await self.limiter.admit(record, characters)
        if not decision.allowed:
            limit = rpm if decision.limit == "requests" else cpm
            raise LimitReached(
                f"API key {record.id} reached its limit of {limit} {decision.limit} per minute; "
                f"retry in {decision.retry_after}s",
                decision.retry_after,
            )
        return record

    async def relay(self, path: str, pair: str, body: bytes, headers: Mapping[str, str]) -> NodeAnswer:
        """Forward to a node serving ``pair`` (see ``proxy.Forwarder.forward`` for what it raises)."""
        started = time.perf_counter()
        try:
            answer = await self.forwarder.forward(path, pair, body, headers)
        except (NoNodeAvailable, UpstreamFailed) as exc:
            if isinstance(exc, NoNodeAvailable):
                metrics.NO_NODE.inc()
            self.history.record(OVERALL, time.perf_counter() - started, True)
            raise
        self.history.record(OVERALL, time.perf_counter() - started, answer.status >= 500)
        return answer

    async def fetch(self, node: NodeRecord, path: str) -> httpx.Response:
        """``GET path`` from ``node``, its answer whatever its status; raises NodeUnreachable or
        UpstreamTimeout when the node does not answer."""
        try:
            return await self.forwarder.client.get(node.url.rstrip("/") + path)
        except httpx.TimeoutException:
            raise UpstreamTimeout(f"node {node.id} did not answer in time") from None
        except httpx.TransportError as exc:
            raise NodeUnreachable(f"node {node.id} could not be reached ({type(exc).__name__})") from None

    def live_pairs(self) -> set[str]:
        """Every pair a live node serves."""
        pairs: set[str] = set()
        for node in self.registry.live_nodes():
            pairs.update(node.pairs_available, node.pairs_loaded)
        return pairs

    def languages(self) -> list[dict[str, Any]]:
        """LibreTranslate's /languages, over every pair a live node serves."""
        pairs: set[str] = set()
        names: dict[str, str] = {}
        for node in self.registry.live_nodes():
            names.update(node.language_names)
            pairs.update(node.pairs_available, node.pairs_loaded)
        return language_list(pairs, names)

    def ready(self) -> tuple[bool, str]:
        """Whether a request could be routed now, and why not."""
        live = [n for n in self.registry.live_nodes() if n.ready]
        if not live:
            return False, "no decoder node is registered and ready"
        if not any(self.router.breaker(n.id).available() for n in live):
            return False, "every node's circuit is open"
        return True, f"{len(live)} node(s) ready"

    def update_gauges(self) -> None:
        live = self.registry.live_nodes()
        metrics.NODES.set(len(live))
        metrics.REDIS_UP.set(1 if self.store.redis_available else 0)
        age = self.store.mirror_age()
        metrics.MIRROR_AGE.set(-1 if age is None else age)
        metrics.MIRROR_VERSION.set(self.store.mirror_version)
        for node in live:
            label = self.labels(node.id)
            metrics.NODE_CIRCUIT.labels(label).set(
                metrics.CIRCUIT_VALUES[self.router.breaker(node.id).state.value]
            )
            metrics.NODE_OUTSTANDING.labels(label).set(self.router.load(node) * node.capacity)

    def status(self) -> dict[str, Any]:
        """What /status and the dashboard show."""
        now = time.time()
        ok, why = self.ready()
        self.departures.observe(self.registry.live_nodes(), self._counts)
        nodes = []
        pairs: dict[str, int] = {}
        for node in sorted(self.registry.live_nodes(), key=lambda n: n.id):
            breaker = self.router.breaker(node.id)
            stats = self.forwarder.stats.get(node.id)
            for pair in sorted({*node.pairs_available, *node.pairs_loaded}):
                pairs[pair] = pairs.get(pair, 0) + 1
            nodes.append(
                {
                    "id": node.id,
                    "url": node.url,
                    "health": self.registry.health(node),
                    "circuit": breaker.state.value,
                    "consecutive_failures": breaker.failures,
                    "queued": node.queued,
                    "in_flight": node.in_flight,
                    "outstanding_here": self.router.outstanding.get(node.id, 0),
                    "capacity": node.capacity,
                    "load": round(self.router.load(node), 3),
                    "latency_ms": node.latency_ms,
                    "memory_percent": node.memory_percent,
                    "memory_rss_bytes": node.memory_rss_bytes,
                    "pairs_loaded": node.pairs_loaded,
                    "pairs_available": node.pairs_available,
                    "version": node.version,
                    "last_heartbeat_seconds": round(self.registry.age(node), 1),
                    "requests": stats.requests if stats else 0,
                    "errors": stats.errors if stats else 0,
                    "last_error": stats.last_error if stats else None,
                }
            )
        age = self.store.mirror_age()
        return {
            "status": "ok" if ok else "unavailable",
            "reason": why,
            "version": __version__,
            "uptime_seconds": round(now - self.started, 1),
            "state": {
                "mode": self.store.mode,
                "redis_available": self.store.redis_available,
                "redis_losses": self.store.redis_losses,
                "state_file": str(self.config.state_file),
                "mirror_interval_seconds": self.config.mirror_interval,
                "mirror_version": self.store.mirror_version,
                "mirror_age_seconds": None if age is None else round(age, 1),
                "mirror_error": self.store.mirror_error,
                "snapshot_error": self.store.snapshot_error,
            },
            "routing": {
                "policy": self.router.policy.name,
                "heartbeat_interval_seconds": self.config.heartbeat_interval,
                "node_expiry_seconds": self.config.node_expiry,
            },
            "nodes": nodes,
            "departed_nodes": [
                {
                    "id": gone.id,
                    "url": gone.url,
                    "left_seconds_ago": round(now - gone.left_at, 1),
                    "requests": gone.requests,
                    "errors": gone.errors,
                }
                for gone in self.departures.recent()
            ],
            "pairs": pairs,
        }


__all__ = ["Coordinator", "KeyRejected", "LimitReached"]
