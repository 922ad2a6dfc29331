"""``POST /suggest`` on a node with suggestions on: kept in its SQLite file, exported to the admin."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import ADMIN, ADMIN_TOKEN, BEACH_EN, TIMEOUT, NodeProcess, start_node, translate


@pytest.fixture(scope="module")
def suggesting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Path]]:
    tmp = tmp_path_factory.mktemp("suggest")
    db = tmp / "data" / "suggestions.db"
    config = {
        "models": {"warmup": False},
        "serving": {"threads": 1, "suggestions": True, "suggestions_db": str(db)},
    }
    node = start_node(tmp, config, env={"UDN_ADMIN_TOKEN": ADMIN_TOKEN})
    yield node, db
    node.stop()


def test_suggestions_are_kept_in_sqlite_and_exported(suggesting: tuple[NodeProcess, Path]) -> None:
    node, db = suggesting
    sent = [
        {"data": {"q": "Hello", "s": "Olá", "source": "en", "target": "pt"}},
        {"json": {"q": "Good night", "s": "Boa noite", "source": "en", "target": "pt-BR", "api_key": "k"}},
        {"params": {"q": "Thanks", "s": "Obrigado", "source": "en", "target": "pt"}},
    ]
    for how in sent:
        response = httpx.post(node.url + "/suggest", timeout=TIMEOUT, **how)
        assert response.status_code == 200, response.text
        assert response.json() == {"success": True}
    with sqlite3.connect(db) as connection:  # LibreTranslate's table, as it keeps it
        rows = connection.execute("SELECT q, s, source, target FROM suggestions").fetchall()
    assert rows == [
        ("Hello", "Olá", "en", "pt"),
        ("Good night", "Boa noite", "en", "pb"),
        ("Thanks", "Obrigado", "en", "pt"),
    ]
    exported = httpx.get(node.url + "/admin/suggestions", headers=ADMIN, timeout=TIMEOUT)
    assert exported.status_code == 200
    assert [(s["q"], s["s"]) for s in exported.json()["suggestions"]] == [
        ("Hello", "Olá"),
        ("Good night", "Boa noite"),
        ("Thanks", "Obrigado"),
    ]
    assert all(s["created_at"] > 0 for s in exported.json()["suggestions"])
    settings = httpx.get(node.url + "/frontend/settings", timeout=TIMEOUT).json()
    assert settings["suggestions"] is True


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"s": "Olá", "source": "en", "target": "pt"}, "missing 'q'"),
        ({"q": "Hello", "source": "en", "target": "pt"}, "missing 's'"),
        ({"q": "Hello", "s": "Olá", "target": "pt"}, "missing 'source'"),
        ({"q": "Hello", "s": "Olá", "source": "en"}, "missing 'target'"),
        ({"q": ["Hello"], "s": "Olá", "source": "en", "target": "pt"}, "'q' must be one string"),
        ({"q": "Hello", "s": "a" * 5001, "source": "en", "target": "pt"}, "at most 5000"),
    ],
)
def test_a_bad_suggestion_is_refused_and_nothing_is_kept(
    suggesting: tuple[NodeProcess, Path], body: dict[str, object], message: str
) -> None:
    node, _ = suggesting
    before = httpx.get(node.url + "/admin/suggestions", headers=ADMIN, timeout=TIMEOUT).json()
    response = httpx.post(node.url + "/suggest", json=body, timeout=TIMEOUT)
    assert response.status_code == 400
    assert message in response.json()["error"]
    assert httpx.get(node.url + "/admin/suggestions", headers=ADMIN, timeout=TIMEOUT).json() == before
    assert "praia" in translate(node.url, BEACH_EN).json()["translatedText"]  # and the node serves on


def test_the_export_is_for_the_admin_only(suggesting: tuple[NodeProcess, Path]) -> None:
    node, _ = suggesting
    assert httpx.get(node.url + "/admin/suggestions", timeout=TIMEOUT).status_code == 401
    wrong = {"Authorization": "Bearer nope"}
    assert httpx.get(node.url + "/admin/suggestions", headers=wrong, timeout=TIMEOUT).status_code == 401
