"""Noticing that a client went away before its answer, for the node and the coordinator alike.

Starlette does not cancel a handler when its client disconnects. Once the request's body has
been read, the next ASGI message is the client's disconnect: the node watches for it while its
workers translate (``serving/http/translate.py``, with ``disconnected``) and tells them to drop
what is left; the coordinator stops forwarding (``unless_client_leaves``), which closes its
connection to the node, and so the node drops the work too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

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
            if disconnected(receiving):
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                raise ClientGone("the client closed the request before its answer")
            receiving = asyncio.ensure_future(request.receive())
    finally:
        receiving.cancel()
        task.cancel()


def disconnected(receiving: asyncio.Future[Any]) -> bool:
    """Whether a finished ``request.receive()`` says the client is gone (a failed one does too)."""
    if receiving.cancelled():
        return False
    if receiving.exception() is not None:
        return True
    message = receiving.result()
    return isinstance(message, dict) and message.get("type") == "http.disconnect"
