"""Registering this node with its coordinators (``udn serve --coordinator URL1,URL2``) and heartbeating.

A thread per coordinator waits until the node is ready, then sends ``PUT {coordinator}/nodes/{node_id}``
every heartbeat interval (that coordinator says how often) with what routing needs: URL, pairs,
capacity, queued and in-flight requests, recent latency, memory (the host's, and this node's own
process tree's) and version. Each coordinator is
heartbeated on its own, so the node stays registered while any of them is up: coordinators
sharing one Redis all see the record the live ones keep fresh, and a coordinator that is down or
slow delays no heartbeat to the others. The load figures are the node's own Prometheus gauges,
read from the multiprocess directory every process of the node writes to. On SIGTERM (or Ctrl+C)
the node deregisters from every coordinator before it shuts down, so they stop routing to it at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import httpx

from .. import __version__
from ..config import ConfigError, Settings
from ..models import language_names, pair_sources, pivot_sources
from ..protocol.languages import LANGUAGE_NAMES
from ..utils.memory_manager import MemoryManager
from ..utils.system_resources import process_tree_rss
from .metrics import collect_all

log = logging.getLogger(__name__)

_ANY_ADDRESS = ("0.0.0.0", "::", "")
_TIMED_ENDPOINTS = ("/translate", "/decode")
_STOP_SECONDS = 5.0  # how long stopping waits for the last heartbeats and the deregistrations


def node_url(settings: Settings, tls: bool = False) -> str:
    """The URL the coordinator should use to reach this node (``https`` when it serves TLS)."""
    if settings.registration.advertise_url:
        return settings.registration.advertise_url.rstrip("/")
    host = settings.serving.host
    if host in _ANY_ADDRESS:
        host = socket.gethostname()
    return f"{'https' if tls else 'http'}://{host}:{settings.serving.port}"


def node_id(settings: Settings) -> str:
    return settings.registration.node_id or f"{socket.gethostname()}:{settings.serving.port}"


class NodeRegistration:
    """Keeps this node registered with every configured coordinator until ``stop``.

    ``tls`` says the node serves HTTPS itself (``udn serve --ssl-certfile``): it advertises an
    ``https`` URL and checks its own readiness over TLS.
    """

    def __init__(self, settings: Settings, tls: bool = False) -> None:
        coordinators = settings.registration.coordinator_urls
        if not coordinators:
            raise ConfigError("registration.coordinator_urls is empty")
        if not settings.coordinator.node_token:
            raise ConfigError(
                "registering with a coordinator needs the node token: set UDN_NODE_TOKEN "
                "(the same value the coordinator has)"
            )
        self.node_id = node_id(settings)
        self.url = node_url(settings, tls)
        local_host = settings.serving.host if settings.serving.host not in _ANY_ADDRESS else "127.0.0.1"
        scheme = "https" if tls else "http"
        self.ready_url = f"{scheme}://{local_host}:{settings.serving.port}/ready"
        self.tls = tls
        self.headers = {"Authorization": f"Bearer {settings.coordinator.node_token}"}
        sources = pair_sources(settings)
        # Pairs served through English too: the coordinator routes them here and lists their targets.
        pairs = sorted([*sources, *pivot_sources(settings, sources)])
        self.pairs = pairs
        codes = {code for pair in pairs for code in pair.split("-", 1)}
        names = {**LANGUAGE_NAMES, **language_names(sources)}
        self.language_names = {code: names.get(code, code) for code in sorted(codes)}
        self.capacity = settings.serving.workers * settings.serving.threads
        self.stopping = threading.Event()
        self._figures = threading.Lock()  # the latency window below is shared by every link
        self._last_latency: tuple[float, float] = (0.0, 0.0)  # (sum, count) at the last heartbeat
        self._latency_ms: float | None = None
        self.links = [
            CoordinatorLink(self, url, settings.coordinator.heartbeat_interval) for url in coordinators
        ]

    @property
    def registered(self) -> bool:
        """Whether some coordinator has taken this node's registration."""
        return any(link.registered for link in self.links)

    def start(self) -> None:
        for link in self.links:
            link.start()

    def stop(self) -> None:
        """Stop heartbeating and deregister everywhere (a few seconds at most); safe to call twice."""
        if self.stopping.is_set():
            return
        self.stopping.set()
        deadline = time.monotonic() + _STOP_SECONDS
        for link in self.links:
            link.join(max(0.0, deadline - time.monotonic()))

    def ready(self, probe: httpx.Client) -> bool:
        """Whether this node answers its own ``/ready`` with 200."""
        try:
            return probe.get(self.ready_url).status_code == 200
        except httpx.HTTPError:
            return False

    def report(self, ready: bool) -> dict[str, Any]:
        """The heartbeat body (``coordinator.records.NodeReport``)."""
        with self._figures:
            figures = self._read_metrics()
            latency_ms = self._latency_ms
        memory = MemoryManager.get_instance().get_memory_stats()
        return {
            "url": self.url,
            "pairs_loaded": figures["pairs_loaded"],
            "pairs_available": self.pairs,
            "language_names": self.language_names,
            "capacity": self.capacity,
            "queued": figures["queued"],
            "in_flight": figures["in_flight"],
            "latency_ms": latency_ms,
            "memory_percent": memory["system_memory_percent"],
            "memory_rss_bytes": process_tree_rss(),
            "version": __version__,
            "ready": ready,
        }

    def _read_metrics(self) -> dict[str, Any]:
        queued = in_flight = 0.0
        latency_sum = latency_count = 0.0
        loaded: list[str] = []
        for family in collect_all():
            for sample in family.samples:
                if sample.name == "udn_requests_queued":
                    queued += sample.value
                elif sample.name == "udn_requests_in_flight":
                    in_flight += sample.value
                elif sample.name == "udn_model_memory_bytes" and sample.value > 0:
                    loaded.append(sample.labels["pair"])
                elif sample.labels.get("endpoint") in _TIMED_ENDPOINTS:
                    if sample.name == "udn_request_duration_seconds_sum":
                        latency_sum += sample.value
                    elif sample.name == "udn_request_duration_seconds_count":
                        latency_count += sample.value
        last_sum, last_count = self._last_latency
        if latency_count > last_count:
            # Mean latency over the requests answered since the last heartbeat.
            self._latency_ms = round(1000 * (latency_sum - last_sum) / (latency_count - last_count), 2)
        self._last_latency = (latency_sum, latency_count)
        return {
            "queued": max(0, round(queued)),
            "in_flight": max(0, round(in_flight)),
            "pairs_loaded": sorted(set(loaded) & set(self.pairs)),
        }


