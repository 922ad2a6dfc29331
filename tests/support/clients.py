"""Small clients for the HTTP surface of a node (or of a coordinator, which speaks the same API)."""

from __future__ import annotations

from typing import Any

import httpx
import lz4.frame
import msgpack
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]

TIMEOUT = 60


def translate(
    url: str,
    q: str | list[str],
    source: str = "en",
    target: str = "pt",
    *,
    expect: int | None = None,
    timeout: float = TIMEOUT,
    **request: Any,
) -> httpx.Response:
    """``POST {url}/translate`` with a JSON body; ``request`` goes to httpx (``headers``, ``verify``).

    ``expect``: the status the answer must have (the test fails with the body otherwise).
    """
    response = httpx.post(
        url + "/translate", json={"q": q, "source": source, "target": target}, timeout=timeout, **request
    )
    if expect is not None:
        assert response.status_code == expect, response.text
    return response


def pack(payload: Any) -> bytes:
    """The edge payload's wire form: an LZ4 frame of a MessagePack document."""
    return lz4.frame.compress(msgpack.packb(payload, use_bin_type=True))


def decode(url: str, body: bytes, accept: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/octet-stream"}
    if accept:
        headers["accept"] = accept
    return httpx.post(url + "/decode", content=body, headers=headers, timeout=TIMEOUT)


def metric_samples(url: str) -> Samples:
    """Every sample of /metrics by (sample name, sorted labels)."""
    response = httpx.get(url + "/metrics", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: Samples, name: str, **labels: str) -> float:
    """One sample's value, 0.0 when the series does not exist yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def batches_larger_than_one(samples: Samples) -> float:
    """Observations of ``udn_batch_size`` above 1: all batches minus those in the le=1 bucket."""
    total = sample(samples, "udn_batch_size_count")
    single = sample(samples, "udn_batch_size_bucket", le="1.0")
    return total - single
