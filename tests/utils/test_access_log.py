"""The access-log middleware in-process: an unexpected error is logged once, with its request id,
and the answer still carries the id; quiet paths go to debug; ``lines=False`` keeps errors only."""

from __future__ import annotations

import logging

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from universal_decoder_node.utils.access_log import add_request_logging

ACCESS = "universal_decoder_node.access"


def app(access_log: bool = True) -> FastAPI:
    made = FastAPI()

    @made.get("/boom")
    def boom() -> None:
        raise RuntimeError("the disk is on fire")

    @made.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    add_request_logging(made, access_log=access_log)
    return made


def test_an_unexpected_error_is_logged_once_with_its_request_id(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO), TestClient(app()) as client:
        response = client.get("/boom", headers={"X-Request-ID": "fire-1"})
    assert response.status_code == 500
    assert response.headers["X-Request-ID"] == "fire-1"
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, [r.getMessage() for r in errors]
    (error,) = errors
    assert error.getMessage() == "unhandled error answering GET /boom"
    assert error.request_id == "fire-1"  # type: ignore[attr-defined]
    assert error.exc_info is not None and "the disk is on fire" in str(error.exc_info[1])
    (line,) = [r for r in caplog.records if r.name == ACCESS and r.levelno == logging.INFO]
    assert line.status == 500 and line.request_id == "fire-1"  # type: ignore[attr-defined]


def test_probes_are_logged_at_debug_only(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger=ACCESS), TestClient(app()) as client:
        assert client.get("/health").status_code == 200
    (line,) = [r for r in caplog.records if r.name == ACCESS]
    assert line.levelno == logging.DEBUG and line.path == "/health"  # type: ignore[attr-defined]


def test_without_access_lines_errors_are_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG), TestClient(app(access_log=False)) as client:
        assert client.get("/health").status_code == 200
        assert client.get("/boom").status_code == 500
    ours = [r for r in caplog.records if r.name == ACCESS]
    assert [r.levelno for r in ours] == [logging.ERROR]
