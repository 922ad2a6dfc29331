"""CTranslate2 models (OPUS-MT and quickmt conversions, any Transformer in its format) with SentencePiece.

A model directory holds ``model.bin`` and ``config.json`` as CTranslate2's converters write
them, its vocabularies (``shared_vocabulary.{json,txt}``, or ``source_vocabulary.*`` and
``target_vocabulary.*``), and SentencePiece models in one of the layouts in ``TOKENIZERS``.
An Argos Translate package folder is served as it is: its CTranslate2 model lies in ``model/``
and its ``sentencepiece.model`` beside that folder (``models/argos.py`` reads the package's
metadata); a model converted by CTranslate2 2.x (binary version 5, older packages) has no
``config.json`` and needs none.
A multilingual model (NLLB-200, M2M-100) serves many pairs from one loaded model: each pair's
source gets its language token in front, as the models' own tokenizers put it
(``[eng_Latn, ...pieces, </s>]``, ``[__en__, ...pieces, </s>]``), and its target starts with
the target language's token (``target_prefix``), dropped from the answer. Every pair of one
model directory (and load settings) shares one loaded translator, reference-counted by the
backend (``MultilingualOptions``): loaded with the first of its pairs, unloaded with the last,
and each pair reports an equal share of its memory, so the registry's sum counts it once.
A ``vmap.txt`` (CTranslate2's vocabulary map) is used when present: decoding then scores only
the target tokens the map lists for the input's words, which is much cheaper for small models.

Threads: ``inter_threads`` batches run in parallel, each on ``intra_threads`` OpenMP threads.
With the batches the scheduler makes, one thread per batch and as many batches as cores
keeps every core busy without OpenMP's team synchronisation (see docs/performance.md), so
that is the default. The OpenMP runtime is told the same before the library loads
(``prepare_process``): its default team of one thread per core, idle-spinning at exit,
is what deadlocked LibreTranslate's workers (its issue 1008).
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import re
import struct
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import EngineOptions
from .base import BackendKind, EngineError, ModelLoadError, TranslationFailed

if TYPE_CHECKING:
    import ctranslate2

log = logging.getLogger(__name__)

# Set before the library (and the OpenMP runtime it bundles) loads; an operator's own value wins.
OPENMP_ENV = {"OMP_NUM_THREADS": "1"}

# SentencePiece layouts, source model and target model: a shared model, OPUS-MT's
# (Helsinki-NLP and its conversions), quickmt's separate and joint models.
TOKENIZERS = (
    ("sentencepiece.model", "sentencepiece.model"),
    ("source.spm", "target.spm"),
    ("src.spm.model", "tgt.spm.model"),
    ("joint.spm.model", "joint.spm.model"),
    ("sentencepiece.bpe.model", "sentencepiece.bpe.model"),  # NLLB-200 and M2M-100 conversions
)
END_OF_SENTENCE = "</s>"  # closes a multilingual model's source, as its tokenizer does
VOCABULARY_MAP = "vmap.txt"  # the only name CTranslate2 reads one under
PACKAGE_MODEL_DIR = "model"  # where an Argos Translate package keeps its CTranslate2 model
_CONFIG_SINCE_VERSION = 6  # model.bin binary versions from CTranslate2 3.0 on need config.json

DEFAULT_BEAM_SIZE = 2  # CTranslate2's own default
DEFAULT_MAX_DECODING_LENGTH = 256
DEFAULT_MAX_BATCH_SEGMENTS = 32
# What CTranslate2's CUDA build (the PyPI wheel) opens on its first GPU call; the wheel ships none of them.
CUDA_LIBRARIES = ("libcublas.so.12",)
DEFAULT_MAX_BATCH_TOKENS = 1024
_COMPUTE_DEFAULTS = {"cpu": "int8", "cuda": "int8_float16"}
_DEVICE = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def prepare_process() -> dict[str, str]:
    """Set OpenMP's thread count before CTranslate2 loads; returns what was applied."""
    if "ctranslate2" in sys.modules:
        log.warning("CTranslate2 is already loaded; its OpenMP settings cannot change now")
    for name, value in OPENMP_ENV.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in OPENMP_ENV}


