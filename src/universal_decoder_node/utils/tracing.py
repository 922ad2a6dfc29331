"""OpenTelemetry tracing for a decoder node: an optional extra (``pip install universal-decoder-node[otel]``).

``setup_tracing(app)`` is the one call: it installs a tracer provider for this process
(service name ``decoder-node``) exporting over OTLP/HTTP, and instruments the FastAPI app so
each HTTP request gets a server span; an incoming ``traceparent`` continues the caller's
trace. ``/health``, ``/ready`` and ``/metrics`` are not traced.

Configuration is the standard OpenTelemetry environment:

- ``OTEL_EXPORTER_OTLP_ENDPOINT`` (base URL; ``/v1/traces`` is appended unless it is already
  there) or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (used as given). Tracing is on when one of
  them is set, or when ``OTEL_TRACES_EXPORTER`` is ``otlp`` or ``console``.
- ``OTEL_TRACES_EXPORTER=none`` or ``OTEL_SDK_DISABLED=true`` switch it off.
- ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_EXPORTER_OTLP_HEADERS``,
  ``OTEL_BSP_*`` and the other SDK variables work as documented by OpenTelemetry.

A request's trace crosses into the inference workers as a ``TraceContext`` (the W3C
``traceparent`` and ``tracestate``): ``current_context()`` captures it in the API server, and
``batch_trace(contexts, describe)`` in the worker starts, for every traced item, a
``udn.batch`` span whose children (``begin("udn.inference")``) cover the work.

Without the extra installed, or with tracing off, every function here is a cheap no-op.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

SERVICE_NAME = "decoder-node"
# Probes and scrapes: /ready is polled by the node's own registration heartbeat and by
# orchestrators, /_litserve/health by LitServe's tooling.
UNTRACED_PATHS = ("/health", "/ready", "/metrics", "/_litserve/health")
TRACES_PATH = "/v1/traces"
DEFAULT_OTLP_ENDPOINT = "http://localhost:4318"
_W3C: Any = None


def _w3c() -> Any:
    """W3C trace context, for the hop from the API server to a worker: both ends are ours, so
    it does not depend on the propagators configured for clients (``OTEL_PROPAGATORS``), and
    it skips the composite propagator's other formats (baggage) on every request."""
    global _W3C
    if _W3C is None:
        from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

        _W3C = TraceContextTextMapPropagator()
    return _W3C


_lock = threading.Lock()
_provider: Any = None  # this process's SDK TracerProvider once set up
_tracer: Any = None  # its tracer for the node's own spans (looking one up costs as much as a span)
_active = False  # read on every request; a plain global is the cheapest check


@dataclass(frozen=True)
class TracingConfig:
    """What the environment asks for; ``reason`` says why tracing is off when it is."""

    enabled: bool
    exporter: str  # "otlp", "console" or "none"
    endpoint: str | None
    reason: str = ""


def traces_endpoint(env: Mapping[str, str]) -> str:
    """The OTLP/HTTP traces URL: the signal-specific variable as given, else base + ``/v1/traces``."""
    specific = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    if specific:
        return specific
    base = (env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip() or DEFAULT_OTLP_ENDPOINT).rstrip("/")
    # A base that already names the signal path is a common mistake; do not double it.
    if base.endswith(TRACES_PATH):
        return base
    return base + TRACES_PATH


def tracing_config(env: Mapping[str, str] | None = None) -> TracingConfig:
    """Read the standard OTEL_* variables (``os.environ`` by default)."""
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return TracingConfig(False, "none", None, "OTEL_SDK_DISABLED=true")
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    names = [e.strip() for e in exporter.split(",") if e.strip()]
    if "none" in names:
        return TracingConfig(False, "none", None, "OTEL_TRACES_EXPORTER=none")
    if "console" in names:
        return TracingConfig(True, "console", None)
    endpoint_set = bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
    )
    if not endpoint_set and "otlp" not in names:
        return TracingConfig(False, "none", None, "no OTEL_EXPORTER_OTLP_ENDPOINT is set")
    return TracingConfig(True, "otlp", traces_endpoint(env))


def available() -> bool:
    """Whether the ``otel`` extra is installed."""
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def is_active() -> bool:
    """Whether this process exports spans."""
    return _active


