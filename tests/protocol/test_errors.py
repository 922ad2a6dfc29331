"""The one table that maps errors to HTTP statuses (``protocol.errors``), and that nothing else does."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import universal_decoder_node
from tests.support import ROOT
from universal_decoder_node.engine import UnsupportedPairError
from universal_decoder_node.errors import (
    ApiKeyRequired,
    KeyRejected,
    LimitReached,
    NoNodeAvailable,
    RequestExceedsLimit,
    UdnError,
)
from universal_decoder_node.models.errors import NotInStoreError
from universal_decoder_node.protocol.errors import (
    STATUSES,
    headers_of,
    install_error_handlers,
    mapped_class,
    status_of,
)
from universal_decoder_node.utils.profiler import ProfileExportError

SRC = ROOT / "src" / "universal_decoder_node"
# Errors that are the server's own fault, answered 500 with their message on purpose.
MEANT_AS_500 = {ProfileExportError}


def _package_errors() -> set[type[UdnError]]:
    for module in pkgutil.walk_packages(universal_decoder_node.__path__, "universal_decoder_node."):
        importlib.import_module(module.name)

    def walk(cls: type[UdnError]) -> Iterator[type[UdnError]]:
        for sub in cls.__subclasses__():
            yield sub
            yield from walk(sub)

    return {cls for cls in walk(UdnError) if cls.__module__.startswith("universal_decoder_node.")}


def test_every_error_of_the_package_has_a_status() -> None:
    errors = _package_errors()
    assert len(errors) > 30  # the walk found the package's errors, engine's and coordinator's included
    unmapped = sorted(cls.__qualname__ for cls in errors if mapped_class(cls) is None)
    assert not unmapped, f"add these to protocol.errors.STATUSES: {unmapped}"
    answered_500 = {cls for cls in errors if STATUSES[mapped_class(cls)] == 500}  # type: ignore[index]
    assert answered_500 <= MEANT_AS_500


def test_every_error_named_in_errors_py_has_its_own_entry() -> None:
    """A reader finds each of ``errors.py``'s classes in the table by name, not by working out its MRO."""
    missing = sorted(
        cls.__name__
        for cls in _package_errors()
        if cls.__module__ == "universal_decoder_node.errors" and cls not in STATUSES
    )
    assert not missing


@pytest.mark.parametrize(
    ("error", "status"),
    [
        # Each error's own class decides, not a base class listed before it in the MRO.
        (UnsupportedPairError("de-en", ["en-pt"]), 400),
        (ApiKeyRequired("an API key is required"), 401),
        (KeyRejected("API key is not valid"), 403),
        (RequestExceedsLimit("the request has 9 characters"), 413),
        (LimitReached("retry in 3s", 3), 429),
        (NotInStoreError("not in the store"), 503),
        (NoNodeAvailable("no decoder node", 0.2), 503),
    ],
)
def test_an_error_takes_the_status_of_its_nearest_class(error: UdnError, status: int) -> None:
    assert status_of(error) == status


def test_headers_come_from_what_the_error_carries() -> None:
    assert headers_of(ApiKeyRequired("key required")) == {"WWW-Authenticate": "Bearer"}
    assert headers_of(LimitReached("slow down", 7)) == {"Retry-After": "7"}
    assert headers_of(NoNodeAvailable("none", 0.2)) == {"Retry-After": "1"}
    assert headers_of(KeyRejected("API key has been revoked")) is None


class _Unlisted(UdnError):
    """An error nobody gave a status: answered like any unexpected failure, its message kept back."""


def _raising(error: Exception) -> Callable[[], Awaitable[None]]:
    async def endpoint() -> None:
        raise error

    return endpoint


def test_the_handlers_answer_through_the_table() -> None:
    app = FastAPI()
    install_error_handlers(app)
    raised: dict[str, Exception] = {
        "/limit": LimitReached("API key k_1 reached its limit of 1 requests per minute; retry in 5s", 5),
        "/key": ApiKeyRequired("an API key is required"),
        "/unlisted": _Unlisted("a detail for the log only"),
    }
    for path, error in raised.items():
        app.add_api_route(path, _raising(error))
    client = TestClient(app, raise_server_exceptions=False)
    limit = client.get("/limit")
    assert (limit.status_code, limit.headers["Retry-After"]) == (429, "5")
    assert limit.json() == {"error": "API key k_1 reached its limit of 1 requests per minute; retry in 5s"}
    key = client.get("/key")
    assert (key.status_code, key.headers["WWW-Authenticate"]) == (401, "Bearer")
    unlisted = client.get("/unlisted")
    assert unlisted.status_code == 500
    assert unlisted.json() == {"error": "internal error; the node logged the details"}


# Where a status may still be written down outside the table, and why.
ALLOWED: dict[str, str] = {
    # Pure-ASGI middleware in front of the app, below protocol/ in the layering: it answers a bad Host
    # header before any handler runs.
    "utils/https_middleware.py": r"status_code=400",
    # uvicorn's HTTP protocol, below ASGI: the head is too large to hand to the app at all.
    "utils/header_limit.py": r"HTTP/1\.1 431",
}
PICKS_A_STATUS = re.compile(
    r"exception_handler\(|error_response\(|HTTPException\(|status_code\s*=\s*[45]\d\d|HTTP/1\.1 [45]\d\d"
)


def _sources() -> Iterator[tuple[str, Path]]:
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC).as_posix()
        if name != "protocol/errors.py":
            yield name, path


def test_no_module_but_protocol_errors_picks_a_status_for_an_error() -> None:
    found = []
    for name, path in _sources():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            match = PICKS_A_STATUS.search(line)
            if match and not (name in ALLOWED and re.search(ALLOWED[name], line)):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "raise a named error (universal_decoder_node.errors) instead:\n" + "\n".join(found)


def test_no_error_carries_its_own_status() -> None:
    # Statuses are chosen in the table alone; the worker answers with the error itself.
    found = [
        f"{name}:{number}"
        for name, path in _sources()
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if "ClientError" in line
    ]
    assert not found, "raise a named error (universal_decoder_node.errors) instead: " + ", ".join(found)
