"""Client-facing errors and the one place that maps exceptions to HTTP responses.

Every error body is LibreTranslate's shape, ``{"error": "..."}``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from ..engine import (
    DeadlinePassed,
    EngineError,
    JobCancelled,
    ModelLoadError,
    PairLoading,
    UnsupportedPairError,
)
from ..utils.profiler import ProfileExportError

# nginx's status for "the client closed the connection before the answer": nobody reads it,
# but the request metrics count it apart from the server's own failures.
CLIENT_CLOSED_REQUEST = 499


class ClientError(Exception):
    """A request the node refuses, with the HTTP status and a message a person understands."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers


def engine_error_status(exc: EngineError) -> int:
    """The HTTP status for an engine error raised while serving a request."""
    if isinstance(exc, UnsupportedPairError):
        return 400
    if isinstance(exc, (ModelLoadError, PairLoading)):
        return 503
    if isinstance(exc, DeadlinePassed):
        return 504
    if isinstance(exc, JobCancelled):
        return CLIENT_CLOSED_REQUEST
    return 422


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ClientError)
    async def _client_error(_: Request, exc: ClientError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.headers)

    @app.exception_handler(EngineError)
    async def _engine_error(_: Request, exc: EngineError) -> JSONResponse:
        # A pair that is loading will be ready shortly: say when to ask again.
        headers = {"Retry-After": "1"} if isinstance(exc, PairLoading) else None
        return error_response(engine_error_status(exc), str(exc), headers)

    @app.exception_handler(ProfileExportError)
    async def _profile_export_error(_: Request, exc: ProfileExportError) -> JSONResponse:
        # The node's profile_output_dir is not writable: a server-side problem, said plainly.
        return error_response(500, str(exc))

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        return error_response(400, "invalid request: " + "; ".join(parts))

    @app.exception_handler(ClientDisconnect)
    async def _client_gone(_: Request, __: ClientDisconnect) -> Response:
        # The client hung up while sending its body; the server drops this answer unsent.
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette's ServerErrorMiddleware sends this, then re-raises for uvicorn, which logs
        # the traceback: logging it here too would print it twice.
        return error_response(500, "internal error; the node logged the details")
