"""LibreTranslate's ``POST /translate`` and the edge ``POST /decode``, in each API server process.

The handlers parse and validate the request (``protocol.requests``), send one work item to
the inference workers (``ipc.exchange``) and wait for its answer: the translations, or the
worker's error, which the one error table (``protocol.errors``) turns into a status.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from litserve.specs.base import LitSpec

from ...config import Settings
from ...engine import DeadlinePassed, JobCancelled, UnsupportedPairError
from ...language_codes import serving_pair
from ...models import pair_sources, pivot_sources
from ...protocol.detection import Detection, plan_auto
from ...protocol.disconnect import disconnected
from ...protocol.requests import (
    AUTO,
    Limits,
    TranslateRequest,
    encode_msgpack,
    parse_decode,
    parse_translate,
    read_body,
    wants_msgpack,
)
from ...text.markup import translate_html_all
from ...text.protect import needs_protection, translate_protected
from ...utils import access_log, request_id, tracing
from .. import metrics
from ..ipc.exchange import WorkExchange
from ..ipc.messages import WorkItem

# Seconds the API server waits past a request's deadline for the worker's own answer to arrive.
_DEADLINE_GRACE = 0.5


class TranslationSpec(LitSpec):
    """Registers /translate and /decode and sends their validated work to the inference workers.

    A LitServe spec, so that LitServe connects it to the request pipes (``ipc.exchange``).
    """

    def __init__(self, settings: Settings) -> None:
        super().__init__()
        self.api_path = "/translate"
        sources = pair_sources(settings)
        pivots = pivot_sources(settings, sources)
        self.limits = Limits.of(settings.serving, pivots)
        self.request_timeout = settings.serving.request_timeout
        self.pairs = frozenset([*sources, *pivots])
        self.exchange = WorkExchange(self)

    def add_routes(self, app: FastAPI) -> None:
        """Serve ``POST /translate`` and ``POST /decode`` on ``app``.

        Plain Starlette routes rather than LitServe's spec endpoints (FastAPI routes): the
        handlers read the raw request themselves, so FastAPI's per-request dependency solving
        and endpoint machinery would only add cost (docs/performance.md). They are open, like
        every translation endpoint (``/admin`` has its own guard), and not in the generated
        OpenAPI document: their contract is LibreTranslate's, documented in the README.
        """
        app.add_route("/translate", self.translate, methods=["POST"])
        app.add_route("/decode", self.decode, methods=["POST"])

    # LitServe calls these in the worker only when the LitAPI does not define its own.
    def decode_request(self, request: Any, context_kwargs: Any = None) -> Any:
        return request

    def encode_response(self, output: Any, context_kwargs: Any = None) -> Any:
        return output

    async def translate(self, request: Request) -> JSONResponse:
        """LibreTranslate-compatible translation of a string or a list of strings.

        With ``alternatives``, the answer has LibreTranslate's ``alternatives`` too: a list
        of other translations (a list of such lists for a list of texts), empty where the
        engine gives none.
        """
        req = await parse_translate(request, self.limits)
        access_log.note(request.scope, pair=req.pair, characters=sum(len(text) for text in req.texts))
        detected: list[Detection] | None = None
        if req.source == AUTO:
            translations, alternatives, detected = await self._translate_detected(req, request)
        else:
            pair = self.served_pair(req.source, req.target)
            translations, alternatives = await self._translate_pair(pair, req.texts, req, request)
        answer: dict[str, Any] = {"translatedText": translations[0] if req.single else translations}
        if req.alternatives > 0:
            answer["alternatives"] = alternatives[0] if req.single else alternatives
        if detected is not None:
            found = [d.as_json() for d in detected]
            answer["detectedLanguage"] = found[0] if req.single else found
        return JSONResponse(answer)

    async def _translate_detected(
        self, req: TranslateRequest, request: Request
    ) -> tuple[list[str], list[list[str]], list[Detection]]:
        """``source: "auto"``: each text from the language detected in it; any in the target kept as is."""
        plan = plan_auto(req.texts, req.target, self.pairs)
        translations = list(req.texts)
        alternatives: list[list[str]] = [[] for _ in req.texts]
        # One group after another: mixed lists are rare, and each item watches the one connection.
        for pair, indices in plan.groups.items():
            done, others = await self._translate_pair(pair, [req.texts[i] for i in indices], req, request)
            for i, text, more in zip(indices, done, others, strict=True):
                translations[i], alternatives[i] = text, more
        return translations, alternatives, plan.detections

    async def decode(self, request: Request) -> Response:
        """The binary edge payload: an LZ4 frame of a MessagePack map."""
        body = await read_body(request, self.limits.max_body_bytes)
        dec = parse_decode(request, body, self.limits)
        req = dec.request
        access_log.note(request.scope, pair=req.pair, characters=sum(len(text) for text in req.texts))
        translations, _ = await self.submit(self.served_pair(req.source, req.target), req.texts, request)
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

    async def _translate_pair(
        self, pair: str, texts: list[str], req: TranslateRequest, request: Request
    ) -> tuple[list[str], list[list[str]]]:
        """``texts`` translated with the served ``pair``, as ``req`` asks, and each one's alternatives.

        The one step between a parsed ``/translate`` and ``submit``, for a named source and for
        each detected group alike: HTML, and text with spans to protect (``text``), go around
        the engine (``_translate_around``), with no alternatives.
        """
        source = pair.partition("-")[0]
        if req.format == "html" or needs_protection(texts, source):
            translations = await self._translate_around(pair, texts, req.format, request)
            return translations, [[] for _ in translations]
        return await self.submit(pair, texts, request, req.alternatives)

    async def _translate_around(self, pair: str, texts: list[str], fmt: str, request: Request) -> list[str]:
        """Translate HTML, or text with protected spans (``text``): only their text reaches the engine.

        The limits were checked on what the client sent; the work items here carry parts of it,
        all under the request's one deadline. Their alternatives are not asked for: they would
        not have the protected spans back.
        """
        deadline = time.monotonic() + self.request_timeout
        source = pair.partition("-")[0]

        async def translate(parts: list[str]) -> list[str]:
            return (await self.submit(pair, parts, request, deadline=deadline))[0]

        if fmt == "html":
            return await translate_html_all(texts, translate, source)
        return await translate_protected(texts, translate, source)

    def served_pair(self, source: str, target: str) -> str:
        """The served pair for ``source`` and ``target`` (regional tags, LibreTranslate's aliases)."""
        pair = serving_pair(source, target, self.pairs)
        if pair is None:
            raise UnsupportedPairError(f"{source}-{target}", sorted(self.pairs))
        return pair

    async def submit(
        self,
        pair: str,
        texts: list[str],
        request: Request,
        alternatives: int = 0,
        *,
        deadline: float | None = None,
    ) -> tuple[list[str], list[list[str]]]:
        """Queue one work item and wait: its translations and each text's alternatives; raises its error.

        Each text's alternatives: up to ``alternatives`` other translations (empty lists when
        the item asks for none or the engine gives none).

        A pair that is still loading keeps the item waiting in the worker, until its
        deadline at most. If the client disconnects first, or the deadline passes, the
        workers are told to drop what is left of the item. ``deadline`` (``time.monotonic()``):
        the request's, when it sends several items; else ``request_timeout`` from now.
        """
        now = time.monotonic()
        if deadline is None:
            deadline = now + self.request_timeout
        # The worker continues this request's trace.
        item = WorkItem(
            pair, texts, deadline, now, tracing.current_context(), alternatives, request_id.current() or ""
        )
        metrics.QUEUED.inc()  # the worker takes it off when it admits the item
        try:
            pending = await self.exchange.send(item)
        except BaseException:
            metrics.QUEUED.dec()
            raise
        metrics.IN_FLIGHT.inc()
        disconnect = _watch_disconnect(request, pending.arrived)
        try:
            async with asyncio.timeout(deadline - now + _DEADLINE_GRACE):
                while (result := pending.result()) is None:
                    await pending.arrived.wait()
                    pending.arrived.clear()
                    if disconnect.done() and pending.result() is None:
                        if disconnected(disconnect):
                            pending.cancel()
                            raise JobCancelled("the client closed the request before its answer")
                        disconnect = _watch_disconnect(request, pending.arrived)
        except TimeoutError:
            pending.cancel()
            raise DeadlinePassed(
                f"translation did not finish within the request timeout of {self.request_timeout:g}s"
            ) from None
        finally:
            disconnect.cancel()
            pending.close()
            metrics.IN_FLIGHT.dec()
        if result.error is not None:
            raise result.error
        assert result.translations is not None
        return result.translations, result.alternatives or [[] for _ in result.translations]


def _watch_disconnect(request: Request, wake: asyncio.Event) -> asyncio.Future[Any]:
    """Wait, in the background, for the next ASGI message and set ``wake`` when it comes.

    Once the body has been read, the next message is the client's disconnect.
    """
    receiving = asyncio.ensure_future(request.receive())
    receiving.add_done_callback(lambda _: wake.set())
    return receiving
