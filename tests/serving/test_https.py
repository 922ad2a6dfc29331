"""HTTPS on real nodes: serving TLS with a generated certificate, and enforcing HTTPS behind a proxy."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import trustme
import yaml

from tests.support import UDN, NodeProcess, free_port, start_node, translate
from universal_decoder_node.cli import main

ADMIN = {"Authorization": "Bearer tls-admin"}


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
    where = tmp_path_factory.mktemp("tls-node")
    (where / "a-file").write_text("profiles cannot be written under a file\n")
    node = start_node(
        where,
        {
            "models": {"warmup": False},
            "admin": {"token": "tls-admin"},
            "profiling": {"profile_output_dir": str(where / "a-file" / "profiles")},
        },
        args=["--ssl-certfile", certificate["cert"], "--ssl-keyfile", certificate["key"]],
        tls_ca=certificate["ca"],
        ready_timeout=180,
    )
    yield node
    node.stop()


def test_node_serves_https_with_its_certificate(tls_node: NodeProcess) -> None:
    assert tls_node.url.startswith("https://")
    r = translate(tls_node.url, "Secure connections matter.", verify=tls_node.verify, timeout=30)
    assert r.status_code == 200, r.text
    assert r.json()["translatedText"]
    assert r.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    assert r.headers["x-content-type-options"] == "nosniff"


def test_errors_over_tls_carry_hsts_too(tls_node: NodeProcess) -> None:
    hsts = "max-age=31536000; includeSubDomains"
    failed = httpx.get(
        tls_node.url + "/admin/profiling/export", headers=ADMIN, verify=tls_node.verify, timeout=30
    )
    assert failed.status_code == 500, failed.text  # profile_output_dir cannot be created
    assert failed.headers["strict-transport-security"] == hsts
    assert failed.headers["x-content-type-options"] == "nosniff"
    too_big = httpx.get(
        tls_node.url + "/languages", headers={"X-Filler": "a" * 70_000}, verify=tls_node.verify, timeout=30
    )
    assert too_big.status_code == 431  # answered by the HTTP protocol itself, below the app
    assert too_big.headers["strict-transport-security"] == hsts
    assert too_big.headers["x-frame-options"] == "DENY"


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
    for host in ("evil.com", "evil.com:443", "node.example.com.evil.com"):
        r = httpx.get(enforcing_node.url + "/languages", headers={"Host": host}, timeout=10)
        assert r.status_code == 400, host
        assert "location" not in r.headers
        assert r.json() == {"error": f"host {host.split(':')[0]!r} is not served here; check the Host header"}


def refused_start(tmp_path: Path, command: str, config: dict[str, object], env: dict[str, str]) -> str:
    """Run ``udn serve`` or ``udn coordinator``, which must refuse to start; its stderr."""
    path = tmp_path / "refused.yaml"
    path.write_text(yaml.safe_dump(config))
    clean = {k: v for k, v in os.environ.items() if not k.startswith("UDN_") and k != "ENFORCE_HTTPS"}
    done = subprocess.run(
        [*UDN, command, "--config", str(path)],
        env={**clean, **env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    return done.stderr


@pytest.mark.parametrize("command", ["serve", "coordinator"])
def test_enforcing_https_for_every_host_refuses_to_start(tmp_path: Path, command: str) -> None:
    port = free_port()
    config = {"serving": {"port": port}, "coordinator": {"port": port}}
    stderr = refused_start(tmp_path, command, config, {"ENFORCE_HTTPS": "true"})
    assert stderr.startswith("udn: https.allowed_hosts allows '*' while HTTPS is enforced"), stderr
    assert stderr.count("\n") == 1, stderr  # one line, no traceback
    stderr = refused_start(
        tmp_path,
        command,
        {**config, "https": {"enforce_https": True, "allowed_hosts": ["a.example", "*"]}},
        {},
    )
    assert "https.allowed_hosts" in stderr
