"""A client that leaves before its answer stops the work on the node too, not only at the coordinator.

A real coordinator in front of two real nodes: a request of 1600 lines is sent to the
coordinator over a raw socket, which is closed once a node has the request in flight. The
coordinator stops forwarding it, the node sees its connection close and its workers drop what
is left, and both go on serving.
"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import httpx

from tests.support import Cluster, RawConnection, eventually, http_request, metric_samples, sample

HUGE = ["Hi.\n" * 400] * 4  # 1600 segments: seconds of work for the bundled engine
TEXT = {"q": "The weather is nice today, so we are going to the beach.", "source": "en", "target": "pt"}


def node_sum(cluster: Cluster, name: str, **labels: str) -> float:
    return sum(sample(metric_samples(node.url), name, **labels) for node in cluster.nodes.values())


def test_the_node_drops_the_work_of_a_client_that_left_the_coordinator(cluster: Cluster) -> None:
    url = cluster.coordinator.url
    cancelled_before = node_sum(cluster, "udn_translation_errors_total", reason="cancelled")
    translated_before = node_sum(cluster, "udn_sentences_translated_total", pair="en-pt")
    body = json.dumps({"q": HUGE, "source": "en", "target": "pt"}).encode()
    with RawConnection(urlsplit(url).port or 80) as connection:
        connection.send(http_request("POST", "/translate", body, {"Content-Type": "application/json"}))
        eventually(
            lambda: node_sum(cluster, "udn_requests_in_flight") >= 1,
            what="the huge request to reach a node",
        )
    eventually(
        lambda: node_sum(cluster, "udn_translation_errors_total", reason="cancelled") > cancelled_before,
        what="the node to drop the abandoned request",
    )
    translated = node_sum(cluster, "udn_sentences_translated_total", pair="en-pt") - translated_before
    assert translated < 1600
    eventually(lambda: node_sum(cluster, "udn_requests_in_flight") == 0, what="the nodes to be idle")
    # The coordinator counted the request as closed by its client, not as its own failure.
    coordinator_metrics = metric_samples(url)
    assert (
        sample(coordinator_metrics, "udn_coordinator_requests_total", endpoint="/translate", code="499") >= 1
    )
    assert (
        sample(coordinator_metrics, "udn_coordinator_requests_total", endpoint="/translate", code="500") == 0
    )
    answer = httpx.post(url + "/translate", json=TEXT, timeout=30)
    assert answer.status_code == 200, answer.text
    assert "praia" in answer.json()["translatedText"]
