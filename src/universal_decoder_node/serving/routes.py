"""The node's HTTP surface: LibreTranslate's /translate and /languages, the edge /decode, health.

``/translate`` and ``/decode`` are a LitServe spec: the endpoints parse and validate in the
API process, then put a plain work item on LitServe's request queue, where an inference
worker batches it with others (``serving.api``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import litserve as ls
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from litserve.specs.base import LitSpec
from litserve.utils import LitAPIStatus, ResponseBufferItem, WorkerSetupStatus

from .. import __version__
from ..config import Settings
from ..engine import DeadlinePassed, JobCancelled, UnsupportedPairError
from ..errors import WorkerUnavailable
from ..models import pair_sources
from ..protocol.requests import (
    Limits,
    encode_msgpack,
    parse_decode,
    parse_translate,
    read_body,
    wants_msgpack,
)
from ..utils import tracing
from ..utils.memory_manager import MemoryManager
from . import metrics
from .messages import Queued, WorkItem, WorkResult

log = logging.getLogger(__name__)

LANGUAGE_NAMES = {
    "ar": "Arabic", "de": "German", "en": "English", "es": "Spanish", "fr": "French", "hi": "Hindi",
    "it": "Italian", "ja": "Japanese", "ko": "Korean", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese",
    "ru": "Russian", "tr": "Turkish", "uk": "Ukrainian", "zh": "Chinese",
}  # fmt: skip

# Seconds the API server waits past a request's deadline for the worker's own 504 to arrive.
_DEADLINE_GRACE = 0.5


class TranslationSpec(LitSpec):
    """Registers /translate and /decode and feeds LitServe's queue with validated work items."""

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.api_path = "/translate"
        self.limits = Limits.of(settings.serving)
        self.request_timeout = settings.serving.request_timeout
        self.pairs = frozenset(pair_sources(settings))
        # Work item ids: unique within this API server process, which alone waits for their answers.
        self._uids = itertools.count()

    def add_routes(self, app: FastAPI) -> None:
        """Serve ``POST /translate`` and ``POST /decode`` on ``app``.

        Plain Starlette routes rather than LitServe's spec endpoints (FastAPI routes): the
        handlers read the raw request themselves, so FastAPI's per-request dependency solving
        and endpoint machinery only added cost, about a quarter of the API server's CPU per
        one-sentence request. They are open, like every translation endpoint (``/admin`` has
        its own guard), and not in the generated OpenAPI document: their contract is
        LibreTranslate's, documented in the README.
        """
        app.add_route("/translate", self.translate, methods=["POST"])
        app.add_route("/decode", self.decode, methods=["POST"])

    # LitServe calls these in the worker only when the LitAPI does not define its own.
    def decode_request(self, request: Any, context_kwargs: Any = None) -> Any:
        return request

    def encode_response(self, output: Any, context_kwargs: Any = None) -> Any:
        return output

    async def translate(self, request: Request) -> JSONResponse:
        """LibreTranslate-compatible translation of a string or a list of strings."""
        req = await parse_translate(request, self.limits)
        self._check_pair(req.pair)
        translations = await self.submit(req.pair, req.texts, request)
        return JSONResponse({"translatedText": translations[0] if req.single else translations})

    async def decode(self, request: Request) -> Response:
        """The binary edge payload: an LZ4 frame of a MessagePack map."""
        body = await read_body(request, self.limits.max_body_bytes)
        dec = parse_decode(request, body, self.limits)
        req = dec.request
        self._check_pair(req.pair)
        translations = await self.submit(req.pair, req.texts, request)
        answer: dict[str, Any] = {
            "translation": translations[0],
            "source_language": req.source,
            "target_language": req.target,
        }
        if dec.text_hash is not None:
            answer["text_hash"] = dec.text_hash
        if wants_msgpack(request):
            return Response(encode_msgpack(answer), media_type="application/msgpack")
        return JSONResponse(answer)

    def _check_pair(self, pair: str) -> None:
        if pair not in self.pairs:
            raise UnsupportedPairError(pair, sorted(self.pairs))

    async def submit(self, pair: str, texts: list[str], request: Request) -> list[str]:
        """Queue one work item and wait for its translations; raises the worker's error.

        A pair that is still loading keeps the item waiting in the worker, until its
        deadline at most. If the client disconnects first, or the deadline passes, the
        workers are told to drop what is left of the item.
        """
        now = time.monotonic()
        deadline = now + self.request_timeout
        uid = next(self._uids)
        event = asyncio.Event()
        self.response_buffer[uid] = ResponseBufferItem(event=event)
        # The worker continues this request's trace.
        item = WorkItem(pair, texts, deadline, now, tracing.current_context())
        metrics.IN_FLIGHT.inc()
        metrics.QUEUED.inc()
        disconnect = _watch_disconnect(request, event)
        try:
            await self.request_queue.put(self.response_queue_id, Queued(self.response_queue_id, uid, item))
            try:
                async with asyncio.timeout(deadline - now + _DEADLINE_GRACE):
                    while (answered := self.response_buffer[uid].response) is None:
                        await event.wait()
                        event.clear()
                        if disconnect.done() and self.response_buffer[uid].response is None:
                            if _disconnected(disconnect):
                                self.request_queue.cancel(self.response_queue_id, uid)
                                raise JobCancelled("the client closed the request before its answer")
                            disconnect = _watch_disconnect(request, event)
            except TimeoutError:
                self.request_queue.cancel(self.response_queue_id, uid)
                raise DeadlinePassed(
                    f"translation did not finish within the request timeout of {self.request_timeout:g}s"
                ) from None
        finally:
            disconnect.cancel()
            self.response_buffer.pop(uid, None)
            metrics.IN_FLIGHT.dec()
        result, status = answered
        if status != LitAPIStatus.OK or not isinstance(result, WorkResult):
            log.error("inference worker failed on a request: %r", result)
            raise WorkerUnavailable("the inference worker failed on this request; try again")
        if result.error is not None:
            raise result.error
        assert result.translations is not None
        return result.translations


