"""The node answers a real translation over loopback HTTP."""

from __future__ import annotations

from tests.support import BEACH_EN, NodeProcess, translate


def test_translates_english_to_portuguese(node: NodeProcess) -> None:
    response = translate(node.url, BEACH_EN, "en", "pt", timeout=30)
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]
