"""The binary edge payload: POST /decode with an LZ4 frame of a MessagePack map."""

from __future__ import annotations

import msgpack

from tests.support import BEACH_EN, NodeProcess, decode, pack

EN_PT = {"source_language": "en", "target_language": "pt"}


def test_text_payload_answers_json(node: NodeProcess) -> None:
    response = decode(node.url, pack({"text": BEACH_EN, "metadata": EN_PT}))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"translation", "source_language", "target_language"}
    assert "praia" in body["translation"]
    assert body["source_language"] == "en"
    assert body["target_language"] == "pt"


def test_portuguese_to_english_payload(node: NodeProcess) -> None:
    payload = {
        "text": "Eu gosto muito de livros.",
        "metadata": {"source_language": "pt", "target_language": "en"},
    }
    response = decode(node.url, pack(payload))
    assert response.status_code == 200, response.text
    assert "books" in response.json()["translation"]


def test_sentencepiece_tokens_are_joined(node: NodeProcess) -> None:
    tokens = ["\u2581The", "\u2581weather", "\u2581is", "\u2581nice", "\u2581today", ",", "\u2581so"]
    tokens += ["\u2581we", "\u2581are", "\u2581going", "\u2581to", "\u2581the", "\u2581be", "ach", "."]
    response = decode(node.url, pack({"tokens": tokens, "metadata": EN_PT}))
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translation"]


def test_plain_word_tokens_are_joined_with_spaces(node: NodeProcess) -> None:
    tokens = BEACH_EN.split(" ")
    response = decode(node.url, pack({"tokens": tokens, "metadata": EN_PT}))
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translation"]


def test_unknown_fields_are_ignored(node: NodeProcess) -> None:
    payload = {
        "text": BEACH_EN,
        "metadata": {**EN_PT, "domain": "travel", "client_id": "edge-7", "future_key": [1, 2, 3]},
        "schema_version": 9,
        "attention_mask": b"\x01\x01",
    }
    response = decode(node.url, pack(payload))
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translation"]


def test_text_hash_is_echoed(node: NodeProcess) -> None:
    payload = {"text": BEACH_EN, "metadata": {**EN_PT, "text_hash": "sha256:abc123"}}
    response = decode(node.url, pack(payload))
    assert response.status_code == 200, response.text
    assert response.json()["text_hash"] == "sha256:abc123"


def test_msgpack_answer_when_accepted(node: NodeProcess) -> None:
    payload = {"text": BEACH_EN, "metadata": {**EN_PT, "text_hash": "h1"}}
    response = decode(node.url, pack(payload), accept="application/msgpack")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/msgpack"
    body = msgpack.unpackb(response.content, raw=False)
    assert set(body) == {"translation", "source_language", "target_language", "text_hash"}
    assert "praia" in body["translation"]
    assert body["text_hash"] == "h1"


def test_errors_stay_json_when_msgpack_is_accepted(node: NodeProcess) -> None:
    response = decode(node.url, b"not lz4", accept="application/msgpack")
    assert response.status_code == 400
    assert "LZ4" in response.json()["error"]


def test_embeddings_are_refused_with_422(node: NodeProcess) -> None:
    payload = {"embeddings": [[0.1, 0.2], [0.3, 0.4]], "metadata": EN_PT}
    response = decode(node.url, pack(payload))
    assert response.status_code == 422
    assert response.json() == {
        "error": "this node's engine decodes text, not encoder outputs: "
        "send 'text' or 'tokens' instead of 'embeddings'"
    }
