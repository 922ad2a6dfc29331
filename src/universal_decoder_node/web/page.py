"""``GET /`` and its two assets, read once from the package; nothing else is served from disk.

The page talks to the server's own API only (``/frontend/settings``, ``/languages``,
``/translate``, ``/translate_file``), so its Content-Security-Policy allows nothing but 'self'.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from ..errors import NotFound

# No inline script or style, no other origin, no frames, no plugins; forms post only here.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_STATIC = files(__package__).joinpath("static")
_ASSETS = {
    "app.js": "text/javascript; charset=utf-8",
    "style.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
# Where the page's navigation links the operator dashboard (the coordinator's page only).
_DASHBOARD_SLOT = "<!-- dashboard link -->"


def add_translation_page(app: FastAPI, *, dashboard: str | None = None) -> None:
    """Serve the page at ``/`` and its assets under ``/static/``; ``dashboard``: a path to link to."""
    html = _STATIC.joinpath("index.html").read_text(encoding="utf-8")
    link = f'<a href="{dashboard}" id="dashboard-link">Dashboard</a>' if dashboard else ""
    page = html.replace(_DASHBOARD_SLOT, link).encode()
    assets = {name: (_STATIC.joinpath(name).read_bytes(), media) for name, media in _ASSETS.items()}
    headers = {"Content-Security-Policy": CONTENT_SECURITY_POLICY, "Cache-Control": "no-cache"}

    async def index(_: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers=headers)

    async def asset(request: Request) -> Response:
        found = assets.get(request.path_params["name"])
        if found is None:
            raise NotFound(
                f"no page asset {request.path_params['name'][:100]!r}: there are {', '.join(assets)}"
            )
        body, media = found
        return Response(body, media_type=media, headers=headers)

    app.add_route("/", index, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/static/{name}", asset, methods=["GET", "HEAD"], include_in_schema=False)
