"""Admin access: every /admin/* endpoint depends on ``require_admin``.

The token comes from ``UDN_ADMIN_TOKEN`` or ``admin.token`` in the config. Without one,
admin endpoints answer 403 and say how to enable them; a wrong or missing token is a 401.
Routes behind a token are declared with ``include_in_schema=False``: the public OpenAPI
document (``/openapi.json``, ``/docs``) never lists them.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable

from fastapi import Depends, FastAPI, Request
from fastapi.routing import APIRoute

from ..errors import AuthenticationRequired, EndpointDisabled


def bearer_token(request: Request) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, if there is one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def admin_guard(token: str | None) -> Callable[[Request], None]:
    """A FastAPI dependency that admits only requests bearing ``token``."""
    expected = token.encode() if token else None

    def require_admin(request: Request) -> None:
        if expected is None:
            raise EndpointDisabled(
                "admin endpoints are disabled; set UDN_ADMIN_TOKEN (or admin.token) to enable them"
            )
        given = bearer_token(request)
        if given is None:
            raise AuthenticationRequired("admin token required: send 'Authorization: Bearer <token>'")
        if not hmac.compare_digest(given.encode(), expected):
            raise AuthenticationRequired("admin token is not valid")

    return require_admin


def guard_route(app: FastAPI, path: str, token: str | None) -> None:
    """Put the route at ``path`` that a library registered (any methods) behind the admin token."""
    for route in list(app.router.routes):
        if isinstance(route, APIRoute) and route.path == path:
            app.router.routes.remove(route)
            app.add_api_route(
                path,
                route.endpoint,
                methods=sorted(route.methods or ()),
                dependencies=[Depends(admin_guard(token))],
                include_in_schema=False,
            )
