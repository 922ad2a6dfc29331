"""The coordinator at the HTTP level, a real ``udn coordinator`` over loopback (state file only).

HTTPS enforcement with its allowed hosts, oversized numbers before any key check, oversized
headers, a client gone mid-body, and an OpenAPI document without the guarded routes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support import (
    CoordinatorProcess,
    RawConnection,
    eventually,
    http_request,
    metric_samples,
    sample,
    start_coordinator,
)

JSON = {"Content-Type": "application/json"}
HUGE_INTEGER = b'{"q": "Hi.", "source": "en", "target": "pt", "api_key": ' + b"1" * 4301 + b"}"


def port_of(coordinator: CoordinatorProcess) -> int:
    return int(coordinator.url.rsplit(":", 1)[1])


@pytest.fixture(scope="module")
def enforcing(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoordinatorProcess]:
    """HTTPS enforced for coordinator.example.com, behind a proxy the test is not."""
    process = start_coordinator(
        tmp_path_factory.mktemp("enforcing"),
        {"https": {"allowed_hosts": ["coordinator.example.com"], "trusted_proxies": ["10.9.8.7"]}},
        env={"ENFORCE_HTTPS": "true"},
    )
    yield process
    process.stop()


@pytest.fixture(scope="module")
def coordinator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoordinatorProcess]:
    """API keys required."""
    process = start_coordinator(tmp_path_factory.mktemp("keys"), {"coordinator": {"require_api_key": True}})
    yield process
    process.stop()


def test_a_foreign_host_gets_no_redirect_and_a_known_one_does(enforcing: CoordinatorProcess) -> None:
    evil = httpx.get(enforcing.url + "/languages", headers={"Host": "evil.com"}, timeout=10)
    assert evil.status_code == 400
    assert "location" not in evil.headers
    assert evil.json() == {"error": "host 'evil.com' is not served here; check the Host header"}
    assert evil.headers["x-content-type-options"] == "nosniff"
    ours = httpx.get(
        enforcing.url + "/languages?x=1", headers={"Host": "coordinator.example.com"}, timeout=10
    )
    assert ours.status_code == 308
    assert ours.headers["location"] == "https://coordinator.example.com/languages?x=1"


def test_a_huge_integer_is_a_400_before_the_key_check_and_the_connection_keeps_serving(
    coordinator: CoordinatorProcess,
) -> None:
    with RawConnection(port_of(coordinator)) as conn:
        conn.send(http_request("POST", "/translate", HUGE_INTEGER, JSON))
        status, headers, body = conn.response()
        assert status == 400, body
        assert "more than 4300 digits" in json.loads(body)["error"]
        assert headers.get("connection") != "close"
        conn.send(http_request("GET", "/languages"))  # the same connection
        status, _, body = conn.response()
        assert status == 200, body
        assert json.loads(body) == []


def test_a_header_over_the_limit_is_a_431(coordinator: CoordinatorProcess) -> None:
    with RawConnection(port_of(coordinator)) as conn:
        conn.send(http_request("GET", "/health", headers={"X-Filler": "a" * 70_000})[:-4])
        status, headers, body = conn.response()
    assert status == 431
    assert json.loads(body) == {"error": "request headers are larger than the limit of 65536 bytes"}
    assert headers["x-frame-options"] == "DENY"


def test_a_client_gone_mid_body_is_counted_499(coordinator: CoordinatorProcess) -> None:
    with RawConnection(port_of(coordinator)) as conn:
        head = http_request("POST", "/translate", b"x" * 100_000, JSON)
        conn.send(head[: len(head) - 99_000])
    name = "udn_coordinator_requests_total"
    eventually(
        lambda: sample(metric_samples(coordinator.url), name, endpoint="/translate", code="499") == 1,
        30,
        lambda: f"a 499 to be counted:\n{coordinator.log()}",
    )
    assert sample(metric_samples(coordinator.url), name, endpoint="/translate", code="500") == 0
    assert "Traceback" not in coordinator.log()


def test_openapi_lists_no_guarded_route(coordinator: CoordinatorProcess) -> None:
    paths = httpx.get(coordinator.url + "/openapi.json", timeout=10).json()["paths"]
    assert "/translate" in paths
    assert [p for p in paths if p.startswith(("/admin", "/nodes"))] == []
