# ruff: noqa: E501  (the table of cases reads best one case per line)
"""Every kind of bad input gets a 4xx with a readable ``{"error": ...}``, never a 500.

The node's limits are the defaults: 128 items, 5000 characters per text, 500 sentence
segments per text and 2000 per request, 3 alternatives per text, 1 MiB bodies, 64 KiB of
request line and headers, and a decompressed edge payload of at most 4 MiB.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import lz4.frame
import msgpack
import pytest

from tests.support import BEACH_EN, TIMEOUT, NodeProcess, metric_samples, pack, translate

MAX_BODY = 1_048_576
MAX_HEADER = 65_536
EN_PT = {"source_language": "en", "target_language": "pt"}
JSON = {"content-type": "application/json"}
BINARY = {"content-type": "application/octet-stream"}


@dataclass(frozen=True)
class Bad:
    """One bad request and what the node must answer."""

    path: str
    status: int
    message: str  # a fragment the error message must contain
    json: Any = None
    content: bytes | None = None
    data: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False
    method: str = "POST"


def tr(status: int, message: str, **body: Any) -> Bad:
    return Bad("/translate", status, message, json=body)


def raw(path: str, status: int, message: str, content: bytes, headers: dict[str, str]) -> Bad:
    return Bad(path, status, message, content=content, headers=headers)


def dec(status: int, message: str, payload: Any) -> Bad:
    return Bad("/decode", status, message, content=pack(payload), headers=BINARY)


def _lz4(data: bytes) -> bytes:
    return lz4.frame.compress(data)


_oversized_json = b'{"q": "' + b"a" * MAX_BODY + b'", "source": "en", "target": "pt"}'
_valid_frame = pack({"text": BEACH_EN, "metadata": EN_PT})

CASES: dict[str, Bad] = {
    # /translate: the body
    "malformed JSON": raw("/translate", 400, "not valid JSON", b'{"q": "Hello', JSON),
    "deeply nested JSON": raw(
        "/translate", 400, "nested too deeply", b'{"q": ' + b"[" * 200_000 + b"]" * 200_000 + b"}", JSON
    ),
    "empty JSON body": raw("/translate", 400, "not valid JSON", b"", JSON),
    "JSON null body": raw("/translate", 400, "must be an object", b"null", JSON),
    "JSON array body": raw("/translate", 400, "must be an object", b'["Hello"]', JSON),
    "JSON that is not UTF-8": raw("/translate", 400, "not valid JSON", b"\xff\xfe\x00", JSON),
    "missing q": tr(400, "missing 'q'", source="en", target="pt"),
    "q is null": tr(400, "missing 'q'", q=None, source="en", target="pt"),
    "missing target": tr(400, "missing 'target'", q=BEACH_EN, source="en"),
    "missing source": tr(400, "missing 'source'", q=BEACH_EN, target="pt"),
    "empty text": tr(400, "'q' is empty", q="", source="en", target="pt"),
    "whitespace-only text": tr(400, "'q' is empty", q=" \n\t ", source="en", target="pt"),
    "empty list": tr(400, "empty list", q=[], source="en", target="pt"),
    "empty text in a list": tr(400, "'q[1]' is empty", q=["Hello.", ""], source="en", target="pt"),
    "unsupported pair": tr(400, "'en-de' is not supported; available pairs: en-pt, pt-en", q="Hi.", source="en", target="de"),
    "same language both sides": tr(400, "'en-en' is not supported", q="Hi.", source="en", target="en"),
    "detection asked of the target": tr(400, "('auto') is for 'source' only", q="Hi.", source="en", target="auto"),
    "detection into a target not served": tr(400, "target 'de' is not supported", q="Hi.", source="auto", target="de"),
    "nonsense language code": tr(400, "is not a language code", q="Hi.", source="en!", target="pt"),
    "too many items": tr(400, "129 texts; at most 128", q=["Hi."] * 129, source="en", target="pt"),
    "text over max_text_chars": tr(400, "5001 characters; at most 5000", q="a" * 5001, source="en", target="pt"),
    "text of too many lines": tr(413, "'q' has 1250 sentences or lines; at most 500 are allowed per text (serving.max_segments_per_text)", q="Hi.\n" * 1250, source="en", target="pt"),
    "list text of too many sentences": tr(413, "'q[1]' has 501 sentences", q=["Hi.", "Hi. " * 501], source="en", target="pt"),
    "request of too many sentences (the attack run's)": tr(413, "'q[0]' has 1250 sentences", q=["Hi.\n" * 1250] * 20, source="en", target="pt"),
    "request of too many sentences in all": tr(413, "2500 sentences or lines in all; at most 2000 are allowed per request (serving.max_segments_per_request)", q=["Hi.\n" * 500] * 5, source="en", target="pt"),
    "edge payload of too many lines": dec(413, "'text' has 1250 sentences or lines", {"text": "Hi.\n" * 1250, "metadata": EN_PT}),
    "q is a number": tr(400, "'q' must be a string or a list of strings, not int", q=42, source="en", target="pt"),
    "q is an object": tr(400, "not dict", q={"text": "Hi."}, source="en", target="pt"),
    "number inside q": tr(400, "'q[1]' must be a string, not int", q=["Hi.", 7], source="en", target="pt"),
    "target is a number": tr(400, "'target' must be a language code string", q="Hi.", source="en", target=1),
    "markdown format": tr(400, "format 'markdown' is not supported", q="*Hi*", source="en", target="pt", format="markdown"),
    "alternatives over the limit": tr(400, "'alternatives' may be at most 3", q=BEACH_EN, source="en", target="pt", alternatives=4),
    "negative alternatives": tr(400, "'alternatives' must be 0 or more", q=BEACH_EN, source="en", target="pt", alternatives=-1),
    "alternatives not a number (form)": Bad("/translate", 400, "must be a whole number", data={"q": BEACH_EN, "source": "en", "target": "pt", "alternatives": "many"}),
    "NUL character": tr(400, "NUL", q="Hi.\x00", source="en", target="pt"),
    "lone surrogate": raw(
        "/translate", 400, "unpaired surrogate", b'{"q": "Hi \\ud800.", "source": "en", "target": "pt"}', JSON
    ),
    "integer of 4301 digits": raw(
        "/translate", 400, "a number with more than 4300 digits", b'{"q": "Hi.", "source": "en", "target": "pt", "n": ' + b"9" * 4301 + b"}", JSON
    ),
    "q is an integer of 4301 digits": raw(
        "/translate", 400, "a number with more than 4300 digits", b'{"q": -' + b"1" * 4301 + b', "source": "en", "target": "pt"}', JSON
    ),
    "fraction of 100,000 digits": raw(
        "/translate", 400, "'q' must be a string or a list of strings, not float", b'{"q": 0.' + b"3" * 100_000 + b', "source": "en", "target": "pt"}', JSON
    ),
    "exponent out of range": raw("/translate", 400, "'target' must be a language code string, not float", b'{"q": "Hi.", "source": "en", "target": 1e999999}', JSON),
    # /translate: the transport
    "text/plain body": raw("/translate", 415, "unsupported Content-Type 'text/plain'", b"Hello", {"content-type": "text/plain"}),
    "no content type, not JSON": raw("/translate", 415, "unsupported Content-Type '(none)'", b"q=Hello", {}),
    "broken multipart": raw(
        "/translate", 400, "form body could not be parsed", b"garbage", {"content-type": "multipart/form-data"}
    ),
    "body over the limit": raw("/translate", 413, f"larger than the limit of {MAX_BODY} bytes", _oversized_json, JSON),
    "chunked body over the limit": Bad(
        "/translate", 413, f"larger than the limit of {MAX_BODY} bytes", content=_oversized_json, headers=JSON, chunked=True
    ),
    "form body over the limit": Bad(
        "/translate", 413, "larger than the limit", data={"q": "a" * MAX_BODY, "source": "en", "target": "pt"}
    ),
    "GET /translate": Bad("/translate", 405, "Method Not Allowed", method="GET"),
    "header over max_header_bytes": Bad(
        "/translate", 431, f"headers are larger than the limit of {MAX_HEADER} bytes", json={"q": "Hi.", "source": "en", "target": "pt"}, headers={"X-Filler": "a" * MAX_HEADER}
    ),
    "URL and headers together over max_header_bytes": Bad(  # httpx refuses a URL of 64 KiB itself
        "/languages?" + "a" * 65_000, 431, "larger than the limit", headers={"X-Filler": "a" * 1000}, method="GET"
    ),
    "unknown path": Bad("/translated", 404, "Not Found", json={}),
    # /decode: the transport and the frame
    "wrong content type": raw("/decode", 415, "send application/octet-stream", _valid_frame, JSON),
    "no content type": raw("/decode", 415, "unsupported Content-Type '(none)'", _valid_frame, {}),
    "empty body": raw("/decode", 400, "request body is empty", b"", BINARY),
    "corrupt LZ4": raw("/decode", 400, "not a valid LZ4 frame", b"this is not lz4 at all", BINARY),
    "LZ4 with a broken block": raw(
        "/decode", 400, "not a valid LZ4 frame", _valid_frame[:12] + b"\xff" * 8 + _valid_frame[20:], BINARY
    ),
    "truncated LZ4": raw("/decode", 400, "truncated", _valid_frame[: len(_valid_frame) // 2], BINARY),
    "LZ4 header only": raw("/decode", 400, "truncated", _valid_frame[:7], BINARY),
    "LZ4 bomb": raw(
        "/decode", 413, "decompresses to more than 4194304 bytes", _lz4(b"\x00" * (16 * 1024 * 1024)), BINARY
    ),
    "data after the LZ4 frame": raw("/decode", 400, "after the end of its LZ4 frame", _valid_frame * 2, BINARY),
    "body over the limit (binary)": raw("/decode", 413, "larger than the limit", b"\x04" * (MAX_BODY + 1), BINARY),
    "chunked binary body over the limit": Bad(
        "/decode", 413, "larger than the limit", content=b"\x04" * (MAX_BODY + 1), headers=BINARY, chunked=True
    ),
    # /decode: the MessagePack document
    "corrupt MessagePack": raw("/decode", 400, "not valid MessagePack: it contains an invalid type byte", _lz4(b"\xc1"), BINARY),
    "truncated MessagePack": raw(
        "/decode", 400, "not valid MessagePack", _lz4(msgpack.packb({"text": BEACH_EN})[:-5]), BINARY
    ),
    "MessagePack with trailing bytes": raw(
        "/decode", 400, "not valid MessagePack", _lz4(msgpack.packb({"text": "Hi."}) + b"\x01"), BINARY
    ),
    "deeply nested MessagePack": raw(
        "/decode", 400, "nested too deeply", _lz4(b"\x91" * 100_000 + b"\xc0"), BINARY
    ),
    "MessagePack string that is not UTF-8": raw(
        "/decode", 400, "not valid MessagePack", _lz4(b"\x81\xa4text\xa3\xff\xfe\xfd"), BINARY
    ),
    "MessagePack map with a map as key": raw("/decode", 400, "not valid MessagePack", _lz4(b"\x81\x80\x01"), BINARY),
    "payload is a list": dec(400, "must be a MessagePack map, not list", [BEACH_EN, EN_PT]),
    "payload is a string": dec(400, "must be a MessagePack map, not str", BEACH_EN),
    "metadata missing": dec(400, "needs a 'metadata' map", {"text": BEACH_EN}),
    "metadata not a map": dec(400, "needs a 'metadata' map", {"text": BEACH_EN, "metadata": "en-pt"}),
    "neither text nor tokens": dec(400, "needs 'text' (a string) or 'tokens'", {"metadata": EN_PT}),
    "text is a number": dec(400, "'text' must be a string, not int", {"text": 5, "metadata": EN_PT}),
    "text is bytes": dec(400, "'text' must be a string, not bytes", {"text": b"Hi.", "metadata": EN_PT}),
    "tokens not strings": dec(400, "'tokens' must be a list of strings", {"tokens": [1, 2], "metadata": EN_PT}),
    "tokens not a list": dec(400, "'tokens' must be a list of strings", {"tokens": "Hi", "metadata": EN_PT}),
    "missing target_language": dec(
        400, "missing 'metadata.target_language'", {"text": "Hi.", "metadata": {"source_language": "en"}}
    ),
    "source_language is a number": dec(
        400, "'metadata.source_language' must be a language code string",
        {"text": "Hi.", "metadata": {"source_language": 1, "target_language": "pt"}},
    ),
    "unsupported pair (binary)": dec(
        400, "'pt-de' is not supported", {"text": "Oi.", "metadata": {"source_language": "pt", "target_language": "de"}}
    ),
    "text_hash not a string": dec(400, "text_hash must be a string", {"text": "Hi.", "metadata": {**EN_PT, "text_hash": 5}}),
    "empty text (binary)": dec(400, "'text' is empty", {"text": "", "metadata": EN_PT}),
    "text over max_text_chars (binary)": dec(400, "at most 5000", {"text": "a " * 3000, "metadata": EN_PT}),
}  # fmt: skip


def send(client: httpx.Client, url: str, bad: Bad) -> httpx.Response:
    content: bytes | Iterator[bytes] | None = bad.content
    if bad.chunked and bad.content is not None:
        body = bad.content

        def chunks() -> Iterator[bytes]:
            for i in range(0, len(body), 65536):
                yield body[i : i + 65536]

        content = chunks()
    return client.request(
        bad.method, url + bad.path, json=bad.json, content=content, data=bad.data, headers=bad.headers
    )


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=TIMEOUT) as c:
        yield c


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_a_clear_4xx(node: NodeProcess, client: httpx.Client, name: str) -> None:
    bad = CASES[name]
    response = send(client, node.url, bad)
    assert response.status_code == bad.status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error"}
    assert isinstance(body["error"], str)
    assert bad.message in body["error"]


def test_chunked_cases_really_are_chunked(client: httpx.Client, node: NodeProcess) -> None:
    response = send(client, node.url, CASES["chunked body over the limit"])
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 413


def test_node_keeps_serving_after_bad_input(node: NodeProcess, client: httpx.Client) -> None:
    for bad in CASES.values():
        assert send(client, node.url, bad).status_code == bad.status
    response = translate(node.url, BEACH_EN)
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]
    samples = metric_samples(node.url)
    server_errors = {
        k: v for k, v in samples.items() if k[0] == "udn_requests_total" and ("code", "500") in k[1]
    }
    assert not server_errors, server_errors