def recognises(directory: Path) -> bool:
    """Whether ``directory`` looks like a CTranslate2 model (``model.bin`` and ``config.json``),
    or an Argos Translate package holding one in ``model/``."""
    directory = Path(directory)
    if (directory / "model.bin").is_file() and (directory / "config.json").is_file():
        return True
    return (directory / PACKAGE_MODEL_DIR / "model.bin").is_file()


def _weights_dir(directory: Path) -> Path:
    """Where ``model.bin`` lies: ``directory`` itself, or ``model/`` of an Argos Translate package."""
    package_model = directory / PACKAGE_MODEL_DIR
    if not (directory / "model.bin").is_file() and (package_model / "model.bin").is_file():
        return package_model
    return directory


@dataclass(frozen=True, slots=True)
class _Layout:
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


def _layout(directory: Path, *, confined: bool = False) -> _Layout:
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(
            "the model directory does not exist", f"model directory {directory} does not exist"
        )
    weights = _weights_dir(directory)
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
    layout = _Layout(
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
    layout = _layout(directory, confined=confined)
    _check_vocabularies(layout)
    return layout.files()


def _read_vocabulary(path: Path) -> list[str]:
    try:
        if path.suffix == ".json":
            tokens = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise ValueError("not a JSON list of tokens")
            return tokens
        return path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"cannot read {path.name}", f"cannot read {path}: {exc}") from None


def _check_vocabularies(layout: _Layout) -> None:
    rows = embedding_rows(layout.model)
    for side, vocabulary_path, spm_path in (
        ("source", layout.source_vocabulary, layout.source_spm),
        ("target", layout.target_vocabulary, layout.target_spm),
    ):
        vocabulary = _read_vocabulary(vocabulary_path)
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
    processor = _sentencepiece(path)
    return [processor.id_to_piece(i) for i in range(processor.get_piece_size())]


def _sentencepiece(path: Path) -> Any:
    import sentencepiece

    try:
        return sentencepiece.SentencePieceProcessor(model_file=str(path))
    except (OSError, RuntimeError) as exc:
        raise ModelLoadError(
            f"{path.name} is not a SentencePiece model", f"{path} is not a SentencePiece model: {exc}"
        ) from None


def vocabulary_tokens(directory: Path) -> set[str]:
    """Every token of a CTranslate2 model's target vocabulary; raises ModelLoadError when it is not one."""
    layout = _layout(Path(directory))
    return set(_read_vocabulary(layout.target_vocabulary))


class MultilingualOptions(EngineOptions):
    """A pair of a multilingual model: its options, and the tokens naming its two languages.

    Pairs whose models load from the same directory with the same device, precision and
    threads share one loaded translator.
    """

    source_token: str
    target_token: str


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


def select_device(
    requested: str, cuda_devices: int, missing_libraries: Sequence[str] = ()
) -> tuple[str, int]:
    """The (device, index) to run on for a pair's ``device`` setting, given how many GPUs there are.

    ``auto`` is CUDA device 0 when there is one and CTranslate2 can use it (``missing_libraries``
    empty), else the CPU. Raises ModelLoadError when a CUDA device is asked for that this machine
    does not have, or cannot use for want of ``missing_libraries``.
    """
    match = _DEVICE.match(requested)
    if match is None:
        raise ModelLoadError(f"unknown device {requested!r}; use auto, cpu, cuda or cuda:N")
    kind, index = match.group(1), int(match.group(2) or 0)
    if kind == "auto":
        return ("cuda", 0) if cuda_devices > 0 and not missing_libraries else ("cpu", 0)
    if kind == "cpu":
        return "cpu", 0
    if cuda_devices == 0:
        raise ModelLoadError(
            f"device {requested!r} asked for, but CTranslate2 finds no CUDA device on this machine "
            "(use device: cpu or auto)"
        )
    if index >= cuda_devices:
        raise ModelLoadError(
            f"device {requested!r} asked for, but this machine has {cuda_devices} CUDA device(s) "
            f"(cuda:0 to cuda:{cuda_devices - 1})"
        )
    if missing_libraries:
        raise ModelLoadError(
            f"device {requested!r} asked for, but CTranslate2 cannot use the GPU: "
            f"{', '.join(missing_libraries)} cannot be loaded (its CUDA build needs CUDA 12's cuBLAS: "
            "install CUDA 12 or the nvidia-cublas-cu12 package where the loader finds it; "
            "use device: cpu or auto meanwhile)"
        )
    return "cuda", index


