"""Assemble the coordinator: a FastAPI app served by uvicorn and its routes.

Its errors are answered by ``protocol.errors``, the table the node uses too.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from .. import __version__
from ..config import Settings
from ..protocol.errors import install_error_handlers
from ..utils.access_log import add_request_logging
from ..utils.header_limit import header_limited_protocol
from ..utils.https_middleware import add_https_middleware
from ..utils.logs import configure_logging, uvicorn_log_options
from ..utils.request_metrics import RequestMetricsMiddleware
from ..web import add_translation_page
from . import metrics
from .admin import add_admin_routes
from .api import add_client_routes, add_node_routes
from .files import add_file_routes
from .libretranslate import add_libretranslate_routes
from .overview import add_operator_routes
from .request_metrics import endpoint_label
from .service import Coordinator
from .snapshot import SnapshotError, SnapshotUntrusted, read_snapshot

log = logging.getLogger(__name__)


def build_app(settings: Settings) -> FastAPI:
    """The coordinator's ASGI app; its lifespan loads state and starts background work."""
    coordinator = Coordinator(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await coordinator.start()
        log.info("coordinator ready: %d node(s) known", len(coordinator.registry.live_nodes()))
        try:
            yield
        finally:
            log.info("coordinator stopping: writing its state file")
            await coordinator.stop()
            log.info("coordinator stopped")

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
    add_client_routes(app, coordinator, settings)
    add_file_routes(app, coordinator, settings)
    add_node_routes(app, coordinator)
    add_admin_routes(app, coordinator, settings.admin.token)
    add_operator_routes(app, coordinator)
    add_libretranslate_routes(app, coordinator, settings)
    add_translation_page(app, dashboard="/dashboard")
    https = settings.https
    add_https_middleware(
        app,
        enforce_https=https.enforce_https,
        https_port=https.https_port,
        exempt_paths=https.exempt_paths,
        trusted_proxies=https.trusted_proxies,
        allowed_hosts=https.allowed_hosts,
    )
    add_request_logging(app, access_log=settings.logging.access_log, quiet=_is_heartbeat)
    return app


def _is_heartbeat(method: str, path: str) -> bool:
    # A node reports every heartbeat_interval; its registration and departure have lines of their own.
    return method == "PUT" and path.startswith("/nodes/")


def run(settings: Settings, config_file: Path | None = None) -> None:
    """Serve the coordinator until stopped (SIGINT or SIGTERM: the state file is written on the way out).

    Raises SnapshotUntrusted, before serving anything, when the state file's signature fails.
    ``config_file``, the file ``settings`` came from, is named in the start-up line.
    """
    config = settings.coordinator
    try:  # an untrusted state file stops the start here, with its message, not inside the server
        read_snapshot(config.state_file, config.state_secret)
    except SnapshotUntrusted:
        raise
    except SnapshotError:
        pass  # damaged: the store sets it aside when it starts, as documented
    configure_logging(settings)
    if not config.node_token:
        log.warning("no node token (UDN_NODE_TOKEN): nodes cannot register with this coordinator")
    where = f"Redis {config.redis_url}" if config.redis_url else "the state file alone (no REDIS_URL)"
    log.info(
        "coordinator %s starting on http://%s:%d: config %s; state in %s, mirrored to %s every %gs",
        __version__,
        config.host,
        config.port,
        config_file or "(none: defaults and environment)",
        where,
        config.state_file,
        config.mirror_interval,
    )
    uvicorn.run(
        build_app(settings),
        host=config.host,
        port=config.port,
        **uvicorn_log_options(settings.logging),
        lifespan="on",
        http=header_limited_protocol(settings.serving.max_header_bytes),
        # uvicorn trusts X-Forwarded-* from the same proxies as the HTTPS middleware.
        forwarded_allow_ips=list(settings.https.trusted_proxies),
    )
