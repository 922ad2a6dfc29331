"""A node that serves HTTPS itself, registered with a coordinator that trusts its CA."""

from __future__ import annotations

from pathlib import Path

import httpx
import trustme

from tests.support import drop_prefix, new_prefix, start_coordinator, start_registered_node


def test_a_tls_node_registers_an_https_url_and_serves_through_the_coordinator(
    redis_url: str, tmp_path: Path
) -> None:
    ca = trustme.CA()
    ca_file, cert_file = tmp_path / "ca.pem", tmp_path / "cert.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(cert_file))
    prefix = new_prefix()
    # The coordinator's client verifies node certificates against SSL_CERT_FILE (httpx).
    coordinator = start_coordinator(
        tmp_path,
        {"coordinator": {"redis_prefix": prefix}},
        env={"REDIS_URL": redis_url, "SSL_CERT_FILE": str(ca_file)},
    )
    try:
        node = start_registered_node(
            tmp_path,
            coordinator,
            "tls-node",
            args=["--ssl-certfile", str(cert_file), "--ssl-keyfile", str(cert_file)],
            tls_ca=str(ca_file),
        )
        try:
            (record,) = coordinator.status()["nodes"]
            assert record["url"] == node.url and node.url.startswith("https://127.0.0.1:")
            r = httpx.post(
                coordinator.url + "/translate",
                json={"q": "We are going to the beach.", "source": "en", "target": "pt"},
                timeout=60,
            )
            assert r.status_code == 200, r.text
            assert "praia" in r.json()["translatedText"]
        finally:
            node.stop()
    finally:
        coordinator.stop()
        drop_prefix(redis_url, prefix)
