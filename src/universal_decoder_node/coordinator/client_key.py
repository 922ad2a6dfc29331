"""The API key a client presents, taken out of its request: checked here, never forwarded to a node.

Clients send the key as LibreTranslate does, as ``api_key`` in the JSON body, the form or the
query string, or as ``Authorization: Bearer <key>``. The coordinator forwards only an allow-list
of headers (so never ``Authorization``) and no query string; the body it forwards holds no
``api_key`` nor ``secret`` (``protocol.params.CREDENTIAL_FIELDS``), so a node, or anything logging
what reaches it, never holds a key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from ..protocol.admin import bearer_token
from ..protocol.params import CREDENTIAL_FIELDS, Params

FIELD = "api_key"
JSON = "application/json"


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """The key a client presented (None if none) and the body to forward, without credentials."""

    key: str | None
    body: bytes
    content_type: str | None = None  # the forwarded body's type when it was re-encoded


def presented_key(request: Request, fields: Mapping[str, Any]) -> str | None:
    """The client's key: its Bearer token, else the ``api_key`` of ``fields`` (body, form or query)."""
    key = bearer_token(request)
    value = fields.get(FIELD)
    if key is None and isinstance(value, str) and value:
        key = value
    return key


def take_api_key(request: Request, params: Params) -> KeyedRequest:
    """The client's key, and the body to forward: as sent if JSON without credentials, else re-encoded."""
    key = presented_key(request, params.fields)
    if params.origin == "json" and not _may_hold_credentials(params.body):
        return KeyedRequest(key, params.body)
    return KeyedRequest(key, encode_json(params.without_credentials()), JSON)


def encode_json(fields: Mapping[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode()


def _may_hold_credentials(body: bytes) -> bool:
    # JSON can spell a name only as itself or with \u escapes: a body holding neither the quoted
    # names nor '\u' has no such field, and is forwarded as it came without encoding it again.
    return b"\\u" in body or any(f'"{name}"'.encode() in body for name in CREDENTIAL_FIELDS)
