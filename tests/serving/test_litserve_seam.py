"""The LitServe internals the node's own transport relies on: an upgrade that changes one fails here.

The node keeps LitServe's server, ``LitAPI`` and worker processes, and replaces its queues
(``serving.ipc``): ``NodeServer`` overrides ``LitServer._init_manager`` (and
``_register_internal_endpoints``, to drop LitServe's ``/``); ``WorkExchange`` uses the
``response_buffer``, ``request_queue`` and ``response_queue_id`` LitServe sets on a spec;
``TranslationLoop.run`` is called by LitServe's worker entry; and the answers it sends are
read by LitServe's ``response_queue_to_buffer``.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import litserve
from litserve import server as litserve_server
from litserve.loops.base import LitLoop
from litserve.specs.base import LitSpec
from litserve.utils import LitAPIStatus, ResponseBufferItem

from universal_decoder_node.serving.ipc.messages import WorkResult
from universal_decoder_node.serving.ipc.pipes import AnswerPipes, answer_frame
from universal_decoder_node.serving.ipc.server import NodeServer
from universal_decoder_node.serving.worker.loop import TranslationLoop


def test_init_manager_is_where_litserve_creates_its_queues_and_transport() -> None:
    hook = litserve.LitServer._init_manager
    assert list(inspect.signature(hook).parameters) == ["self", "num_api_servers"]
    source = inspect.getsource(hook)
    assert "self.litapi_request_queues[" in source and "self._transport =" in source
    assert NodeServer._init_manager is not hook  # the node's override is still in place
    assert "self._init_manager(" in inspect.getsource(litserve.LitServer.run)


def test_a_spec_is_handed_the_response_buffer_request_queue_and_its_api_server_id() -> None:
    class Server:
        response_buffer: dict[int, Any] = {}
        data_streamer = None

        def _get_request_queue(self, path: str) -> tuple[str, str]:
            return ("queue of", path)

    spec = LitSpec()
    spec.api_path = "/translate"
    server = Server()
    spec.setup(server)  # type: ignore[arg-type]
    assert spec.response_buffer is server.response_buffer
    assert spec.request_queue == ("queue of", "/translate")
    assert "lit_api.spec.response_queue_id = response_queue_id" in inspect.getsource(
        litserve.LitServer._start_server
    )


def test_litserve_calls_the_loop_with_the_arguments_translation_loop_takes() -> None:
    expected = [
        "self",
        "lit_api",
        "device",
        "worker_id",
        "request_queue",
        "transport",
        "workers_setup_status",
        "callback_runner",
    ]
    assert list(inspect.signature(LitLoop.run).parameters) == expected
    assert list(inspect.signature(TranslationLoop.run).parameters) == expected


def test_an_answer_sent_as_the_loop_sends_it_reaches_the_waiting_request() -> None:
    # The real answer pipe, written as a worker writes it, read by LitServe's own reader task.
    class Connector:
        lit_apis = [object()]

        def any_stream(self) -> bool:
            return False

    async def exchange() -> ResponseBufferItem:
        pipes = AnswerPipes(1)
        buffer = {7: ResponseBufferItem(event=asyncio.Event())}
        reader = asyncio.create_task(litserve_server.response_queue_to_buffer(pipes, buffer, 0, Connector()))  # type: ignore[arg-type]
        pipes.send(answer_frame(7, WorkResult(translations=["Olá."]), 0), consumer_id=0)
        try:
            await asyncio.wait_for(buffer[7].event.wait(), 10)
        finally:
            reader.cancel()
        return buffer[7]

    item = asyncio.run(exchange())
    assert list(item.response) == [WorkResult(translations=["Olá."]), LitAPIStatus.OK]


def test_litserve_registers_its_index_where_the_node_drops_it() -> None:
    hook = litserve.LitServer._register_internal_endpoints
    assert '@self.app.get("/"' in inspect.getsource(hook)
    assert "self._register_internal_endpoints()" in inspect.getsource(litserve.LitServer.register_endpoints)
    assert NodeServer._register_internal_endpoints is not hook  # the node's override is still in place
