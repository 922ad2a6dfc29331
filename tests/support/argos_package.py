"""Argos Translate packages built at test time from ``ct2_model``'s random-weight models.

``build_package`` writes an unpacked package folder as Argos Translate lays them out
(``metadata.json``, ``model/``, ``sentencepiece.model``, a ``stanza/`` sentence splitter and a
``README.md``); ``legacy=True`` makes its model look converted by CTranslate2 2.x, as the older
packages of Argos's index are (binary version 5, no ``config.json``, ``shared_vocabulary.txt``).
``pack`` zips a folder into an ``.argosmodel``, with hostile extra members when a test wants them.
"""

from __future__ import annotations

import json
import shutil
import stat
import struct
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

NAMES = {"en": "English", "xx": "Xenish", "yy": "Yonish", "zz": "Zedish", "de": "German"}


def package_metadata(from_code: str, to_code: str, version: str = "1.9", **extra: Any) -> dict[str, Any]:
    """``metadata.json`` as Argos's index writes it (the fields of its ``package.py``)."""
    return {
        "package_version": version,
        "argos_version": "1.9.0",
        "from_code": from_code,
        "from_name": NAMES.get(from_code, from_code),
        "to_code": to_code,
        "to_name": NAMES.get(to_code, to_code),
        "links": [f"https://example.invalid/translate-{from_code}_{to_code}.argosmodel"],
        "code": f"translate-{from_code}_{to_code}",
        **extra,
    }


def build_package(
    root: Path,
    model: Path,
    from_code: str,
    to_code: str,
    *,
    version: str = "1.9",
    legacy: bool = False,
    metadata: dict[str, Any] | None = None,
) -> Path:
    """Write the package folder ``translate-<from>_<to>-<version>`` under ``root`` from a model
    ``ct2_model.build_ct2_model`` made; returns the folder. ``metadata`` replaces the whole file."""
    folder = root / f"translate-{from_code}_{to_code}-{version.replace('.', '_')}"
    weights = folder / "model"
    weights.mkdir(parents=True)
    for name in ("model.bin", "config.json", "shared_vocabulary.json"):
        shutil.copyfile(model / name, weights / name)
    # The builder trains one SentencePiece model for both sides, as Argos's packages have.
    shutil.copyfile(model / "source.spm", folder / "sentencepiece.model")
    splitter = folder / "stanza" / from_code
    splitter.mkdir(parents=True)
    (splitter / "tokenize.pt").write_bytes(b"not read by the node")
    (folder / "README.md").write_text(f"# {from_code} -> {to_code}\n\nA test package.\n", encoding="utf-8")
    meta = metadata if metadata is not None else package_metadata(from_code, to_code, version)
    (folder / "metadata.json").write_text(json.dumps(meta, indent=4), encoding="utf-8")
    if legacy:
        as_ctranslate2_v2(weights)
    return folder


def as_ctranslate2_v2(weights: Path) -> None:
    """Make a model directory look converted by CTranslate2 2.x: what CTranslate2 reads is unchanged."""
    (weights / "config.json").unlink()
    model_bin = weights / "model.bin"
    data = bytearray(model_bin.read_bytes())
    data[:4] = struct.pack("I", 5)
    model_bin.write_bytes(bytes(data))
    vocabulary = weights / "shared_vocabulary.json"
    tokens = json.loads(vocabulary.read_text(encoding="utf-8"))
    (weights / "shared_vocabulary.txt").write_text("\n".join(tokens) + "\n", encoding="utf-8")
    vocabulary.unlink()


def symlink_member(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    """A zip member whose external attributes mark it as a symbolic link to ``target``."""
    info = zipfile.ZipInfo(name)
    info.create_system = 3  # Unix: the external attributes hold the file mode
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


def pack(
    folder: Path,
    archive: Path,
    extra: Iterable[tuple[zipfile.ZipInfo | str, bytes]] = (),
    *,
    skip: Iterable[str] = (),
) -> Path:
    """Zip ``folder`` as ``<folder name>/...`` into ``archive`` (as Argos's packages are), plus ``extra``
    members; ``skip``: paths inside the folder to leave out."""
    left_out = set(skip)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(folder).as_posix()
            if relative in left_out or any(relative.startswith(f"{s}/") for s in left_out):
                continue
            zf.write(path, f"{folder.name}/{relative}")
        for info, data in extra:
            zf.writestr(info, data)
    return archive
