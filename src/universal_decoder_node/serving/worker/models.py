"""The model operations an inference worker answers on its control socket (``ipc.control``).

The admin endpoints that send them live in ``http.model_admin``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...engine import PairRegistry
from ..ipc.control import Handler
from ..ipc.messages import DescribeModels, LoadPair, UnloadIdle, UnloadPair


def worker_handlers(registry: PairRegistry, load_timeout: float) -> dict[type, Handler]:
    """The model operations a worker answers: DescribeModels, LoadPair, UnloadPair and UnloadIdle.

    UnloadIdle is what memory cleanup should send: it frees the least recently used idle
    pairs first and never touches pinned or busy ones.
    """

    def models(_: DescribeModels) -> dict[str, Any]:
        return {"pairs": registry.describe(), "limits": registry.limits()}

    def load(request: LoadPair) -> dict[str, Any]:
        pair = request.pair
        try:
            registry.start_load(pair, retry=True).result(timeout=load_timeout)
        except TimeoutError:
            raise TimeoutError(f"loading {pair} did not finish within {load_timeout:g}s") from None
        return {"pair": pair, **registry.describe()[pair]}

    def unload(request: UnloadPair) -> dict[str, Any]:
        pair = request.pair
        registry.source(pair)
        return {"pair": pair, "result": registry.try_unload(pair)}

    return {
        DescribeModels: models,
        LoadPair: load,
        UnloadPair: unload,
        UnloadIdle: unload_idle_handler(registry),
    }


def unload_idle_handler(registry: PairRegistry) -> Callable[[UnloadIdle], dict[str, Any]]:
    """The UnloadIdle operation: ``{"unloaded": [pairs]}``.

    The one way a worker frees idle models (the memory manager's cleanup hook calls it too):
    least recently used first, never a pinned or busy pair.
    """

    def unload_idle(request: UnloadIdle) -> dict[str, Any]:
        return {"unloaded": registry.unload_idle(keep=request.keep, idle_seconds=request.idle_seconds)}

    return unload_idle
