"""The state file: a versioned, checksummed or signed snapshot of the coordinator's state, written atomically.

The file is JSON::

    {"format": "udn-coordinator-state", "format_version": 1, "version": 7,
     "written_at": 1767225600.0, "checksum": "sha256:...", "state": {"nodes": [...], "keys": [...]}}

``checksum`` covers ``version``, ``written_at`` and ``state``. Without a secret it is a SHA-256,
which catches damage but not an edit (anyone can recompute it): such a file is refused with
SnapshotError. With ``coordinator.state_secret`` it is an HMAC-SHA256 keyed by the secret
(``hmac-sha256:...``), so an edited file is refused with SnapshotUntrusted. Like Redis's
``rdbSave``, a write goes to a temporary file in the same directory, is flushed and fsynced, then
renamed over the old file, so a reader sees either the old snapshot or the new one, never a torn mix.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..utils.atomic_write import write_atomic
from .records import KeyRecord, NodeRecord

FORMAT = "udn-coordinator-state"
FORMAT_VERSION = 1


SIGNED = "hmac-sha256:"


class SnapshotError(Exception):
    """The state file exists but cannot be used; the message says what is wrong with it."""


class SnapshotUntrusted(SnapshotError):
    """The state file is signed, and its signature cannot be checked or does not match: it was
    edited, or the configured secret is not the one it was signed with."""


@dataclass
class Snapshot:
    """The state as of ``written_at`` (epoch seconds); ``version`` grows by one with every write."""

    version: int = 0
    written_at: float = 0.0
    nodes: dict[str, NodeRecord] = field(default_factory=dict)
    keys: dict[str, KeyRecord] = field(default_factory=dict)  # by digest
    signed: bool = field(default=False, compare=False)  # as read: whether the file carried an HMAC


def _checksum(version: int, written_at: float, state: dict[str, Any], secret: str | None = None) -> str:
    canonical = json.dumps(
        {"version": version, "written_at": written_at, "state": state},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode("utf-8")
    if secret is None:
        return "sha256:" + hashlib.sha256(canonical).hexdigest()
    return SIGNED + hmac.new(secret.encode("utf-8"), canonical, hashlib.sha256).hexdigest()


def write_snapshot(path: Path, snapshot: Snapshot, secret: str | None = None) -> None:
    """Write ``snapshot`` to ``path`` atomically (temporary file, flush, fsync, rename, fsync dir),
    signed with ``secret`` when one is given.

    Raises OSError when the file cannot be written; the previous snapshot is then left intact.
    """
    state = {
        "nodes": [n.model_dump(mode="json") for n in sorted(snapshot.nodes.values(), key=lambda n: n.id)],
        "keys": [k.model_dump(mode="json") for k in sorted(snapshot.keys.values(), key=lambda k: k.id)],
    }
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "version": snapshot.version,
        "written_at": snapshot.written_at,
        "checksum": _checksum(snapshot.version, snapshot.written_at, state, secret),
        "state": state,
    }
    write_atomic(path, json.dumps(document, indent=1, ensure_ascii=False))


def read_snapshot(path: Path, secret: str | None = None) -> Snapshot | None:
    """Read and verify the snapshot at ``path``; None when there is no file.

    A signed file is checked against ``secret``; an unsigned one is read as before (``signed`` on
    the result tells which). Raises SnapshotUntrusted when a signed file is read without a secret
    or fails its signature, and SnapshotError, naming the file and the problem, when it is
    unreadable, not JSON, of another format, fails its checksum, or holds an invalid record.
    Nothing from such a file is used.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SnapshotError(f"state file {path} cannot be read: {exc.strerror or exc}") from None
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SnapshotError(f"state file {path} is not valid JSON ({exc}); it is damaged") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise SnapshotError(f"state file {path} is not a coordinator state file (no format {FORMAT!r})")
    if document.get("format_version") != FORMAT_VERSION:
        raise SnapshotError(
            f"state file {path} has format version {document.get('format_version')!r}; "
            f"this coordinator reads version {FORMAT_VERSION}"
        )
    version, written_at, state = document.get("version"), document.get("written_at"), document.get("state")
    if not isinstance(version, int) or not isinstance(written_at, int | float) or not isinstance(state, dict):
        raise SnapshotError(f"state file {path} lacks its version, written_at or state fields")
    checksum = document.get("checksum")
    signed = isinstance(checksum, str) and checksum.startswith(SIGNED)
    if signed and secret is None:
        raise SnapshotUntrusted(
            f"state file {path} is signed, but no coordinator.state_secret (UDN_STATE_SECRET) is set "
            "to check it; set the secret it was signed with"
        )
    expected = _checksum(version, written_at, state, secret if signed else None)
    if not isinstance(checksum, str) or not hmac.compare_digest(checksum.encode(), expected.encode()):
        if signed:
            raise SnapshotUntrusted(
                f"state file {path} fails its signature check: it was changed after it was written, "
                "or coordinator.state_secret (UDN_STATE_SECRET) is not the secret it was signed with"
            )
        raise SnapshotError(
            f"state file {path} fails its checksum: it was changed or damaged after it was written"
        )
    try:
        nodes = [NodeRecord.model_validate(n) for n in state.get("nodes", [])]
        keys = [KeyRecord.model_validate(k) for k in state.get("keys", [])]
    except ValidationError as exc:
        raise SnapshotError(f"state file {path} holds an invalid record: {exc.errors()[0]['msg']}") from None
    return Snapshot(
        version=version,
        written_at=float(written_at),
        nodes={n.id: n for n in nodes},
        keys={k.digest: k for k in keys},
        signed=signed,
    )


def set_aside(path: Path) -> Path:
    """Rename a bad state file out of the way (keeping it for the operator); returns the new path."""
    path = Path(path)
    target = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%dT%H%M%S')}")
    os.replace(path, target)
    return target
