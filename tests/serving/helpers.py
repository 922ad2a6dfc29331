"""Small clients for the node's HTTP surface, shared by the serving tests."""

from __future__ import annotations

from typing import Any

import httpx
import lz4.frame
import msgpack
from prometheus_client.parser import text_string_to_metric_families

from tests.texts import BEACH_EN

__all__ = ["BEACH_EN", "TIMEOUT", "decode", "metric_samples", "pack", "sample", "translate"]

TIMEOUT = 60


def translate(url: str, q: str | list[str], source: str = "en", target: str = "pt") -> httpx.Response:
    return httpx.post(url + "/translate", json={"q": q, "source": source, "target": target}, timeout=TIMEOUT)


def pack(payload: Any) -> bytes:
    """The edge payload's wire form: an LZ4 frame of a MessagePack document."""
    return lz4.frame.compress(msgpack.packb(payload, use_bin_type=True))


def decode(url: str, body: bytes, accept: str | None = None) -> httpx.Response:
    headers = {"content-type": "application/octet-stream"}
    if accept:
        headers["accept"] = accept
    return httpx.post(url + "/decode", content=body, headers=headers, timeout=TIMEOUT)


def metric_samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of /metrics by (sample name, sorted labels)."""
    response = httpx.get(url + "/metrics", timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def sample(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    """One sample's value, 0.0 when the series does not exist yet."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def batches_larger_than_one(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    """Observations of ``udn_batch_size`` above 1: all batches minus those in the le=1 bucket."""
    total = sample(samples, "udn_batch_size_count")
    single = sample(samples, "udn_batch_size_bucket", le="1.0")
    return total - single
