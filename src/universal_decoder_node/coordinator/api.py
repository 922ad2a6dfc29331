"""The client API (the same as a node's) and the node registration endpoints.

``POST /translate`` and ``POST /decode`` are validated here exactly as a node validates them
(``protocol.requests``), so bad input gets its 4xx without a round trip, and then forwarded
byte for byte, less the client's ``api_key`` (``client_key``): a JSON body as it came, form
and query-string parameters as JSON. ``source: "auto"`` is detected here (``detected``).
``GET /languages`` lists every pair a live node serves. A client that disconnects before its
answer stops the forwarding, and with it the node's work (``protocol.disconnect``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response

from ..config import Settings
from ..errors import AuthenticationRequired, EndpointDisabled
from ..language_codes import serving_pair
from ..protocol.admin import bearer_token
from ..protocol.disconnect import unless_client_leaves
from ..protocol.requests import AUTO, Limits, parse_decode, parse_translate, read_body
from ..utils import access_log
from .client_key import take_api_key
from .detected import relay_detected
from .proxy import NodeAnswer
from .records import NodeReport
from .service import Coordinator

NodeIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]


def add_client_routes(app: FastAPI, coordinator: Coordinator, settings: Settings) -> None:
    limits = Limits.of(settings.serving)

    @app.post("/translate")
    async def translate(request: Request) -> Response:
        """LibreTranslate's /translate, routed to a node serving the pair."""
        req = await parse_translate(request, limits)
        access_log.note(request.scope, pair=req.pair, characters=sum(len(t) for t in req.texts))
        assert req.params is not None
        keyed = take_api_key(request, req.params)
        await coordinator.admit(keyed.key, sum(len(t) for t in req.texts))
        if req.source == AUTO:
            detected = relay_detected(coordinator, req, req.params.without_credentials(), request.headers)
            return await unless_client_leaves(request, detected)
        headers: Mapping[str, str] = request.headers
        if keyed.content_type is not None:
            headers = {**request.headers, "content-type": keyed.content_type}
        # A regional tag or alias goes to the node serving its language; the node reads it alike.
        pair = serving_pair(req.source, req.target, coordinator.live_pairs()) or req.pair
        relayed = coordinator.relay("/translate", pair, keyed.body, headers)
        return _relayed(await unless_client_leaves(request, relayed))

    @app.post("/decode")
    async def decode(request: Request) -> Response:
        """The binary edge payload, routed to a node serving its pair and passed through."""
        body = await read_body(request, limits.max_body_bytes)
        req = parse_decode(request, body, limits).request
        access_log.note(request.scope, pair=req.pair, characters=sum(len(t) for t in req.texts))
        await coordinator.admit(bearer_token(request), sum(len(t) for t in req.texts))
        pair = serving_pair(req.source, req.target, coordinator.live_pairs()) or req.pair
        return _relayed(
            await unless_client_leaves(request, coordinator.relay("/decode", pair, body, request.headers))
        )

    @app.get("/languages")
    async def languages() -> list[dict[str, Any]]:
        return coordinator.languages()


def _relayed(answer: NodeAnswer) -> Response:
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)


def node_guard(token: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency admitting only nodes that present the node token."""
    expected = token.encode() if token else None

    def require_node_token(request: Request) -> None:
        if expected is None:
            raise EndpointDisabled(
                "node registration is disabled; set UDN_NODE_TOKEN (or coordinator.node_token) to enable it",
            )
        given = bearer_token(request)
        if given is None:
            raise AuthenticationRequired("node token required: send 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(given.encode(), expected):
            raise AuthenticationRequired("node token is not valid")

    return require_node_token


def add_node_routes(app: FastAPI, coordinator: Coordinator) -> None:
    guard = Depends(node_guard(coordinator.config.node_token))

    @app.put("/nodes/{node_id}", dependencies=[guard], include_in_schema=False)
    async def report(node_id: NodeIdPath, body: NodeReport) -> dict[str, float]:
        """Register a node, or take its heartbeat; answers how often to heartbeat."""
        await coordinator.registry.report(node_id, body)
        return {
            "heartbeat_interval": coordinator.config.heartbeat_interval,
            "node_expiry": coordinator.config.node_expiry,
        }

    @app.delete("/nodes/{node_id}", dependencies=[guard], include_in_schema=False)
    async def deregister(node_id: NodeIdPath) -> JSONResponse:
        """A node stopping cleanly: stop routing to it now."""
        known = await coordinator.registry.deregister(node_id)
        coordinator.forget(node_id)
        return JSONResponse({"deregistered": node_id, "was_registered": known})
