"""Key changes are durable or refused, and the state file is trusted only when it is what the
coordinator wrote: real coordinator processes, with a state file that cannot be written or was edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import ADMIN, CoordinatorProcess, eventually, free_port, start_coordinator
from universal_decoder_node.coordinator.snapshot import SnapshotUntrusted, read_snapshot

SECRET = "a-state-secret-of-32-characters!"
TEXT = {"q": "Good morning.", "source": "en", "target": "pt"}


@contextmanager
def unwritable(directory: Path) -> Iterator[None]:
    """The state file's directory cannot be written while this lasts, whoever runs the coordinator
    (root included): a regular file takes the directory's place, and the directory comes back after."""
    aside = directory.with_name(directory.name + ".aside")
    directory.rename(aside)
    directory.write_text("not a directory")
    try:
        yield
    finally:
        directory.unlink()
        aside.rename(directory)


def coordinator(
    tmp_path: Path, state: Path, secret: str | None = None, redis_url: str | None = None, wait: bool = True
) -> CoordinatorProcess:
    env = {"UDN_STATE_SECRET": secret} if secret else {}
    if redis_url:
        env["REDIS_URL"] = redis_url
    config = {"coordinator": {"require_api_key": True, "state_file": str(state)}}
    return start_coordinator(tmp_path, config, env=env, wait=wait)


def admitted(coordinator: CoordinatorProcess, key: str) -> bool:
    """Whether ``key`` gets past the key check (no node runs here: 503), rather than a 403."""
    status = httpx.post(coordinator.url + "/translate", json={**TEXT, "api_key": key}, timeout=30).status_code
    assert status in (403, 503), status
    return status == 503


def keys(coordinator: CoordinatorProcess) -> dict[str, dict[str, Any]]:
    listed = httpx.get(coordinator.url + "/admin/keys", headers=ADMIN, timeout=10).json()["keys"]
    return {k["id"]: k for k in listed}


def revoke(coordinator: CoordinatorProcess, key_id: str) -> httpx.Response:
    return httpx.delete(f"{coordinator.url}/admin/keys/{key_id}", headers=ADMIN, timeout=10)


def assert_refused_for_the_file(answer: httpx.Response, state: Path) -> None:
    assert answer.status_code == 503, answer.text
    error = answer.json()["error"]
    assert error.startswith("the key change was not made: cannot write state file") and str(state) in error


