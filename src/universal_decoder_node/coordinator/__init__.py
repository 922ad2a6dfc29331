"""The coordinator: routes client requests across decoder nodes, with Redis-backed shared state
mirrored to a local file (``udn coordinator``)."""

from .app import build_app, run
from .records import KeyRecord, NodeRecord, NodeReport
from .snapshot import Snapshot, SnapshotError, SnapshotUntrusted, read_snapshot, write_snapshot

__all__ = [
    "KeyRecord",
    "NodeRecord",
    "NodeReport",
    "Snapshot",
    "SnapshotError",
    "SnapshotUntrusted",
    "build_app",
    "read_snapshot",
    "run",
    "write_snapshot",
]
