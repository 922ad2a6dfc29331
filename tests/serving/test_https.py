"""HTTPS on real nodes: serving TLS with a generated certificate, and enforcing HTTPS behind a proxy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme

from tests.conftest import NodeProcess, start_node
from universal_decoder_node.cli import main


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A throwaway CA and a server certificate for 127.0.0.1 and localhost."""
    where = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": where / "ca.pem", "cert": where / "cert.pem", "key": where / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    cert.private_key_and_cert_chain_pem.write_to_path(str(files["cert"]))
    cert.private_key_pem.write_to_path(str(files["key"]))
    return {k: str(v) for k, v in files.items()}


@pytest.fixture(scope="module")
def tls_node(tmp_path_factory: pytest.TempPathFactory, certificate: dict[str, str]) -> Iterator[NodeProcess]:
    node = start_node(
        tmp_path_factory.mktemp("tls-node"),
        {"models": {"warmup": False}},
        args=["--ssl-certfile", certificate["cert"], "--ssl-keyfile", certificate["key"]],
        tls_ca=certificate["ca"],
        ready_timeout=180,
    )
    yield node
    node.stop()


def test_node_serves_https_with_its_certificate(tls_node: NodeProcess) -> None:
    assert tls_node.url.startswith("https://")
    r = httpx.post(
        tls_node.url + "/translate",
        json={"q": "Secure connections matter.", "source": "en", "target": "pt"},
        verify=tls_node.verify,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["translatedText"]
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_an_untrusted_client_cannot_connect(tls_node: NodeProcess) -> None:
    with pytest.raises(httpx.ConnectError):
        httpx.get(tls_node.url + "/health", timeout=10)  # the system CAs do not know our test CA
    with pytest.raises(httpx.HTTPError):
        httpx.get(tls_node.url.replace("https://", "http://") + "/health", timeout=10)  # no plain HTTP


def test_tls_flags_are_checked_before_starting(tmp_path: Path, certificate: dict[str, str]) -> None:
    assert main(["serve", "--ssl-certfile", certificate["cert"]]) == 2
    assert (
        main(["serve", "--ssl-certfile", str(tmp_path / "nope.pem"), "--ssl-keyfile", certificate["key"]])
        == 2
    )
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    assert main(["serve", "--ssl-certfile", str(garbage), "--ssl-keyfile", certificate["key"]]) == 2


@pytest.fixture(scope="module")
def enforcing_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    """ENFORCE_HTTPS=true, behind a (pretend) proxy at 10.9.8.7: loopback clients are not trusted."""
    config = {
        "models": {"warmup": False},
        "https": {
            "https_port": 8443,
            "exempt_paths": ["/health", "/metrics", "/ready"],
            "trusted_proxies": ["10.9.8.7"],
            "allowed_hosts": ["127.0.0.1", "node.example.com"],
        },
    }
    node = start_node(
        tmp_path_factory.mktemp("enforce"), config, env={"ENFORCE_HTTPS": "true"}, ready_timeout=180
    )
    yield node
    node.stop()


def test_plain_http_is_redirected_to_https(enforcing_node: NodeProcess) -> None:
    r = httpx.post(
        enforcing_node.url + "/translate?trace=1",
        json={"q": "hello", "source": "en", "target": "pt"},
        headers={"Host": "node.example.com:8000"},
        timeout=10,
    )
    assert r.status_code == 308
    assert r.headers["location"] == "https://node.example.com:8443/translate?trace=1"
    assert "strict-transport-security" not in r.headers
    assert r.headers["x-frame-options"] == "DENY"


def test_exempt_paths_answer_over_plain_http(enforcing_node: NodeProcess) -> None:
    for path in ("/health", "/metrics", "/ready"):
        r = httpx.get(enforcing_node.url + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["x-content-type-options"] == "nosniff"


def test_forwarded_proto_from_an_untrusted_client_is_ignored(enforcing_node: NodeProcess) -> None:
    # uvicorn must not trust loopback either (the node hands it the same trusted proxies).
    r = httpx.get(enforcing_node.url + "/languages", headers={"X-Forwarded-Proto": "https"}, timeout=10)
    assert r.status_code == 308
    assert r.headers["location"] == "https://127.0.0.1:8443/languages"


def test_a_foreign_host_gets_no_redirect(enforcing_node: NodeProcess) -> None:
    r = httpx.get(enforcing_node.url + "/languages", headers={"Host": "evil.example"}, timeout=10)
    assert r.status_code == 400
    assert "location" not in r.headers
    assert "evil.example" in r.json()["error"]