def test_a_revocation_that_cannot_be_written_is_refused_and_not_applied(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.json"
    first = coordinator(tmp_path, state)
    try:
        assert "state_secret (UDN_STATE_SECRET) is not set" in first.log()
        created = first.create_key(name="to revoke")
        with unwritable(state.parent):
            assert_refused_for_the_file(revoke(first, created["id"]), state)
            # Not applied here either: what this coordinator serves is what the file says.
            assert admitted(first, created["key"]) and not keys(first)[created["id"]]["revoked"]
            first.stop()  # its last write on the way out fails too
    finally:
        first.stop()
    second = coordinator(tmp_path, state)
    try:
        assert admitted(second, created["key"])
        assert revoke(second, created["id"]).status_code == 200  # writable again: made, and durable
    finally:
        second.stop()
    third = coordinator(tmp_path, state)
    try:
        assert not admitted(third, created["key"]) and keys(third)[created["id"]]["revoked"]
    finally:
        third.stop()


def test_a_key_that_cannot_be_written_is_not_created(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.json"
    first = coordinator(tmp_path, state)
    try:
        first.create_key(name="before")
        with unwritable(state.parent):
            answer = httpx.post(first.url + "/admin/keys", json={"name": "lost"}, headers=ADMIN, timeout=10)
            assert_refused_for_the_file(answer, state)
            assert "key" not in answer.json()
            assert [k["name"] for k in keys(first).values()] == ["before"]
    finally:
        first.stop()
    snapshot = read_snapshot(state)
    assert snapshot is not None and [k.name for k in snapshot.keys.values()] == ["before"]


def test_with_redis_away_key_changes_go_to_the_state_file_at_once_or_are_refused(tmp_path: Path) -> None:
    state = tmp_path / "state" / "state.json"
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    first = coordinator(tmp_path, state, redis_url=dead_redis)
    try:
        assert not first.status()["state"]["redis_available"]
        created = first.create_key(name="made while Redis is away")
        snapshot = read_snapshot(state)  # written before the answer, not at the next mirror interval
        assert snapshot is not None and created["id"] in {k.id for k in snapshot.keys.values()}
        with unwritable(state.parent):
            assert_refused_for_the_file(revoke(first, created["id"]), state)
            answer = httpx.post(first.url + "/admin/keys", json={"name": "lost"}, headers=ADMIN, timeout=10)
            assert_refused_for_the_file(answer, state)
            assert admitted(first, created["key"]) and len(keys(first)) == 1
    finally:
        first.stop()
    second = coordinator(tmp_path, state, redis_url=dead_redis)
    try:
        assert admitted(second, created["key"]) and len(keys(second)) == 1
    finally:
        second.stop()


def signed_state_with_a_revoked_key(tmp_path: Path, state: Path) -> dict[str, Any]:
    first = coordinator(tmp_path, state, secret=SECRET)
    try:
        assert "state_secret" not in first.log()  # no warning: the file is signed
        created = first.create_key(name="revoked")
        assert revoke(first, created["id"]).status_code == 200
    finally:
        first.stop()
    assert json.loads(state.read_text())["checksum"].startswith("hmac-sha256:")
    return created


def refused_start(tmp_path: Path, state: Path, secret: str | None) -> str:
    refused = coordinator(tmp_path, state, secret=secret, wait=False)
    try:
        assert refused.process.wait(120) == 1
    finally:
        refused.stop()
    return refused.log()


def test_an_edited_signed_state_file_stops_the_start(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    created = signed_state_with_a_revoked_key(tmp_path, state)
    edited = state.read_text().replace('"revoked_at": ', '"revoked_at": null, "was": ')  # un-revoke
    state.write_text(edited)
    log = refused_start(tmp_path, state, SECRET)
    assert f"state file {state} fails its signature check" in log and "does not start" in log
    assert state.read_text() == edited and list(tmp_path.glob("state.json.corrupt-*")) == []
    # The same file, unedited, with another secret or with none: refused as well.
    state.write_text(edited.replace('"revoked_at": null, "was": ', '"revoked_at": '))
    assert "fails its signature check" in refused_start(tmp_path, state, "another-secret-of-16+chars")
    assert "no coordinator.state_secret (UDN_STATE_SECRET) is set" in refused_start(tmp_path, state, None)
    trusted = coordinator(tmp_path, state, secret=SECRET)
    try:
        assert not admitted(trusted, created["key"])
    finally:
        trusted.stop()


def test_an_unsigned_state_file_is_used_with_a_warning_and_signed_when_next_written(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    first = coordinator(tmp_path, state)
    try:
        created = first.create_key(name="from before the secret")
    finally:
        first.stop()
    assert json.loads(state.read_text())["checksum"].startswith("sha256:")
    second = coordinator(tmp_path, state, secret=SECRET)
    try:
        assert f"state file {state} is not signed; it is used, and signed when next written" in second.log()
        assert admitted(second, created["key"])
        eventually(
            lambda: json.loads(state.read_text())["checksum"].startswith("hmac-sha256:"),
            15,
            "the state file to be signed",
        )
    finally:
        second.stop()
    snapshot = read_snapshot(state, SECRET)
    assert (
        snapshot is not None and snapshot.signed and created["id"] in {k.id for k in snapshot.keys.values()}
    )
    with pytest.raises(SnapshotUntrusted):
        read_snapshot(state)
