"""The node answers a real translation over loopback HTTP."""

from __future__ import annotations

import httpx

from tests.conftest import NodeProcess


def test_translates_english_to_portuguese(node: NodeProcess) -> None:
    response = httpx.post(
        node.url + "/translate",
        json={
            "q": "The weather is nice today, so we are going to the beach.",
            "source": "en",
            "target": "pt",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]
