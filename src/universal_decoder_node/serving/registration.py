"""Registering this node with a coordinator (``udn serve --coordinator URL``) and heartbeating.

A thread in the node's main process waits until the node is ready, then sends
``PUT {coordinator}/nodes/{node_id}`` every heartbeat interval (the coordinator says how often)
with what routing needs: URL, pairs, capacity, queued and in-flight requests, recent latency,
memory and version. The load figures are the node's own Prometheus gauges, read from the
multiprocess directory every process of the node writes to. On SIGTERM (or Ctrl+C) the node
deregisters before it shuts down, so the coordinator stops routing to it at once.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any

import httpx

from .. import __version__
from ..config import ConfigError, Settings
from ..models import pair_sources
from ..utils.memory_manager import MemoryManager
from .metrics import collect_all
from .routes import LANGUAGE_NAMES

log = logging.getLogger(__name__)

_ANY_ADDRESS = ("0.0.0.0", "::", "")
_TIMED_ENDPOINTS = ("/translate", "/decode")


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
    """Keeps this node registered with one coordinator until ``stop``.

    ``tls`` says the node serves HTTPS itself (``udn serve --ssl-certfile``): it advertises an
    ``https`` URL and checks its own readiness over TLS.
    """

    def __init__(self, settings: Settings, tls: bool = False) -> None:
        coordinator = settings.registration.coordinator_url
        if not coordinator:
            raise ConfigError("registration.coordinator_url is not set")
        if not settings.coordinator.node_token:
            raise ConfigError(
                "registering with a coordinator needs the node token: set UDN_NODE_TOKEN "
                "(the same value the coordinator has)"
            )
        self.endpoint = f"{coordinator.rstrip('/')}/nodes/{node_id(settings)}"
        self.node_id = node_id(settings)
        self.url = node_url(settings, tls)
        local_host = settings.serving.host if settings.serving.host not in _ANY_ADDRESS else "127.0.0.1"
        scheme = "https" if tls else "http"
        self.ready_url = f"{scheme}://{local_host}:{settings.serving.port}/ready"
        self.headers = {"Authorization": f"Bearer {settings.coordinator.node_token}"}
        pairs = sorted(pair_sources(settings))
        self.pairs = pairs
        codes = {code for pair in pairs for code in pair.split("-", 1)}
        self.language_names = {code: LANGUAGE_NAMES.get(code, code) for code in sorted(codes)}
        self.capacity = settings.serving.workers * settings.serving.threads
        self.interval = settings.coordinator.heartbeat_interval
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._registered = False
        self._last_latency: tuple[float, float] = (0.0, 0.0)  # (sum, count) at the last heartbeat
        self._latency_ms: float | None = None
        self._client = httpx.Client(timeout=5.0)
        # The readiness probe asks this very node at its own address, which its certificate
        # (made out to the node's public name) need not name; it sends no credentials.
        self._probe = httpx.Client(timeout=2.0, verify=not tls)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="udn-registration", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop heartbeating and deregister (best effort, a few seconds at most); safe to call twice."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._registered:
            try:
                self._client.delete(self.endpoint, headers=self.headers, timeout=3.0)
                log.info("deregistered from %s", self.endpoint)
            except httpx.HTTPError as exc:
                log.warning("could not deregister from %s: %s", self.endpoint, exc)
        self._client.close()
        self._probe.close()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            ready = self._ready()
            if ready or self._registered:
                try:
                    response = self._client.put(self.endpoint, json=self.report(ready), headers=self.headers)
                    if response.status_code >= 400:
                        raise RuntimeError(f"HTTP {response.status_code}: {response.text[:300]}")
                except Exception as exc:  # the heartbeat thread must outlive any one failure
                    failures += 1
                    if failures == 1 or failures % 30 == 0:
                        log.warning("heartbeat to %s failed (%d in a row): %s", self.endpoint, failures, exc)
                else:
                    if not self._registered or failures:
                        log.info("registered with %s as %s (%s)", self.endpoint, self.node_id, self.url)
                    self._registered = True
                    failures = 0
                    self.interval = float(response.json().get("heartbeat_interval", self.interval))
            self._stop.wait(self.interval if self._registered else min(self.interval, 0.5))

    def _ready(self) -> bool:
        try:
            return self._probe.get(self.ready_url).status_code == 200
        except httpx.HTTPError:
            return False

    def report(self, ready: bool) -> dict[str, Any]:
        """The heartbeat body (``coordinator.records.NodeReport``)."""
        figures = self._read_metrics()
        memory = MemoryManager.get_instance().get_memory_stats()
        return {
            "url": self.url,
            "pairs_loaded": figures["pairs_loaded"],
            "pairs_available": self.pairs,
            "language_names": self.language_names,
            "capacity": self.capacity,
            "queued": figures["queued"],
            "in_flight": figures["in_flight"],
            "latency_ms": self._latency_ms,
            "memory_percent": memory["system_memory_percent"],
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


@contextmanager
def registered(settings: Settings, tls: bool = False) -> Iterator[NodeRegistration | None]:
    """Keep the node registered while the block runs, if a coordinator is configured.

    SIGTERM and SIGINT stop the node the way Ctrl+C does (LitServe's graceful shutdown, which
    also ends the API servers and inference workers rather than orphaning them); with a
    coordinator configured, the node deregisters first, so a clean stop never leaves the
    coordinator routing to a node that is going away.
    """
    registration = NodeRegistration(settings, tls) if settings.registration.coordinator_url else None
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
