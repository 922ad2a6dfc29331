"""Assemble the node: the LitServe server, its API and spec, routes, middleware and error mapping."""

from __future__ import annotations

import logging
import shutil
import signal
from pathlib import Path
from typing import Any

import litserve as ls

from ..config import Settings
from ..utils import tracing
from ..utils.https_middleware import add_https_middleware
from .api import TranslationAPI
from .errors import install_error_handlers
from .operations import NodeOperations, add_operations_routes
from .request_metrics import RequestMetricsMiddleware
from .routes import TranslationSpec, add_node_routes
from .worker_channel import make_run_dir

log = logging.getLogger(__name__)

COUNTED_ENDPOINTS = frozenset(
    {"/translate", "/decode", "/languages", "/health", "/ready", "/status", "/metrics"}
)


def build_server(settings: Settings, run_dir: Path | None = None) -> ls.LitServer:
    """The node's LitServer; ``run_dir`` is its control-channel directory (created if not given)."""
    run_dir = run_dir or make_run_dir()
    spec = TranslationSpec(settings)
    api = TranslationAPI(settings, spec=spec, run_dir=run_dir)
    server = ls.LitServer(
        api,
        accelerator="cpu",
        workers_per_device=settings.serving.workers,
        # Deadlines are enforced per request by our spec and worker (serving.api), which
        # answer a clear 504; LitServe's own queue timeout would bypass them.
        timeout=False,
        healthcheck_path="/_litserve/health",
        info_path="/_litserve/info",
        middlewares=[(RequestMetricsMiddleware, {"endpoints": COUNTED_ENDPOINTS})],
    )
    install_error_handlers(server.app)
    ops = NodeOperations(settings, run_dir)
    add_node_routes(server.app, server, settings, status_extras=ops.status_extras)
    add_operations_routes(server.app, ops, settings)
    server.app.router.lifespan_context = ops.lifespan(server.app.router.lifespan_context)
    https = settings.https
    # Added last, so it is the outermost middleware: redirects happen before anything else.
    add_https_middleware(
        server.app,
        enforce_https=https.enforce_https,
        https_port=https.https_port,
        exempt_paths=https.exempt_paths,
        trusted_proxies=https.trusted_proxies,
        allowed_hosts=https.allowed_hosts,
    )
    tracing.instrument_app(server.app)
    return server


def run(settings: Settings, **uvicorn_kwargs: Any) -> None:
    """Start the node and block until it is stopped.

    ``uvicorn_kwargs`` go to uvicorn (for example ``ssl_certfile`` and ``ssl_keyfile``).
    """
    run_dir = make_run_dir()
    server = build_server(settings, run_dir)
    # uvicorn trusts X-Forwarded-* from the same proxies as the HTTPS middleware, so both agree.
    uvicorn_kwargs.setdefault("forwarded_allow_ips", list(settings.https.trusted_proxies))
    # LitServe shuts its API servers, workers and manager down on KeyboardInterrupt only; a
    # plain SIGTERM (docker stop, Kubernetes) would kill this process and orphan them.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.run(
            host=settings.serving.host,
            port=settings.serving.port,
            num_api_servers=settings.serving.api_servers,
            generate_client_file=False,
            log_level="warning",
            **uvicorn_kwargs,
        )
    finally:
        signal.signal(signal.SIGTERM, previous)
        shutil.rmtree(run_dir, ignore_errors=True)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
