"""Stop forwarding a request whose client went away, so that the node drops its work too.

Starlette does not cancel a handler when its client disconnects: without this, the coordinator
would wait for the node's answer (and the node translate all of it) for nobody. Once the request's
body has been read, the next ASGI message is the client's disconnect; when it comes first, the
forwarding is cancelled, which closes the coordinator's connection to the node, and the node,
which watches its own clients the same way (``serving/http/translate.py``), tells its workers to
drop what is left of the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request

from ..errors import ClientGone

T = TypeVar("T")


async def unless_client_leaves(request: Request, work: Awaitable[T]) -> T:
    """``work``'s result; if the client disconnects first, ``work`` is cancelled and ClientGone raised.

    Call it once the request's body has been read.
    """
    task = asyncio.ensure_future(work)
    receiving: asyncio.Future[object] = asyncio.ensure_future(request.receive())
    try:
        while True:
            await asyncio.wait((task, receiving), return_when=asyncio.FIRST_COMPLETED)
            if task.done():
                return task.result()
            if _disconnected(receiving):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise ClientGone("the client closed the request before its answer")
            receiving = asyncio.ensure_future(request.receive())
    finally:
        receiving.cancel()
        task.cancel()


def _disconnected(receiving: asyncio.Future[object]) -> bool:
    if receiving.cancelled():
        return False
    if receiving.exception() is not None:
        return True
    message = receiving.result()
    return isinstance(message, dict) and message.get("type") == "http.disconnect"
