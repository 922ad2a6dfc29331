"""Fetch a pair's model from the Hugging Face Hub into the model store, verified, once per host.

``fetch`` returns the stored snapshot when there is one and never touches the network then.
Otherwise one process per host (a file lock per repository) resolves the revision to a
commit, downloads with ``huggingface_hub.snapshot_download`` into a temporary directory,
checks that every file the Hub lists is present with its published size and checksum (LFS
sha256, else git blob sha1) and that every file the model's backend needs is there,
and only then renames the directory into the store. Other processes wait on the lock and
find the snapshot when they get it.

In offline mode nothing is downloaded: a repository already in huggingface_hub's own cache
(``HF_HOME``) is copied into the store after the same checks; anything else is an error that
names the pair and the repository.

Nothing from outside becomes a path unchecked: the commit id the Hub (or a mirror, or the
cache's refs) answers must be 40 hexadecimal characters, every file name a relative path that
never climbs, every file the model's config names must lie inside the download, and a cached
file must link into the cache's own blobs. Otherwise UnsafePathError, before anything is written.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock

from ..config import AdaptersSettings
from ..engine import ModelLoadError, backend_kind, detect_backend
from ..names import is_safe_name
from .errors import HubDownloadError, NotInStoreError, UnsafePathError
from .store import ModelStore, RepoRef, Snapshot, directory_size, file_sha256, is_commit, store_errors

log = logging.getLogger(__name__)

_SHA256 = re.compile(r"[0-9a-f]{64}")
_GIT_SHA1 = re.compile(r"[0-9a-f]{40}")

Progress = Callable[[int, int], None]
"""Called with (bytes on disk so far, bytes expected) while a download runs."""


@dataclass(frozen=True, slots=True)
class HubOptions:
    """How to reach the Hub: from the ``adapters`` settings."""

    endpoint: str | None = None
    offline: bool = False
    hf_cache: Path | None = None
    timeout: float = 600.0

    @classmethod
    def from_settings(cls, adapters: AdaptersSettings) -> HubOptions:
        return cls(
            endpoint=adapters.endpoint.rstrip("/") if adapters.endpoint else None,
            offline=adapters.offline,
            hf_cache=adapters.hf_home / "hub" if adapters.hf_home else None,
            timeout=adapters.download_timeout,
        )


@dataclass(frozen=True, slots=True)
class HubModel:
    """What to fetch for one pair: the repository, its revision and which files."""

    ref: RepoRef
    label: str
    allow_patterns: tuple[str, ...] | None = None
    ignore_patterns: tuple[str, ...] | None = None
    # The engine that loads it, and so which files it must hold; None: the one its files fit.
    backend: str | None = None


@dataclass(frozen=True, slots=True)
class _Expected:
    """What the Hub publishes about one file."""

    size: int | None
    sha256: str | None
    git_sha1: str | None


def fetch(
    store: ModelStore,
    model: HubModel,
    options: HubOptions,
    progress: Progress | None = None,
    *,
    refresh: bool = False,
) -> Snapshot:
    """The model's verified snapshot, downloading it first if the store lacks it.

    A stored snapshot is returned without touching the network, unless ``refresh`` is set and
    the revision is a branch or tag: then the Hub is asked which commit it names now (and
    that commit is downloaded if new). Raises NotInStoreError offline when the model cannot
    be had, UnsafePathError for a name from outside that would lead out of the store,
    ModelStoreError when the store cannot be written, HubDownloadError for any other failure.
    A failed download leaves nothing loadable.
    """
    refresh = refresh and not model.ref.pinned and not options.offline
    snapshot = None if refresh else store.resolve(model.ref)
    if snapshot is not None:
        return snapshot
    lock = store.lock(model.ref.repo_id, options.timeout)
    try:
        with store_errors(store.root):
            try:
                lock.acquire(timeout=0)
            except filelock.Timeout:
                log.info("waiting for another process downloading %s (lock %s)", model.ref, lock.lock_file)
                lock.acquire()
    except filelock.Timeout:
        raise HubDownloadError(
            f"{_what(model)}: another process has been downloading it for over {options.timeout:g}s; "
            "try again later",
            f"{_what(model)}: another process has held the lock {lock.lock_file} for over "
            f"{options.timeout:g}s; try again later",
        ) from None
    try:
        # Another process may have stored it while we waited for the lock.
        snapshot = None if refresh else store.resolve(model.ref)
        if snapshot is not None:
            return snapshot
        store.clear_stale_downloads(model.ref.repo_id)
        if options.offline:
            return _copy_from_hf_cache(store, model, options)
        return _download(store, model, options, progress)
    finally:
        lock.release()


def _what(model: HubModel) -> str:
    return f"cannot fetch language pair {model.label!r} from {model.ref}"


def _download(store: ModelStore, model: HubModel, options: HubOptions, progress: Progress | None) -> Snapshot:
    from huggingface_hub import HfApi, snapshot_download
    from huggingface_hub.utils import filter_repo_objects

    ref = model.ref
    started = time.monotonic()
    with _hub_errors(model, options):
        info = HfApi(endpoint=options.endpoint).model_info(
            ref.repo_id, revision=ref.revision, files_metadata=True
        )
    commit = _checked_commit(info.sha, model, "the Hub")
    known = store.resolve(RepoRef(ref.repo_id, commit))
    if known is not None:  # the revision names a commit we already hold under another name
        store.add_ref(ref, commit)
        return known
    siblings = {s.rfilename: s for s in info.siblings or []}
    unsafe = sorted(name for name in siblings if not is_safe_name(name))
    if unsafe:
        raise UnsafePathError(
            f"{_what(model)}: the Hub lists {len(unsafe)} file(s) with an unsafe file name (absolute, "
            "or climbing with '..'); nothing was downloaded",
            f"{_what(model)}: the Hub lists unsafe file names: {', '.join(map(repr, unsafe[:5]))}; "
            "nothing was downloaded",
        )
    wanted = list(
        filter_repo_objects(
            siblings,
            allow_patterns=_patterns(model.allow_patterns),
            ignore_patterns=_patterns(model.ignore_patterns),
        )
    )
    if not wanted:
        raise HubDownloadError(
            f"{_what(model)}: no file of commit {commit[:12]} matches the configured patterns"
        )
    expected: dict[str, _Expected] = {}
    for name in wanted:
        sibling = siblings[name]
        lfs = sibling.lfs
        expected[name] = _Expected(sibling.size, lfs.sha256 if lfs else None, sibling.blob_id)
    total = sum(e.size or 0 for e in expected.values())
    download = store.new_download_dir(ref.repo_id)
    log.info("downloading %s for pair %s (%d files, %.1f MB)", ref, model.label, len(wanted), total / 1e6)
    try:
        with _hub_errors(model, options), _report_progress(download, total, progress):
            snapshot_download(
                ref.repo_id,
                revision=commit,
                local_dir=download,
                cache_dir=options.hf_cache,
                endpoint=options.endpoint,
                # Exactly the files checked above, whatever the tree listing says: names are not globs.
                allow_patterns=[glob.escape(name) for name in wanted],
                tqdm_class=_quiet_bars(),
            )
        # huggingface_hub's per-file bookkeeping is not part of the model.
        shutil.rmtree(download / ".cache", ignore_errors=True)
        files = verify(download, expected, model)
        manifest = _manifest(ref, commit, files, source="hub", endpoint=options.endpoint)
        snapshot = store.commit(download, ref, commit, manifest)
    except BaseException:
        shutil.rmtree(download, ignore_errors=True)
        raise
    log.info("stored %s (commit %s) in %.1fs", ref, commit[:12], time.monotonic() - started)
    return snapshot


def _copy_from_hf_cache(store: ModelStore, model: HubModel, options: HubOptions) -> Snapshot:
    """Offline: adopt the repository from huggingface_hub's own cache, or say why we cannot."""
    from huggingface_hub import constants, snapshot_download
    from huggingface_hub.file_download import repo_folder_name

    ref = model.ref
    try:
        cached = snapshot_download(
            ref.repo_id,
            revision=ref.revision,
            cache_dir=options.hf_cache,
            local_files_only=True,
            allow_patterns=_patterns(model.allow_patterns),
            ignore_patterns=_patterns(model.ignore_patterns),
        )
    except Exception:
        raise NotInStoreError(
            f"{_what(model)}: offline mode (HF_HUB_OFFLINE=1 or adapters.offline) forbids downloading, and "
            f"the repository is neither in the model store nor in huggingface_hub's cache; "
            f"run 'udn models pull {model.label}' where the Hub is reachable",
            f"{_what(model)}: offline mode (HF_HUB_OFFLINE=1 or adapters.offline) forbids downloading, and "
            f"the repository is neither in the model store ({store.root}) nor in huggingface_hub's cache "
            f"({options.hf_cache or constants.HF_HUB_CACHE}); "
            f"run 'udn models pull {model.label}' where the Hub is reachable",
        ) from None
    # The cache's refs file said which commit the revision is: check it before it becomes a path.
    commit = _checked_commit(Path(cached).name, model, "huggingface_hub's cache")
    cache = Path(options.hf_cache or constants.HF_HUB_CACHE)
    storage = cache / repo_folder_name(repo_id=ref.repo_id, repo_type="model")
    snapshot_dir = storage / "snapshots" / commit
    if os.path.normpath(cached) != os.path.normpath(snapshot_dir) or snapshot_dir.is_symlink():
        raise UnsafePathError(
            f"{_what(model)}: huggingface_hub's cache names a snapshot outside it; nothing was stored",
            f"{_what(model)}: huggingface_hub's cache names the snapshot {cached}, not {snapshot_dir}",
        )
    files, expected = _cached_files(snapshot_dir, storage / "blobs", model)
    download = store.new_download_dir(ref.repo_id)
    try:
        with store_errors(store.root):
            for name, source in files.items():
                target = download / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(source, target)  # the content, not the cache's link
        files_found = verify(download, expected, model)
        manifest = _manifest(ref, commit, files_found, source="hf-cache", endpoint=None)
        snapshot = store.commit(download, ref, commit, manifest)
    except BaseException:
        shutil.rmtree(download, ignore_errors=True)
        raise
    log.info("adopted %s (commit %s) from huggingface_hub's cache %s", ref, commit[:12], snapshot_dir)
    return snapshot


