"""Translation backends behind one small interface, and the pair registry."""

from .base import (
    Backend,
    DeadlinePassed,
    EngineError,
    JobCancelled,
    LanguagePair,
    Model,
    ModelLoadError,
    TranslationFailed,
    UnsupportedPairError,
)
from .bergamot import BergamotBackend
from .registry import PairLoading, PairRegistry, PairSource
from .translator import BatchTranslator, Gathered, JobResult, TranslationJob

__all__ = [
    "Backend",
    "BatchTranslator",
    "BergamotBackend",
    "DeadlinePassed",
    "EngineError",
    "Gathered",
    "JobCancelled",
    "JobResult",
    "LanguagePair",
    "Model",
    "ModelLoadError",
    "PairLoading",
    "PairRegistry",
    "PairSource",
    "TranslationFailed",
    "TranslationJob",
    "UnsupportedPairError",
]