def cuda_device_count() -> int:
    import ctranslate2

    return int(ctranslate2.get_cuda_device_count())


def missing_cuda_libraries(names: Sequence[str] = CUDA_LIBRARIES) -> list[str]:
    """Those of ``names`` (CTranslate2's CUDA libraries) that this process cannot load."""
    missing = []
    for name in names:
        try:
            ctypes.CDLL(name)
        except OSError:
            missing.append(name)
    return missing


def resolve_device(requested: str) -> tuple[str, int]:
    """``select_device`` on this machine: its CUDA devices, used only when CTranslate2 can load CUDA."""
    devices = cuda_device_count()
    missing = missing_cuda_libraries() if devices else []
    if missing and requested == "auto":
        log.warning(
            "a GPU is present but CTranslate2 cannot use it (%s cannot be loaded): device auto uses the CPU",
            ", ".join(missing),
        )
    return select_device(requested, devices, missing)


@dataclass(frozen=True, slots=True)
class DecodeSettings:
    """What a pair's ``translate_batch`` calls pass to CTranslate2 (its per-pair options, resolved)."""

    beam_size: int = DEFAULT_BEAM_SIZE
    max_decoding_length: int = DEFAULT_MAX_DECODING_LENGTH
    length_penalty: float = 1.0
    max_batch_tokens: int = DEFAULT_MAX_BATCH_TOKENS
    use_vmap: bool = False


