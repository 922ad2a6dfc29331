"""Assemble the coordinator: a FastAPI app served by uvicorn, its routes, and its error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..config import Settings
from ..protocol.errors import error_response, install_error_handlers
from ..utils.header_limit import header_limited_protocol
from ..utils.https_middleware import add_https_middleware
from ..utils.request_metrics import RequestMetricsMiddleware
from . import metrics
from .admin import add_admin_routes
from .api import add_client_routes, add_node_routes
from .keys import KeyRejected
from .overview import add_operator_routes
from .proxy import UpstreamFailed
from .registry import RegistryFull
from .request_metrics import endpoint_label
from .routing import NoNodeAvailable, PairNotServed
from .service import Coordinator, LimitReached
from .snapshot import SnapshotError, SnapshotUntrusted, read_snapshot
from .state import StateWriteFailed

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The coordinator's ASGI app; its lifespan loads state and starts background work."""
    coordinator = Coordinator(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await coordinator.start()
        try:
            yield
        finally:
            await coordinator.stop()

    app = FastAPI(
        title="universal-decoder-node coordinator",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.serving.docs else None,
    )
    app.state.coordinator = coordinator
    app.add_middleware(
        RequestMetricsMiddleware,
        requests=metrics.REQUESTS,
        latency=metrics.REQUEST_LATENCY,
        label=endpoint_label,
    )
    install_error_handlers(app)
    install_coordinator_error_handlers(app)
    add_client_routes(app, coordinator, settings)
    add_node_routes(app, coordinator)
    add_admin_routes(app, coordinator, settings.admin.token)
    add_operator_routes(app, coordinator)
    https = settings.https
    add_https_middleware(
        app,
        enforce_https=https.enforce_https,
        https_port=https.https_port,
        exempt_paths=https.exempt_paths,
        trusted_proxies=https.trusted_proxies,
        allowed_hosts=https.allowed_hosts,
    )
    return app


def install_coordinator_error_handlers(app: FastAPI) -> None:
    """The one place the coordinator's own exceptions become HTTP answers."""

    @app.exception_handler(NoNodeAvailable)
    async def _no_node(_: Request, exc: NoNodeAvailable) -> JSONResponse:
        metrics.NO_NODE.inc()
        return error_response(503, str(exc), {"Retry-After": str(exc.retry_after)})

    @app.exception_handler(PairNotServed)
    async def _pair(_: Request, exc: PairNotServed) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(UpstreamFailed)
    async def _upstream(_: Request, exc: UpstreamFailed) -> JSONResponse:
        return error_response(exc.status, exc.message)

    @app.exception_handler(KeyRejected)
    async def _key(_: Request, exc: KeyRejected) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return error_response(exc.status, exc.message, headers)

    @app.exception_handler(LimitReached)
    async def _limit(_: Request, exc: LimitReached) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else None
        return error_response(exc.status, exc.message, headers)

    @app.exception_handler(StateWriteFailed)
    async def _not_persisted(_: Request, exc: StateWriteFailed) -> JSONResponse:
        return error_response(503, str(exc))

    @app.exception_handler(RegistryFull)
    async def _full(_: Request, exc: RegistryFull) -> JSONResponse:
        return error_response(409, str(exc))


def run(settings: Settings) -> None:
    """Serve the coordinator until stopped (SIGINT or SIGTERM: the state file is written on the way out).

    Raises SnapshotUntrusted, before serving anything, when the state file's signature fails.
    """
    config = settings.coordinator
    try:  # an untrusted state file stops the start here, with its message, not inside the server
        read_snapshot(config.state_file, config.state_secret)
    except SnapshotUntrusted:
        raise
    except SnapshotError:
        pass  # damaged: the store sets it aside when it starts, as documented
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one INFO line per forwarded request
    if not config.node_token:
        log.warning("no node token (UDN_NODE_TOKEN): nodes cannot register with this coordinator")
    where = f"Redis {config.redis_url}" if config.redis_url else "the state file alone (no REDIS_URL)"
    log.info(
        "coordinator on http://%s:%d; state in %s, mirrored to %s every %gs",
        config.host,
        config.port,
        where,
        config.state_file,
        config.mirror_interval,
    )
    uvicorn.run(
        build_app(settings),
        host=config.host,
        port=config.port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        http=header_limited_protocol(settings.serving.max_header_bytes),
        # uvicorn trusts X-Forwarded-* from the same proxies as the HTTPS middleware.
        forwarded_allow_ips=list(settings.https.trusted_proxies),
    )
