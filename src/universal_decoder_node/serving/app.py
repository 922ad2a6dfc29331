"""Assemble the node: the LitServe server, its API and spec, routes, middleware and error mapping."""

from __future__ import annotations

import atexit
import logging
from pathlib import Path
from typing import Any

import litserve as ls

from .. import __version__
from ..config import Settings
from ..models import pair_sources, pivot_sources
from ..protocol.admin import guard_route
from ..protocol.errors import install_error_handlers
from ..utils import tracing
from ..utils.access_log import add_request_logging
from ..utils.header_limit import header_limited_protocol
from ..utils.https_middleware import add_https_middleware
from ..utils.logs import configure_logging, uvicorn_log_options
from ..utils.memory_manager import MemoryManager
from ..utils.request_metrics import RequestMetricsMiddleware
from ..web import add_translation_page
from . import lifetime, metrics
from .http.files import FileRoutes
from .http.libretranslate import add_libretranslate_routes
from .http.model_admin import add_model_admin_routes
from .http.node_routes import add_node_routes
from .http.operations import NodeOperations, add_operations_routes
from .http.translate import TranslationSpec
from .ipc.control import ControlChannel
from .ipc.server import NodeServer
from .registration import registered
from .worker.api import TranslationAPI
from .worker.loop import TranslationLoop

log = logging.getLogger(__name__)

LITSERVE_INFO_PATH = "/_litserve/info"
COUNTED_ENDPOINTS = frozenset(
    {
        *("/translate", "/decode", "/languages", "/health", "/ready", "/status", "/metrics", "/detect"),
        "/translate_file",
    }
)


def build_server(settings: Settings) -> ls.LitServer:
    spec = TranslationSpec(settings)
    # Admin and operations requests reach the models in the inference workers through this channel.
    control = ControlChannel.create()
    atexit.register(control.close)
    api = TranslationAPI(settings, spec=spec, control=control, loop=TranslationLoop())
    server = NodeServer(
        api,
        accelerator="cpu",
        workers_per_device=settings.serving.workers,
        # Deadlines are enforced per request by our spec and worker (serving.worker.api), which
        # answer a clear 504; LitServe's own queue timeout would bypass them.
        timeout=False,
        healthcheck_path="/_litserve/health",
        info_path=LITSERVE_INFO_PATH,
        disable_openapi_url=not settings.serving.docs,
        logging=settings.logging,
        middlewares=[
            (
                RequestMetricsMiddleware,
                {
                    "requests": metrics.REQUESTS,
                    "latency": metrics.REQUEST_LATENCY,
                    "label": _endpoint_label,
                },
            )
        ],
    )
    install_error_handlers(server.app)
    spec.add_routes(server.app)
    ops = NodeOperations(settings, control)
    add_node_routes(server.app, server, settings, status_extras=ops.status_extras)
    add_model_admin_routes(server.app, settings, control)
    add_operations_routes(server.app, ops, settings)
    add_libretranslate_routes(server.app, settings)
    add_translation_page(server.app)
    server.app.router.lifespan_context = ops.lifespan(server.app.router.lifespan_context)
    files = FileRoutes(settings, spec)
    files.add_routes(server.app)
    server.app.router.lifespan_context = files.lifespan(server.app.router.lifespan_context)
    # LitServe's description of the server (devices, workers, timeouts) is for operators.
    guard_route(server.app, LITSERVE_INFO_PATH, settings.admin.token)
    https = settings.https
    # Around the whole app: redirects happen before anything else, every answer has the headers.
    add_https_middleware(
        server.app,
        enforce_https=https.enforce_https,
        https_port=https.https_port,
        exempt_paths=https.exempt_paths,
        trusted_proxies=https.trusted_proxies,
        allowed_hosts=https.allowed_hosts,
    )
    # Outside everything else: ids and access lines for every answer, redirects included.
    add_request_logging(server.app, access_log=settings.logging.access_log)
    tracing.instrument_app(server.app)
    return server


def run(settings: Settings, config_file: Path | None = None, **uvicorn_kwargs: Any) -> None:
    """Start the node and block until it is stopped (Ctrl+C or SIGTERM).

    ``registered`` turns SIGTERM into LitServe's graceful shutdown (LitServe stops its API
    servers, workers and queue manager only on KeyboardInterrupt) and, when a coordinator is
    configured, registers the node and deregisters it first. ``uvicorn_kwargs`` go to uvicorn
    (for example ``ssl_certfile`` and ``ssl_keyfile``); ``config_file``, the file ``settings``
    came from, is named in the start-up line.
    """
    configure_logging(settings)
    scheme = "https" if uvicorn_kwargs.get("ssl_certfile") else "http"
    url = f"{scheme}://{settings.serving.host}:{settings.serving.port}"
    sources = pair_sources(settings)
    log.info(
        "node %s starting on %s: config %s; pairs %s; %d inference worker(s) x %d thread(s), "
        "%d API server(s)",
        __version__,
        url,
        config_file or "(none: defaults and environment)",
        ", ".join(sorted([*sources, *pivot_sources(settings, sources)])) or "(none)",
        settings.serving.workers,
        settings.serving.threads,
        settings.serving.api_servers,
    )
    server = build_server(settings)
    server.on_serving = lambda ready: _log_serving(url, ready)
    # uvicorn trusts X-Forwarded-* from the same proxies as the HTTPS middleware, so both agree.
    uvicorn_kwargs.setdefault("forwarded_allow_ips", list(settings.https.trusted_proxies))
    uvicorn_kwargs.setdefault("http", header_limited_protocol(settings.serving.max_header_bytes))
    # The API servers are forked from this process: frozen here, what they inherit stays out
    # of their collections, so collecting there does not copy the shared pages.
    MemoryManager.get_instance().freeze_startup_objects()
    # The queue manager and the API servers LitServe forks from here on die with this process.
    lifetime.forks_die_with_parent()
    uvicorn_kwargs.update(uvicorn_log_options(settings.logging))
    try:
        with registered(settings, tls=bool(uvicorn_kwargs.get("ssl_certfile"))):
            server.run(
                host=settings.serving.host,
                port=settings.serving.port,
                num_api_servers=settings.serving.api_servers,
                generate_client_file=False,
                **uvicorn_kwargs,
            )
    finally:
        log.info("node on %s stopped", url)


def _log_serving(url: str, ready: bool) -> None:
    if ready:
        log.info("node ready on %s", url)
    else:
        log.info("node accepting connections on %s; ready once every inference worker has loaded", url)


def _endpoint_label(path: str) -> str:
    return path if path in COUNTED_ENDPOINTS else "other"
