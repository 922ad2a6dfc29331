"""Forwarding a client request to a node, with one retry on another node.

Translation is idempotent, so a request that meets a connection error, a timeout or a 5xx is sent
once more to a different node, if the request's deadline leaves time. A node's 4xx is the
client's problem and is passed through untouched. ``traceparent`` and ``tracestate`` travel
with the request, so a trace spans the coordinator and the node, and so does the request's
``X-Request-ID`` (``utils.request_id``), so both access logs name it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import httpx

from ..config import CoordinatorSettings
from ..errors import NodeUnreachable, UpstreamFailed, UpstreamTimeout
from ..utils import request_id
from . import metrics
from .breaker import CircuitBreaker
from .history import TrafficHistory
from .records import NodeRecord
from .routing import NoNodeAvailable, Router

log = logging.getLogger(__name__)

FORWARDED_HEADERS = ("content-type", "accept", "traceparent", "tracestate")


@dataclass(frozen=True, slots=True)
class NodeAnswer:
    """A node's HTTP answer, relayed to the client as is."""

    status: int
    body: bytes
    content_type: str | None
    node_id: str


@dataclass
class NodeStats:
    requests: int = 0
    errors: int = 0
    last_error: str | None = None
    recent_latency_ms: float | None = None


@dataclass
class Forwarder:
    router: Router
    config: CoordinatorSettings
    client: httpx.AsyncClient
    labels: metrics.NodeLabels
    history: TrafficHistory = field(default_factory=TrafficHistory)
    stats: dict[str, NodeStats] = field(default_factory=dict)

    async def forward(self, path: str, pair: str, body: bytes, headers: Mapping[str, str]) -> NodeAnswer:
        """Send ``body`` to ``path`` on a node serving ``pair``; retry once elsewhere on failure.

        Raises NoNodeAvailable / PairNotServed (from routing) when no node can be tried at all, and
        UpstreamFailed when the nodes tried could not answer. A node's own 5xx is returned as is
        when the retry fails too.
        """
        deadline = time.monotonic() + self.config.request_timeout
        forwarded = {k: v for k in FORWARDED_HEADERS if (v := headers.get(k)) is not None}
        rid = request_id.current()
        if rid is not None:  # the node logs the request under the id the client was answered with
            forwarded[request_id.HEADER] = rid
        tried: set[str] = set()
        failure: NodeAnswer | UpstreamFailed | None = None
        for attempt in range(2):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                node = self.router.choose(pair, frozenset(tried))
            except NoNodeAvailable:
                if failure is None:
                    raise
                break
            if attempt:
                metrics.RETRIES.inc()
            tried.add(node.id)
            result = await self._send(node, path, body, forwarded, remaining)
            if isinstance(result, NodeAnswer) and result.status < 500:
                return result
            failure = result
        if failure is None:
            raise UpstreamTimeout("the request's deadline passed before a node could take it")
        if isinstance(failure, NodeAnswer):
            return failure
        raise failure

    async def _send(
        self, node: NodeRecord, path: str, body: bytes, headers: dict[str, str], remaining: float
    ) -> NodeAnswer | UpstreamFailed:
        breaker = self.router.breaker(node.id)
        label = self.labels(node.id)
        stats = self.stats.setdefault(node.id, NodeStats())
        stats.requests += 1
        breaker.on_send()
        self.router.outstanding[node.id] = self.router.outstanding.get(node.id, 0) + 1
        started = time.perf_counter()
        timeout = httpx.Timeout(remaining, connect=min(self.config.connect_timeout, remaining))
        try:
            response = await self.client.post(
                node.url.rstrip("/") + path, content=body, headers=headers, timeout=timeout
            )
        except httpx.TimeoutException:
            late = UpstreamTimeout(f"node {node.id} did not answer in time")
            self.history.record(node.id, time.perf_counter() - started, True)
            return self._failed(node, breaker, label, stats, "timeout", late)
        except httpx.TransportError as exc:
            unreachable = NodeUnreachable(f"node {node.id} could not be reached ({type(exc).__name__})")
            self.history.record(node.id, time.perf_counter() - started, True)
            return self._failed(node, breaker, label, stats, "connection_error", unreachable)
        except BaseException:
            breaker.on_abandon()  # cancelled: the client went away; no verdict on the node
            raise
        finally:
            # .get: the node may have expired (and been forgotten) while this request was out.
            self.router.outstanding[node.id] = self.router.outstanding.get(node.id, 1) - 1
            elapsed = time.perf_counter() - started
            metrics.NODE_LATENCY.labels(label).observe(elapsed)
            stats.recent_latency_ms = round(elapsed * 1000, 2)
        failed = response.status_code >= 500
        self.history.record(node.id, elapsed, failed)
        if failed:
            log.warning("node %s answered %s %d", node.id, path, response.status_code)
            breaker.on_failure()
            stats.errors += 1
            stats.last_error = f"HTTP {response.status_code}"
            metrics.NODE_REQUESTS.labels(label, "server_error").inc()
        else:
            breaker.on_success()
            outcome = "ok" if response.status_code < 400 else "client_error"
            metrics.NODE_REQUESTS.labels(label, outcome).inc()
        return NodeAnswer(
            response.status_code, response.content, response.headers.get("content-type"), node.id
        )

    def _failed(
        self,
        node: NodeRecord,
        breaker: CircuitBreaker,
        label: str,
        stats: NodeStats,
        outcome: str,
        failure: UpstreamFailed,
    ) -> UpstreamFailed:
        breaker.on_failure()
        stats.errors += 1
        stats.last_error = str(failure)
        metrics.NODE_REQUESTS.labels(label, outcome).inc()
        log.warning("forwarding to node %s at %s failed: %s", node.id, node.url, failure)
        return failure
