"""The backends a pair may name (``models.pairs.<pair>.backend``), and what each needs before loading.

Everything outside engine/ reaches a backend through these functions, by name: the worker
builds backends with ``create_backend`` and prepares its process with ``prepare_process``;
the model store checks a download with ``backend_kind(name).model_files``. Adding an engine
means writing its module (a ``Backend`` and a ``BackendKind``) and listing its kind in
``_BUILT_IN``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from .base import Backend, BackendKind, ModelLoadError, UnknownBackendError
from .bergamot import BERGAMOT
from .ctranslate2 import CTRANSLATE2

DEFAULT_BACKEND = BERGAMOT.name  # the bundled pairs' backend

_BUILT_IN = (BERGAMOT, CTRANSLATE2)
_KINDS: dict[str, BackendKind] = {kind.name: kind for kind in _BUILT_IN}


def register_backend(kind: BackendKind) -> None:
    """Make ``kind`` available by its name; raises ValueError if the name is taken."""
    if kind.name in _KINDS:
        raise ValueError(f"a backend named {kind.name!r} is already registered")
    _KINDS[kind.name] = kind


def unregister_backend(name: str) -> None:
    """Forget a backend added with ``register_backend``; the built-in ones stay."""
    if any(kind.name == name for kind in _BUILT_IN):
        raise ValueError(f"backend {name!r} is built in")
    _KINDS.pop(name, None)


def backend_names() -> list[str]:
    return sorted(_KINDS)


def backend_kind(name: str) -> BackendKind:
    """The backend called ``name``; raises UnknownBackendError listing the available ones."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownBackendError(name, list(_KINDS)) from None


def create_backend(name: str, *, threads: int) -> Backend:
    """A new backend called ``name`` translating on ``threads`` threads; raises UnknownBackendError."""
    return backend_kind(name).create(threads=threads)


def prepare_process(names: Iterable[str] | None = None) -> dict[str, str]:
    """Apply the process setup (environment a native library reads once) of the backends
    called ``names``, or of every backend; returns what was applied.

    Call it in an inference worker before any model loads.
    """
    kinds = _KINDS.values() if names is None else [backend_kind(name) for name in sorted(names)]
    applied: dict[str, str] = {}
    for kind in kinds:
        applied.update(kind.prepare_process())
    return applied


def backends_for(names: Iterable[str | None]) -> list[str]:
    """The backends that pairs naming ``names`` may need: every backend if one names none (None)."""
    wanted = set(names)
    return backend_names() if None in wanted else sorted(n for n in wanted if n is not None)


def detect_backend(directory: Path) -> str:
    """The backend whose layout ``directory`` is in; raises ModelLoadError naming what is missing.

    ``model.bin`` + ``config.json``: CTranslate2; ``config*.yml``: Bergamot.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise ModelLoadError(
            "the model directory does not exist", f"model directory {directory} does not exist"
        )
    found = [kind.name for kind in _KINDS.values() if kind.recognises(directory)]
    if len(found) == 1:
        return found[0]
    if found:
        raise ModelLoadError(
            f"the model directory fits more than one backend ({', '.join(found)}); set its backend",
            f"model directory {directory} fits more than one backend ({', '.join(found)}); set its backend",
        )
    what = "holds neither model.bin + config.json (CTranslate2) nor config*.yml (Bergamot)"
    raise ModelLoadError(f"the model directory {what}", f"model directory {directory} {what}")
