"""The files of a CTranslate2 model directory: their layouts, vocabularies and SentencePiece models.

What ``CTranslate2Backend`` loads and ``udn serve`` checks before it starts: ``model.bin`` and
``config.json`` as CTranslate2's converters write them (or an Argos Translate package's ``model/``),
the vocabularies, and SentencePiece models in one of the layouts in ``TOKENIZERS``. Every problem
is a ModelLoadError naming the file and what is wrong with it.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .base import ModelLoadError

# SentencePiece layouts, source model and target model: a shared model, OPUS-MT's
# (Helsinki-NLP and its conversions), quickmt's separate and joint models.
TOKENIZERS = (
    ("sentencepiece.model", "sentencepiece.model"),
    ("source.spm", "target.spm"),
    ("src.spm.model", "tgt.spm.model"),
    ("joint.spm.model", "joint.spm.model"),
    ("sentencepiece.bpe.model", "sentencepiece.bpe.model"),  # NLLB-200 and M2M-100 conversions
)
VOCABULARY_MAP = "vmap.txt"  # the only name CTranslate2 reads one under
PACKAGE_MODEL_DIR = "model"  # where an Argos Translate package keeps its CTranslate2 model
_CONFIG_SINCE_VERSION = 6  # model.bin binary versions from CTranslate2 3.0 on need config.json


def recognises(directory: Path) -> bool:
    """Whether ``directory`` looks like a CTranslate2 model (``model.bin`` and ``config.json``),
    or an Argos Translate package holding one in ``model/``."""
    directory = Path(directory)
    if (directory / "model.bin").is_file() and (directory / "config.json").is_file():
        return True
    return (directory / PACKAGE_MODEL_DIR / "model.bin").is_file()


def weights_dir(directory: Path) -> Path:
    """Where ``model.bin`` lies: ``directory`` itself, or ``model/`` of an Argos Translate package."""
    package_model = directory / PACKAGE_MODEL_DIR
    if not (directory / "model.bin").is_file() and (package_model / "model.bin").is_file():
        return package_model
    return directory


@dataclass(frozen=True, slots=True)
class Layout:
    """The files of one CTranslate2 model directory."""

    model: Path
    config: Path | None  # None: a CTranslate2 2.x model, which has none
    source_vocabulary: Path
    target_vocabulary: Path
    source_spm: Path
    target_spm: Path
    vmap: Path | None

    def files(self) -> list[Path]:
        named = [self.model, *([self.config] if self.config else []), self.source_vocabulary]
        named.append(self.target_vocabulary)
        named += [self.source_spm, self.target_spm, *([self.vmap] if self.vmap else [])]
        return list(dict.fromkeys(named))


def _missing(directory: Path, what: str) -> ModelLoadError:
    return ModelLoadError(f"the model directory has no {what}", f"model directory {directory} has no {what}")


def read_layout(directory: Path, *, confined: bool = False) -> Layout:
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(
            "the model directory does not exist", f"model directory {directory} does not exist"
        )
    weights = weights_dir(directory)
    if not (weights / "model.bin").is_file():
        raise _missing(directory, "model.bin (CTranslate2 layout expected)")
    config: Path | None = weights / "config.json"
    if not (weights / "config.json").is_file():
        if weights == directory or _binary_version(weights / "model.bin") >= _CONFIG_SINCE_VERSION:
            raise _missing(weights, "config.json (CTranslate2 layout expected)")
        config = None
    vocabularies = _vocabularies(weights)
    for source_name, target_name in TOKENIZERS:
        if (directory / source_name).is_file() and (directory / target_name).is_file():
            break
    else:
        layouts = ", ".join(s if s == t else f"{s} + {t}" for s, t in TOKENIZERS)
        raise _missing(directory, f"SentencePiece model (one of: {layouts})")
    vmap = weights / VOCABULARY_MAP
    layout = Layout(
        model=weights / "model.bin",
        config=config,
        source_vocabulary=vocabularies[0],
        target_vocabulary=vocabularies[1],
        source_spm=directory / source_name,
        target_spm=directory / target_name,
        vmap=vmap if vmap.is_file() else None,
    )
    if confined:
        root = directory.resolve()
        for path in layout.files():
            if not Path(os.path.realpath(path)).is_relative_to(root):
                raise ModelLoadError(
                    f"{path.name} links outside the model directory",
                    f"{path} links outside the model directory {directory}",
                )
    return layout


def _vocabularies(directory: Path) -> tuple[Path, Path]:
    """The source and target vocabulary files, as CTranslate2 looks for them."""

    def find(stem: str) -> Path | None:
        for suffix in (".json", ".txt"):
            if (directory / f"{stem}{suffix}").is_file():
                return directory / f"{stem}{suffix}"
        return None

    shared = find("shared_vocabulary")
    if shared is not None:
        return shared, shared
    source, target = find("source_vocabulary"), find("target_vocabulary")
    if source is None or target is None:
        raise _missing(
            directory, "vocabulary (shared_vocabulary.json, or source_ and target_vocabulary.json)"
        )
    return source, target


def model_files(directory: Path, *, confined: bool = False) -> list[Path]:
    """The files a CTranslate2 model directory must hold; raises ModelLoadError naming what is missing.

    Also checks that the vocabularies fit the model's embeddings and the SentencePiece models
    load and match the vocabularies, which CTranslate2 itself would only find out mid-request.
    ``confined``: every file must lie inside ``directory`` (a model from outside, such as the Hub).
    """
    layout = read_layout(directory, confined=confined)
    check_vocabularies(layout)
    return layout.files()


def read_vocabulary(path: Path) -> list[str]:
    try:
        if path.suffix == ".json":
            tokens = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ValueError("not a JSON list of tokens")
            return tokens
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path.name}", f"cannot read {path}: {exc}") from None


def check_vocabularies(layout: Layout) -> None:
    rows = embedding_rows(layout.model)
    for side, vocabulary_path, spm_path in (
        ("source", layout.source_vocabulary, layout.source_spm),
        ("target", layout.target_vocabulary, layout.target_spm),
    ):
        vocabulary = read_vocabulary(vocabulary_path)
        expected = rows.get(side)
        if expected is not None and expected != len(vocabulary):
            raise ModelLoadError(
                f"{vocabulary_path.name} does not belong to this model: it has {len(vocabulary)} "
                f"tokens, the model's {side} embeddings {expected}",
                f"{vocabulary_path} does not belong to this model: it has {len(vocabulary)} "
                f"tokens, the {side} embeddings of {layout.model} {expected}",
            )
        pieces = _pieces(spm_path)
        known = set(vocabulary)
        found = sum(piece in known for piece in pieces)
        if found < len(pieces) / 2:
            raise ModelLoadError(
                f"{spm_path.name} does not match {vocabulary_path.name}: only {found} of its "
                f"{len(pieces)} pieces are in the vocabulary",
                f"{spm_path} does not match {vocabulary_path}: only {found} of its "
                f"{len(pieces)} pieces are in the vocabulary",
            )


def _pieces(path: Path) -> list[str]:
    """The pieces of a SentencePiece model; raises ModelLoadError when it is not one."""
    processor = load_sentencepiece(path)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def load_sentencepiece(path: Path) -> Any:
    import sentencepiece

    try:
        return sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as exc:
        raise ModelLoadError(
            f"{path.name} is not a SentencePiece model", f"{path} is not a SentencePiece model: {exc}"
        ) from None


def vocabulary_tokens(directory: Path) -> set[str]:
    """Every token of a CTranslate2 model's target vocabulary; raises ModelLoadError when it is not one."""
    layout = read_layout(Path(directory))
    return set(read_vocabulary(layout.target_vocabulary))