def _cached_files(
    snapshot_dir: Path, blobs: Path, model: HubModel
) -> tuple[dict[str, Path], dict[str, _Expected]]:
    """A cached snapshot's files (name -> the file to copy) and what each must hash to.

    huggingface_hub's cache links each snapshot file to blobs/<etag>: the LFS sha256, or the
    git blob id of a small file, so the link says what the content must hash to. A link that
    leads anywhere but into the repository's own blobs, or a linked directory, is refused.
    """
    real_blobs = blobs.resolve()
    files: dict[str, Path] = {}
    expected: dict[str, _Expected] = {}
    for dirpath, dirnames, filenames in os.walk(snapshot_dir):  # never follows a linked directory
        for entry in [*dirnames, *filenames]:
            path = Path(dirpath) / entry
            name = path.relative_to(snapshot_dir).as_posix()
            if entry in dirnames:
                if path.is_symlink():
                    raise _links_out(model, name, path)
                continue
            source = path
            if path.is_symlink():
                source = Path(os.path.realpath(path))
                if source.parent != real_blobs or not source.is_file():
                    raise _links_out(model, name, path)
                etag = source.name
                if _SHA256.fullmatch(etag):
                    expected[name] = _Expected(None, etag, None)
                elif _GIT_SHA1.fullmatch(etag):
                    expected[name] = _Expected(None, None, etag)
            elif not path.is_file():
                raise _links_out(model, name, path)
            files[name] = source
    return files, expected


