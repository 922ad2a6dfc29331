"""The model store: verified Hub snapshots on disk, one directory per repository and commit.

Layout under the store root (``adapters.dir``)::

    <org>--<name>/snapshots/<commit>/   a complete, verified model directory (+ .udn-manifest.json)
    <org>--<name>/refs/<revision>       the commit a branch or tag resolved to when it was pulled
    .tmp/<org>--<name>.<random>/        downloads in progress; never loaded
    .locks/<org>--<name>.lock           held by the one process that downloads or removes the repo

A snapshot directory appears only by renaming a finished, verified download into place, so
everything under ``snapshots/`` is loadable. A crash mid-download leaves only ``.tmp`` litter,
which the next download of that repository clears while it holds the lock.

Every name that becomes a path here is checked first: repository ids as huggingface_hub
defines them, revisions and file names as relative paths that never climb, commits as 40
hexadecimal characters. So nothing the Hub answers can lead outside the store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from filelock import FileLock

from ..names import DEFAULT_REVISION, check_repo, parse_repo
from ..utils.atomic_write import fsync_dir, fsync_tree, write_atomic
from .errors import ModelStoreError, UnsafePathError

MANIFEST = ".udn-manifest.json"
_COMMIT = re.compile(r"[0-9a-f]{40}")


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's contents, in hex."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def is_commit(revision: str) -> bool:
    """True when ``revision`` is a full commit hash (immutable), not a branch or tag."""
    return bool(_COMMIT.fullmatch(revision))


@dataclass(frozen=True, slots=True)
class RepoRef:
    """A Hub repository at a revision: ``org/name@revision`` (``main`` when none is given).

    Both are checked on creation (ValueError), since both become paths in the store.
    """

    repo_id: str
    revision: str = DEFAULT_REVISION

    def __post_init__(self) -> None:
        check_repo(self.repo_id, self.revision)

    @classmethod
    def parse(cls, text: str) -> RepoRef:
        """Parse ``org/name`` or ``org/name@revision``; raises ValueError with the expected shape."""
        return cls(*parse_repo(text))

    @property
    def pinned(self) -> bool:
        return is_commit(self.revision)

    def __str__(self) -> str:
        return f"{self.repo_id}@{self.revision}"


@dataclass(frozen=True)
class Snapshot:
    """One verified model directory in the store."""

    repo_id: str
    commit: str
    path: Path
    refs: tuple[str, ...] = field(default=())

    def size_bytes(self) -> int:
        return directory_size(self.path)

    def manifest(self) -> dict[str, Any]:
        try:
            data = json.loads((self.path / MANIFEST).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}


def directory_size(path: Path) -> int:
    """Bytes held by the files under ``path`` (0 if it does not exist)."""
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            with contextlib.suppress(OSError):  # removed while we walked
                total += os.lstat(os.path.join(dirpath, name)).st_size
    return total


@contextlib.contextmanager
def store_errors(root: Path) -> Iterator[None]:
    """Turn the filesystem's errors under the store into one ModelStoreError that names the store.

    A lock's timeout (filelock.Timeout, a TimeoutError) passes through as it is.
    """
    try:
        yield
    except TimeoutError:
        raise
    except OSError as exc:
        raise ModelStoreError(
            f"the model store cannot be used ({exc.strerror or type(exc).__name__})",
            f"the model store {root} (adapters.dir or ADAPTER_DIR) cannot be used: {exc}",
        ) from exc


class ModelStore:
    """Verified snapshots of Hub repositories under one root directory; safe across processes.

    Raises ModelStoreError when its directory cannot be used, UnsafePathError for a name that
    would lead outside it, ValueError for a repository id that is not one.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def repo_dir(self, repo_id: str) -> Path:
        return self.root / _folder(repo_id)

    def lock(self, repo_id: str, timeout: float) -> FileLock:
        """The repository's cross-process lock; ``acquire`` raises filelock.Timeout after ``timeout`` s."""
        locks = self.root / ".locks"
        with store_errors(self.root):
            locks.mkdir(parents=True, exist_ok=True)
        return FileLock(locks / f"{_folder(repo_id)}.lock", timeout=timeout)

    def resolve(self, ref: RepoRef) -> Snapshot | None:
        """The stored snapshot for ``ref``, or None; never touches the network."""
        commit = ref.revision if ref.pinned else self._read_ref(ref)
        if commit is None:
            return None
        path = self.repo_dir(ref.repo_id) / "snapshots" / commit
        if not (path / MANIFEST).is_file():
            return None
        return Snapshot(ref.repo_id, commit, path)

    def new_download_dir(self, repo_id: str) -> Path:
        """A fresh temporary directory on the store's filesystem, so the final rename is atomic."""
        tmp_root = self.root / ".tmp"
        with store_errors(self.root):
            tmp_root.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(dir=tmp_root, prefix=f"{_folder(repo_id)}."))

    def clear_stale_downloads(self, repo_id: str) -> list[Path]:
        """Remove the repository's leftover download directories; call only while holding its lock."""
        tmp_root = self.root / ".tmp"
        removed = []
        if tmp_root.is_dir():
            for path in tmp_root.glob(f"{_folder(repo_id)}.*"):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
        return removed

    def commit(self, download: Path, ref: RepoRef, commit: str, manifest: dict[str, Any]) -> Snapshot:
        """Move a complete, verified download into place and record ``ref`` -> ``commit``.

        Call only while holding the repository's lock. ``download`` is consumed. Raises
        UnsafePathError, before touching anything, if ``commit`` is not a commit id.
        """
        if not is_commit(commit):
            raise UnsafePathError(
                f"refusing to store {ref}: its commit id is not 40 hexadecimal characters",
                f"refusing to store {ref} under the commit id {commit[:80]!r}",
            )
        with store_errors(self.root):
            write_atomic(download / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
            fsync_tree(download)
            snapshots = self.repo_dir(ref.repo_id) / "snapshots"
            snapshots.mkdir(parents=True, exist_ok=True)
            target = snapshots / commit
            if (target / MANIFEST).is_file():
                # Already stored (pulled under another ref name): keep the one readers may hold open.
                shutil.rmtree(download, ignore_errors=True)
            else:
                if target.exists():  # a directory without a manifest is not ours to trust
                    shutil.rmtree(target)
                os.rename(download, target)
                fsync_dir(snapshots)
            self.add_ref(ref, commit)
        return Snapshot(ref.repo_id, commit, target)

    def add_ref(self, ref: RepoRef, commit: str) -> None:
        """Record that branch or tag ``ref`` resolved to ``commit`` (a no-op for a pinned commit)."""
        if not ref.pinned:
            with store_errors(self.root):
                write_atomic(self._ref_path(ref), commit.encode())

    def remove(self, repo_id: str, timeout: float) -> int:
        """Delete every stored snapshot of ``repo_id``; returns the bytes freed."""
        path = self.repo_dir(repo_id)
        with store_errors(self.root), self.lock(repo_id, timeout):
            freed = directory_size(path)
            if path.exists():
                shutil.rmtree(path)
            self.clear_stale_downloads(repo_id)
        return freed

    def snapshots(self) -> list[Snapshot]:
        """Every stored snapshot, with the refs that point at it."""
        out: list[Snapshot] = []
        if not self.root.is_dir():
            return out
        for repo_dir in sorted(p for p in self.root.iterdir() if p.is_dir() and "--" in p.name):
            repo_id = repo_dir.name.replace("--", "/", 1)
            refs: dict[str, list[str]] = {}
            ref_dir = repo_dir / "refs"
            if ref_dir.is_dir():
                for ref_file in ref_dir.iterdir():
                    try:
                        commit = ref_file.read_text(encoding="utf-8").strip()
                    except OSError:
                        continue
                    refs.setdefault(commit, []).append(unquote(ref_file.name))
            snap_dir = repo_dir / "snapshots"
            if not snap_dir.is_dir():
                continue
            for path in sorted(snap_dir.iterdir()):
                if (path / MANIFEST).is_file():
                    out.append(Snapshot(repo_id, path.name, path, tuple(sorted(refs.get(path.name, [])))))
        return out

    def _ref_path(self, ref: RepoRef) -> Path:
        # Revisions may contain '/' (refs/pr/1): one file per revision, name quoted.
        return self.repo_dir(ref.repo_id) / "refs" / quote(ref.revision, safe="")

    def _read_ref(self, ref: RepoRef) -> str | None:
        try:
            commit = self._ref_path(ref).read_text(encoding="utf-8").strip()
        except OSError:
            return None
        return commit if is_commit(commit) else None


def _folder(repo_id: str) -> str:
    """The store's directory name for a repository: ``org--name`` (huggingface_hub forbids '--' in ids)."""
    check_repo(repo_id, DEFAULT_REVISION)
    return repo_id.replace("/", "--")
