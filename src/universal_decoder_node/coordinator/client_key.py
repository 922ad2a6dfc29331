"""The API key a client presents, taken out of its request: checked here, never forwarded to a node.

Clients send the key as LibreTranslate does, in the ``api_key`` field of the JSON or form body or
in the query string, or as ``Authorization: Bearer <key>``. The coordinator forwards only an
allow-list of headers (so never ``Authorization``) and no query string; this module removes
``api_key`` from the body, so a node, or anything logging what reaches it, never holds a key.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.requests import Request

from ..errors import MalformedRequest
from ..protocol.admin import bearer_token

FIELD = "api_key"
FORM_URLENCODED = "application/x-www-form-urlencoded"


@dataclass(frozen=True, slots=True)
class KeyedRequest:
    """The key a client presented (None if none) and the body to forward, without ``api_key``."""

    key: str | None
    body: bytes
    content_type: str | None = None  # the forwarded body's type when it was re-encoded


async def take_api_key(request: Request, body: bytes, is_form: bool) -> KeyedRequest:
    """Find the client's key (Bearer token, else body field, else query) and strip it from ``body``.

    ``body`` is the request body already read and validated as a ``/translate`` request. Raises
    MalformedRequest if a JSON body cannot be parsed again, rather than forward it unstripped.
    """
    if is_form:
        field, body, content_type = await _strip_form(request, body)
    else:
        field, body = _strip_json(body)
        content_type = None
    key = bearer_token(request)
    for value in (field, request.query_params.get(FIELD)):
        if key is None and isinstance(value, str) and value:
            key = value
    return KeyedRequest(key, body, content_type)


def _strip_json(body: bytes) -> tuple[object, bytes]:
    # JSON can spell a name only as itself or with \u escapes: a body holding neither
    # '"api_key"' nor '\u' has no such field, and is forwarded as it came without a second parse.
    if b'"api_key"' not in body and b"\\u" not in body:
        return None, body
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise MalformedRequest("request body is not valid JSON") from None
    if not isinstance(data, dict) or FIELD not in data:
        return None, body
    value = data.pop(FIELD)
    return value, json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


async def _strip_form(request: Request, body: bytes) -> tuple[object, bytes, str | None]:
    form = await request.form()  # parsed once already while validating; Starlette keeps it
    if FIELD not in form:
        return None, body, None
    # Re-encoded as URL-encoded fields: a node reads only q, source, target, format and
    # alternatives, all text.
    kept = [(name, value) for name, value in form.multi_items() if name != FIELD and isinstance(value, str)]
    return form.get(FIELD), urlencode(kept).encode(), FORM_URLENCODED
