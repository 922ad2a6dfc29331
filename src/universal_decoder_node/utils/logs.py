"""The one logging set-up of every node and coordinator process: standard ``logging`` to stderr.

``configure_logging`` gives the root logger one handler, text or JSON lines
(python-json-logger), and routes the libraries' own loggers through it: LitServe (which
installs a handler of its own on import and again when it starts serving) and uvicorn
(started with ``log_config=None``, its access log off: ``access_log`` writes ours). Every
line carries the request id of the request it was written for, if any, and passes through
``Redactor``, so no token or API key reaches the log even by mistake.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from ..config import LoggingSettings, Settings
from . import request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s[%(process)d] %(name)s: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(processName)s %(process)d %(message)s"
_JSON_NAMES = {"asctime": "time", "levelname": "level", "name": "logger", "processName": "process_name"}
# Libraries whose INFO lines are noise, or wrong for this service: uvicorn's "running on
# http://0.0.0.0:port" (LitServe binds the socket itself), httpx's line per forwarded request.
_QUIET_LIBRARIES = ("litserve", "uvicorn", "uvicorn.error", "httpx", "httpcore")
REDACTED = "[redacted]"
# Secrets by their shape: an API key (``coordinator.keys``), a bearer credential, a query's api_key.
_SECRET_SHAPES = re.compile(
    r"udn_[A-Za-z0-9_-]{40,}"
    r"|(?<=Bearer )[^\s\"',]+"
    r"|(?<=api_key=)[^\s&\"',]+",
    re.IGNORECASE,
)


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` to a record written while a request is handled (``request_id.current``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            rid = request_id.current()
            if rid is not None:
                record.request_id = rid
        return True


class TextFormatter(logging.Formatter):
    """One readable line; ``request_id=...`` at its end when the line belongs to a request."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        rid = getattr(record, "request_id", None)
        if rid is None:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the line
        return f"{first} request_id={rid}{newline}{rest}"


class Redactor(logging.Formatter):
    """Wraps a formatter: each secret in its output, known or by its shape, becomes ``[redacted]``."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner
        spelled: set[str] = set()
        for secret in secrets:
            if secret:
                spelled.update({secret, json.dumps(secret)[1:-1]})  # as written, and inside JSON
        # Longest first, so a secret containing another is replaced whole.
        self.secrets = sorted(spelled, key=len, reverse=True)

    def format(self, record: logging.LogRecord) -> str:
        return self.redact(self.inner.format(record))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        return _SECRET_SHAPES.sub(REDACTED, text)


def formatter(options: LoggingSettings) -> logging.Formatter:
    if options.format == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields=_JSON_NAMES, datefmt="%Y-%m-%dT%H:%M:%S%z")
    return TextFormatter(TEXT_FORMAT)


def settings_secrets(settings: Settings) -> list[str]:
    """The configured secrets: never written to a log line."""
    candidates = (settings.admin.token, settings.coordinator.node_token, settings.coordinator.state_secret)
    return [secret for secret in candidates if secret]


def configure_logging(settings: Settings) -> None:
    """Send this process's logging to stderr, as ``settings.logging`` says; safe to call again."""
    options = settings.logging
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(Redactor(formatter(options), settings_secrets(settings)))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(options.level.upper())
    logging.captureWarnings(True)
    route_library_logs(options)


def route_library_logs(options: LoggingSettings) -> None:
    """Send LitServe's and uvicorn's loggers through the root handler (they may install their own)."""
    debug = options.level == "debug"
    for name in ("litserve", "uvicorn", "uvicorn.error", "uvicorn.asgi"):
        library = logging.getLogger(name)
        for old in library.handlers[:]:
            library.removeHandler(old)
        library.propagate = True
        library.setLevel(logging.NOTSET)
    for name in _QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    # uvicorn's access log is replaced by ours (``access_log``).
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False


def uvicorn_log_options(options: LoggingSettings) -> dict[str, Any]:
    """The keyword arguments that keep uvicorn from configuring logging its own way."""
    return {
        "log_config": None,
        "access_log": False,
        "log_level": "debug" if options.level == "debug" else "warning",
    }


__all__ = [
    "REDACTED",
    "Redactor",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
    "route_library_logs",
    "settings_secrets",
    "uvicorn_log_options",
]
