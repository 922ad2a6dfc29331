"""Admin endpoints for language-pair models, in each API server process.

Models live in the inference workers, so the endpoints ask every worker over the control
channel (``ipc.control``; the worker side is ``worker.models``):

- ``GET /admin/models``: every configured pair, its source, whether it is in the model store
  (and its size on disk), and per worker its state (loaded, loading, failed, not_loaded),
  memory and use; under ``pivot_pairs``, each pair served through English with its legs
  (``engine.PivotPair``).
- ``POST /admin/models/{pair}/load``: load (downloading if needed) in every worker; 200 once
  loaded everywhere, 503 with the reason otherwise.
- ``DELETE /admin/models/{pair}``: unload from every worker (the files stay in the store;
  ``udn models rm`` deletes them). 409 if the pair is pinned or serving a request right now.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import Depends, FastAPI

from ...config import Settings
from ...engine import ModelLoadError
from ...errors import PairInUse, PairPinned, UnloadFailed, UnsupportedPair, WorkerUnavailable
from ...models import HubSource, pair_sources, pivot_sources
from ...protocol.admin import admin_guard
from ..ipc.control import ControlChannel
from ..ipc.messages import ControlRequest, DescribeModels, LoadPair, UnloadPair

# Seconds a worker has to describe its models.
_DESCRIBE_TIMEOUT = 10.0


def add_model_admin_routes(app: FastAPI, settings: Settings, channel: ControlChannel) -> None:
    """Register the /admin/models endpoints, guarded by the admin token."""
    guard = [Depends(admin_guard(settings.admin.token))]
    sources = pair_sources(settings)
    pivots = pivot_sources(settings, sources)
    # A load may include a download, which may wait for another process's download first.
    load_timeout = settings.adapters.download_timeout + 30

    def check(pair: str) -> None:
        if pair not in sources:
            listed = ", ".join(sorted(sources)) or "none"
            raise UnsupportedPair(f"language pair {pair!r} is not configured; configured pairs: {listed}")

    async def ask(request: ControlRequest, timeout: float) -> dict[str, dict[str, Any]]:
        """Every worker's reply as JSON (``ok`` plus the result, or ``error``), by worker name."""
        replies = await asyncio.to_thread(channel.broadcast, request, timeout)
        if not replies:
            raise WorkerUnavailable("no inference worker is running yet; try again when /ready answers 200")
        return {name: reply.as_json() for name, reply in replies.items()}

    @app.get("/admin/models", dependencies=guard, include_in_schema=False)
    async def list_models() -> dict[str, Any]:
        """Every configured pair: source, store status and size, and its state in each worker."""
        replies = await ask(DescribeModels(), _DESCRIBE_TIMEOUT)
        pairs: dict[str, dict[str, Any]] = {}
        for pair, source in sorted(sources.items()):
            info: dict[str, Any] = dict(source.describe())
            if isinstance(source, HubSource):
                snapshot = await asyncio.to_thread(source.cached)
                if snapshot is not None:
                    info["disk_bytes"] = await asyncio.to_thread(snapshot.size_bytes)
            info["workers"] = {}
            pairs[pair] = info
        limits: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for worker, reply in replies.items():
            if not reply.get("ok"):
                errors[worker] = str(reply.get("error"))
                continue
            limits = reply.get("limits", limits)
            for pair, state in reply.get("pairs", {}).items():
                if pair in pairs:
                    pairs[pair]["workers"][worker] = _worker_view(state)
        body: dict[str, Any] = {
            "pairs": pairs,
            # Served through English: nothing of their own to load; their legs are in ``pairs``.
            "pivot_pairs": {pair: pivot.describe() for pair, pivot in sorted(pivots.items())},
            "limits": limits,
            "store": str(settings.adapters.dir),
        }
        if errors:
            body["unreachable_workers"] = errors
        return body

    @app.post("/admin/models/{pair}/load", dependencies=guard, include_in_schema=False)
    async def load_model(pair: str) -> dict[str, Any]:
        """Load the pair in every worker (downloading it first if needed)."""
        check(pair)
        replies = await ask(LoadPair(pair), load_timeout)
        failed = {w: str(r.get("error")) for w, r in replies.items() if not r.get("ok")}
        if failed:
            reasons = "; ".join(f"{w}: {e}" for w, e in sorted(failed.items()))
            raise ModelLoadError(
                f"loading {pair} failed in {len(failed)} of {len(replies)} workers: {reasons}"
            )
        return {"pair": pair, "workers": {w: _worker_view(r) for w, r in replies.items()}}

    @app.delete("/admin/models/{pair}", dependencies=guard, include_in_schema=False)
    async def unload_model(pair: str) -> dict[str, Any]:
        """Unload the pair from every worker; its files stay in the model store."""
        check(pair)
        replies = await ask(UnloadPair(pair), _DESCRIBE_TIMEOUT)
        failed = {w: str(r.get("error")) for w, r in replies.items() if not r.get("ok")}
        if failed:
            reasons = "; ".join(f"{w}: {e}" for w, e in sorted(failed.items()))
            raise UnloadFailed(f"unloading {pair} failed: {reasons}")
        results = {w: str(r["result"]) for w, r in replies.items()}
        if "pinned" in results.values():
            raise PairPinned(f"language pair {pair!r} is pinned (adapters.pinned) and is never unloaded")
        if "in_use" in results.values():
            raise PairInUse(f"language pair {pair!r} is serving a request right now; try again")
        return {"pair": pair, "workers": results}


def _worker_view(state: dict[str, Any]) -> dict[str, Any]:
    keys = (
        "state",
        "memory_bytes",
        "load_seconds",
        "idle_seconds",
        "in_use",
        "pinned",
        "loads",
        "error",
        "shared_model",
    )
    return {k: state[k] for k in keys if k in state}