def _binary_version(model_bin: Path) -> int:
    """The format version ``model.bin`` starts with (0 when it cannot be read)."""
    try:
        with model_bin.open("rb") as handle:
            (version,) = struct.unpack("I", handle.read(4))
    except (OSError, struct.error):
        return 0
    return int(version)


def embedding_rows(model_bin: Path) -> dict[str, int]:
    """The rows of the source and target embeddings, read from ``model.bin``'s variable headers.

    Best effort: an empty answer when the file is not in the layout this reader knows
    (CTranslate2 then reports its own error when it loads the model).
    """
    wanted = {
        "encoder/embeddings_0/weight": "source",
        "encoder/embeddings/weight": "source",
        "decoder/embeddings/weight": "target",
    }
    shapes: dict[str, list[int]] = {}
    aliases: dict[str, str] = {}
    try:
        with model_bin.open("rb") as handle:

            def number(fmt: str) -> int:
                (value,) = struct.unpack(fmt, handle.read(struct.calcsize(fmt)))
                return int(value)

            def string() -> str:
                return handle.read(number("H"))[:-1].decode("utf-8")

            version = number("I")
            if not 5 <= version <= _CONFIG_SINCE_VERSION:
                return {}
            string()  # the spec's name
            number("I")  # its revision
            for _ in range(number("I")):
                name = string()
                shapes[name] = [number("I") for _ in range(number("B"))]
                number("B")  # the type
                handle.seek(number("I"), os.SEEK_CUR)
            for _ in range(number("I")):
                alias = string()
                aliases[alias] = string()
    except (OSError, struct.error, UnicodeDecodeError, ValueError):
        return {}
    rows: dict[str, int] = {}
    for name, side in wanted.items():
        shape = shapes.get(aliases.get(name, name))
        if shape:
            rows.setdefault(side, shape[0])
    return rows
