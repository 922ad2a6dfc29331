"""The backend interface every translation engine implements, and the engine's errors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from ..config import EngineOptions
from ..errors import UdnError, UnsupportedPair


class EngineError(UdnError):
    """Base class of the engine's errors."""


class UnsupportedPairError(UnsupportedPair, EngineError):
    """No model is configured for the requested language pair."""

    def __init__(self, pair: str, available: Sequence[str]) -> None:
        self.pair = pair
        self.available = sorted(available)
        listed = ", ".join(self.available) or "none"
        super().__init__(f"language pair {pair!r} is not supported; available pairs: {listed}")


class ModelLoadError(EngineError):
    """A pair's model could not be had or loaded (missing files, bad config, failed download).

    The message (``str()``) may reach clients, so it names no local path and no URL; ``detail``
    is the operator's full account for logs and the command line (the message when not given).
    """

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail or message


class UnknownBackendError(EngineError):
    """No backend of that name exists (a pair's ``backend`` setting names one that does not)."""

    def __init__(self, name: str, available: Sequence[str]) -> None:
        self.name = name
        self.available = sorted(available)
        super().__init__(
            f"unknown backend {name!r}; available backends: {', '.join(self.available) or 'none'}"
        )


class TranslationFailed(EngineError):
    """The engine failed on one input; other inputs of the same batch are unaffected."""


class DeadlinePassed(EngineError):
    """A job's deadline passed before all its segments were translated; the rest were dropped."""


class JobCancelled(EngineError):
    """A job was cancelled (its client went away); its remaining segments were dropped."""


class Model(Protocol):
    """One loaded language pair; ``translate_batch`` must be safe to call from many threads at once."""

    max_batch_segments: int
    """The most segments one ``translate_batch`` call should get (1: one segment at a time)."""

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        """Translate segments (lines without newlines): one translation or error per segment.

        A segment the engine cannot translate gets its own TranslationFailed; the others of
        the call are unaffected.
        """
        ...

    def memory_bytes(self) -> int:
        """Approximate resident memory the model holds, in bytes."""
        ...

    def close(self) -> None:
        """Release the model; it must not be used afterwards."""
        ...


@runtime_checkable
class NBestModel(Model, Protocol):
    """A model that can give several translations of a segment (the n best of its beam search)."""

    def hypotheses(self, segments: Sequence[str], n: int) -> list[list[str] | EngineError]:
        """Up to ``n`` translations per segment, best first (at least one), or the segment's error.

        The search is widened to give ``n``, so the best may differ from ``translate_batch``'s.
        """
        ...


def n_best(model: Model, segments: Sequence[str], n: int) -> list[list[str] | EngineError]:
    """Up to ``n`` translations per segment, best first, from any model.

    A model that cannot give alternatives (not an ``NBestModel``) gives its one translation.
    """
    if isinstance(model, NBestModel):
        return model.hypotheses(segments, n)
    return [out if isinstance(out, EngineError) else [out] for out in model.translate_batch(segments)]


class Backend(Protocol):
    """A translation engine that turns a model directory into a loaded Model."""

    name: str

    def load(self, directory: Path, options: EngineOptions | None = None) -> Model:
        """Load the model in ``directory``; raises ModelLoadError with a readable reason.

        ``options``: the pair's engine options (``models.pairs.<pair>``, ``models.options.<pair>``);
        the registry passes them only when the pair sets any, so a backend without options
        may take ``directory`` alone.
        """
        ...

    def settings(self) -> dict[str, object]:
        """The inference settings this backend applies (precision, threads, mode), for reporting."""
        ...


class BackendFactory(Protocol):
    def __call__(self, *, threads: int) -> Backend: ...


class ModelFiles(Protocol):
    def __call__(self, directory: Path, *, confined: bool = False) -> list[Path]: ...


def _recognises_nothing(directory: Path) -> bool:
    return False


@dataclass(frozen=True, slots=True)
class BackendKind:
    """What the engine knows about one backend before any model is loaded (``engine.backends``).

    ``model_files(directory, confined=...)`` lists the files a model directory must hold and
    raises ModelLoadError naming what is missing; with ``confined`` every file must lie inside
    the directory (a model from outside, such as the Hub). ``prepare_process()`` runs in each
    inference worker before any model loads and returns the environment it applied.
    ``recognises(directory)`` says whether a directory is in this backend's layout (a pair
    that names no backend gets the one that recognises its directory). ``check(directory,
    options)`` runs before a node starts, for each local pair: the model's files and the
    pair's options on this machine, without loading the model (default: ``model_files``).
    """

    name: str
    label: str  # how messages name its models: "not a usable Bergamot model"
    create: BackendFactory
    model_files: ModelFiles
    prepare_process: Callable[[], dict[str, str]]
    recognises: Callable[[Path], bool] = _recognises_nothing
    check: Callable[[Path, EngineOptions | None], None] | None = None

    def check_pair(self, directory: Path, options: EngineOptions | None) -> None:
        """``check``, or ``model_files`` for a backend without one; raises ModelLoadError."""
        if self.check is not None:
            self.check(directory, options)
        else:
            self.model_files(directory)