def setup_tracing(
    app: Any = None,
    *,
    service_name: str = SERVICE_NAME,
    role: str | None = None,
    exporter: Any = None,
) -> bool:
    """Set tracing up for this process and, if given, instrument the FastAPI ``app``.

    ``role`` (for example ``api`` or ``worker-0``) becomes the ``udn.process.role`` resource
    attribute. ``exporter`` replaces the OTLP exporter (tests pass an in-memory one); it is
    still subject to ``OTEL_SDK_DISABLED``. Returns whether spans are exported; calling it
    again in the same process only instruments ``app``.
    """
    global _provider, _active, _tracer
    config = tracing_config()
    if exporter is None and not config.enabled:
        log.debug("tracing off: %s", config.reason)
        return False
    if exporter is not None and config.reason == "OTEL_SDK_DISABLED=true":
        return False
    if not available():
        log.warning(
            "tracing requested but the otel extra is not installed; "
            "pip install 'universal-decoder-node[otel]'"
        )
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    with _lock:
        if _provider is None:
            attributes: dict[str, Any] = {
                "service.name": os.environ.get("OTEL_SERVICE_NAME") or service_name,
                "process.pid": os.getpid(),
            }
            if role:
                attributes["udn.process.role"] = role
            provider = TracerProvider(resource=Resource.create(attributes))
            if exporter is None:
                if config.exporter == "console":
                    exporter = ConsoleSpanExporter()
                else:
                    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                    exporter = OTLPSpanExporter(endpoint=config.endpoint)
            provider.add_span_processor(BatchSpanProcessor(exporter))
            trace.set_tracer_provider(provider)
            _provider = provider
            _tracer = provider.get_tracer(__name__)
            _active = True
            log.info(
                "tracing on: %s exporter%s",
                config.exporter,
                f" to {config.endpoint}" if config.endpoint else "",
            )
    if app is not None:
        instrument_app(app)
    return True


def _untraced(scope: Any) -> bool:
    return scope.get("path") in UNTRACED_PATHS


def instrument_app(app: Any) -> bool:
    """Give every HTTP request to ``app`` a server span (not the probe paths); False when off.

    It configures FastAPI's own OpenTelemetry support (``FastAPI(telemetry=...)``), which
    does less per request than the contrib ASGI middleware: one server span, named after the
    route (``POST /translate``), continuing an incoming trace through the configured
    propagators; no spans for FastAPI's internal steps, no OpenTelemetry metrics or logs (the
    node's metrics are Prometheus). While tracing is off it switches that support off
    entirely, so no request pays for looking up providers. Safe to call before
    ``setup_tracing`` in the same process or in a process forked later: spans go to whichever
    provider is set when the request arrives.
    """
    on = (tracing_config().enabled or _active) and available()
    # FastAPI reads this dict (the one its constructor's ``telemetry`` argument fills) on
    # every request; LitServe builds the app, so it is configured here rather than there.
    # It is private: a FastAPI without it must not stop the node from starting.
    telemetry = getattr(app, "_telemetry", None)
    if not isinstance(telemetry, dict):
        if on:
            log.warning("tracing is on, but this FastAPI has no native telemetry: no server spans")
        return False
    telemetry.update(
        tracing=on,
        metrics=False,
        logs=False,
        operation_spans=False,
        auto_configure=False,
        exclude=_untraced,
    )
    return on


def annotate_server_span(scope: Any, attributes: Mapping[str, Any]) -> None:
    """Add ``attributes`` to the server span of the request ``scope`` belongs to, if it has one.

    The span is FastAPI's (``instrument_app``), kept in the scope while the request runs, so
    a middleware outside the app can still reach it before the response ends.
    """
    telemetry = scope.get("fastapi.telemetry")
    span = getattr(telemetry, "span", None)
    if span is not None:
        span.set_attributes(dict(attributes))


def force_flush(timeout_millis: int = 5000) -> bool:
    """Export every finished span now (tests, shutdown); True when nothing was left behind."""
    provider = _provider
    if provider is None:
        return True
    return bool(provider.force_flush(timeout_millis))


