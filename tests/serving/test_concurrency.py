"""Concurrent traffic: every request succeeds, LitServe batches them, bad input harms no one.

This module runs its own node with a 50 ms batch window, so that 64 concurrent requests
are certain to be collected into batches larger than one even on a busy machine, and a
long request timeout, so that a heavily loaded machine slows the test down but does not
turn its requests into 504s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.support import (
    BEACH_EN,
    NodeProcess,
    batches_larger_than_one,
    metric_samples,
    pack,
    sample,
    start_node,
)

BINARY = {"content-type": "application/octet-stream"}
SENTENCES = [
    (BEACH_EN, "praia"),
    ("The cat sleeps on the sofa.", "gato"),
    ("I like books.", "livros"),
    ("My brother lives in Lisbon.", "Lisboa"),
    ("The children like to swim in the river.", "rio"),
    ("The dog sleeps under the table.", "mesa"),
    ("Last year they bought a new car.", "carro"),
    ("The grandmother cooks fish and rice.", "peixe"),
]


@pytest.fixture(scope="module")
def batching_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    proc = start_node(
        tmp_path_factory.mktemp("batching"),
        {"serving": {"max_batch_size": 32, "batch_timeout": 0.05, "request_timeout": 120}},
    )
    yield proc
    proc.stop()


def _good(i: int) -> tuple[str, dict[str, str], str]:
    text, expected = SENTENCES[i % len(SENTENCES)]
    return "/translate", {"q": text, "source": "en", "target": "pt"}, expected


async def _post_all(url: str, requests: list[tuple[str, dict[str, object]]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        return await asyncio.gather(*(client.post(path, **kwargs) for path, kwargs in requests))  # type: ignore[arg-type]


def test_64_concurrent_requests_all_succeed_and_are_batched(batching_node: NodeProcess) -> None:
    before = metric_samples(batching_node.url)
    goods = [_good(i) for i in range(64)]
    responses = asyncio.run(_post_all(batching_node.url, [(path, {"json": body}) for path, body, _ in goods]))
    for (_, _, expected), response in zip(goods, responses, strict=True):
        assert response.status_code == 200, response.text
        assert expected in response.json()["translatedText"]
    after = metric_samples(batching_node.url)
    batches = sample(after, "udn_batch_size_count") - sample(before, "udn_batch_size_count")
    requests = sample(after, "udn_batch_size_sum") - sample(before, "udn_batch_size_sum")
    assert requests == 64
    assert batches < 64
    assert batches_larger_than_one(after) - batches_larger_than_one(before) > 0


def test_bad_input_in_the_middle_of_good_traffic(batching_node: NodeProcess) -> None:
    bad: list[tuple[str, dict[str, object], int]] = [
        ("/translate", {"content": b'{"q": "Hello', "headers": {"content-type": "application/json"}}, 400),
        ("/translate", {"json": {"q": "Hi.", "source": "en", "target": "de"}}, 400),
        ("/translate", {"json": {"q": "", "source": "en", "target": "pt"}}, 400),
        ("/translate", {"json": {"q": 5, "source": "en", "target": "pt"}}, 400),
        ("/translate", {"json": {"q": ["Hi."] * 500, "source": "en", "target": "pt"}}, 400),
        ("/translate", {"json": {"q": "a" * 6000, "source": "en", "target": "pt"}}, 400),
        ("/translate", {"content": b"x" * 1_100_000, "headers": {"content-type": "application/json"}}, 413),
        ("/translate", {"content": b"hello", "headers": {"content-type": "text/plain"}}, 415),
        ("/decode", {"content": b"not lz4", "headers": BINARY}, 400),
        ("/decode", {"content": pack({"text": "Hi."}), "headers": BINARY}, 400),
        ("/decode", {"content": pack({"embeddings": [[0.5]], "metadata": {}}), "headers": BINARY}, 422),
    ]  # fmt: skip
    # 64 good requests with a bad one after every sixth, all in flight at once.
    plan: list[tuple[str, dict[str, object], int, str | None]] = []
    for i in range(64):
        path, body, expected = _good(i)
        plan.append((path, {"json": body}, 200, expected))
        if i % 6 == 5:
            b_path, b_kwargs, b_status = bad[(i // 6) % len(bad)]
            plan.append((b_path, b_kwargs, b_status, None))
    assert sum(1 for p in plan if p[2] != 200) == 10

    responses = asyncio.run(_post_all(batching_node.url, [(path, kwargs) for path, kwargs, _, _ in plan]))
    for (path, _, status, expected), response in zip(plan, responses, strict=True):
        assert response.status_code == status, (path, response.text)
        if expected is not None:
            assert expected in response.json()["translatedText"]
        else:
            assert isinstance(response.json()["error"], str)


def test_list_requests_in_one_batch_keep_their_own_order(batching_node: NodeProcess) -> None:
    # Several multi-text requests share batches; each gets exactly its own texts back.
    requests = []
    for i in range(16):
        texts = [SENTENCES[(i + k) % len(SENTENCES)] for k in range(3)]
        requests.append(([t for t, _ in texts], [e for _, e in texts]))
    responses = asyncio.run(
        _post_all(
            batching_node.url,
            [("/translate", {"json": {"q": q, "source": "en", "target": "pt"}}) for q, _ in requests],
        )
    )
    for (_, expected), response in zip(requests, responses, strict=True):
        assert response.status_code == 200, response.text
        out = response.json()["translatedText"]
        assert len(out) == 3
        for word, translation in zip(expected, out, strict=True):
            assert word in translation


def test_two_api_servers_and_two_workers_route_every_answer_to_its_own_request(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Each API server has its own request and answer pipes, and either worker may take any
    # request: answers must still reach the server, and the request, that asked. Every
    # request is distinct (its own number), so a mix-up cannot pass unnoticed.
    node = start_node(
        tmp_path_factory.mktemp("two-servers"),
        {"serving": {"api_servers": 2, "workers": 2, "threads": 1, "request_timeout": 120}},
    )
    try:
        numbers = list(range(100, 148))
        responses = asyncio.run(
            _post_all(
                node.url,
                [
                    (
                        "/translate",
                        {"json": {"q": [f"I have {n} books.", "Thank you."], "source": "en", "target": "pt"}},
                    )
                    for n in numbers
                ],
            )
        )
    finally:
        node.stop()
    for n, response in zip(numbers, responses, strict=True):
        assert response.status_code == 200, response.text
        first, second = response.json()["translatedText"]
        assert str(n) in first and "livros" in first
        assert "obrigado" in second.lower()
