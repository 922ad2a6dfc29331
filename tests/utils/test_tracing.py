"""Tracing: configuration from the standard variables and span structure (in-memory exporter).

The span-structure test runs the node's real worker code (TranslationAPI.predict with the
bundled models) in this process, with the work item built exactly as the HTTP layer builds
it; the real process boundary is covered by tests/serving/test_operations.py, which sends
the spans of a running node to an OTLP/HTTP receiver.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from starlette.testclient import TestClient

from universal_decoder_node.config import load_settings
from universal_decoder_node.serving.ipc.messages import WorkItem
from universal_decoder_node.serving.worker.api import TranslationAPI
from universal_decoder_node.utils import tracing
from universal_decoder_node.utils.access_log import add_request_logging

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, "http://collector:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/v1/traces"},
            "http://collector:4318/v1/traces",
        ),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "https://otel.example/base"}, "https://otel.example/base/v1/traces"),
        (
            {
                "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored:4318",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom",
            },
            "http://traces:9999/custom",
        ),
        ({}, "http://localhost:4318/v1/traces"),
    ],
)
def test_traces_endpoint_ends_up_right(env: dict[str, str], expected: str) -> None:
    assert tracing.traces_endpoint(env) == expected


def test_configuration_from_standard_variables() -> None:
    assert not tracing.tracing_config({}).enabled
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in tracing.tracing_config({}).reason
    on = tracing.tracing_config({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"})
    assert on.enabled and on.exporter == "otlp" and on.endpoint == "http://c:4318/v1/traces"
    assert (
        tracing.tracing_config({"OTEL_TRACES_EXPORTER": "otlp"}).endpoint == "http://localhost:4318/v1/traces"
    )
    assert tracing.tracing_config({"OTEL_TRACES_EXPORTER": "console"}).exporter == "console"
    disabled = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    assert tracing.tracing_config(disabled).reason == "OTEL_SDK_DISABLED=true"
    none = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}
    assert not tracing.tracing_config(none).enabled


def test_sdk_disabled_wins_over_an_explicit_exporter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    assert tracing.setup_tracing(exporter=InMemorySpanExporter()) is False


@pytest.fixture(scope="module")
def exporter() -> InMemorySpanExporter:
    """Tracing for this test process, exporting into memory (a provider is set once per process)."""
    memory = InMemorySpanExporter()
    assert tracing.setup_tracing(role="test", exporter=memory)
    return memory


@pytest.fixture(scope="module")
def worker_api() -> Iterator[TranslationAPI]:
    settings = load_settings(None, models={"warmup": False})
    api = TranslationAPI(settings)
    api.setup("cpu")
    yield api
    gc.unfreeze()  # setup froze this test process's objects, as a worker's
    assert api.translator is not None
    api.translator.close()


def traced_app(api: TranslationAPI) -> FastAPI:
    app = FastAPI()

    @app.post("/translate")
    def translate(body: dict[str, Any]) -> dict[str, Any]:
        now = time.monotonic()
        # As serving.http.translate.TranslationSpec.submit does, but queued a quarter of a second
        # ago, so that the batch span's queue wait has a floor to check.
        item = WorkItem("en-pt", [body["q"]], now + 30, now - 0.25, tracing.current_context())
        (result,) = api.predict([item])
        assert result.error is None, result.error
        return {"translations": result.translations}

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics")
    def metrics() -> dict[str, str]:
        return {}

    @app.get("/ready")
    def ready() -> dict[str, str]:
        return {"status": "ready"}

    assert tracing.instrument_app(app)
    return app


def finished(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    assert tracing.force_flush()
    return list(exporter.get_finished_spans())


def test_request_batch_and_inference_spans_continue_the_callers_trace(
    exporter: InMemorySpanExporter, worker_api: TranslationAPI
) -> None:
    exporter.clear()
    with TestClient(traced_app(worker_api)) as client:
        r = client.post(
            "/translate",
            json={"q": "Hello, world."},
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["translations"] == ["Olá, mundo."]
    spans = {s.name: s for s in finished(exporter)}
    server = spans["POST /translate"]
    batch, inference = spans["udn.batch"], spans["udn.inference"]
    assert server.kind == SpanKind.SERVER
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/translate"
    assert server.attributes["http.response.status_code"] == 200
    for span in (server, batch, inference):
        assert span.context.trace_id == int(TRACE_ID, 16)  # one trace, continued from the caller
    assert server.parent is not None and server.parent.span_id == int(PARENT_ID, 16)
    assert batch.parent is not None and batch.parent.span_id == server.context.span_id
    assert inference.parent is not None and inference.parent.span_id == batch.context.span_id
    assert batch.attributes is not None and batch.attributes["udn.pair"] == "en-pt"
    assert batch.attributes["udn.batch.size"] == 1
    assert batch.attributes["udn.queue.wait_ms"] >= 250  # measured from the item's enqueue time
    assert server.resource.attributes["service.name"] == "decoder-node"


def test_without_an_incoming_traceparent_a_new_trace_starts(
    exporter: InMemorySpanExporter, worker_api: TranslationAPI
) -> None:
    exporter.clear()
    with TestClient(traced_app(worker_api)) as client:
        assert client.post("/translate", json={"q": "Good morning."}).status_code == 200
    spans = {s.name: s for s in finished(exporter)}
    assert spans["POST /translate"].parent is None
    assert spans["udn.batch"].context.trace_id == spans["POST /translate"].context.trace_id


def test_probes_and_metrics_are_not_traced(
    exporter: InMemorySpanExporter, worker_api: TranslationAPI
) -> None:
    exporter.clear()
    with TestClient(traced_app(worker_api)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/ready").status_code == 200
        assert client.get("/healthz").status_code == 404  # only the exact paths are exempt
    assert [s.name for s in finished(exporter)] == ["GET"]


def test_with_tracing_off_fastapi_telemetry_is_switched_off(
    exporter: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A tracer provider is set in this process (the fixture), as in a node forked after
    # tracing was set up; FastAPI's own telemetry would otherwise trace, or at least look up
    # the OpenTelemetry providers on every request.
    monkeypatch.setattr(tracing, "_active", False)
    monkeypatch.setenv("OTEL_SDK_DISABLED", "true")
    app = FastAPI()
    assert not tracing.instrument_app(app)
    assert not app._native_telemetry.enabled()


def test_fastapi_reads_the_telemetry_settings_the_node_configures() -> None:
    # instrument_app updates FastAPI's private settings dict after LitServe built the app;
    # a FastAPI upgrade that copies or renames it must fail here, not silently stop tracing.
    app = FastAPI()
    assert app._native_telemetry.config is app._telemetry


def test_items_without_trace_context_get_no_worker_spans(
    exporter: InMemorySpanExporter, worker_api: TranslationAPI
) -> None:
    exporter.clear()
    now = time.monotonic()
    (result,) = worker_api.predict([WorkItem("en-pt", ["Hi."], now + 30, now)])
    assert result.error is None and result.translations
    assert finished(exporter) == []


def test_an_unsampled_request_hands_the_worker_no_trace_context(exporter: InMemorySpanExporter) -> None:
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    def context(flags: int) -> SpanContext:
        return SpanContext(
            int(TRACE_ID, 16), int(PARENT_ID, 16), is_remote=False, trace_flags=TraceFlags(flags)
        )

    with trace.use_span(NonRecordingSpan(context(TraceFlags.DEFAULT))):
        assert tracing.current_context() is None
    with trace.use_span(NonRecordingSpan(context(TraceFlags.SAMPLED))):
        assert tracing.current_context() == tracing.TraceContext(f"00-{TRACE_ID}-{PARENT_ID}-01")


def test_the_hop_to_the_worker_does_not_depend_on_the_configured_propagators(
    exporter: InMemorySpanExporter, worker_api: TranslationAPI
) -> None:
    # An operator may set OTEL_PROPAGATORS to a format without `traceparent` (b3, say): the
    # API server still hands the worker W3C trace context, so the worker's spans stay in
    # the request's trace. Here the global propagator speaks only W3C baggage.
    from opentelemetry import propagate
    from opentelemetry.baggage.propagation import W3CBaggagePropagator

    exporter.clear()
    configured = propagate.get_global_textmap()
    propagate.set_global_textmap(W3CBaggagePropagator())
    try:
        with TestClient(traced_app(worker_api)) as client:
            assert client.post("/translate", json={"q": "Good evening."}).status_code == 200
    finally:
        propagate.set_global_textmap(configured)
    spans = {s.name: s for s in finished(exporter)}
    server, batch = spans["POST /translate"], spans["udn.batch"]
    assert batch.context.trace_id == server.context.trace_id
    assert batch.parent is not None and batch.parent.span_id == server.context.span_id


def test_the_request_id_is_an_attribute_of_the_server_span(exporter: InMemorySpanExporter) -> None:
    app = FastAPI()

    @app.get("/languages")
    def languages() -> list[str]:
        return []

    add_request_logging(app)
    assert tracing.instrument_app(app)
    exporter.clear()
    with TestClient(app) as client:
        response = client.get("/languages", headers={"X-Request-ID": "traced-7"})
    assert response.headers["X-Request-ID"] == "traced-7"
    (server,) = [s for s in finished(exporter) if s.name == "GET /languages"]
    assert server.attributes is not None and server.attributes["udn.request_id"] == "traced-7"
