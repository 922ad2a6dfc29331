"""A real node with Hub pairs: on-demand loads, pre-warm gating /ready, eviction, admin, offline restart."""

from __future__ import annotations

import contextlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from tests.support import (
    ADMIN,
    NodeProcess,
    eventually,
    metric_samples,
    sample,
    start_node,
    translate,
    udn,
    wait_until_ready,
)
from tests.support.fakehub import BROKEN_REPO, REPO, FakeHub, hub_env
from universal_decoder_node.engine import bundled_model_dirs
from universal_decoder_node.models import ModelStore

WEIGHTS = "model.enpt.intgemm.alphas.bin"
GREETING = "Good morning, my friend."
V1_ANSWER = {"translatedText": "Bom dia, meu amigo."}  # REPO@v1, en-es here, holds the en->pt model
HOSTILE = "test-org/hostile"
FLAKY = "test-org/flaky"


def _models(node: NodeProcess) -> dict[str, Any]:
    response = httpx.get(node.url + "/admin/models", headers=ADMIN, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["pairs"]  # type: ignore[no-any-return]


def _states(node: NodeProcess) -> dict[str, str]:
    """Per pair, its state in the node's only worker."""
    return {pair: next(iter(info["workers"].values()))["state"] for pair, info in _models(node).items()}


def test_on_demand_loading_eviction_and_admin(tmp_path: Path, hub: FakeHub) -> None:
    config = {
        "serving": {"workers": 1, "request_timeout": 60},
        "adapters": {
            "repos": {"en-es": f"{REPO}@v1", "en-fr": f"{REPO}@v1", "en-de": BROKEN_REPO},
            "max_loaded": 3,
            "pinned": ["en-fr"],
        },
    }
    hub.gate = threading.Event()  # downloads stall until the test lets them go on
    node = start_node(tmp_path, config, env=hub_env(tmp_path, hub))
    try:
        languages = httpx.get(node.url + "/languages", timeout=10).json()
        assert {"code": "en", "name": "English", "targets": ["de", "es", "fr", "pt"]} in languages
        assert _states(node)["en-es"] == "not_loaded"

        items_before = sample(metric_samples(node.url), "udn_batch_size_sum")
        with ThreadPoolExecutor(6) as pool:
            waiting = [pool.submit(translate, node.url, GREETING, "en", "es", timeout=90) for _ in range(6)]
            eventually(lambda: hub.file_downloads(WEIGHTS) >= 1, 60, "the download to start", interval=0.05)
            # en-es is downloading: a loaded pair is still served, promptly.
            served = translate(node.url, GREETING, "en", "pt", timeout=90)
            assert served.status_code == 200 and "Bom dia" in served.json()["translatedText"]
            assert not any(f.done() for f in waiting)
            assert _states(node)["en-es"] == "loading"
            hub.gate.set()
            answers = [f.result() for f in waiting]
        assert [a.status_code for a in answers] == [200] * 6, [a.text for a in answers]
        assert {a.json()["translatedText"] for a in answers} == {"Bom dia, meu amigo."}
        # The six waited inside the worker for the load: each reached it once (with the en-pt one).
        assert sample(metric_samples(node.url), "udn_batch_size_sum") - items_before == 7
        # Six concurrent requests: one revision lookup, one download of each file, one load.
        assert hub.count(contains="/revision/") == 1
        assert hub.file_downloads(WEIGHTS) == 1
        worker = next(iter(_models(node)["en-es"]["workers"].values()))
        assert worker["loads"] == 1

        # A corrupt download answers a clear 503 and leaves nothing loadable behind.
        hub.corrupt.add(WEIGHTS)
        broken = translate(node.url, GREETING, "en", "de", timeout=90)
        assert broken.status_code == 503
        assert f"'en-de' from {BROKEN_REPO}@main: {WEIGHTS} is corrupt" in broken.json()["error"]
        assert [s.repo_id for s in ModelStore(tmp_path / "store").snapshots()] == [REPO]
        assert _states(node)["en-de"] == "failed"
        hub.corrupt.clear()

        # max_loaded=3: en-pt, pt-en (loaded at start), en-es. en-fr (stored already) evicts pt-en,
        # which has not been used since the warm-up; then pt-en evicts en-pt, now the least recent.
        assert translate(node.url, GREETING, "en", "fr", timeout=90).status_code == 200
        states = _states(node)
        assert [p for p, s in sorted(states.items()) if s == "loaded"] == ["en-es", "en-fr", "en-pt"]
        assert translate(node.url, "Bom dia.", "pt", "en", timeout=90).status_code == 200
        states = _states(node)
        assert [p for p, s in sorted(states.items()) if s == "loaded"] == ["en-es", "en-fr", "pt-en"]
        assert hub.file_downloads(WEIGHTS, REPO) == 1, "en-fr shares en-es's stored snapshot"

        # Admin: unload, load again, a pinned pair refuses, the token is required.
        unloaded = httpx.delete(node.url + "/admin/models/en-es", headers=ADMIN, timeout=30)
        assert unloaded.status_code == 200 and set(unloaded.json()["workers"].values()) == {"unloaded"}
        assert _states(node)["en-es"] == "not_loaded"
        loaded = httpx.post(node.url + "/admin/models/en-es/load", headers=ADMIN, timeout=60)
        assert loaded.status_code == 200, loaded.text
        assert {w["state"] for w in loaded.json()["workers"].values()} == {"loaded"}
        pinned = httpx.delete(node.url + "/admin/models/en-fr", headers=ADMIN, timeout=30)
        assert pinned.status_code == 409 and "pinned" in pinned.json()["error"]
        unknown = httpx.post(node.url + "/admin/models/xx-yy/load", headers=ADMIN, timeout=30)
        assert unknown.status_code == 400 and "configured pairs: en-de, en-es" in unknown.json()["error"]
        assert httpx.get(node.url + "/admin/models", timeout=10).status_code == 401
        listing = _models(node)["en-es"]
        assert listing["cached"] is True and listing["disk_bytes"] > 20_000_000

        # The command line asks the node what is loaded.
        node_config = tmp_path / f"node-{node.url.rsplit(':', 1)[1]}.yaml"
        listing_cli = udn(
            ["models", "list", "--config", str(node_config)], {**node.env, "COLUMNS": "200"}, tmp_path
        )
        assert listing_cli.returncode == 0, listing_cli.stderr
        rows = {line.split()[1]: line for line in listing_cli.stdout.splitlines() if line.startswith("│")}
        assert "1/1 workers" in rows["en-es"] and "yes (" in rows["en-es"]
        assert "failed" in rows["en-de"] and "no" in rows["en-de"]

        # An unknown pair is a 400 that lists what can be served.
        response = translate(node.url, GREETING, "en", "xx", timeout=90)
        assert response.status_code == 400
        # (pt-de, pt-es and pt-fr through English: models.pivot)
        available = "available pairs: en-de, en-es, en-fr, en-pt, pt-de, pt-en, pt-es, pt-fr"
        assert available in response.json()["error"]
    finally:
        node.stop()


def test_prewarm_gates_ready_and_a_cached_restart_needs_no_network(tmp_path: Path, hub: FakeHub) -> None:
    config: dict[str, Any] = {
        "serving": {"workers": 2, "request_timeout": 30},
        "adapters": {"repos": {"en-es": f"{REPO}@v1", "en-it": f"{REPO}@main"}, "prewarm": ["en-es"]},
    }
    hub.gate = threading.Event()
    node = start_node(tmp_path, config, env=hub_env(tmp_path, hub), wait_ready=False)
    try:
        eventually(lambda: hub.file_downloads(WEIGHTS) >= 1, 60, "the pre-warm download to start", 0.05)
        # While the pre-warm pair downloads, the node is not ready (not even listening, or a 503):
        # asked ten times over about a second, the pause between asks being part of the check.
        for _ in range(10):
            with contextlib.suppress(httpx.TransportError):
                assert httpx.get(node.url + "/ready", timeout=2).status_code == 503
            time.sleep(0.1)
        hub.gate.set()
        wait_until_ready(node, 90)
        workers = _models(node)["en-es"]["workers"]
        assert len(workers) == 2
        assert {w["state"] for w in workers.values()} == {"loaded"}
        # Two workers pre-warmed the pair; one downloaded it while the other waited on the lock.
        assert hub.file_downloads(WEIGHTS) == 1
        assert hub.count(contains="/revision/") == 1
        assert translate(node.url, GREETING, "en", "es", timeout=90).json() == V1_ANSWER
    finally:
        node.stop()

    # The Hub goes away; the node restarts offline from its store.
    hub.stop()
    node = start_node(tmp_path, config, env=hub_env(tmp_path, None))
    try:
        assert translate(node.url, GREETING, "en", "es", timeout=90).json() == V1_ANSWER
        missing = translate(node.url, GREETING, "en", "it", timeout=90)
        assert missing.status_code == 503
        # The reason itself, not a deadline passing while the node "loads".
        error = missing.json()["error"]
        assert f"cannot fetch language pair 'en-it' from {REPO}@main" in error and "offline mode" in error
    finally:
        node.stop()


def test_prewarm_pair_that_cannot_be_had_stops_the_start_with_the_reason(tmp_path: Path) -> None:
    config = {"adapters": {"repos": {"en-es": f"{REPO}@v1"}, "prewarm": ["en-es"]}}
    node = start_node(tmp_path, config, env=hub_env(tmp_path, None), wait_ready=False)
    try:
        assert node.process.wait(90) != 0
        assert f"cannot fetch language pair 'en-es' from {REPO}@v1: offline mode" in node.log()
    finally:
        node.stop()


def test_on_demand_load_from_a_hostile_or_failing_hub_is_a_clean_503(tmp_path: Path, hub: FakeHub) -> None:
    # en-es: a Hub answering a commit id that is a path (aimed at a directory outside the store);
    # en-de: a download that breaks off. Clients learn what failed, never a local path or the Hub's URL.
    target = tmp_path / "sentinel"
    target.mkdir()
    (target / "keep.txt").write_text("the operator's data\n")
    hub.add_model_dir(HOSTILE, bundled_model_dirs()["en-pt"], commit="../../../sentinel")
    hub.add_model_dir(FLAKY, bundled_model_dirs()["pt-en"])
    hub.truncate.add("model.pten.intgemm.alphas.bin")
    config = {
        "serving": {"workers": 1, "request_timeout": 60},
        "adapters": {"repos": {"en-es": HOSTILE, "en-de": FLAKY}},
    }
    node = start_node(tmp_path, config, env=hub_env(tmp_path, hub))
    try:
        hostile = translate(node.url, GREETING, "en", "es", timeout=90)
        assert hostile.status_code == 503, hostile.text
        error = hostile.json()["error"]
        assert f"cannot fetch language pair 'en-es' from {HOSTILE}@main" in error
        assert "not a commit id" in error and "the node logged the details" in error
        assert sorted(p.name for p in target.iterdir()) == ["keep.txt"]
        assert (target / "keep.txt").read_text() == "the operator's data\n"

        admin = httpx.post(node.url + "/admin/models/en-es/load", headers=ADMIN, timeout=60)
        assert admin.status_code == 503 and "not a commit id" in admin.json()["error"]

        broken = translate(node.url, GREETING, "en", "de", timeout=90)
        assert broken.status_code == 503, broken.text
        error = broken.json()["error"]
        assert f"cannot fetch language pair 'en-de' from {FLAKY}@main" in error
        assert "the node logged the details" in error
        for answer in (hostile, admin, broken):
            text = answer.text
            assert hub.url not in text and "127.0.0.1" not in text and str(tmp_path) not in text, text
        # The operator finds the details in the node's log.
        assert "peer closed connection" in node.log() and hub.url in node.log()
        assert ModelStore(tmp_path / "store").snapshots() == []
    finally:
        node.stop()
