"""The state file: atomic writes, signatures, and every way a damaged or edited file is refused."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.support.records import key, node
from universal_decoder_node.coordinator.snapshot import (
    Snapshot,
    SnapshotError,
    SnapshotUntrusted,
    read_snapshot,
    set_aside,
    write_snapshot,
)


def sample() -> Snapshot:
    return Snapshot(version=7, written_at=1234.5, nodes={"n1": node()}, keys={"a" * 64: key()})


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_snapshot(path, sample())
    loaded = read_snapshot(path)
    assert loaded == sample()
    assert json.loads(path.read_text())["checksum"].startswith("sha256:")


def test_missing_file_is_no_snapshot(tmp_path: Path) -> None:
    assert read_snapshot(tmp_path / "absent.json") is None


def test_write_leaves_no_temporary_file_and_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "state.json"
    write_snapshot(path, sample())
    first_inode = path.stat().st_ino
    write_snapshot(path, Snapshot(version=8, written_at=1300.0))
    assert os.listdir(path.parent) == ["state.json"]
    assert path.stat().st_ino != first_inode  # a new file renamed over the old one, not rewritten in place
    loaded = read_snapshot(path)
    assert loaded is not None and loaded.version == 8 and not loaded.nodes


def test_failed_write_keeps_the_previous_snapshot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "state.json"
    write_snapshot(path, sample())

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_snapshot(path, Snapshot(version=9, written_at=1.0))
    monkeypatch.undo()
    assert read_snapshot(path) == sample()
    assert os.listdir(tmp_path) == ["state.json"]  # the temporary file was removed


def test_write_into_a_missing_directory_it_cannot_create_raises(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(OSError):
        write_snapshot(blocker / "state.json", sample())


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda text: text[: len(text) // 2], "not valid JSON"),
        (lambda text: text.replace('"version": 7', '"version": 70'), "fails its checksum"),
        (lambda text: text.replace("en-pt", "en-es", 1), "fails its checksum"),
        (lambda text: text.replace('"format_version": 1', '"format_version": 2'), "format version 2"),
        (
            lambda text: text.replace("udn-coordinator-state", "something-else"),
            "not a coordinator state file",
        ),
        (lambda text: "[1, 2, 3]", "not a coordinator state file"),
        (lambda text: "\udcff", "not valid JSON"),
    ],
)
def test_damaged_files_are_refused_with_a_clear_error(tmp_path: Path, damage, message: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "state.json"
    write_snapshot(path, sample())
    path.write_bytes(damage(path.read_text()).encode("utf-8", "surrogateescape"))
    with pytest.raises(SnapshotError, match=message) as info:
        read_snapshot(path)
    assert str(path) in str(info.value)


def test_an_invalid_record_with_a_valid_checksum_is_refused(tmp_path: Path) -> None:
    from universal_decoder_node.coordinator import snapshot as module

    path = tmp_path / "state.json"
    state = {"nodes": [{"id": "bad id with spaces", "url": "x"}], "keys": []}
    document = {
        "format": module.FORMAT,
        "format_version": module.FORMAT_VERSION,
        "version": 1,
        "written_at": 1.0,
        "checksum": module._checksum(1, 1.0, state),
        "state": state,
    }
    path.write_text(json.dumps(document))
    with pytest.raises(SnapshotError, match="invalid record"):
        read_snapshot(path)


def test_set_aside_keeps_the_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("garbage")
    moved = set_aside(path)
    assert not path.exists()
    assert moved.read_text() == "garbage"
    assert moved.name.startswith("state.json.corrupt-")


SECRET = "0123456789abcdef-secret"


def test_signed_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    write_snapshot(path, sample(), SECRET)
    loaded = read_snapshot(path, SECRET)
    assert loaded == sample() and loaded is not None and loaded.signed
    assert json.loads(path.read_text())["checksum"].startswith("hmac-sha256:")


@pytest.mark.parametrize(
    ("secret", "message"),
    [
        (SECRET, "fails its signature check"),  # edited, though its checksum field was left as it was
        ("another-secret-0123456789", "fails its signature check"),
        (None, "no coordinator.state_secret"),
    ],
)
def test_a_signed_file_is_untrusted_when_edited_or_read_with_another_secret_or_none(
    tmp_path: Path, secret: str | None, message: str
) -> None:
    path = tmp_path / "state.json"
    write_snapshot(path, sample(), SECRET)
    if secret == SECRET:
        path.write_text(path.read_text().replace('"revoked_at": null', '"revoked_at": 5.0'))
    with pytest.raises(SnapshotUntrusted, match=message) as info:
        read_snapshot(path, secret)
    assert str(path) in str(info.value)


def test_an_unsigned_file_is_read_under_a_secret_and_says_so(tmp_path: Path) -> None:
    """Setting a secret keeps the state of an unsigned file: it is read, and says it was unsigned
    (the store warns, and signs it when next written)."""
    path = tmp_path / "state.json"
    write_snapshot(path, sample())
    loaded = read_snapshot(path, SECRET)
    assert loaded == sample() and loaded is not None and not loaded.signed
