"""A hostile Hub, mirror or huggingface_hub cache cannot make ``udn models pull`` write outside the store.

Each test performs the attack end to end (the real ``udn`` command line, the real huggingface_hub
client against the Hub stand-in) and checks that the files outside the store are exactly as they
were, and that the command says what it refused in one line, without a traceback.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support import udn
from tests.support.fakehub import REPO, FakeHub, commit_of, hub_env
from universal_decoder_node.engine import bundled_model_dirs
from universal_decoder_node.models import ModelStore

HOSTILE = "test-org/hostile"
WEIGHTS = "model.enpt.intgemm.alphas.bin"
CONFIG = "config.intgemm8bitalpha.yml"


def outside_the_store(tmp_path: Path) -> dict[str, str]:
    """Every path under ``tmp_path`` but the store and huggingface_hub's home, with its content's digest."""
    out = {}
    for path in sorted(tmp_path.rglob("*")):
        relative = path.relative_to(tmp_path)
        if relative.parts[0] in ("store", "hf-home") or path.suffix == ".log":
            continue
        if path.is_symlink():
            out[str(relative)] = f"-> {os.readlink(path)}"
        elif path.is_file():
            out[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            out[str(relative)] = "dir"
    return out


def sentinel(tmp_path: Path) -> Path:
    """A directory the attacks aim at, holding a file an operator cares about."""
    target = tmp_path / "sentinel"
    target.mkdir()
    (target / "keep.txt").write_text("the operator's data\n")
    return target


def assert_refused(result: subprocess.CompletedProcess[str], *phrases: str) -> None:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr, result.stderr
    # One line says what was refused (the lines before it say what the command was doing).
    errors = [line for line in result.stderr.splitlines() if line.startswith("udn models ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    for phrase in phrases:
        assert phrase in errors[0], errors[0]


@pytest.mark.parametrize("aim", ["relative", "absolute"])
def test_a_commit_id_that_is_a_path_is_refused(tmp_path: Path, hub: FakeHub, aim: str) -> None:
    target = sentinel(tmp_path)
    # The snapshot would go to <store>/test-org--hostile/snapshots/<commit>: three levels up is tmp_path.
    commit = "../../../sentinel" if aim == "relative" else str(target)
    hub.add_model_dir(HOSTILE, bundled_model_dirs()["en-pt"], commit=commit)
    before = outside_the_store(tmp_path)
    result = udn(["models", "pull", HOSTILE], hub_env(tmp_path, hub), tmp_path)
    assert_refused(result, f"cannot fetch language pair '{HOSTILE}@main'", "not a commit id")
    assert outside_the_store(tmp_path) == before
    assert ModelStore(tmp_path / "store").snapshots() == []
    assert hub.file_downloads(WEIGHTS) == 0, "nothing is downloaded for a commit id that is refused"


@pytest.mark.parametrize(
    "name", ["../../../sentinel/escaped.txt", "{tmp}/sentinel/escaped.txt", "sub/../x.txt"]
)
def test_file_names_that_leave_the_snapshot_are_refused(tmp_path: Path, hub: FakeHub, name: str) -> None:
    sentinel(tmp_path)
    name = name.format(tmp=tmp_path)
    hub.add_model_dir(HOSTILE, bundled_model_dirs()["en-pt"], extra={name: b"written by the Hub\n"})
    before = outside_the_store(tmp_path)
    result = udn(["models", "pull", HOSTILE], hub_env(tmp_path, hub), tmp_path)
    assert_refused(result, f"cannot fetch language pair '{HOSTILE}@main'", "unsafe file name")
    assert outside_the_store(tmp_path) == before
    assert ModelStore(tmp_path / "store").snapshots() == []


def test_a_model_config_naming_files_outside_the_snapshot_is_refused(tmp_path: Path, hub: FakeHub) -> None:
    # The repository's Bergamot config names a file elsewhere on the node: loading it would read that file.
    target = sentinel(tmp_path)
    (target / "weights.bin").write_bytes((bundled_model_dirs()["en-pt"] / WEIGHTS).read_bytes())
    config = yaml.safe_load((bundled_model_dirs()["en-pt"] / CONFIG).read_text())
    config["models"] = [str(target / "weights.bin")]
    hub.add_model_dir(HOSTILE, bundled_model_dirs()["en-pt"], extra={CONFIG: yaml.safe_dump(config).encode()})
    result = udn(["models", "pull", HOSTILE], hub_env(tmp_path, hub), tmp_path)
    assert_refused(result, "not a usable Bergamot model", "outside the model directory")
    assert ModelStore(tmp_path / "store").snapshots() == []


def _hf_download(tmp_path: Path, hub: FakeHub, revision: str) -> Path:
    """Fetch the repository with huggingface_hub's own CLI into HF_HOME, as an operator would."""
    hf = Path(sys.executable).with_name("hf")
    fetched = subprocess.run(
        [str(hf), "download", REPO, "--revision", revision],
        env={**os.environ, **hub_env(tmp_path, hub)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fetched.returncode == 0, fetched.stderr
    snapshots = tmp_path / "hf-home" / "hub" / f"models--{REPO.replace('/', '--')}" / "snapshots"
    return snapshots / commit_of(hub, revision)


def test_adoption_from_the_hf_cache_does_not_follow_links_out_of_it(tmp_path: Path, hub: FakeHub) -> None:
    snapshot = _hf_download(tmp_path, hub, "v1")
    hub.stop()
    # Someone with write access to the cache pointed a snapshot file at a file outside it (same bytes,
    # so only where it lives is wrong).
    target = sentinel(tmp_path)
    outside = target / "weights.bin"
    outside.write_bytes((snapshot / WEIGHTS).read_bytes())
    (snapshot / WEIGHTS).unlink()
    (snapshot / WEIGHTS).symlink_to(outside)
    before = outside_the_store(tmp_path)
    result = udn(["models", "pull", f"{REPO}@v1"], hub_env(tmp_path, None), tmp_path)
    assert_refused(result, f"{WEIGHTS} in huggingface_hub's cache links outside its blobs")
    assert outside_the_store(tmp_path) == before
    assert ModelStore(tmp_path / "store").snapshots() == []


def test_adoption_refuses_a_cached_ref_that_is_a_path(tmp_path: Path, hub: FakeHub) -> None:
    snapshot = _hf_download(tmp_path, hub, "v1")
    hub.stop()
    # The cache's refs/v1 names a directory outside the cache instead of a commit.
    target = sentinel(tmp_path)
    for path in snapshot.iterdir():
        (target / path.name).write_bytes(path.read_bytes())
    refs = snapshot.parent.parent / "refs"
    (refs / "v1").write_text(os.path.relpath(target, snapshot.parent))
    before = outside_the_store(tmp_path)
    result = udn(["models", "pull", f"{REPO}@v1"], hub_env(tmp_path, None), tmp_path)
    assert_refused(result, "not a commit id")
    assert outside_the_store(tmp_path) == before
    assert ModelStore(tmp_path / "store").snapshots() == []


def test_pull_of_a_local_directory_says_it_needs_no_pull(tmp_path: Path) -> None:
    model = tmp_path / "my-model"
    model.mkdir()
    config = tmp_path / "udn.yaml"
    config.write_text(yaml.safe_dump({"models": {"pairs": {"en-de": {"path": str(model)}}}}))
    env = hub_env(tmp_path, None)
    for target in (str(model), "en-de"):
        result = udn(["models", "pull", target, "--config", str(config)], env, tmp_path)
        assert_refused(result, "needs no pull")
    assert not (tmp_path / "store").exists()


def test_pull_into_an_unusable_store_says_so(tmp_path: Path, hub: FakeHub) -> None:
    # adapters.dir names a file, not a directory.
    (tmp_path / "store").write_text("not a directory\n")
    result = udn(["models", "pull", REPO], hub_env(tmp_path, hub), tmp_path)
    assert_refused(result, "the model store", str(tmp_path / "store"))
    removed = udn(["models", "rm", REPO], hub_env(tmp_path, hub), tmp_path)
    assert removed.returncode == 1 and "Traceback" not in removed.stderr, removed.stderr
    assert removed.stderr.startswith("udn models rm: ") and "the model store" in removed.stderr