@dataclass(frozen=True, slots=True)
class TraceContext:
    """A trace's W3C context, to continue it in another process."""

    traceparent: str
    tracestate: str | None = None

    def carrier(self) -> dict[str, str]:
        """As W3C headers."""
        headers = {"traceparent": self.traceparent}
        if self.tracestate:
            headers["tracestate"] = self.tracestate
        return headers


def current_context() -> TraceContext | None:
    """The current trace's context, or None when tracing is off or the trace is not sampled.

    An unsampled trace needs nothing from the worker: its spans would not be recorded either
    (every process of a node has the same sampler, and the standard ones decide alike for
    one trace), so the worker skips them.
    """
    if not _active:
        return None
    from opentelemetry import trace

    if not trace.get_current_span().get_span_context().trace_flags.sampled:
        return None
    carrier: dict[str, str] = {}
    _w3c().inject(carrier)
    if "traceparent" not in carrier:
        return None
    return TraceContext(carrier["traceparent"], carrier.get("tracestate"))


def start_span(name: str, **attributes: Any) -> AbstractContextManager[Any]:
    """A span around a block, child of the current one; a no-op context when tracing is off."""
    if not _active:
        return nullcontext()
    from opentelemetry import trace

    return (_tracer or trace.get_tracer(__name__)).start_as_current_span(name, attributes=attributes or None)


class _NoTrace:
    """What ``batch_trace`` returns while tracing is off or no item carries a trace."""

    __slots__ = ()

    def begin(self, name: str, **attributes: Any) -> None:
        return None

    def end_item(self, index: int, error: str | None = None) -> None:
        return None


_NO_TRACE = _NoTrace()


class BatchTrace:
    """Spans for one batch in an inference worker: a ``udn.batch`` span per traced item.

    Items finish one by one (the translator answers each as soon as its own segments are
    done), so spans end per item: ``begin`` opens a child span under every item's span,
    ``end_item`` closes that item's child and batch spans.
    """

    def __init__(
        self,
        contexts: Sequence[TraceContext | None],
        describe: Callable[[int], Mapping[str, Any]],
        attributes: Mapping[str, Any],
    ) -> None:
        from opentelemetry import trace

        self._trace = trace
        self._tracer = _tracer or trace.get_tracer(__name__)
        self._lock = threading.Lock()
        # Per traced item: its batch span, then the children opened by ``begin``.
        self._open: dict[int, list[Any]] = {}
        for index, context in enumerate(contexts):
            if context is None:
                continue
            parent = _w3c().extract(context.carrier())
            item_attributes = {**attributes, **describe(index)}
            self._open[index] = [
                self._tracer.start_span("udn.batch", context=parent, attributes=item_attributes)
            ]

    def begin(self, name: str, **attributes: Any) -> None:
        """Open a child span ``name`` under every item still open; it ends with its item."""
        with self._lock:
            for spans in self._open.values():
                context = self._trace.set_span_in_context(spans[0])
                spans.append(self._tracer.start_span(name, context=context, attributes=attributes or None))

    def end_item(self, index: int, error: str | None = None) -> None:
        """End the item's spans (children first); ``error`` marks them failed."""
        with self._lock:
            spans = self._open.pop(index, None)
        for span in reversed(spans or ()):
            if error is not None:
                span.set_status(self._trace.Status(self._trace.StatusCode.ERROR, error))
            span.end()


def batch_trace(
    contexts: Sequence[TraceContext | None], describe: Callable[[int], Mapping[str, Any]], **attributes: Any
) -> BatchTrace | _NoTrace:
    """Spans for a batch of work items, one per item with a context (see ``BatchTrace``).

    ``describe(i)`` gives item ``i``'s own span attributes (asked only for traced items).
    A no-op when tracing is off or no item is traced. Every item must be ended with ``end_item``.
    """
    if not _active or not any(context is not None for context in contexts):
        return _NO_TRACE
    return BatchTrace(contexts, describe, attributes)


__all__ = [
    "SERVICE_NAME",
    "BatchTrace",
    "TraceContext",
    "TracingConfig",
    "available",
    "batch_trace",
    "current_context",
    "force_flush",
    "instrument_app",
    "is_active",
    "setup_tracing",
    "start_span",
    "traces_endpoint",
    "tracing_config",
]
