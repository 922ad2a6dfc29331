"""Persist files the way Redis writes its snapshots: temporary file, flush, fsync, rename, fsync dir.

The one way this package writes a file that readers may see at any moment (model store
manifests and refs, the coordinator's state file, profiler exports, the memory alerts file).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes | str, *, mode: int = 0o644) -> Path:
    """Replace ``path`` with ``data`` so that readers see the old content or the new, never a part.

    ``str`` data is written as UTF-8; the file gets permissions ``mode``. Creates missing parent
    directories. Raises OSError (naming the path) when the directory cannot be created or
    written; the previous file is then left intact and no temporary file is left behind.
    """
    target = Path(path)
    payload = data.encode("utf-8") if isinstance(data, str) else data
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    # The rename itself is durable only once the directory entry is flushed.
    fsync_dir(directory)
    return target


def fsync_tree(root: Path) -> None:
    """Flush every file under ``root`` and the directories holding them to disk."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            fd = os.open(os.path.join(dirpath, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(dirpath))


def fsync_dir(directory: Path) -> None:
    """Flush a directory entry (a rename or a new file in it) to disk."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