class CoordinatorLink:
    """The heartbeat to one coordinator: its own thread, interval, failure count and registration."""

    def __init__(self, node: NodeRegistration, coordinator: str, interval: float) -> None:
        self.node = node
        self.coordinator = coordinator
        self.endpoint = f"{coordinator}/nodes/{node.node_id}"
        self.interval = interval
        self.registered = False
        self._thread = threading.Thread(target=self._run, name=f"udn-registration-{coordinator}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        # The readiness probe asks this very node at its own address, which its certificate
        # (made out to the node's public name) need not name; it sends no credentials.
        with (
            httpx.Client(timeout=5.0) as client,
            httpx.Client(timeout=2.0, verify=not self.node.tls) as probe,
        ):
            self._heartbeat(client, probe)
            if self.registered:
                self._deregister(client)

    def _heartbeat(self, client: httpx.Client, probe: httpx.Client) -> None:
        failures = 0
        stopping = self.node.stopping
        while not stopping.is_set():
            ready = self.node.ready(probe)
            # Once the node has registered anywhere, every coordinator hears about it, ready or not.
            if ready or self.node.registered:
                try:
                    body = self.node.report(ready)
                    response = client.put(self.endpoint, json=body, headers=self.node.headers)
                    if response.status_code >= 400:
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
                    interval = float(response.json().get("heartbeat_interval", self.interval))
                except Exception as exc:  # the heartbeat thread must outlive any one failure
                    failures += 1
                    if failures == 1 or failures % 30 == 0:
                        log.warning("heartbeat to %s failed (%d in a row): %s", self.endpoint, failures, exc)
                else:
                    if not self.registered or failures:
                        log.info(
                            "registered with %s as %s (%s)", self.endpoint, self.node.node_id, self.node.url
                        )
                    self.registered = True
                    self.interval = interval
                    failures = 0
            # Quick retries only until the node first registers somewhere; after that a
            # coordinator that is down is retried once per interval, like any heartbeat.
            stopping.wait(self.interval if self.node.registered else min(self.interval, 0.5))

    def _deregister(self, client: httpx.Client) -> None:
        try:
            client.delete(self.endpoint, headers=self.node.headers, timeout=3.0)
            log.info("deregistered from %s", self.endpoint)
        except httpx.HTTPError as exc:
            log.warning("could not deregister from %s: %s", self.endpoint, exc)


@contextmanager
def registered(settings: Settings, tls: bool = False) -> Iterator[NodeRegistration | None]:
    """Keep the node registered while the block runs, if coordinators are configured.

    SIGTERM and SIGINT stop the node the way Ctrl+C does (LitServe's graceful shutdown, which
    also ends the API servers and inference workers rather than orphaning them); with a
    coordinator configured, the node deregisters first, so a clean stop never leaves the
    coordinator routing to a node that is going away.
    """
    registration = NodeRegistration(settings, tls) if settings.registration.coordinator_urls else None
    owner = os.getpid()

    def on_stop_signal(signum: int, frame: FrameType | None) -> None:
        if os.getpid() != owner:  # a forked child before it set its own handlers
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        if registration is not None:
            registration.stop()
        raise KeyboardInterrupt

    previous = {sig: signal.signal(sig, on_stop_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    if registration is not None:
        registration.start()
    try:
        yield registration
    finally:
        if registration is not None:
            registration.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
