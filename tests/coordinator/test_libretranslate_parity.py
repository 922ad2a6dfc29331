"""LibreTranslate's clients and endpoints through a real coordinator (Redis, keys required) and node."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from deep_translator import LibreTranslator
from deep_translator.exceptions import AuthorizationException
from libretranslatepy import LibreTranslateAPI

from tests.support import (
    ADMIN,
    BEACH_EN,
    CoordinatorProcess,
    Load,
    NodeProcess,
    drop_prefix,
    eventually,
    new_prefix,
    start_coordinator,
    start_registered_node,
)

CAT_PT = "O gato está dormindo no sofá."


class Keyed:
    def __init__(
        self, coordinator: CoordinatorProcess, node: NodeProcess, key: str, redis_url: str, prefix: str
    ):
        self.coordinator, self.node, self.key, self.redis_url, self.prefix = (
            coordinator,
            node,
            key,
            redis_url,
            prefix,
        )
        self.url = coordinator.url

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.post(self.url + path, timeout=30, **kwargs)


@pytest.fixture(scope="module")
def keyed(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    tmp = tmp_path_factory.mktemp("parity")
    prefix = new_prefix()
    config = {
        "coordinator": {"redis_prefix": prefix, "require_api_key": True},
        "serving": {"suggestions": True},
    }
    coordinator = start_coordinator(tmp, config, env={"REDIS_URL": redis_url})
    node = None
    try:
        node = start_registered_node(tmp, coordinator, "parity-node")
        eventually(
            lambda: httpx.get(coordinator.url + "/ready", timeout=2).status_code == 200, 10, "the coordinator"
        )
        yield Keyed(coordinator, node, coordinator.create_key(name="parity")["key"], redis_url, prefix)
    finally:
        if node is not None:
            node.stop()
        coordinator.stop()
        drop_prefix(redis_url, prefix)


def test_libretranslatepy_through_the_coordinator(keyed: Keyed) -> None:
    client = LibreTranslateAPI(keyed.url, api_key=keyed.key)
    assert "praia" in client.translate(BEACH_EN, "en", "pt")
    assert "praia" in client.translate(BEACH_EN, "auto", "pt")
    assert client.detect(CAT_PT)[0]["language"] == "pt"
    assert client.languages() == [
        {"code": "en", "name": "English", "targets": ["pt"]},
        {"code": "pt", "name": "Portuguese", "targets": ["en"]},
    ]


def test_deep_translator_through_the_coordinator(keyed: Keyed) -> None:
    client = LibreTranslator(source="en", target="pt", api_key=keyed.key, custom_url=keyed.url + "/")
    assert "praia" in client.translate(BEACH_EN)
    batch = client.translate_batch([BEACH_EN, "Good morning."])
    assert "praia" in batch[0] and batch[1].startswith("Bom dia")
    # Its key travels in the query string: a wrong one is refused there too.
    refused = LibreTranslator(source="en", target="pt", api_key="udn_nope", custom_url=keyed.url + "/")
    with pytest.raises(AuthorizationException):
        refused.translate(BEACH_EN)


def test_auto_translates_each_text_from_its_own_language(keyed: Keyed) -> None:
    q = [CAT_PT, BEACH_EN, "Bom dia a todos.", "Good morning."]
    response = keyed.post("/translate", json={"q": q, "source": "auto", "target": "en", "api_key": keyed.key})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [d["language"] for d in body["detectedLanguage"]] == ["pt", "en", "pt", "en"]
    out = body["translatedText"]
    assert (
        "cat" in out[0].lower()
        and out[1] == BEACH_EN
        and "morning" in out[2].lower()
        and out[3] == "Good morning."
    )
    single = keyed.post(
        "/translate", params={"q": BEACH_EN, "source": "auto", "target": "pt", "api_key": keyed.key}
    )
    assert single.status_code == 200, single.text
    assert "praia" in single.json()["translatedText"]
    assert single.json()["detectedLanguage"]["language"] == "en"


def test_regional_tags_through_the_coordinator(keyed: Keyed) -> None:
    response = keyed.post(
        "/translate", data={"q": BEACH_EN, "source": "en-US", "target": "pt-BR", "api_key": keyed.key}
    )
    assert response.status_code == 200, response.text
    assert "praia" in response.json()["translatedText"]


def test_frontend_settings_say_a_key_is_required(keyed: Keyed) -> None:
    settings = httpx.get(keyed.url + "/frontend/settings", timeout=30).json()
    assert settings["apiKeys"] is True and settings["keyRequired"] is True and settings["suggestions"] is True
    assert settings["language"] == {
        "source": {"code": "auto", "name": "Auto Detect"},
        "target": {"code": "en", "name": "English"},
    }
    assert settings["filesTranslation"] is True and ".docx" in settings["supportedFilesFormat"]


def test_suggestions_go_to_redis_and_the_admin_exports_them(keyed: Keyed) -> None:
    response = keyed.post("/suggest", data={"q": "Hello", "s": "Olá", "source": "en", "target": "pt"})
    assert response.status_code == 200, response.text
    client = redis.Redis.from_url(keyed.redis_url, decode_responses=True)
    stored = [json.loads(row) for row in client.lrange(keyed.prefix + "suggestions", 0, -1)]
    assert [(s["q"], s["s"], s["source"], s["target"]) for s in stored] == [("Hello", "Olá", "en", "pt")]
    exported = httpx.get(keyed.url + "/admin/suggestions", headers=ADMIN, timeout=30)
    assert exported.status_code == 200
    assert [s["s"] for s in exported.json()["suggestions"]] == ["Olá"]
    assert httpx.get(keyed.url + "/admin/suggestions", timeout=30).status_code == 401


def test_bad_input_through_the_coordinator_while_good_traffic_is_served(keyed: Keyed) -> None:
    key = {"api_key": keyed.key}
    bad: dict[str, tuple[str, dict[str, Any], int, str]] = {
        "auto into a target not served": (
            "/translate",
            {"json": {"q": "Hi.", "source": "auto", "target": "de", **key}},
            400,
            "target 'de' is not supported",
        ),
        "auto as the target": (
            "/translate",
            {"json": {"q": "Hi.", "source": "en", "target": "auto", **key}},
            400,
            "for 'source' only",
        ),
        "query string without q": (
            "/translate",
            {"params": {"source": "en", "target": "pt", **key}},
            400,
            "missing 'q'",
        ),
        "no key": ("/translate", {"params": {"q": "Hi.", "source": "en", "target": "pt"}}, 401, "API key"),
        "detect without a key": ("/detect", {"json": {"q": "Hello there."}}, 401, "API key"),
        "detect without q": ("/detect", {"json": key}, 400, "missing 'q'"),
        "suggest without s": (
            "/suggest",
            {"json": {"q": "Hi.", "source": "en", "target": "pt"}},
            400,
            "missing 's'",
        ),
    }
    with Load(
        keyed.url, clients=2, body={"q": "Good morning.", "source": "auto", "target": "pt", **key}
    ) as load:
        load.more(2)
        for name, (path, how, status, message) in bad.items():
            response = keyed.post(path, **how)
            assert response.status_code == status, (name, response.text)
            assert set(response.json()) == {"error"} and message in response.json()["error"], (
                name,
                response.text,
            )
        good = keyed.post("/translate", json={"q": BEACH_EN, "source": "en", "target": "pt", **key})
        assert good.status_code == 200 and "praia" in good.json()["translatedText"]
        detected = keyed.post("/detect", data={"q": CAT_PT, **key})
        assert detected.status_code == 200 and detected.json()[0]["language"] == "pt"
        load.more(2)
    assert load.failures == []


def test_without_redis_suggestions_go_to_the_coordinators_sqlite_file(tmp_path: Path) -> None:
    db = tmp_path / "suggestions.db"
    config = {"coordinator": {"suggestions_db": str(db)}, "serving": {"suggestions": True}}
    coordinator = start_coordinator(tmp_path, config)
    try:
        response = httpx.post(
            coordinator.url + "/suggest",
            json={"q": "Hi", "s": "Oi", "source": "en", "target": "pt-BR"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        with sqlite3.connect(db) as connection:
            assert connection.execute("SELECT q, s, source, target FROM suggestions").fetchall() == [
                ("Hi", "Oi", "en", "pb")
            ]
        exported = httpx.get(coordinator.url + "/admin/suggestions", headers=ADMIN, timeout=30).json()
        assert [(s["q"], s["s"]) for s in exported["suggestions"]] == [("Hi", "Oi")]
    finally:
        coordinator.stop()


def test_suggestions_are_off_unless_enabled(tmp_path: Path) -> None:
    coordinator = start_coordinator(tmp_path)
    try:
        response = httpx.post(
            coordinator.url + "/suggest", data={"q": "Hi", "s": "Oi", "source": "en", "target": "pt"}
        )
    finally:
        coordinator.stop()
    assert response.status_code == 403
    assert response.json() == {"error": "Suggestions are disabled on this server."}
