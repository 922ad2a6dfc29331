"""The model store's layout and the verification that guards it; no network involved."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from tests.support import free_port
from tests.support.fakehub import git_blob_id
from universal_decoder_node.engine import bundled_model_dirs
from universal_decoder_node.models import (
    HubDownloadError,
    HubModel,
    HubOptions,
    ModelStore,
    ModelStoreError,
    NotInStoreError,
    RepoRef,
    UnsafePathError,
    fetch,
)
from universal_decoder_node.models.hub import _Expected, verify
from universal_decoder_node.models.store import MANIFEST

COMMIT = "a" * 40


def _download_dir(store: ModelStore, repo_id: str = "org/model") -> Path:
    download = store.new_download_dir(repo_id)
    shutil.copytree(bundled_model_dirs()["en-pt"], download, dirs_exist_ok=True)
    return download


def _expected(directory: Path) -> dict[str, _Expected]:
    out = {}
    for path in directory.iterdir():
        data = path.read_bytes()
        big = len(data) > 64 * 1024
        out[path.name] = _Expected(
            len(data), hashlib.sha256(data).hexdigest() if big else None, None if big else git_blob_id(data)
        )
    return out


@pytest.mark.parametrize(
    ("text", "repo_id", "revision", "pinned"),
    [
        ("org/name", "org/name", "main", False),
        ("org/name@v1", "org/name", "v1", False),
        (f"org/name@{COMMIT}", "org/name", COMMIT, True),
    ],
)
def test_repo_ref_parses(text: str, repo_id: str, revision: str, pinned: bool) -> None:
    ref = RepoRef.parse(text)
    assert (ref.repo_id, ref.revision, ref.pinned) == (repo_id, revision, pinned)


@pytest.mark.parametrize("text", ["name", "org/name/extra", "/name", "org/", "org/name@"])
def test_repo_ref_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match="must look like 'org/name'"):
        RepoRef.parse(text)


def test_committed_download_resolves_by_ref_and_commit(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    ref = RepoRef("org/model", "v1")
    assert store.resolve(ref) is None
    snapshot = store.commit(_download_dir(store), ref, COMMIT, {"commit": COMMIT})
    assert snapshot.path == tmp_path / "store" / "org--model" / "snapshots" / COMMIT
    assert (snapshot.path / MANIFEST).is_file()
    assert store.resolve(ref) == snapshot
    assert store.resolve(RepoRef("org/model", COMMIT)) == snapshot
    assert store.resolve(RepoRef("org/model", "main")) is None
    listed = store.snapshots()
    assert [(s.repo_id, s.commit, s.refs) for s in listed] == [("org/model", COMMIT, ("v1",))]
    assert listed[0].size_bytes() > 20_000_000
    assert not list((tmp_path / "store" / ".tmp").iterdir()), "the download directory was moved, not copied"


def test_directory_without_manifest_is_not_a_snapshot(tmp_path: Path) -> None:
    # What a crash between copying files and committing would leave, had we written in place.
    store = ModelStore(tmp_path / "store")
    partial = store.repo_dir("org/model") / "snapshots" / COMMIT
    shutil.copytree(bundled_model_dirs()["en-pt"], partial)
    assert store.resolve(RepoRef("org/model", COMMIT)) is None
    assert store.snapshots() == []


def test_stale_downloads_are_cleared_per_repository(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    mine, other = store.new_download_dir("org/model"), store.new_download_dir("org/other")
    (mine / "half.bin").write_bytes(b"x" * 100)
    assert store.clear_stale_downloads("org/model") == [mine]
    assert not mine.exists() and other.exists()


def test_remove_deletes_every_snapshot(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    ref = RepoRef("org/model", "main")
    store.commit(_download_dir(store), ref, COMMIT, {})
    freed = store.remove("org/model", timeout=5)
    assert freed > 20_000_000
    assert store.resolve(ref) is None
    assert store.remove("org/model", timeout=5) == 0


def test_verify_accepts_a_complete_download(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    download = _download_dir(store)
    records = verify(download, _expected(download), HubModel(RepoRef("org/model"), "en-es"))
    assert records["model.enpt.intgemm.alphas.bin"]["sha256"]
    assert records["config.intgemm8bitalpha.yml"]["git_sha1"]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("missing", "model.enpt.intgemm.alphas.bin is missing from the download"),
        ("short", "model.enpt.intgemm.alphas.bin has 1000 bytes, the Hub lists"),
        ("flipped_lfs", "model.enpt.intgemm.alphas.bin is corrupt (sha256"),
        ("flipped_small", "config.intgemm8bitalpha.yml is corrupt (git sha1"),
    ],
)
def test_verify_names_the_damaged_file(tmp_path: Path, damage: str, message: str) -> None:
    store = ModelStore(tmp_path / "store")
    download = _download_dir(store)
    expected = _expected(download)
    weights = download / "model.enpt.intgemm.alphas.bin"
    if damage == "missing":
        weights.unlink()
    elif damage == "short":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "flipped_lfs":
        data = bytearray(weights.read_bytes())
        data[100] ^= 0xFF
        weights.write_bytes(bytes(data))
    else:
        config = download / "config.intgemm8bitalpha.yml"
        config.write_bytes(config.read_bytes().replace(b"beam-size: 1", b"beam-size: 4"))
    with pytest.raises(HubDownloadError) as info:
        verify(download, expected, HubModel(RepoRef.parse("org/model@v1"), "en-es"))
    assert "'en-es' from org/model@v1" in str(info.value)
    assert message in str(info.value)


def test_verify_requires_every_file_the_config_names(tmp_path: Path) -> None:
    # A repository that publishes no checksums still has to hold a loadable Bergamot model.
    store = ModelStore(tmp_path / "store")
    download = _download_dir(store)
    (download / "vocab.enpt.spm").unlink()
    with pytest.raises(HubDownloadError, match=r"not a usable Bergamot model: .*names vocab\.enpt\.spm"):
        verify(download, {}, HubModel(RepoRef("org/model"), "en-es"))


def test_offline_fetch_uses_the_store_and_never_the_network(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    ref = RepoRef("org/model", "v1")
    stored = store.commit(_download_dir(store), ref, COMMIT, {})
    # Nothing listens on this endpoint: any network use would fail.
    options = HubOptions(endpoint=f"http://127.0.0.1:{free_port()}", offline=True, hf_cache=tmp_path / "hf")
    assert fetch(store, HubModel(ref, "en-es"), options) == stored


def test_offline_fetch_of_a_missing_model_names_pair_and_repository(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    options = HubOptions(offline=True, hf_cache=tmp_path / "hf")
    with pytest.raises(NotInStoreError) as info:
        fetch(store, HubModel(RepoRef("org/model", "v1"), "en-es"), options)
    message = str(info.value)
    assert "'en-es' from org/model@v1" in message
    assert "offline mode" in message and "udn models pull en-es" in message
    assert store.snapshots() == []


@pytest.mark.parametrize(
    "text",
    [
        "org/a--b",
        "org/..",
        "../x",
        "org/a b",
        "org/name@../../x",
        "org/name@/abs",
        "org/name@a//b",
        "o/n@x\\y",
    ],
)
def test_repo_ref_refuses_names_that_could_become_paths(text: str) -> None:
    with pytest.raises(ValueError, match=r"must look like 'org/name'|is not a branch, tag or commit name"):
        RepoRef.parse(text)


def test_a_configured_repository_that_is_not_a_hub_name_is_a_config_error() -> None:
    from universal_decoder_node.config import ConfigError, load_settings
    from universal_decoder_node.models import pair_sources

    # Refused as the settings are read, naming the key, before any source is built.
    with pytest.raises(ConfigError, match=r"adapters\.repos\.en-es\.repo: .*revision '\.\./\.\./x'"):
        pair_sources(load_settings(adapters={"repos": {"en-es": "org/name@../../x"}}))


@pytest.mark.parametrize("commit", ["../../../x", "/tmp/x", "A" * 40, "a" * 39])
def test_store_refuses_a_commit_that_is_not_a_commit_id(tmp_path: Path, commit: str) -> None:
    store = ModelStore(tmp_path / "store")
    download = _download_dir(store)
    with pytest.raises(UnsafePathError, match="not 40 hexadecimal characters"):
        store.commit(download, RepoRef("org/model"), commit, {})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
    assert not store.repo_dir("org/model").exists()


def test_verify_refuses_a_file_that_links_out_of_the_download(tmp_path: Path) -> None:
    store = ModelStore(tmp_path / "store")
    download = _download_dir(store)
    expected = _expected(download)
    outside = tmp_path / "outside.bin"
    weights = download / "model.enpt.intgemm.alphas.bin"
    outside.write_bytes(weights.read_bytes())
    weights.unlink()
    weights.symlink_to(outside)
    with pytest.raises(UnsafePathError, match="a file lies outside the download"):
        verify(download, expected, HubModel(RepoRef("org/model"), "en-es"))


def test_an_unusable_store_is_a_model_store_error(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("a file, not a directory\n")
    store = ModelStore(tmp_path / "store")
    with pytest.raises(ModelStoreError) as info:
        fetch(store, HubModel(RepoRef("org/model"), "en-es"), HubOptions(offline=True))
    assert str(tmp_path) not in str(info.value) and str(tmp_path / "store") in info.value.detail
