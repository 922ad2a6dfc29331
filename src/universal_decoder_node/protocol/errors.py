"""The one place that maps errors to HTTP answers, for the node and the coordinator alike.

``STATUSES`` gives each error class (``universal_decoder_node.errors``, the engine's) its status; an
error takes the entry of the first class along its MRO that has one. Every error body is
LibreTranslate's shape, ``{"error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

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
    TranslationFailed,
)
from ..errors import (
    AccessDenied,
    ApiKeyRequired,
    AuthenticationRequired,
    BodyTooLarge,
    ClientGone,
    Conflict,
    CorruptDocument,
    EmbeddingsNotSupported,
    EmptyText,
    EndpointDisabled,
    FileTooLarge,
    InvalidField,
    InvalidRequest,
    KeyRejected,
    LimitReached,
    MalformedRequest,
    MissingField,
    NodeUnreachable,
    NoNodeAvailable,
    NotFound,
    PairInUse,
    PairNotServed,
    PairPinned,
    RegistryFull,
    RequestExceedsLimit,
    StateWriteFailed,
    TextTooLong,
    TooManyAlternatives,
    TooManyItems,
    TooManySegments,
    UdnError,
    UnloadFailed,
    UnsupportedFileType,
    UnsupportedFormat,
    UnsupportedMediaType,
    UnsupportedPair,
    UpstreamFailed,
    UpstreamTimeout,
    WorkerUnavailable,
)
from ..utils.profiler import ProfileExportError

# nginx's status for "the client closed the connection before the answer": nobody reads it,
# but the request metrics count it apart from the server's own failures.
CLIENT_CLOSED_REQUEST = 499

STATUSES: Mapping[type[UdnError], int] = {
    # The request as sent.
    InvalidRequest: 400,
    MalformedRequest: 400,
    MissingField: 400,
    InvalidField: 400,
    EmptyText: 400,
    TooManyItems: 400,
    TextTooLong: 400,
    TooManyAlternatives: 400,
    UnsupportedFormat: 400,
    UnsupportedPair: 400,  # engine.UnsupportedPairError too
    PairNotServed: 400,
    TooManySegments: 413,
    BodyTooLarge: 413,
    UnsupportedMediaType: 415,
    EmbeddingsNotSupported: 422,
    UnsupportedFileType: 400,
    CorruptDocument: 400,
    FileTooLarge: 413,
    # Who is asking.
    AuthenticationRequired: 401,
    ApiKeyRequired: 401,
    AccessDenied: 403,
    EndpointDisabled: 403,
    KeyRejected: 403,
    # What the request names.
    NotFound: 404,
    Conflict: 409,
    PairPinned: 409,
    PairInUse: 409,
    RegistryFull: 409,
    # Limits.
    LimitReached: 429,
    RequestExceedsLimit: 413,
    # The engine.
    EngineError: 422,
    TranslationFailed: 422,
    ModelLoadError: 503,  # models.errors' download and store errors too
    PairLoading: 503,
    DeadlinePassed: 504,
    JobCancelled: CLIENT_CLOSED_REQUEST,
    ClientGone: CLIENT_CLOSED_REQUEST,
    # The service's own state.
    WorkerUnavailable: 503,
    UnloadFailed: 503,
    NoNodeAvailable: 503,
    StateWriteFailed: 503,
    UpstreamFailed: 502,
    NodeUnreachable: 502,
    UpstreamTimeout: 504,
    ProfileExportError: 500,  # the node's profile_output_dir is not writable: said plainly
}


def mapped_class(error: type[BaseException]) -> type[UdnError] | None:
    """The class along ``error``'s MRO whose entry in ``STATUSES`` applies, if any."""
    for cls in error.__mro__:
        if cls in STATUSES:
            return cast(type[UdnError], cls)
    return None


def status_of(error: BaseException) -> int:
    """The HTTP status for ``error``: its entry in ``STATUSES``, else 500."""
    mapped = mapped_class(type(error))
    return 500 if mapped is None else STATUSES[mapped]


def headers_of(error: BaseException) -> dict[str, str] | None:
    """The headers an error's answer carries: the challenge of a 401, and when to retry."""
    headers = {}
    if isinstance(error, AuthenticationRequired):
        headers["WWW-Authenticate"] = "Bearer"
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        headers["Retry-After"] = str(retry_after)
    return headers or None


def error_response(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Answer the package's errors, and the web framework's, as ``{"error": "..."}``."""

    @app.exception_handler(UdnError)
    async def _udn_error(_: Request, exc: UdnError) -> JSONResponse:
        if mapped_class(type(exc)) is None:  # tests/protocol/test_errors.py keeps this from happening
            raise exc  # on to the 500 below, which uvicorn logs with its traceback
        return error_response(status_of(exc), str(exc), headers_of(exc))

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
        return _internal_error()


def _internal_error() -> JSONResponse:
    return error_response(500, "internal error; the node logged the details")
