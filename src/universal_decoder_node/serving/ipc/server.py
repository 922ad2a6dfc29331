"""LitServe's server with the node's pipes in place of its manager queues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import litserve as ls
from litserve.utils import WorkerSetupStatus

from ...config import LoggingSettings
from ...utils.logs import route_library_logs
from .pipes import AnswerPipes, RequestPipes


class NodeServer(ls.LitServer):
    """LitServer with requests and answers over pipes (``ipc.pipes``), not manager queues.

    ``_init_manager`` is where LitServe creates its queues and transport; the manager itself
    stays, for LitServe's worker status dictionary and shutdown event. It runs in ``run``
    after LitServe has given its logger a handler of its own, and before any child starts,
    so it is also where LitServe's logs are sent back through the node's (``utils.logs``).
    ``on_serving(ready)`` is called once the API servers are started: ``ready`` when every
    inference worker has loaded its models by then. LitServe's own answer at ``/`` is dropped:
    the node's translation page is served there.
    """

    on_serving: Callable[[bool], None] | None = None

    def __init__(self, *args: Any, logging: LoggingSettings | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.logging = logging

    def _register_internal_endpoints(self) -> None:
        super()._register_internal_endpoints()
        self.app.router.routes[:] = [
            route for route in self.app.router.routes if getattr(route, "path", None) != "/"
        ]

    def _init_manager(self, num_api_servers: int) -> Any:
        if self.logging is not None:
            route_library_logs(self.logging)
        manager = super()._init_manager(num_api_servers)
        for path in self.litapi_request_queues:
            self.litapi_request_queues[path] = RequestPipes(num_api_servers)
        self._transport = AnswerPipes(num_api_servers)
        return manager

    def _start_server(self, *args: Any, **kwargs: Any) -> Any:
        workers = super()._start_server(*args, **kwargs)
        if self.on_serving is not None:
            statuses = dict(self.workers_setup_status)
            self.on_serving(bool(statuses) and all(v == WorkerSetupStatus.READY for v in statuses.values()))
        return workers
