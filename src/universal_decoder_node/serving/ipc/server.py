"""LitServe's server with the node's pipes in place of its manager queues."""

from __future__ import annotations

from typing import Any

import litserve as ls

from .pipes import AnswerPipes, RequestPipes


class NodeServer(ls.LitServer):
    """LitServer with requests and answers over pipes (``ipc.pipes``), not manager queues.

    ``_init_manager`` is where LitServe creates its queues and transport; the manager itself
    stays, for LitServe's worker status dictionary and shutdown event.
    """

    def _init_manager(self, num_api_servers: int) -> Any:
        manager = super()._init_manager(num_api_servers)
        for path in self.litapi_request_queues:
            self.litapi_request_queues[path] = RequestPipes(num_api_servers)
        self._transport = AnswerPipes(num_api_servers)
        return manager