def _links_out(model: HubModel, name: str, path: Path) -> UnsafePathError:
    return UnsafePathError(
        f"{_what(model)}: {name} in huggingface_hub's cache links outside its blobs; nothing was stored",
        f"{_what(model)}: {name} in huggingface_hub's cache links outside its blobs ({path} leads to "
        f"{os.path.realpath(path)}); nothing was stored",
    )


def _checked_commit(commit: str | None, model: HubModel, where: str) -> str:
    """``commit`` if it is a commit id (40 hexadecimal characters); it becomes a directory name."""
    if not commit:
        raise HubDownloadError(f"{_what(model)}: {where} did not say which commit {model.ref.revision!r} is")
    if not is_commit(commit):
        raise UnsafePathError(
            f"{_what(model)}: {where} answered {model.ref.revision!r} with something that is not a "
            "commit id; nothing was stored",
            f"{_what(model)}: {where} answered {model.ref.revision!r} with {commit[:80]!r}, which is not "
            "a commit id (40 hexadecimal characters); nothing was stored",
        )
    return commit


def verify(directory: Path, expected: dict[str, _Expected], model: HubModel) -> dict[str, dict[str, Any]]:
    """Check sizes and published checksums, then the backend's model files; returns per-file records.

    Raises HubDownloadError naming the first file that is missing or differs, UnsafePathError
    for a file that lies (or links) outside ``directory``.
    """
    records: dict[str, dict[str, Any]] = {}
    root = directory.resolve()
    for name, want in sorted(expected.items()):
        path = directory / name
        if not is_safe_name(name) or not Path(os.path.realpath(path)).is_relative_to(root):
            raise UnsafePathError(
                f"{_what(model)}: a file lies outside the download; nothing was stored",
                f"{_what(model)}: {name!r} lies outside the download {directory}; nothing was stored",
            )
        if not path.is_file():
            raise HubDownloadError(f"{_what(model)}: {name} is missing from the download")
        size = path.stat().st_size
        if want.size is not None and size != want.size:
            raise HubDownloadError(f"{_what(model)}: {name} has {size} bytes, the Hub lists {want.size}")
        record: dict[str, Any] = {"size": size}
        if want.sha256:
            actual = file_sha256(path)
            if actual != want.sha256.lower():
                raise HubDownloadError(
                    f"{_what(model)}: {name} is corrupt (sha256 {actual[:16]}..., the Hub lists "
                    f"{want.sha256[:16]}...)"
                )
            record["sha256"] = actual
        elif want.git_sha1:
            actual = _git_sha1(path)
            if actual != want.git_sha1.lower():
                raise HubDownloadError(
                    f"{_what(model)}: {name} is corrupt "
                    f"(git sha1 {actual[:12]}, the Hub lists {want.git_sha1[:12]})"
                )
            record["git_sha1"] = actual
        records[name] = record
    try:
        kind = backend_kind(model.backend or detect_backend(directory))
    except ModelLoadError as exc:
        raise HubDownloadError(
            f"{_what(model)}: not a usable model: {exc}", f"{_what(model)}: not a usable model: {exc.detail}"
        ) from None
    try:
        for path in kind.model_files(directory, confined=True):
            records.setdefault(path.relative_to(directory).as_posix(), {"size": path.stat().st_size})
    except ModelLoadError as exc:
        raise HubDownloadError(
            f"{_what(model)}: not a usable {kind.label} model: {exc}",
            f"{_what(model)}: not a usable {kind.label} model: {exc.detail}",
        ) from None
    return records