def _watch_disconnect(request: Request, wake: asyncio.Event) -> asyncio.Future[Any]:
    """Wait, in the background, for the next ASGI message and set ``wake`` when it comes.

    Once the body has been read, the next message is the client's disconnect.
    """
    receiving = asyncio.ensure_future(request.receive())
    receiving.add_done_callback(lambda _: wake.set())
    return receiving


def _disconnected(receiving: asyncio.Future[Any]) -> bool:
    if receiving.cancelled():
        return False
    if receiving.exception() is not None:
        return True
    return bool(receiving.result().get("type") == "http.disconnect")


def languages(settings: Settings) -> list[dict[str, Any]]:
    """LibreTranslate's /languages: each source language with its targets."""
    targets: dict[str, list[str]] = {}
    for pair in sorted(pair_sources(settings)):
        source, _, target = pair.partition("-")
        targets.setdefault(source, []).append(target)
    return [
        {"code": code, "name": LANGUAGE_NAMES.get(code, code), "targets": sorted(t)}
        for code, t in sorted(targets.items())
    ]


def format_uptime(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    prefix = f"{days}d " if days else ""
    return f"{prefix}{hours}h {minutes}m {secs}s"


def add_node_routes(
    app: FastAPI,
    server: ls.LitServer,
    settings: Settings,
    status_extras: Callable[[], dict[str, Any]] | None = None,
) -> None:
    """Health, readiness, status, languages and metrics: routes that need no inference worker.

    ``status_extras`` adds keys to /status (it runs in a thread, so it may read files).
    """
    started = time.time()
    language_list = languages(settings)

    def workers_ready() -> tuple[bool, dict[str, str]]:
        statuses = dict(getattr(server, "workers_setup_status", None) or {})
        ready = bool(statuses) and all(v == WorkerSetupStatus.READY for v in statuses.values())
        return ready, {str(k): str(v) for k, v in statuses.items()}

    @app.get("/health")
    async def health() -> dict[str, str]:
        """Liveness: the API server answers."""
        return {"status": "ok"}

    @app.get("/ready")
    async def ready() -> JSONResponse:
        """Readiness: 200 once every inference worker has loaded and warmed its models."""
        ok, statuses = workers_ready()
        return JSONResponse({"ready": ok, "workers": statuses}, status_code=200 if ok else 503)

    @app.get("/languages")
    async def get_languages() -> list[dict[str, Any]]:
        return language_list

    @app.get("/status")
    async def status() -> dict[str, Any]:
        stats = await asyncio.to_thread(MemoryManager.get_instance().get_memory_stats)
        ok, statuses = workers_ready()
        memory = {
            key: stats[key]
            for key in (
                "system_memory_percent",
                "gpu_memory_percent",
                "system_memory_used_gb",
                "gpu_memory_used_gb",
                "system_memory_total_gb",
                "gpu_memory_total_gb",
            )
        }
        memory["process_memory_gb"] = stats["process_memory_gb"]
        body: dict[str, Any] = {
            "status": "healthy" if ok else "starting",
            "uptime": format_uptime(time.time() - started),
            "uptime_seconds": round(time.time() - started, 1),
            "version": __version__,
            "memory": memory,
            "gpu_available": stats["gpu_available"],
            "workers": statuses,
            "pairs": sorted(pair_sources(settings)),
        }
        if not stats["gpu_available"]:
            body["gpu_unavailable_reason"] = stats.get("gpu_unavailable_reason", "no GPU found")
        if status_extras is not None:
            body.update(await asyncio.to_thread(status_extras))
        return body

    @app.get("/metrics")
    async def get_metrics() -> Response:
        stats = await asyncio.to_thread(MemoryManager.get_instance().get_memory_stats)
        metrics.SYSTEM_MEMORY_PERCENT.set(stats["system_memory_percent"])
        metrics.GPU_MEMORY_PERCENT.set(stats["gpu_memory_percent"])
        body, content_type = await asyncio.to_thread(metrics.render)
        return Response(body, media_type=content_type)
