"""CTranslate2 models (OPUS-MT and quickmt conversions, any Transformer in its format) with SentencePiece.

A model directory holds ``model.bin`` and ``config.json`` as CTranslate2's converters write
them, its vocabularies (``shared_vocabulary.{json,txt}``, or ``source_vocabulary.*`` and
``target_vocabulary.*``), and SentencePiece models in one of the layouts in
``ctranslate2_files.TOKENIZERS`` (that module reads and checks the files).
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

import logging
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import EngineOptions
from .base import BackendKind, EngineError, ModelLoadError, TranslationFailed
from .ctranslate2_devices import resolve_device
from .ctranslate2_files import (
    VOCABULARY_MAP,
    check_vocabularies,
    load_sentencepiece,
    model_files,
    read_layout,
    read_vocabulary,
    recognises,
    weights_dir,
)

if TYPE_CHECKING:
    import ctranslate2

log = logging.getLogger(__name__)

# Set before the library (and the OpenMP runtime it bundles) loads; an operator's own value wins.
OPENMP_ENV = {"OMP_NUM_THREADS": "1"}

END_OF_SENTENCE = "</s>"  # closes a multilingual model's source, as its tokenizer does

DEFAULT_BEAM_SIZE = 2  # CTranslate2's own default
DEFAULT_MAX_DECODING_LENGTH = 256
DEFAULT_MAX_BATCH_SEGMENTS = 32
DEFAULT_MAX_BATCH_TOKENS = 1024
_COMPUTE_DEFAULTS = {"cpu": "int8", "cuda": "int8_float16"}


def prepare_process() -> dict[str, str]:
    """Set OpenMP's thread count before CTranslate2 loads; returns what was applied."""
    if "ctranslate2" in sys.modules:
        log.warning("CTranslate2 is already loaded; its OpenMP settings cannot change now")
    for name, value in OPENMP_ENV.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in OPENMP_ENV}


class MultilingualOptions(EngineOptions):
    """A pair of a multilingual model: its options, and the tokens naming its two languages.

    Pairs whose models load from the same directory with the same device, precision and
    threads share one loaded translator.
    """

    source_token: str
    target_token: str


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
            str(weights_dir(directory).resolve()),
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
                layout = read_layout(directory)
                vocabulary = {*read_vocabulary(layout.source_vocabulary)}
                vocabulary.update(read_vocabulary(layout.target_vocabulary))
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
            _decode_settings(options, vmap=(weights_dir(directory) / VOCABULARY_MAP).is_file()),
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
        layout = read_layout(directory)
        check_vocabularies(layout)
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
            load_sentencepiece(layout.source_spm),
            load_sentencepiece(layout.target_spm),
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