def _git_sha1(path: Path) -> str:
    # git's blob id: sha1 over "blob <size>\0" then the content.
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _manifest(
    ref: RepoRef, commit: str, files: dict[str, dict[str, Any]], *, source: str, endpoint: str | None
) -> dict[str, Any]:
    return {
        "repo": ref.repo_id,
        "revision": ref.revision,
        "commit": commit,
        "source": source,
        "endpoint": endpoint,
        "stored_at": time.time(),
        "files": files,
    }


def _patterns(patterns: Iterable[str] | None) -> list[str] | None:
    return list(patterns) if patterns is not None else None


@contextmanager
def _hub_errors(model: HubModel, options: HubOptions) -> Iterator[None]:
    """Turn huggingface_hub's and the network's exceptions into one HubDownloadError that names the pair."""
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

    where = options.endpoint or "https://huggingface.co"
    try:
        yield
    except ModelLoadError:
        raise
    except RevisionNotFoundError:
        raise HubDownloadError(
            f"{_what(model)}: the repository has no revision {model.ref.revision!r}"
        ) from None
    except RepositoryNotFoundError:
        raise HubDownloadError(
            f"{_what(model)}: the Hub has no such repository, or it is private or gated (set HF_TOKEN)"
        ) from None
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        raise HubDownloadError(
            f"{_what(model)}: the Hub answered HTTP {status}", f"{_what(model)} ({where}): {exc}"
        ) from exc
    except Exception as exc:  # connection refused, timeouts, truncated bodies, full disks
        raise HubDownloadError(
            f"{_what(model)}: the download failed ({type(exc).__name__})",
            f"{_what(model)} ({where}): {type(exc).__name__}: {exc}",
        ) from exc


@contextmanager
def _report_progress(directory: Path, total: int, progress: Progress | None) -> Iterator[None]:
    """Call ``progress`` with the bytes under ``directory`` every 0.2 s while the block runs."""
    if progress is None:
        yield
        return
    done = threading.Event()

    def poll() -> None:
        while not done.wait(0.2):
            # huggingface_hub's bookkeeping files count too: never report more than the total.
            progress(min(directory_size(directory), total), total)

    thread = threading.Thread(target=poll, name="download-progress", daemon=True)
    thread.start()
    try:
        yield
        progress(total, total)
    finally:
        done.set()
        thread.join()


def _quiet_bars() -> type:
    """huggingface_hub's tqdm class with its bars switched off: we report progress ourselves."""
    from huggingface_hub.utils import tqdm as hf_tqdm

    class QuietBars(hf_tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    return QuietBars
