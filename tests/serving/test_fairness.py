"""One request cannot hold the node: requests take turns, and work stops when its client leaves.

The attack these reproduce: a small request of thousands of short lines kept a node from
answering anything else for 45 s, long after its own client had given up. Here a request of
1600 lines (within the default limits) runs while other requests arrive; they are answered
first, and when its client disconnects the workers drop what is left of it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support import (
    BEACH_EN,
    TIMEOUT,
    NodeProcess,
    RawConnection,
    eventually,
    http_request,
    metric_samples,
    sample,
    start_node,
    translate,
)

HUGE = ["Hi.\n" * 400] * 4  # 1600 segments: the most the default limits let through, nearly


@pytest.fixture(scope="module")
def fair_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    proc = start_node(tmp_path_factory.mktemp("fair"), {"serving": {"request_timeout": 120}})
    yield proc
    proc.stop()


def in_flight(url: str) -> float:
    return sample(metric_samples(url), "udn_requests_in_flight")


def test_a_short_request_sent_after_a_huge_one_is_answered_first(fair_node: NodeProcess) -> None:
    url = fair_node.url
    order: list[str] = []
    huge_answer: list[httpx.Response] = []

    def send_huge() -> None:
        huge_answer.append(translate(url, HUGE, timeout=TIMEOUT * 2))
        order.append("huge")

    sender = threading.Thread(target=send_huge)
    sender.start()
    eventually(lambda: in_flight(url) >= 1, what="the huge request to be in flight")
    short = [translate(url, BEACH_EN) for _ in range(3)]
    order.append("short")
    sender.join(TIMEOUT * 2)
    assert [r.status_code for r in short] == [200, 200, 200], [r.text for r in short]
    assert all("praia" in r.json()["translatedText"] for r in short)
    assert order == ["short", "huge"]
    # Nothing was lost or mixed up while the two took turns.
    assert huge_answer[0].status_code == 200, huge_answer[0].text
    translated = huge_answer[0].json()["translatedText"]
    assert len(translated) == 4
    assert all(text.count("\n") == 400 for text in translated)


def test_work_stops_when_its_client_disconnects(fair_node: NodeProcess) -> None:
    url = fair_node.url
    before = metric_samples(url)
    body = json.dumps({"q": HUGE, "source": "en", "target": "pt"}).encode()
    with RawConnection(urlsplit(url).port or 80) as connection:
        connection.send(http_request("POST", "/translate", body, {"Content-Type": "application/json"}))
        eventually(lambda: in_flight(url) >= 1, what="the huge request to be in flight")
    # The client has gone: the worker drops the rest of its request, long before all 1600
    # lines could have been translated, and counts it; the node serves the next request.
    eventually(
        lambda: (
            sample(metric_samples(url), "udn_translation_errors_total", reason="cancelled")
            > sample(before, "udn_translation_errors_total", reason="cancelled")
        ),
        what="the worker to drop the abandoned request",
    )
    after = metric_samples(url)
    assert (
        sample(after, "udn_sentences_translated_total", pair="en-pt")
        - sample(before, "udn_sentences_translated_total", pair="en-pt")
        < 1600
    )
    assert sample(after, "udn_requests_total", endpoint="/translate", code="499") > sample(
        before, "udn_requests_total", endpoint="/translate", code="499"
    )
    response = translate(url, BEACH_EN)
    assert response.status_code == 200, response.text
    assert in_flight(url) == 0
    assert sample(after, "udn_requests_total", endpoint="/translate", code="500") == 0
