"""Argos Translate packages: package folders served as CTranslate2 pairs, ``.argosmodel`` archives
installed into the model store.

A package, as Argos Translate's ``package.py`` defines it, is a zip archive of one folder that
holds ``metadata.json`` (``from_code``, ``to_code``, ``package_version``, ``argos_version``,
``from_name``, ``to_name``, ...), a CTranslate2 model in ``model/`` and ``sentencepiece.model``.
A sentence splitter may come with it (``stanza/``, ``spacy/``, ``minisbd/``); it is ignored, since
the node's own segmenter cuts sentences. The CTranslate2 backend serves the folder as it is.

Packages are read from ``models.argos_packages_dir`` (``ARGOS_PACKAGES_DIR``) and from the model
store, where ``install`` puts them::

    argos/<from>-<to>-<version>/   an installed package, checked and loaded once before it got here
    .tmp/argos.<random>/           an install in progress (the download, the unpacked folder)
    .locks/argos.lock              held by the one process installing

Every member name of an archive is checked before anything is written (no absolute name, no
'..', no link, one package folder), the metadata is read, the model loaded once, and only then
is the folder renamed into ``argos/``: a failed install leaves nothing there, and the next
install clears what a crash left in ``.tmp``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

import filelock

from ..config import EngineOptions
from ..engine import ModelLoadError, backend_kind, create_backend
from ..names import is_safe_name
from ..utils.atomic_write import fsync_dir, fsync_tree, write_atomic
from .errors import ArgosPackageError
from .store import directory_size, file_sha256, store_errors

log = logging.getLogger(__name__)

BACKEND = "ctranslate2"  # every package's model is a CTranslate2 one
METADATA = "metadata.json"
SENTENCEPIECE = "sentencepiece.model"
MODEL_DIR = "model"
SENTENCE_SPLITTERS = frozenset({"stanza", "spacy", "minisbd"})  # Argos's, in package.py
STORE_FOLDER = "argos"
INSTALL_RECORD = ".udn-install.json"

_CODE = re.compile(r"[a-z]{2,8}")  # ISO 639 codes, and Argos's own (pb, zt)
_VERSION = re.compile(r"\d{1,9}(?:\.\d{1,9}){0,3}")  # every package_version in Argos's index
_MAX_METADATA_BYTES = 1 << 20
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})

Progress = Callable[[int, int], None]
"""Called with (bytes downloaded so far, bytes expected or 0 when the server did not say)."""


@dataclass(frozen=True, slots=True)
class ArgosPackage:
    """One package folder and what its ``metadata.json`` says."""

    path: Path
    from_code: str
    to_code: str
    package_version: str
    argos_version: str = ""
    from_name: str = ""
    to_name: str = ""

    @property
    def pair(self) -> str:
        return f"{self.from_code}-{self.to_code}"

    @property
    def store_name(self) -> str:
        """Its folder in the store: ``<from>-<to>-<version>`` (all three checked, so a safe name)."""
        return f"{self.pair}-{self.package_version}"

    def version_key(self) -> tuple[int, ...]:
        return tuple(int(part) for part in self.package_version.split("."))

    def size_bytes(self) -> int:
        return directory_size(self.path)


class _NotTranslation(ArgosPackageError):
    """A package of another type (Argos's sentence-boundary packages): skipped where packages are served."""


@dataclass(frozen=True, slots=True)
class Installed:
    """What ``install`` did: the package now in the store, and the versions of its pair it replaced."""

    package: ArgosPackage
    replaced: tuple[str, ...]


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def parse_metadata(raw: bytes, where: str, path: Path) -> ArgosPackage:
    """The package ``metadata.json`` (``raw``) describes; ``where`` names it in errors.

    Raises ArgosPackageError for anything that is not a translation package's metadata:
    not a JSON object, a missing or malformed code or version, another package type, a
    multilingual package (``target_prefix``).
    """

    def fail(problem: str) -> ArgosPackageError:
        return ArgosPackageError(f"{where}: {problem}")

    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise fail(f"metadata.json is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise fail(f"metadata.json holds {type(data).__name__}, not a JSON object")
    kind = data.get("type", "translate")
    if kind != "translate":
        raise _NotTranslation(f"{where}: a package of type {_shown(kind)}, not a translation package")
    if data.get("target_prefix"):
        raise fail(
            f"a multilingual package (target_prefix {_shown(data['target_prefix'])}), which is not served yet"
        )
    codes = []
    for key in ("from_code", "to_code"):
        value = data.get(key)
        if value is None:
            raise fail(f"metadata.json has no {key}")
        if not isinstance(value, str) or not _CODE.fullmatch(value):
            raise fail(
                f"metadata.json's {key} must be a language code like 'en' (2 to 8 lowercase "
                f"letters), not {_shown(value)}"
            )
        codes.append(value)
    if codes[0] == codes[1]:
        raise fail(f"metadata.json's from_code and to_code are both {codes[0]!r}")
    version = data.get("package_version")
    if version is None:
        raise fail("metadata.json has no package_version")
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        raise fail(f"metadata.json's package_version must be a version like '1.9', not {_shown(version)}")
    texts = {}
    for key in ("argos_version", "from_name", "to_name"):
        value = data.get(key, "")
        if not isinstance(value, str):
            raise fail(f"metadata.json's {key} must be a string, not {_shown(value)}")
        texts[key] = value.strip()[:100]
    return ArgosPackage(path, codes[0], codes[1], version, **texts)


def check_files(folder: Path, where: str) -> None:
    """Raise ArgosPackageError unless ``folder`` holds a model in ``model/`` and ``sentencepiece.model``."""
    model = folder / MODEL_DIR
    if not model.is_dir():
        raise ArgosPackageError(f"{where}: has no {MODEL_DIR}/ folder (its CTranslate2 model)")
    if not (model / "model.bin").is_file():
        raise ArgosPackageError(f"{where}: has no {MODEL_DIR}/model.bin (its CTranslate2 model)")
    if not (folder / SENTENCEPIECE).is_file():
        if (folder / "bpe.model").is_file():
            raise ArgosPackageError(
                f"{where}: tokenizes with bpe.model (Moses and BPE), which this node does not read; "
                f"only packages with {SENTENCEPIECE} are served"
            )
        raise ArgosPackageError(f"{where}: has no {SENTENCEPIECE}")


def read_package(folder: Path, where: str | None = None) -> ArgosPackage:
    """The package in ``folder``, its metadata and files checked; raises ArgosPackageError.

    ``where`` names the package in errors (default: the folder's path).
    """
    where = where or str(folder)
    metadata = folder / METADATA
    try:
        if metadata.stat().st_size > _MAX_METADATA_BYTES:
            raise ArgosPackageError(f"{where}: metadata.json is larger than {_MAX_METADATA_BYTES} bytes")
        raw = metadata.read_bytes()
    except FileNotFoundError:
        raise ArgosPackageError(
            f"{where}: has no metadata.json, so it is not an Argos Translate package"
        ) from None
    except OSError as exc:
        raise ArgosPackageError(f"{where}: metadata.json cannot be read ({exc.strerror or exc})") from None
    package = parse_metadata(raw, where, folder)
    check_files(folder, where)
    return package


def discover(root: Path) -> list[ArgosPackage]:
    """Every translation package in ``root`` (one folder each), as Argos Translate lists them.

    Another package type (a sentence-boundary package) and hidden entries are skipped; any
    other folder that is not a valid package raises ArgosPackageError naming it.
    """
    try:
        entries = sorted(root.iterdir())
    except OSError as exc:
        raise ArgosPackageError(f"{root}: cannot be read ({exc.strerror or exc})") from None
    packages = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        try:
            packages.append(read_package(entry))
        except _NotTranslation as exc:
            log.debug("skipped %s", exc)
    return packages


def store_packages(store_root: Path) -> list[ArgosPackage]:
    """The packages installed in the model store at ``store_root``; raises ArgosPackageError."""
    folder = store_root / STORE_FOLDER
    return discover(folder) if folder.is_dir() else []


def newest(packages: Iterable[ArgosPackage]) -> dict[str, ArgosPackage]:
    """Per pair, the package with the highest version (Argos's own update keeps the newest)."""
    out: dict[str, ArgosPackage] = {}
    for package in packages:
        held = out.get(package.pair)
        if held is None or package.version_key() > held.version_key():
            out[package.pair] = package
    return out


def check_model(folder: Path, where: str, shown: str | None = None) -> None:
    """Load the package's model once, on the CPU, and release it; raises ArgosPackageError saying why not.

    ``where`` names the package in the error, ``shown`` replaces the folder's path in the
    backend's account of what is wrong (default: the path).
    """
    try:
        backend_kind(BACKEND).model_files(folder, confined=True)
        model = create_backend(BACKEND, threads=1).load(folder, EngineOptions(device="cpu"))
    except ModelLoadError as exc:
        detail = exc.detail.replace(str(folder), shown or str(folder))
        raise ArgosPackageError(f"{where}: its model does not load: {detail}") from None
    model.close()


def install(
    store_root: Path,
    source: str,
    *,
    timeout: float,
    progress: Progress | None = None,
) -> Installed:
    """Install the package at ``source`` (a ``.argosmodel`` file, or an ``https://`` URL) into the store.

    Replaces any other version of its pair there. Raises ArgosPackageError naming the file
    and what is wrong with it (nothing is installed then), ModelStoreError when the store
    cannot be written, and filelock.Timeout when another install holds the store's lock for
    longer than ``timeout`` seconds.
    """
    is_url = "://" in source
    if not is_url and not Path(source).is_file():
        raise ArgosPackageError(f"{source}: no such file")
    if not is_url and not os.access(source, os.R_OK):
        raise ArgosPackageError(f"{source}: cannot be read (permission denied)")
    with store_errors(store_root):
        for folder in (".tmp", ".locks"):
            (store_root / folder).mkdir(parents=True, exist_ok=True)
        lock = filelock.FileLock(store_root / ".locks" / "argos.lock", timeout=timeout)
    # store_errors: a full disk while downloading or unpacking is the store's failure.
    with lock, _work_dir(store_root) as work, store_errors(store_root):
        try:
            if is_url:
                archive = work / "download.argosmodel"
                download(source, archive, timeout=timeout, progress=progress)
            else:
                archive = Path(source)
            package, sha256 = _unpack(archive, source, work / "package")
        except ArgosPackageError as exc:
            raise ArgosPackageError(f"{exc}; nothing was installed") from None
        record = {"source": source, "sha256": sha256, "installed_at": time.time()}
        write_atomic(package.path / INSTALL_RECORD, json.dumps(record, indent=2, sort_keys=True))
        fsync_tree(package.path)
        return _move_into_store(store_root, package, work)


@contextlib.contextmanager
def _work_dir(store_root: Path) -> Iterator[Path]:
    """A fresh directory in the store's ``.tmp`` (so the final rename is atomic), removed afterwards.

    Call while holding the store's Argos lock: it clears what earlier installs left behind.
    """
    tmp = store_root / ".tmp"
    with store_errors(store_root):
        for stale in tmp.glob(f"{STORE_FOLDER}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        work = Path(tempfile.mkdtemp(dir=tmp, prefix=f"{STORE_FOLDER}."))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _move_into_store(store_root: Path, package: ArgosPackage, work: Path) -> Installed:
    """Rename the checked folder into ``argos/``, then remove the other versions of its pair."""
    packages = store_root / STORE_FOLDER
    packages.mkdir(exist_ok=True)
    target = packages / package.store_name
    replaced = []
    if target.exists():  # the same version again: the old copy goes to the work dir, removed with it
        os.rename(target, work / "replaced")
        replaced.append(package.package_version)
    os.rename(package.path, target)
    fsync_dir(packages)
    for other in sorted(packages.glob(f"{package.pair}-*")):
        if other != target and _VERSION.fullmatch(other.name[len(package.pair) + 1 :]):
            shutil.rmtree(other)
            replaced.append(other.name[len(package.pair) + 1 :])
    return Installed(replace(package, path=target), tuple(replaced))


def _unpack(archive: Path, label: str, folder: Path) -> tuple[ArgosPackage, str]:
    """Unpack the package in ``archive`` into ``folder`` and check it; returns it and the archive's sha256.

    Raises ArgosPackageError naming ``label`` (the file or URL) and what is wrong.
    """

    def fail(problem: str) -> ArgosPackageError:
        return ArgosPackageError(f"{label}: {problem}")

    try:
        is_zip = zipfile.is_zipfile(archive)
    except OSError as exc:
        raise fail(f"cannot be read ({exc.strerror or exc})") from None
    if not is_zip:
        raise fail("is not a zip archive, so not an Argos Translate package (.argosmodel)")
    try:
        with zipfile.ZipFile(archive) as zf:
            top, members = _checked_members(zf, fail)
            metadata = zf.getinfo(f"{top}/{METADATA}")
            if metadata.file_size > _MAX_METADATA_BYTES:
                raise fail(f"{top}/{METADATA} is larger than {_MAX_METADATA_BYTES} bytes")
            # The metadata first: an archive that is no package is refused before anything is unpacked.
            parse_metadata(zf.read(metadata), f"{label} ({top}/)", folder)
            _extract(zf, top, members, folder, fail)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError) as exc:
        # A bad CRC, a truncated member, encryption, an unknown compression method.
        raise fail(f"is damaged or unreadable ({exc})") from None
    where = f"{label} ({top}/)"
    package = read_package(folder, where)
    check_model(folder, where, shown=top)
    return package, file_sha256(archive)


def _checked_members(
    zf: zipfile.ZipFile, fail: Callable[[str], ArgosPackageError]
) -> tuple[str, list[zipfile.ZipInfo]]:
    """The archive's one top-level folder and its members, every name checked before anything is written."""
    members = zf.infolist()
    if not members:
        raise fail("is an empty zip archive, not an Argos Translate package")
    seen: set[str] = set()
    tops: set[str] = set()
    for info in members:
        name = info.filename
        clean = name.rstrip("/")
        if name.startswith("/") or not is_safe_name(clean):
            raise fail(
                f"member {_shown(name, 200)} would be written outside the package folder "
                "(an absolute name, or one climbing with '..')"
            )
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise fail(
                f"member {_shown(name, 200)} is a symbolic link; a package holds only files and folders"
            )
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise fail(f"member {_shown(name, 200)} is not a plain file or folder")
        if clean in seen:
            raise fail(f"member {_shown(name, 200)} appears twice")
        seen.add(clean)
        if "/" not in clean and not info.is_dir():
            raise fail(
                f"holds the file {_shown(name, 200)} outside any folder; "
                "an .argosmodel is a zip of one package folder"
            )
        tops.add(clean.split("/", 1)[0])
    if len(tops) != 1:
        raise fail(
            f"holds {len(tops)} top-level folders ({', '.join(sorted(tops)[:3])}...); "
            "an .argosmodel is a zip of one package folder"
        )
    (top,) = tops
    if f"{top}/{METADATA}" not in seen:
        raise fail(f"has no {top}/{METADATA}, so it is not an Argos Translate package")
    return top, members


def _extract(
    zf: zipfile.ZipFile,
    top: str,
    members: list[zipfile.ZipInfo],
    folder: Path,
    fail: Callable[[str], ArgosPackageError],
) -> None:
    """Write the members (names already checked) under ``folder``; sentence splitters are left out."""
    folder.mkdir()
    for info in members:
        parts = info.filename.rstrip("/").split("/")[1:]
        if not parts or parts[0] in SENTENCE_SPLITTERS:
            continue
        target = folder.joinpath(*parts)
        try:
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, target.open("xb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        except (FileExistsError, NotADirectoryError, IsADirectoryError):
            raise fail(
                f"member {_shown(info.filename, 200)} clashes with another member of the same name"
            ) from None


def download(url: str, target: Path, *, timeout: float, progress: Progress | None = None) -> None:
    """Download ``url`` to ``target``: ``https://``, or ``http://`` to this machine only.

    Raises ArgosPackageError naming the URL when it is refused, the server answers anything
    but 200, or the transfer fails.
    """
    import httpx

    def fail(problem: str) -> ArgosPackageError:
        return ArgosPackageError(f"{url}: {problem}")

    def allowed(scheme: str, host: str | None) -> bool:
        return scheme == "https" or (scheme == "http" and host in _LOOPBACK)

    parts = urlsplit(url)
    if not allowed(parts.scheme, parts.hostname):
        raise fail(
            "only https:// URLs (or http:// to this machine) are downloaded; download it and install the file"
        )
    try:
        with httpx.stream(
            "GET", url, follow_redirects=True, timeout=httpx.Timeout(30.0, read=timeout)
        ) as response:
            if not allowed(response.url.scheme, response.url.host):
                raise fail(f"the server redirected to {response.url}, which is not https://")
            if response.status_code != 200:
                raise fail(f"the server answered HTTP {response.status_code}")
            total = int(response.headers.get("content-length") or 0)
            done = 0
            with target.open("xb") as out:
                for chunk in response.iter_bytes(1 << 20):
                    out.write(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
    except httpx.HTTPError as exc:
        raise fail(f"the download failed ({type(exc).__name__}: {exc})") from None
