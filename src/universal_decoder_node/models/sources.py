"""Model sources: the bundled pairs, operator-configured model directories, and Hub repositories."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, Settings
from ..engine import DEFAULT_BACKEND, UnknownBackendError, backend_kind, bundled_model_dirs
from .hub import HubModel, HubOptions, Progress, fetch
from .store import ModelStore, RepoRef, Snapshot


@dataclass(frozen=True)
class DirectorySource:
    """A model directory already on disk (a bundled model, or one the operator configured)."""

    path: Path
    kind: str = "directory"
    backend: str = DEFAULT_BACKEND

    def directory(self) -> Path:
        return self.path

    def describe(self) -> dict[str, object]:
        return {"source": self.kind, "path": str(self.path)}


@dataclass(frozen=True)
class HubSource:
    """A pair whose model comes from a Hub repository through the model store."""

    model: HubModel
    store: ModelStore
    options: HubOptions
    kind: str = "hub"

    @property
    def backend(self) -> str:
        return self.model.backend

    def directory(self, progress: Progress | None = None) -> Path:
        """The stored model directory, downloading it first if needed; raises HubDownloadError."""
        return fetch(self.store, self.model, self.options, progress).path

    def cached(self) -> Snapshot | None:
        """The stored snapshot, if any; never touches the network."""
        return self.store.resolve(self.model.ref)

    def describe(self) -> dict[str, object]:
        snapshot = self.cached()
        info: dict[str, object] = {
            "source": self.kind,
            "repo": self.model.ref.repo_id,
            "revision": self.model.ref.revision,
            "cached": snapshot is not None,
        }
        if snapshot is not None:
            info.update(commit=snapshot.commit, path=str(snapshot.path))
        return info


PairSourceType = DirectorySource | HubSource


def model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.adapters.dir)


def pair_sources(settings: Settings) -> dict[str, PairSourceType]:
    """Every pair the settings make available, by pair name; configured pairs override bundled ones.

    Raises ConfigError when a pair is configured twice, names a backend that does not exist,
    a repository or revision is not a valid Hub name, or ``adapters.prewarm`` or
    ``adapters.pinned`` names a pair that is not configured.
    """
    sources: dict[str, PairSourceType] = {}
    if settings.models.bundled:
        for pair, path in bundled_model_dirs().items():
            sources[pair] = DirectorySource(path, kind="bundled")
    for pair, conf in settings.models.pairs.items():
        try:
            backend_kind(conf.backend)
        except UnknownBackendError as exc:
            raise ConfigError(f"invalid configuration: models.pairs.{pair}.backend: {exc}") from None
        sources[pair] = DirectorySource(conf.path, kind="directory", backend=conf.backend)
    adapters = settings.adapters
    store = model_store(settings)
    options = HubOptions.from_settings(adapters)
    for pair, repo in adapters.repos.items():
        if pair in settings.models.pairs:
            raise ConfigError(
                f"invalid configuration: pair {pair!r} is both a directory (models.pairs) "
                "and a Hub repository (adapters.repos); keep one"
            )
        try:
            ref = RepoRef.parse(repo.repo)
        except ValueError as exc:
            raise ConfigError(f"invalid configuration: adapters.repos.{pair}: {exc}") from None
        model = HubModel(
            ref=ref,
            label=pair,
            allow_patterns=tuple(repo.allow_patterns) if repo.allow_patterns is not None else None,
            ignore_patterns=tuple(repo.ignore_patterns) if repo.ignore_patterns is not None else None,
        )
        sources[pair] = HubSource(model, store, options)
    for key, names in (("prewarm", adapters.prewarm), ("pinned", adapters.pinned)):
        unknown = [name for name in names if name not in sources]
        if unknown:
            raise ConfigError(
                f"invalid configuration: adapters.{key} names {', '.join(map(repr, unknown))}, "
                f"which is not configured; configured pairs: {', '.join(sorted(sources)) or 'none'}"
            )
    return sources


def startup_pairs(settings: Settings, sources: dict[str, PairSourceType]) -> list[str]:
    """The pairs a worker loads before it reports ready: local ones (bundled, directories), then pre-warm."""
    local = [pair for pair, source in sorted(sources.items()) if isinstance(source, DirectorySource)]
    return list(dict.fromkeys([*local, *settings.adapters.prewarm]))
