"""Translation backends behind one small interface, and the pair registry.

Outside engine/, code names a backend only by its name (``models.pairs.<pair>.backend``)
and reaches it through ``engine.backends``; no other package imports a backend module.
"""

from .backends import (
    DEFAULT_BACKEND,
    backend_kind,
    backend_names,
    backends_for,
    create_backend,
    detect_backend,
    prepare_process,
    register_backend,
    unregister_backend,
)
from .base import (
    Backend,
    BackendKind,
    DeadlinePassed,
    EngineError,
    JobCancelled,
    Model,
    ModelLoadError,
    NBestModel,
    TranslationFailed,
    UnknownBackendError,
    UnsupportedPairError,
    n_best,
)
from .bergamot import BergamotBackend, bundled_model_dirs
from .ctranslate2 import MultilingualOptions
from .ctranslate2_files import vocabulary_tokens
from .pivot import PivotPair, pivot_pairs
from .registry import PairLoading, PairRegistry, PairSource
from .translator import BatchTranslator, Gathered, JobResult, TranslationJob, Translations

__all__ = [
    "DEFAULT_BACKEND",
    "Backend",
    "BackendKind",
    "BatchTranslator",
    "BergamotBackend",
    "DeadlinePassed",
    "EngineError",
    "Gathered",
    "JobCancelled",
    "JobResult",
    "Model",
    "ModelLoadError",
    "MultilingualOptions",
    "NBestModel",
    "PairLoading",
    "PairRegistry",
    "PairSource",
    "PivotPair",
    "TranslationFailed",
    "TranslationJob",
    "Translations",
    "UnknownBackendError",
    "UnsupportedPairError",
    "backend_kind",
    "backend_names",
    "backends_for",
    "bundled_model_dirs",
    "create_backend",
    "detect_backend",
    "n_best",
    "pivot_pairs",
    "prepare_process",
    "register_backend",
    "unregister_backend",
    "vocabulary_tokens",
]
