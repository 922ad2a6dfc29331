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
from ...models import pair_sources, pivot_sources
from ...protocol.requests import (
    Limits,
    TranslateRequest,
    encode_msgpack,
    parse_decode,
    parse_translate,
    read_body,
    wants_msgpack,
)
from ...text.markup import translate_html
from ...text.protect import needs_protection, translate_protected
from ...utils import tracing
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
        self._check_pair(req.pair)
        if req.format == "html" or needs_protection(req.texts, req.source):
            translations = await self._translate_around(req, request)
            alternatives: list[list[str]] = [[] for _ in translations]
        else:
            translations, alternatives = await self.submit(req.pair, req.texts, request, req.alternatives)
        answer: dict[str, Any] = {"translatedText": translations[0] if req.single else translations}
        if req.alternatives > 0:
            answer["alternatives"] = alternatives[0] if req.single else alternatives
        return JSONResponse(answer)

    async def decode(self, request: Request) -> Response:
        """The binary edge payload: an LZ4 frame of a MessagePack map."""
        body = await read_body(request, self.limits.max_body_bytes)
        dec = parse_decode(request, body, self.limits)
        req = dec.request
        self._check_pair(req.pair)
        translations, _ = await self.submit(req.pair, req.texts, request)
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

    async def _translate_around(self, req: TranslateRequest, request: Request) -> list[str]:
        """Translate HTML, or text with protected spans (``text``): only their text reaches the engine.

        The limits were checked on what the client sent; the work items here carry parts of it.
        Their alternatives are not asked for: they would not have the protected spans back.
        """

        async def translate(texts: list[str]) -> list[str]:
            return (await self.submit(req.pair, texts, request))[0]

        if req.format == "html":
            return list(await asyncio.gather(*(translate_html(t, translate, req.source) for t in req.texts)))
        return await translate_protected(req.texts, translate, req.source)

    def _check_pair(self, pair: str) -> None:
        self.check_pair(pair)

    def check_pair(self, pair: str) -> None:
        """Raises UnsupportedPairError, listing the pairs served, for a pair this node does not serve."""
        if pair not in self.pairs:
            raise UnsupportedPairError(pair, sorted(self.pairs))

    async def submit(
        self,
        pair: str,
        texts: list[str],
        request: Request,
        alternatives: int = 0,
        deadline: float | None = None,
    ) -> tuple[list[str], list[list[str]]]:
        """Queue one work item and wait: its translations and each text's alternatives; raises its error.

        Each text's alternatives: up to ``alternatives`` other translations (empty lists when
        the item asks for none or the engine gives none).

        A pair that is still loading keeps the item waiting in the worker, until its
        deadline at most. If the client disconnects first, or the deadline passes, the
        workers are told to drop what is left of the item. ``deadline`` (``time.monotonic``'s
        clock): the request's, when it sends several items; by default ``request_timeout`` from now.
        """
        now = time.monotonic()
        if deadline is None:
            deadline = now + self.request_timeout
        # The worker continues this request's trace.
        item = WorkItem(pair, texts, deadline, now, tracing.current_context(), alternatives)
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
                        if _disconnected(disconnect):
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


def _disconnected(receiving: asyncio.Future[Any]) -> bool:
    if receiving.cancelled():
        return False
    if receiving.exception() is not None:
        return True
    return bool(receiving.result().get("type") == "http.disconnect")
