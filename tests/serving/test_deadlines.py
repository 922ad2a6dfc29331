"""Requests past their deadline are dropped before they are computed, with a 504.

The node here has a 0.25 s request timeout, batches of one (LitServe's unbatched loop) and
one translation thread, and is flooded with 5000-character texts that each take far longer
than that to translate (about 0.6 s on the 2-core dev machine): the first is computed,
those queued behind it expire and are answered 504 without being translated.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator

import httpx
import pytest

from tests.support import NodeProcess, Samples, eventually, metric_samples, sample, start_node, translate

SENTENCE = "The committee met on Tuesday to discuss the new budget for the city library. "
LONG_TEXT = (SENTENCE * 70)[:5000]
FLOOD = 12


@pytest.fixture(scope="module")
def slow_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    proc = start_node(
        tmp_path_factory.mktemp("deadline"),
        {"serving": {"request_timeout": 0.25, "max_batch_size": 1, "threads": 1}},
    )
    yield proc
    proc.stop()


async def _flood(url: str) -> list[httpx.Response]:
    body = {"q": LONG_TEXT, "source": "en", "target": "pt"}
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        return await asyncio.gather(*(client.post("/translate", json=body) for _ in range(FLOOD)))


def translate_when_idle(url: str) -> httpx.Response:
    """A short translation, retried while the worker is still busy with earlier long texts (a 504)."""

    def answered() -> httpx.Response | None:
        response = translate(url, "Good morning.")
        return None if response.status_code == 504 else response

    return eventually(answered, 30, "the worker to be idle (a translation not answered 504)", interval=0.2)


def test_single_request_works_with_batches_of_one(slow_node: NodeProcess) -> None:
    response = translate_when_idle(slow_node.url)
    assert response.status_code == 200, response.text
    assert response.json()["translatedText"].startswith("Bom dia")


def test_requests_past_their_deadline_are_dropped_with_504(slow_node: NodeProcess) -> None:
    before = metric_samples(slow_node.url)
    responses = asyncio.run(_flood(slow_node.url))
    codes = Counter(r.status_code for r in responses)
    assert set(codes) <= {200, 504}, [(r.status_code, r.text) for r in responses]
    assert codes[504] >= FLOOD // 2, codes
    for response in responses:
        if response.status_code == 504:
            assert response.headers["content-type"] == "application/json"
            assert "deadline" in response.json()["error"] or "timeout" in response.json()["error"]

    # Dropped in the worker before any work was done on them: the worker counted them
    # as deadline errors and translated far fewer sentences than the flood held. The API
    # may answer 504 before the worker reaches an expired item, so wait until it has seen all.
    seen_by_worker = sample(before, "udn_batch_size_count") + FLOOD

    def worker_saw_all() -> Samples | None:
        samples = metric_samples(slow_node.url)
        return samples if sample(samples, "udn_batch_size_count") >= seen_by_worker else None

    after = eventually(worker_saw_all, 60, "the worker to take every request of the flood", interval=0.2)
    assert sample(after, "udn_batch_size_count") == seen_by_worker
    dropped = sample(after, "udn_translation_errors_total", reason="deadline") - sample(
        before, "udn_translation_errors_total", reason="deadline"
    )
    assert dropped >= FLOOD // 2
    translated = sample(after, "udn_sentences_translated_total", pair="en-pt") - sample(
        before, "udn_sentences_translated_total", pair="en-pt"
    )
    per_text = LONG_TEXT.count(". ") + 1
    assert translated <= (FLOOD - dropped) * per_text


def test_node_still_serves_after_the_flood(slow_node: NodeProcess) -> None:
    response = translate_when_idle(slow_node.url)
    assert response.status_code == 200, response.text
    assert response.json()["translatedText"].startswith("Bom dia")
    samples = metric_samples(slow_node.url)
    assert sample(samples, "udn_requests_total", endpoint="/translate", code="500") == 0


def test_work_already_started_stops_when_its_deadline_passes(slow_node: NodeProcess) -> None:
    # 1200 short lines take the node's one thread seconds; its deadline is 0.25 s. The worker
    # stops the request at the first line past the deadline, instead of translating the rest
    # for a client that got its 504 long ago.
    translate_when_idle(slow_node.url)
    before = metric_samples(slow_node.url)
    response = translate(slow_node.url, ["Hi.\n" * 400] * 3)
    assert response.status_code == 504, response.text

    def stopped(samples: Samples) -> float:
        return sample(samples, "udn_translation_errors_total", reason="deadline") - sample(
            before, "udn_translation_errors_total", reason="deadline"
        )

    def stopped_once() -> Samples | None:
        samples = metric_samples(slow_node.url)
        return samples if stopped(samples) >= 1 else None

    after = eventually(stopped_once, 60, "the worker to stop the request at its deadline")
    assert stopped(after) == 1
    assert sample(after, "udn_sentences_translated_total", pair="en-pt") == sample(
        before, "udn_sentences_translated_total", pair="en-pt"
    )
    assert translate_when_idle(slow_node.url).status_code == 200
