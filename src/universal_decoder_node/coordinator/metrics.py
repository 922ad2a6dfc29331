"""The coordinator's Prometheus metrics, declared once in their own registry.

Label values are bounded: endpoints from a fixed list, outcomes from a fixed list, and node ids,
which the operator controls (nodes need the node token to register) and which are capped at
``coordinator.max_nodes``; past the cap, further nodes share the label "other".
"""

from __future__ import annotations

import contextlib

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

REGISTRY = CollectorRegistry()

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

OUTCOMES = ("ok", "client_error", "server_error", "connection_error", "timeout")

REQUESTS = Counter(
    "udn_coordinator_requests_total",
    "HTTP requests the coordinator answered, by endpoint and status code.",
    ["endpoint", "code"],
    registry=REGISTRY,
)
REQUEST_LATENCY = Histogram(
    "udn_coordinator_request_duration_seconds",
    "End-to-end latency of requests the coordinator answered.",
    ["endpoint"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
NODE_REQUESTS = Counter(
    "udn_coordinator_node_requests_total",
    "Requests forwarded to a node, by outcome (ok, client_error, server_error, connection_error, timeout).",
    ["node", "outcome"],
    registry=REGISTRY,
)
NODE_LATENCY = Histogram(
    "udn_coordinator_node_request_duration_seconds",
    "Latency of requests forwarded to a node, as seen by the coordinator.",
    ["node"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
NODE_CIRCUIT = Gauge(
    "udn_coordinator_node_circuit_state",
    "A node's circuit breaker: 0 closed, 1 half-open, 2 open.",
    ["node"],
    registry=REGISTRY,
)
NODE_OUTSTANDING = Gauge(
    "udn_coordinator_node_outstanding",
    "A node's outstanding work: queued and in flight as reported, plus what this coordinator sent since.",
    ["node"],
    registry=REGISTRY,
)
RETRIES = Counter(
    "udn_coordinator_retries_total",
    "Requests retried on another node after a connection error or a 5xx.",
    registry=REGISTRY,
)
NO_NODE = Counter(
    "udn_coordinator_no_node_total",
    "Requests answered 503 because no node could take them.",
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "udn_coordinator_rate_limited_total",
    "Requests refused by a per-key limit, by the limit that was reached.",
    ["limit"],
    registry=REGISTRY,
)
NODES = Gauge("udn_coordinator_nodes", "Registered live nodes.", registry=REGISTRY)
REDIS_UP = Gauge(
    "udn_coordinator_redis_available",
    "1 while Redis is reachable and in use, 0 while it is not (or not configured).",
    registry=REGISTRY,
)
REDIS_LOSSES = Counter(
    "udn_coordinator_redis_losses_total",
    "Times Redis went from in use to lost (each is followed by counting limits alone until it returns).",
    registry=REGISTRY,
)
MIRROR_AGE = Gauge(
    "udn_coordinator_mirror_age_seconds",
    "Seconds since this coordinator last wrote its state file (-1 before the first write).",
    registry=REGISTRY,
)
MIRROR_VERSION = Gauge(
    "udn_coordinator_mirror_version", "Version of the last state file written.", registry=REGISTRY
)

CIRCUIT_VALUES = {"closed": 0, "half_open": 1, "open": 2}


class NodeLabels:
    """Node ids as label values, at most ``limit`` of them; later ones share "other"."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._known: set[str] = set()

    def __call__(self, node_id: str) -> str:
        if node_id in self._known:
            return node_id
        if len(self._known) < self.limit:
            self._known.add(node_id)
            return node_id
        return "other"

    def forget(self, node_id: str) -> None:
        """Drop an expired node's gauge series (its counters stay)."""
        if node_id in self._known:
            for gauge in (NODE_CIRCUIT, NODE_OUTSTANDING):
                with contextlib.suppress(KeyError):
                    gauge.remove(node_id)


def render() -> tuple[bytes, str]:
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