@dataclass(eq=False)
class _SharedTranslator:
    """A multilingual model's one translator and tokenizers, and how many pairs hold it."""

    key: tuple[object, ...]
    directory: Path
    translator: ctranslate2.Translator
    source: Any
    target: Any
    size: int
    loads: int
    vocabulary: frozenset[str]  # source and target tokens
    users: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class CTranslate2Model:
    """A loaded CTranslate2 pair: each ``translate_batch`` call is one batched call into the engine.

    CTranslate2 releases the GIL and runs a call's sub-batches (at most ``max_batch_tokens``
    source tokens each) on its ``inter_threads`` workers, so calls from many threads overlap.
    """

    def __init__(
        self,
        directory: Path,
        translator: ctranslate2.Translator,
        source: Any,
        target: Any,
        decode: DecodeSettings,
        *,
        max_batch_segments: int,
        size: int,
        tokens: tuple[str, str] | None = None,
        shared: _SharedTranslator | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        self.directory = directory
        self.max_batch_segments = max_batch_segments
        self.decode = decode
        self._translator: ctranslate2.Translator | None = translator
        self._source = source
        self._target = target
        self._size = size
        self._tokens = tokens  # a multilingual pair's (source, target) language tokens
        self._shared = shared
        self._release = release

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        return [out if isinstance(out, EngineError) else out[0] for out in self.hypotheses(segments)]

    def hypotheses(self, segments: Sequence[str], n: int = 1) -> list[list[str] | EngineError]:
        """Up to ``n`` translations per segment, best first (n-best from the beam), or its error.

        One call into the engine for the whole list; if it fails, each segment is tried alone
        so that only the segments the engine cannot translate fail.
        """
        tokens = [self._source.encode(text, out_type=str) for text in segments]
        if self._tokens is not None:
            tokens = [[self._tokens[0], *pieces, END_OF_SENTENCE] for pieces in tokens]
        try:
            return [*self._decode(tokens, n)]
        except Exception as exc:
            if len(segments) == 1:
                return [TranslationFailed(f"the model could not translate this text: {exc}")]
        out: list[list[str] | EngineError] = []
        for one in tokens:
            try:
                out.extend(self._decode([one], n))
            except Exception as exc:
                out.append(TranslationFailed(f"the model could not translate this text: {exc}"))
        return out

    def _decode(self, tokens: list[list[str]], n: int) -> list[list[str]]:
        translator = self._translator
        if translator is None:
            raise TranslationFailed("the model was unloaded")
        settings = self.decode
        # One prefix per sentence: the call may only ever hold this pair's, but each gets its own.
        prefix = [[self._tokens[1]] for _ in tokens] if self._tokens is not None else None
        results = translator.translate_batch(
            tokens,
            target_prefix=prefix,
            max_batch_size=settings.max_batch_tokens,
            batch_type="tokens",
            beam_size=max(settings.beam_size, n),
            num_hypotheses=n,
            length_penalty=settings.length_penalty,
            max_decoding_length=settings.max_decoding_length,
            use_vmap=settings.use_vmap,
        )
        return [[self._target.decode(self._strip(h)) for h in result.hypotheses] for result in results]

    def _strip(self, hypothesis: list[str]) -> list[str]:
        """A hypothesis without the target language token it was made to start with."""
        if self._tokens is not None and hypothesis[:1] == [self._tokens[1]]:
            return hypothesis[1:]
        return hypothesis

    def memory_bytes(self) -> int:
        """The model's size; a multilingual pair's equal share of it, so the pairs' sum is its size."""
        shared = self._shared
        if shared is None:
            return self._size
        return shared.size // max(shared.users, 1)

    def shared(self) -> dict[str, object] | None:
        """The loaded model this pair shares with others (path, loads, pairs holding it, size), or None."""
        shared = self._shared
        if shared is None:
            return None
        return {
            "path": str(shared.directory),
            "loads": shared.loads,
            "pairs": shared.users,
            "memory_bytes": shared.size,
        }

    def close(self) -> None:
        translator, self._translator = self._translator, None
        if translator is None:
            return
        if self._release is not None:
            self._release()
        else:
            translator.unload_model()


class CTranslate2Backend:
    """Loads CTranslate2 model directories, each with its pair's options (``EngineOptions``)."""

    name = "ctranslate2"

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._shared: dict[tuple[object, ...], _SharedTranslator] = {}
        self._loads: dict[tuple[object, ...], int] = {}
        self._shared_lock = threading.Lock()  # held while a shared model loads: its pairs wait for it

    def load(self, directory: Path, options: EngineOptions | None = None) -> CTranslate2Model:
        options = options or EngineOptions()
        if isinstance(options, MultilingualOptions):
            return self._load_shared(Path(directory), options)
        return self._load(Path(directory), options)

    def _load_shared(self, directory: Path, options: MultilingualOptions) -> CTranslate2Model:
        """A view of the multilingual model in ``directory`` for one pair, loading it if no pair holds it."""
        device, index = resolve_device(options.device or "auto")
        key: tuple[object, ...] = (
            str(_weights_dir(directory).resolve()),
            device,
            index,
            options.compute_type or _COMPUTE_DEFAULTS[device],
            options.inter_threads or self.threads,
            options.intra_threads if options.intra_threads is not None else 1,
        )
        with self._shared_lock:
            shared = self._shared.get(key)
            if shared is None:
                own = self._load(directory, options)
                self._loads[key] = self._loads.get(key, 0) + 1
                assert own._translator is not None
                layout = _layout(directory)
                vocabulary = {*_read_vocabulary(layout.source_vocabulary)}
                vocabulary.update(_read_vocabulary(layout.target_vocabulary))
                shared = _SharedTranslator(
                    key,
                    directory,
                    own._translator,
                    own._source,
                    own._target,
                    own._size,
                    self._loads[key],
                    frozenset(vocabulary),
                )
                self._shared[key] = shared
            shared.users += 1
        for token in (options.source_token, options.target_token):
            if token not in shared.vocabulary:
                self._release(shared)
                raise ModelLoadError(
                    f"the model's vocabulary has no language token {token}",
                    f"the vocabulary of {directory} has no language token {token}",
                )
        return CTranslate2Model(
            directory,
            shared.translator,
            shared.source,
            shared.target,
            _decode_settings(options, vmap=(_weights_dir(directory) / VOCABULARY_MAP).is_file()),
            max_batch_segments=options.max_batch_segments or DEFAULT_MAX_BATCH_SEGMENTS,
            size=shared.size,
            tokens=(options.source_token, options.target_token),
            shared=shared,
            release=lambda: self._release(shared),
        )

    def _release(self, shared: _SharedTranslator) -> None:
        """One pair lets go of a shared model; the last one unloads it."""
        with self._shared_lock:
            shared.users -= 1
            if shared.users > 0:
                return
            self._shared.pop(shared.key, None)
        shared.translator.unload_model()

    def _load(self, directory: Path, options: EngineOptions) -> CTranslate2Model:
        layout = _layout(directory)
        _check_vocabularies(layout)
        device, index = resolve_device(options.device or "auto")
        compute_type = options.compute_type or _COMPUTE_DEFAULTS[device]
        import ctranslate2

        try:
            translator = ctranslate2.Translator(
                str(layout.model.parent),
                device=device,
                device_index=index,
                compute_type=compute_type,
                inter_threads=options.inter_threads or self.threads,
                intra_threads=options.intra_threads if options.intra_threads is not None else 1,
            )
        except (RuntimeError, ValueError) as exc:
            raise ModelLoadError(
                f"CTranslate2 rejected the model ({device}, {compute_type})",
                f"CTranslate2 rejected {directory} ({device}, {compute_type}): {exc}",
            ) from exc
        decode = _decode_settings(options, vmap=layout.vmap is not None)
        log.info(
            "CTranslate2 model %s on %s:%d, %s, %d x %d threads, %s",
            directory,
            device,
            index,
            translator.compute_type,
            translator.num_translators,
            options.intra_threads if options.intra_threads is not None else 1,
            decode,
        )
        return CTranslate2Model(
            Path(directory),
            translator,
            _sentencepiece(layout.source_spm),
            _sentencepiece(layout.target_spm),
            decode,
            max_batch_segments=options.max_batch_segments or DEFAULT_MAX_BATCH_SEGMENTS,
            # The weights dominate; model.bin holds them at their stored precision.
            size=layout.model.stat().st_size,
        )

    def settings(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "precision": "per pair (compute_type; default int8 on CPU, int8_float16 on CUDA)",
            "inter_threads": self.threads,
            "intra_threads": 1,
            "openmp": {name: os.environ.get(name) for name in OPENMP_ENV},
        }


def _decode_settings(options: EngineOptions, *, vmap: bool) -> DecodeSettings:
    return DecodeSettings(
        beam_size=options.beam_size or DEFAULT_BEAM_SIZE,
        max_decoding_length=options.max_decoding_length or DEFAULT_MAX_DECODING_LENGTH,
        length_penalty=options.length_penalty if options.length_penalty is not None else 1.0,
        max_batch_tokens=options.max_batch_tokens or DEFAULT_MAX_BATCH_TOKENS,
        use_vmap=vmap,
    )


def check(directory: Path, options: EngineOptions | None) -> None:
    """Check a model directory and a pair's options on this machine without loading the model.

    Raises ModelLoadError naming what is wrong. Imports CTranslate2 only when a CUDA device
    is asked for by name.
    """
    model_files(directory)
    device = (options.device if options else None) or "auto"
    if device.startswith("cuda"):
        resolve_device(device)


CTRANSLATE2 = BackendKind(
    name="ctranslate2",
    label="CTranslate2",
    create=CTranslate2Backend,
    model_files=model_files,
    prepare_process=prepare_process,
    recognises=recognises,
    check=check,
)
