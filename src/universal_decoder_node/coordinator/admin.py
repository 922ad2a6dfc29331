"""Admin endpoints (``Authorization: Bearer <admin token>``): API keys and node removal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..errors import NotFound
from ..protocol.admin import admin_guard
from .records import KeyRecord
from .service import Coordinator


class NewKey(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field("", max_length=128, description="Who or what the key is for.")
    requests_per_minute: int | None = Field(None, ge=0, description="None: the configured default; 0: none.")
    characters_per_minute: int | None = Field(
        None, ge=0, description="None: the configured default; 0: none."
    )


def public(record: KeyRecord) -> dict[str, Any]:
    """A key as shown to an operator: never its digest."""
    return record.model_dump(exclude={"digest"}) | {"revoked": record.revoked}


def add_admin_routes(app: FastAPI, coordinator: Coordinator, admin_token: str | None) -> None:
    guard = Depends(admin_guard(admin_token))

    @app.post("/admin/keys", dependencies=[guard], include_in_schema=False, status_code=201)
    async def create_key(body: NewKey) -> dict[str, Any]:
        """Create an API key; the answer is the only time the key itself is shown."""
        key, record = await coordinator.keys.create(
            body.name, body.requests_per_minute, body.characters_per_minute
        )
        return {"key": key, **public(record)}

    @app.get("/admin/keys", dependencies=[guard], include_in_schema=False)
    async def list_keys() -> dict[str, Any]:
        return {"keys": [public(k) for k in await coordinator.keys.list_all()]}

    @app.get("/admin/usage", dependencies=[guard], include_in_schema=False)
    async def usage() -> dict[str, Any]:
        """Each key's use of its limits now (weighted over the last minute); revoked keys left out."""
        out = []
        for record in await coordinator.keys.list_all():
            if record.revoked:
                continue
            rpm, cpm = coordinator.limiter.limits_for(record)
            used = await coordinator.limiter.usage(record)
            out.append(
                {
                    "id": record.id,
                    "name": record.name,
                    "requests": round(used.requests, 1),
                    "requests_per_minute": rpm,
                    "characters": round(used.characters),
                    "characters_per_minute": cpm,
                }
            )
        return {"keys": out}

    @app.delete("/admin/keys/{key_id}", dependencies=[guard], include_in_schema=False)
    async def revoke_key(key_id: Annotated[str, Path(max_length=64)]) -> dict[str, Any]:
        """Revoke a key; every coordinator sharing this Redis refuses it from the next request on."""
        record = await coordinator.keys.revoke(key_id)
        if record is None:
            raise NotFound(f"there is no API key with id {key_id!r}")
        return public(record)

    @app.delete("/admin/nodes/{node_id}", dependencies=[guard], include_in_schema=False)
    async def remove_node(node_id: Annotated[str, Path(max_length=128)]) -> JSONResponse:
        """Forget a node now (it comes back if it heartbeats again)."""
        if not await coordinator.registry.deregister(node_id):
            raise NotFound(f"there is no node with id {node_id!r}")
        coordinator.forget(node_id)
        return JSONResponse({"removed": node_id})
