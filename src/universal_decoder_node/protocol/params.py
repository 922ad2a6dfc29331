"""A LibreTranslate request's parameters, wherever the client put them: JSON, form, or query string.

LibreTranslate (Flask's ``request.values``) reads the query string and the form alike, or the
JSON body. Clients rely on each: deep-translator sends ``q``, ``source`` and ``target`` in the
query string of a POST with an empty body and no Content-Type. Here the body's fields win over
the query string's; a name the endpoint does not use (``api_key``, ``secret``) is kept, unread.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from typing import Any, Literal

from starlette.requests import Request

from ..errors import MalformedRequest, UnsupportedMediaType

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
# Names a client may send for the server itself, never for a node (``coordinator.client_key``).
CREDENTIAL_FIELDS = ("api_key", "secret")


@dataclass(frozen=True, slots=True)
class Params:
    """The request's parameters by name, and where they came from.

    ``body`` is the raw body as read, forwarded unchanged when it is JSON and needs no change.
    """

    fields: dict[str, Any]
    origin: Literal["json", "form", "query"]
    body: bytes

    def without_credentials(self) -> dict[str, Any]:
        return {k: v for k, v in self.fields.items() if k not in CREDENTIAL_FIELDS}


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


async def read_params(request: Request, body: bytes) -> Params:
    """Parse ``body`` (already read from ``request``) as JSON or form data, over the query string.

    An empty body with no Content-Type, or a form one, carries its parameters in the query string.
    Raises MalformedRequest for a body that does not parse, UnsupportedMediaType for another type.
    """
    kind = media_type(request)
    query: dict[str, Any] = dict(request.query_params)
    if kind in FORM_TYPES:
        try:
            form = await request.form()
        except Exception as exc:  # python-multipart raises several types for broken bodies
            raise MalformedRequest(f"form body could not be parsed: {exc}") from None
        # Text fields only: a file is no parameter of these endpoints (``/translate_file`` reads its own).
        fields = {key: value for key in form if isinstance(value := form.get(key), str)}
        return Params({**query, **fields}, "form", body)
    if kind == "application/json" or (kind == "" and body[:1] in (b"{", b"[")):
        return Params({**query, **_json_object(body)}, "json", body)
    if not body.strip():
        return Params(query, "query", body)
    raise UnsupportedMediaType(
        f"unsupported Content-Type {kind or '(none)'!r}; send application/json, form data, "
        "or the parameters in the query string with an empty body",
    )


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:  # the C scanner recurses per nesting level
        raise MalformedRequest("request body is not valid JSON: it is nested too deeply") from None
    except ValueError:  # int(): more digits than sys.get_int_max_str_digits()
        raise MalformedRequest(
            f"request body has a number with more than {sys.get_int_max_str_digits()} digits; "
            "no field takes one that long",
        ) from None
    if not isinstance(parsed, dict):
        raise MalformedRequest('JSON body must be an object such as {"q": "...", "target": "pt"}')
    return parsed
