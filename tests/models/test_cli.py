"""``udn models`` against the Hub stand-in: real huggingface_hub downloads, verified into the store."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from tests.support import eventually, udn, write_config
from tests.support.fakehub import BROKEN_REPO, REPO, FakeHub, commit_of, hub_env
from universal_decoder_node.models import ModelStore, RepoRef

WEIGHTS = "model.enpt.intgemm.alphas.bin"


def _store(tmp_path: Path) -> ModelStore:
    return ModelStore(tmp_path / "store")


def test_pull_downloads_verifies_and_stores_once(tmp_path: Path, hub: FakeHub) -> None:
    config = write_config(tmp_path, {"adapters": {"repos": {"en-es": f"{REPO}@v1"}}})
    env = hub_env(tmp_path, hub)
    first = udn(["models", "pull", "en-es", "--config", str(config)], env, tmp_path)
    assert first.returncode == 0, first.stderr
    v1 = commit_of(hub, "v1")
    assert f"en-es: {REPO}@v1: commit {v1[:12]}" in first.stdout
    snapshot = _store(tmp_path).resolve(RepoRef(REPO, "v1"))
    assert snapshot is not None and snapshot.commit == v1
    assert (snapshot.path / WEIGHTS).read_bytes() == hub.repos[REPO].commits[v1][WEIGHTS].data
    assert snapshot.manifest()["files"][WEIGHTS]["sha256"] == hub.repos[REPO].commits[v1][WEIGHTS].sha256
    assert not (snapshot.path / ".cache").exists(), "huggingface_hub's bookkeeping is not part of the model"
    assert hub.file_downloads(WEIGHTS) == 1

    # Pulled again: the tag is asked about, the files are not fetched again.
    again = udn(["models", "pull", "en-es", "--config", str(config)], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert hub.file_downloads(WEIGHTS) == 1

    listing = udn(["models", "list", "--config", str(config), "--url", "http://127.0.0.1:9"], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if "en-es" in line)
    assert f"{REPO}@v1" in row and f"yes ({v1[:12]})" in row and "24.8 MB" in row
    assert "no node answers at http://127.0.0.1:9" in listing.stdout

    removed = udn(["models", "rm", "en-es", "--config", str(config)], env, tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "MB freed" in removed.stdout
    assert _store(tmp_path).snapshots() == []


def test_pinned_revision_is_what_gets_downloaded(tmp_path: Path, hub: FakeHub) -> None:
    v1, main = commit_of(hub, "v1"), commit_of(hub, "main")
    env = hub_env(tmp_path, hub)
    pulled = udn(["models", "pull", f"{REPO}@{v1}"], env, tmp_path)
    assert pulled.returncode == 0, pulled.stderr
    store = _store(tmp_path)
    assert [s.commit for s in store.snapshots()] == [v1]
    assert (store.snapshots()[0].path / WEIGHTS).is_file(), "v1 holds the en->pt model, main the pt->en one"
    # Everything asked for names the pinned commit (its file checksums included), never a branch.
    assert hub.count(contains=f"/revision/{v1}") == 1
    assert all(v1 in path for _, path in hub.requests), hub.requests
    assert main not in "".join(path for _, path in hub.requests)


def test_corrupt_download_is_never_stored(tmp_path: Path, hub: FakeHub) -> None:
    hub.corrupt.add(WEIGHTS)
    result = udn(["models", "pull", BROKEN_REPO], hub_env(tmp_path, hub), tmp_path)
    assert result.returncode == 1
    assert f"cannot fetch language pair '{BROKEN_REPO}@main' from {BROKEN_REPO}@main" in result.stderr
    assert f"{WEIGHTS} is corrupt (sha256" in result.stderr
    store = _store(tmp_path)
    assert store.snapshots() == []
    assert not list((tmp_path / "store" / ".tmp").iterdir()), "the failed download was cleaned up"


def test_truncated_download_is_never_stored(tmp_path: Path, hub: FakeHub) -> None:
    hub.truncate.add(WEIGHTS)
    result = udn(["models", "pull", BROKEN_REPO], hub_env(tmp_path, hub), tmp_path)
    assert result.returncode == 1
    assert "peer closed connection" in result.stderr
    assert _store(tmp_path).snapshots() == []
    assert not list((tmp_path / "store" / ".tmp").iterdir())


def test_killed_download_leaves_nothing_loadable_and_is_redone(tmp_path: Path, hub: FakeHub) -> None:
    env = hub_env(tmp_path, hub)
    hub.gate = threading.Event()  # bodies stall after their first chunk
    process = subprocess.Popen(
        [sys.executable, "-m", "universal_decoder_node.cli", "models", "pull", REPO],
        env={**os.environ, **env},
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:

        def download_started() -> bool:
            assert process.poll() is None, "pull exited early"
            return hub.file_downloads("model.pten.intgemm.alphas.bin") > 0

        eventually(download_started, 60, "the download to start", interval=0.05)
    finally:
        process.kill()
        process.wait(10)
    store = _store(tmp_path)
    assert store.resolve(RepoRef(REPO)) is None
    litter = list((tmp_path / "store" / ".tmp").iterdir())
    assert litter, "the killed download's temporary directory is where the crash left it"
    hub.gate.set()
    again = udn(["models", "pull", REPO], env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert store.resolve(RepoRef(REPO)) is not None
    assert not any(p.exists() for p in litter), "the next download cleared the litter"


def test_concurrent_pulls_on_one_host_download_once(tmp_path: Path, hub: FakeHub) -> None:
    env = {**os.environ, **hub_env(tmp_path, hub)}
    hub.gate = threading.Event()  # the first download stalls until the others wait on the lock
    command = [sys.executable, "-m", "universal_decoder_node.cli", "models", "pull", f"{REPO}@v1"]
    logs = [tmp_path / f"pull-{i}.log" for i in range(3)]
    processes = []
    for log in logs:
        with log.open("w") as out:
            processes.append(subprocess.Popen(command, env=env, cwd=tmp_path, stdout=out, stderr=out))
    try:
        eventually(
            lambda: sum("waiting for another process downloading" in log.read_text() for log in logs) >= 2,
            90,
            lambda: f"two pulls to wait for the first: {[log.read_text() for log in logs]}",
            interval=0.05,
        )
        hub.gate.set()
        codes = [p.wait(120) for p in processes]
    finally:
        for p in processes:
            p.kill()
    assert codes == [0, 0, 0], [log.read_text() for log in logs]
    assert hub.file_downloads(WEIGHTS) == 1
    assert len(_store(tmp_path).snapshots()) == 1


def test_offline_pull_names_the_pair_and_repository(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"adapters": {"repos": {"en-es": f"{REPO}@v1"}}})
    result = udn(["models", "pull", "en-es", "--config", str(config)], hub_env(tmp_path, None), tmp_path)
    assert result.returncode == 1
    assert f"cannot fetch language pair 'en-es' from {REPO}@v1" in result.stderr
    assert "offline mode" in result.stderr


def test_offline_pull_adopts_a_model_from_the_huggingface_cache(tmp_path: Path, hub: FakeHub) -> None:
    # An operator fetched the repository with huggingface_hub's own CLI into HF_HOME earlier.
    env = hub_env(tmp_path, hub)
    hf = Path(sys.executable).with_name("hf")
    fetched = subprocess.run(
        [str(hf), "download", REPO, "--revision", "v1"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fetched.returncode == 0, fetched.stderr
    hub.stop()
    result = udn(["models", "pull", f"{REPO}@v1"], hub_env(tmp_path, None), tmp_path)
    assert result.returncode == 0, result.stderr
    (snapshot,) = _store(tmp_path).snapshots()
    assert snapshot.commit == commit_of(hub, "v1")
    assert snapshot.manifest()["source"] == "hf-cache"
    # The checksums come from the names of the cache's blobs.
    assert snapshot.manifest()["files"][WEIGHTS]["sha256"]


def test_pull_refuses_what_is_not_from_the_hub(tmp_path: Path) -> None:
    env = hub_env(tmp_path, None)
    bundled = udn(["models", "pull", "en-pt"], env, tmp_path)
    assert bundled.returncode == 1 and "pair 'en-pt' is bundled" in bundled.stderr
    unknown = udn(["models", "rm", "xx-yy"], env, tmp_path)
    assert unknown.returncode == 1
    assert "pair 'xx-yy' is not configured; configured: en-pt, pt-en" in unknown.stderr
    malformed = udn(["models", "pull", "org/name@"], env, tmp_path)
    assert malformed.returncode == 1 and "must look like 'org/name'" in malformed.stderr
