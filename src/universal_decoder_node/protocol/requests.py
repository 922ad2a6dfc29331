"""Parsing and validation of client requests: LibreTranslate's parameters (``params``) and the edge payload.

Everything here runs in the API process, before a request reaches the inference queue, so
bad input is refused early with a named error (``universal_decoder_node.errors``) and never
reaches a batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import lz4.frame
import msgpack
from starlette.requests import Request

from ..config import ServingSettings
from ..engine.segment import count_segments
from ..errors import (
    BodyTooLarge,
    EmbeddingsNotSupported,
    EmptyText,
    InvalidField,
    MalformedRequest,
    MissingField,
    TextTooLong,
    TooManyAlternatives,
    TooManyItems,
    TooManySegments,
    UnsupportedFormat,
    UnsupportedMediaType,
)
from ..language_codes import canonical_code
from .params import Params, media_type, read_params

AUTO = "auto"  # LibreTranslate's source that asks for detection

BINARY_TYPES = ("application/octet-stream",)
MSGPACK_TYPES = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")


@dataclass(frozen=True, slots=True)
class Limits:
    max_items: int
    max_text_chars: int
    max_body_bytes: int
    # Sentence segments (``engine.segment``): what a request costs the engine, bounded before admission.
    max_segments_per_text: int
    max_segments_per_request: int
    max_alternatives: int = 0
    # Pairs served through English: each sentence is translated twice, so counts twice per request.
    pivots: frozenset[str] = frozenset()

    @classmethod
    def of(cls, serving: ServingSettings, pivots: Iterable[str] = ()) -> Limits:
        return cls(
            max_items=serving.max_items,
            max_text_chars=serving.max_text_chars,
            max_body_bytes=serving.max_body_bytes,
            max_segments_per_text=serving.max_segments_per_text,
            max_segments_per_request=serving.max_segments_per_request,
            max_alternatives=serving.alternatives_limit,
            pivots=frozenset(pivots),
        )


@dataclass(frozen=True, slots=True)
class TranslateRequest:
    source: str
    target: str
    texts: list[str]
    single: bool  # q was a string, so the answer is a string too
    alternatives: int = 0  # other translations wanted per text (LibreTranslate's ``alternatives``)
    format: str = "text"  # LibreTranslate's ``format``: "text" or "html"
    params: Params | None = None  # every parameter the client sent (``/translate`` only)

    @property
    def pair(self) -> str:
        return f"{self.source}-{self.target}"


@dataclass(frozen=True, slots=True)
class DecodeRequest:
    request: TranslateRequest
    text_hash: str | None


async def read_body(request: Request, limit: int) -> bytes:
    """Read the whole body; raises BodyTooLarge as soon as it exceeds ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        try:
            too_big = int(declared) > limit
        except ValueError:
            raise MalformedRequest("Content-Length header is not a number") from None
        if too_big:
            raise BodyTooLarge(f"request body is larger than the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(f"request body is larger than the limit of {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # lets request.form() parse the body we already read
    return body


async def parse_params(request: Request, limits: Limits) -> Params:
    """Read the body (up to the limit) and the parameters of a LibreTranslate endpoint (``params``)."""
    return await read_params(request, await read_body(request, limits.max_body_bytes))


async def parse_translate(request: Request, limits: Limits, *, auto: bool = True) -> TranslateRequest:
    """Parse LibreTranslate's ``POST /translate`` from JSON, form data or the query string.

    ``source`` may be ``"auto"`` (``AUTO``) when ``auto`` is true; language codes come back
    canonical (``language_codes.canonical_code``), not yet matched to a served pair.
    """
    params = await parse_params(request, limits)
    data = params.fields
    fmt = data.get("format") or "text"
    if fmt not in ("text", "html"):
        raise UnsupportedFormat(f"format {fmt!r} is not supported; send 'text' or 'html'")
    alternatives = _alternatives(data.get("alternatives"), limits.max_alternatives)
    req = _validated(data.get("q"), data.get("source"), data.get("target"), limits, field="q", auto=auto)
    return replace(req, alternatives=alternatives, format=fmt, params=params)


def _alternatives(value: Any, limit: int) -> int:
    """LibreTranslate's ``alternatives``: a whole number, 0 to ``limit``, as a JSON number or a string.

    Absent or null is 0. LibreTranslate takes a negative number as 0; here it is refused,
    like any value that is not a whole number (InvalidField). Above ``limit``: TooManyAlternatives.
    """
    if value is None:
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        digits = value.strip()
        # No need to convert thousands of digits to know they are over the limit.
        count = int(digits) if len(digits) <= 12 else (-1 if digits.startswith("-") else limit + 1)
    else:
        shown = repr(value) if isinstance(value, str) and len(value) <= 20 else f"a {type(value).__name__}"
        raise InvalidField(f"'alternatives' must be a whole number, such as 3, not {shown}")
    if count < 0:
        raise InvalidField("'alternatives' must be 0 or more")
    if count > limit:
        raise TooManyAlternatives(
            f"'alternatives' may be at most {limit} on this server (serving.alternatives_limit)"
        )
    return count


def parse_decode(request: Request, body: bytes, limits: Limits) -> DecodeRequest:
    """Decode the edge payload: an LZ4 frame holding a MessagePack map."""
    kind = media_type(request)
    if kind not in BINARY_TYPES:
        raise UnsupportedMediaType(
            f"unsupported Content-Type {kind or '(none)'!r}; send application/octet-stream"
        )
    if not body:
        raise MalformedRequest("request body is empty; expected an LZ4 frame of a MessagePack map")
    raw = _lz4_decompress(body, limit=limits.max_body_bytes * 4)
    try:
        payload = msgpack.unpackb(raw, raw=False, strict_map_key=False)
    except msgpack.exceptions.StackError:
        raise MalformedRequest("payload is not valid MessagePack: it is nested too deeply") from None
    except msgpack.exceptions.FormatError:
        raise MalformedRequest("payload is not valid MessagePack: it contains an invalid type byte") from None
    except Exception as exc:  # ValueError, UnicodeDecodeError, TypeError (unhashable keys), ...
        raise MalformedRequest(f"payload is not valid MessagePack: {exc}") from None
    if not isinstance(payload, dict):
        raise MalformedRequest(f"payload must be a MessagePack map, not {type(payload).__name__}")
    if "embeddings" in payload:
        raise EmbeddingsNotSupported(
            "this node's engine decodes text, not encoder outputs: "
            "send 'text' or 'tokens' instead of 'embeddings'",
        )
    metadata = payload.get("metadata")
    if not isinstance(metadata, dict):
        raise MissingField("payload needs a 'metadata' map with 'source_language' and 'target_language'")
    if "text" in payload:
        q: Any = payload["text"]
        field = "text"
    elif "tokens" in payload:
        tokens = payload["tokens"]
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise InvalidField("'tokens' must be a list of strings")
        q = detokenize(tokens)
        field = "tokens"
    else:
        raise MissingField("payload needs 'text' (a string) or 'tokens' (a list of strings)")
    if not isinstance(q, str):
        raise InvalidField(f"'{field}' must be a string, not {type(q).__name__}")
    text_hash = metadata.get("text_hash")
    if text_hash is not None and not isinstance(text_hash, str):
        raise InvalidField("metadata.text_hash must be a string")
    req = _validated(
        q,
        metadata.get("source_language"),
        metadata.get("target_language"),
        limits,
        field=field,
        source_key="metadata.source_language",
        target_key="metadata.target_language",
    )
    return DecodeRequest(req, text_hash)


def detokenize(tokens: list[str]) -> str:
    """Join source tokens: SentencePiece pieces (with the U+2581 marker) or plain words."""
    if any("\u2581" in t for t in tokens):
        return "".join(tokens).replace("\u2581", " ").strip()
    return " ".join(tokens)


def encode_msgpack(data: Mapping[str, Any]) -> bytes:
    return msgpack.packb(data, use_bin_type=True)


def wants_msgpack(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return any(t in accept for t in MSGPACK_TYPES)


def _lz4_decompress(body: bytes, limit: int) -> bytes:
    decompressor = lz4.frame.LZ4FrameDecompressor()
    try:
        raw = decompressor.decompress(body, max_length=limit)
    except RuntimeError as exc:
        raise MalformedRequest(f"body is not a valid LZ4 frame: {exc}") from None
    if not decompressor.eof:
        if decompressor.needs_input:
            raise MalformedRequest("body is not a valid LZ4 frame: it is truncated")
        raise BodyTooLarge(f"payload decompresses to more than {limit} bytes")
    if decompressor.unused_data:
        # Silently dropping a second frame would translate only part of what was sent.
        raise MalformedRequest(
            f"body has {len(decompressor.unused_data)} bytes after the end of its LZ4 frame; "
            "send exactly one frame",
        )
    return bytes(raw)


def language_code(value: Any, key: str, *, auto: bool = False) -> str:
    if value is None or value == "":
        raise MissingField(f"missing '{key}' (a language code such as 'en')")
    if not isinstance(value, str):
        raise InvalidField(f"'{key}' must be a language code string, not {type(value).__name__}")
    code = canonical_code(value)
    if code == AUTO:
        if auto:
            return AUTO
        where = "is for 'source' only" if key == "target" else "is not supported here"
        raise InvalidField(f"'{key}': language detection ('auto') {where}; name the language")
    if not (2 <= len(code) <= 12 and code.replace("-", "").isalpha() and code[0] != "-" and code[-1] != "-"):
        raise InvalidField(f"'{key}' value {value!r} is not a language code such as 'en' or 'pt-BR'")
    return code


def _validated(
    q: Any,
    source: Any,
    target: Any,
    limits: Limits,
    *,
    field: str,
    source_key: str = "source",
    target_key: str = "target",
    auto: bool = False,
) -> TranslateRequest:
    texts, single = checked_texts(q, limits, field)
    req = TranslateRequest(
        language_code(source, source_key, auto=auto), language_code(target, target_key), list(texts), single
    )
    _check_segments(texts, limits, field, single, pivot=req.pair in limits.pivots)
    return req


def checked_texts(q: Any, limits: Limits, field: str = "q") -> tuple[list[str], bool]:
    """``q`` as a list of texts, and whether it was one string; raises the named error for bad input."""
    if q is None:
        raise MissingField(f"missing '{field}': the text to translate (a string or a list of strings)")
    single = isinstance(q, str)
    if single:
        texts = [q]
    elif isinstance(q, list):
        texts = q
        if not texts:
            raise EmptyText(f"'{field}' is an empty list; send at least one text")
        if len(texts) > limits.max_items:
            raise TooManyItems(f"'{field}' has {len(texts)} texts; at most {limits.max_items} are allowed")
    else:
        raise InvalidField(f"'{field}' must be a string or a list of strings, not {type(q).__name__}")
    for i, text in enumerate(texts):
        where = field if single else f"{field}[{i}]"
        if not isinstance(text, str):
            raise InvalidField(f"'{where}' must be a string, not {type(text).__name__}")
        if not text.strip():
            raise EmptyText(f"'{where}' is empty; there is nothing to translate")
        if len(text) > limits.max_text_chars:
            raise TextTooLong(
                f"'{where}' has {len(text)} characters; at most {limits.max_text_chars} are allowed"
            )
        if "\x00" in text:
            raise InvalidField(f"'{where}' contains a NUL character")
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as exc:  # JSON "\ud800" escapes decode to lone surrogates
                raise InvalidField(
                    f"'{where}' is not valid Unicode text: unpaired surrogate at position {exc.start}"
                ) from None
    return list(texts), single


def _check_segments(texts: list[str], limits: Limits, field: str, single: bool, *, pivot: bool) -> None:
    """Refuse (TooManySegments) a request that would cost the engine more segments than allowed.

    A ``pivot`` pair's sentences count twice against ``max_segments_per_request``: each is
    translated to English, then on.
    """
    total = 0
    for i, text in enumerate(texts):
        count = count_segments(text)
        if count > limits.max_segments_per_text:
            where = field if single else f"{field}[{i}]"
            raise TooManySegments(
                f"'{where}' has {count} sentences or lines; at most {limits.max_segments_per_text} are "
                "allowed per text (serving.max_segments_per_text): split it into several texts or requests",
            )
        total += count
    cost = 2 * total if pivot else total
    if cost > limits.max_segments_per_request:
        counted = f", which count twice as this pair is translated through English ({cost})" if pivot else ""
        raise TooManySegments(
            f"request has {total} sentences or lines in all{counted}; at most "
            f"{limits.max_segments_per_request} are allowed per request (serving.max_segments_per_request): "
            "split it into several requests",
        )
