"""Model sources: the bundled pairs, Argos Translate packages, model directories, Hub repositories.

When several give the same pair, the later in this list wins: the multilingual models
(``models.multilingual``, each serving every pair among its languages), the bundled pairs, the
packages in ``models.argos_packages_dir``, the packages installed in the model store, the
configured ones (``models.pairs``, ``adapters.repos``). With ``models.prefer_multilingual`` the
multilingual models come last instead, and win every pair they serve.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from itertools import permutations
from pathlib import Path

from ..config import ConfigError, EngineOptions, MultilingualSettings, PairSettings, Settings
from ..engine import (
    DEFAULT_BACKEND,
    ModelLoadError,
    MultilingualOptions,
    UnknownBackendError,
    backend_kind,
    bundled_model_dirs,
    detect_backend,
    vocabulary_tokens,
)
from ..language_codes import Convention, detect_convention, language_token, languages_in
from . import argos
from .argos import ArgosPackage
from .errors import ArgosPackageError
from .hub import HubModel, HubOptions, Progress, fetch
from .store import ModelStore, RepoRef, Snapshot


@dataclass(frozen=True)
class DirectorySource:
    """A model directory already on disk (a bundled model, or one the operator configured).

    ``backend`` None: the one whose layout the directory is in (``engine.detect_backend``).
    """

    path: Path
    kind: str = "directory"
    backend: str | None = DEFAULT_BACKEND
    engine_options: EngineOptions | None = None

    def directory(self) -> Path:
        return self.path

    def describe(self) -> dict[str, object]:
        return {"source": self.kind, "path": str(self.path)}


# Where an Argos package was found, as ``udn models list`` and /admin/models say it.
ARGOS_DIR = "ARGOS_PACKAGES_DIR"
ARGOS_STORE = "model store"


@dataclass(frozen=True)
class ArgosSource(DirectorySource):
    """A pair served from an Argos Translate package folder: ``path`` is the package's folder."""

    package: ArgosPackage = field(kw_only=True)
    location: str = field(kw_only=True)  # ARGOS_DIR or ARGOS_STORE

    def describe(self) -> dict[str, object]:
        return {
            "source": self.kind,
            "path": str(self.path),
            "version": self.package.package_version,
            "location": self.location,
        }


MULTILINGUAL_BACKEND = "ctranslate2"  # the one engine that reads language tokens


@dataclass(frozen=True)
class MultilingualSource(DirectorySource):
    """One pair of a multilingual model (``models.multilingual.<name>``); its pairs share the loaded model."""

    name: str = field(kw_only=True)
    convention: Convention = field(kw_only=True)

    def describe(self) -> dict[str, object]:
        return {
            "source": self.kind,
            "path": str(self.path),
            "model": self.name,
            "convention": self.convention,
        }


@dataclass(frozen=True)
class HubSource:
    """A pair whose model comes from a Hub repository through the model store."""

    model: HubModel
    store: ModelStore
    options: HubOptions
    kind: str = "hub"
    engine_options: EngineOptions | None = None

    @property
    def backend(self) -> str | None:
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


@dataclass(frozen=True)
class MultilingualHubSource(HubSource):
    """One pair of a multilingual model from a Hub repository: every pair of the model shares one
    snapshot in the store (one download) and one loaded translator."""

    name: str = field(kw_only=True)
    convention: Convention = field(kw_only=True)

    def describe(self) -> dict[str, object]:
        return {**super().describe(), "model": self.name, "convention": self.convention}


PairSourceType = DirectorySource | HubSource


def model_store(settings: Settings) -> ModelStore:
    return ModelStore(settings.adapters.dir)


def argos_packages(settings: Settings) -> list[tuple[str, ArgosPackage]]:
    """Every Argos Translate package the settings point at, with where it was found (ARGOS_DIR first).

    Raises ConfigError naming the folder when ``models.argos_packages_dir`` is not a directory
    or holds a folder that is not a valid package.
    """
    found: list[tuple[str, ArgosPackage]] = []
    root = settings.models.argos_packages_dir
    try:
        if root is not None:
            if not root.is_dir():
                raise ConfigError(
                    f"invalid configuration: models.argos_packages_dir (ARGOS_PACKAGES_DIR) is {root}, "
                    "which is not a directory"
                )
            found += [(ARGOS_DIR, package) for package in argos.discover(root)]
        found += [(ARGOS_STORE, package) for package in argos.store_packages(settings.adapters.dir)]
    except ArgosPackageError as exc:
        raise ConfigError(
            f"invalid Argos Translate package: {exc.detail}; fix or remove it (or point "
            "ARGOS_PACKAGES_DIR elsewhere)"
        ) from None
    return found


def _argos_sources(settings: Settings) -> dict[str, ArgosSource]:
    """The pair each package serves: per place the newest version, the store's over ARGOS_DIR's."""
    sources: dict[str, ArgosSource] = {}
    packages = argos_packages(settings)
    for location in (ARGOS_DIR, ARGOS_STORE):
        newest = argos.newest(package for where, package in packages if where == location)
        for pair, package in newest.items():
            engine = _merged_options(pair, None, settings.models.options.get(pair))
            sources[pair] = ArgosSource(
                package.path,
                kind="argos",
                backend=engine.backend or argos.BACKEND,
                engine_options=engine.engine_options(),
                package=package,
                location=location,
            )
    return sources


@functools.lru_cache(maxsize=16)
def _vocabulary(path: Path, modified: int) -> frozenset[str]:
    return frozenset(vocabulary_tokens(path))


def _modified(directory: Path) -> int:
    """When ``directory`` last changed (0 when it cannot be read): a replaced model is read again."""
    try:
        return directory.stat().st_mtime_ns
    except OSError:
        return 0


def multilingual_hub_model(name: str, conf: MultilingualSettings) -> HubModel:
    """What to fetch for ``models.multilingual.<name>.repo``; raises ConfigError for a bad name."""
    assert conf.repo is not None
    try:
        ref = RepoRef.parse(conf.repo)
    except ValueError as exc:
        raise ConfigError(f"invalid configuration: models.multilingual.{name}.repo: {exc}") from None
    return HubModel(ref=ref, label=f"models.multilingual.{name}", backend=MULTILINGUAL_BACKEND)


def multilingual_sources(settings: Settings) -> dict[str, MultilingualSource | MultilingualHubSource]:
    """Every pair the multilingual models serve (``models.multilingual``), later models winning a pair.

    Raises ConfigError naming the key: a path that is not a CTranslate2 model, a vocabulary
    without language tokens of a known convention, a language it has no token for, a
    repository not yet in the store without its languages and convention.
    """
    sources: dict[str, MultilingualSource | MultilingualHubSource] = {}
    store = model_store(settings)
    hub_options = HubOptions.from_settings(settings.adapters)
    for name, conf in settings.models.multilingual.items():
        key = f"models.multilingual.{name}"
        model = multilingual_hub_model(name, conf) if conf.repo is not None else None
        if model is None:
            assert conf.path is not None
            convention, languages = _multilingual_languages(key, conf, conf.path)
        else:
            snapshot = store.resolve(model.ref)
            convention, languages = _multilingual_languages(
                key, conf, snapshot.path if snapshot is not None else None
            )
        if conf.backend not in (None, MULTILINGUAL_BACKEND):
            raise ConfigError(
                f"invalid configuration: {key}.backend: a multilingual model is served by "
                f"{MULTILINGUAL_BACKEND}, not {conf.backend!r}"
            )
        own = conf.model_dump(
            exclude={"path", "repo", "languages", "convention", "backend"}, exclude_none=True
        )
        for source, target in permutations(languages, 2):
            pair = f"{source}-{target}"
            extra = settings.models.options.get(pair)
            more = extra.model_dump(exclude={"backend"}, exclude_none=True) if extra is not None else {}
            twice = sorted(set(own) & set(more))
            if twice:
                raise ConfigError(
                    f"invalid configuration: {', '.join(twice)} of pair {pair!r} is set both in "
                    f"{key} and in models.options.{pair}; keep one"
                )
            source_token = language_token(source, convention)
            target_token = language_token(target, convention)
            assert source_token is not None and target_token is not None  # checked above
            options = MultilingualOptions(**own, **more, source_token=source_token, target_token=target_token)
            if model is None:
                assert conf.path is not None
                sources[pair] = MultilingualSource(
                    conf.path,
                    kind="multilingual",
                    backend=MULTILINGUAL_BACKEND,
                    engine_options=options,
                    name=name,
                    convention=convention,
                )
            else:
                sources[pair] = MultilingualHubSource(
                    model, store, hub_options, engine_options=options, name=name, convention=convention
                )
    return sources


def _multilingual_languages(
    key: str, conf: MultilingualSettings, path: Path | None
) -> tuple[Convention, list[str]]:
    """A multilingual model's convention and languages, from its settings and its vocabulary
    (``path``: the model directory; None: a repository not yet in the store, so from the settings)."""
    if path is None:
        if conf.languages is None or conf.convention is None:
            raise ConfigError(
                f"invalid configuration: {key}: {conf.repo} is not in the model store yet, so its "
                f"vocabulary cannot be read: set {key}.languages and {key}.convention (nllb or m2m100), "
                f"or pull it first (udn models pull {conf.repo})"
            )
        tokens = None
        convention: Convention | None = conf.convention
    else:
        try:
            tokens = _vocabulary(path, _modified(path))
        except ModelLoadError as exc:
            where = (
                f"{key}.path: {path}" if conf.repo is None else f"{key}.repo: {conf.repo} (stored in {path})"
            )
            raise ConfigError(
                f"invalid configuration: {where} is not a CTranslate2 model: {exc.detail}"
            ) from None
        convention = conf.convention or detect_convention(set(tokens))
    if convention is None:
        raise ConfigError(
            f"invalid configuration: {key}: the vocabulary of {path} has no language tokens "
            "of NLLB-200 (eng_Latn) or M2M-100 (__en__); set convention, or check the path"
        )
    if conf.languages is None:
        assert tokens is not None
        languages = languages_in(set(tokens), convention)
        if len(languages) < 2:
            raise ConfigError(
                f"invalid configuration: {key}: the vocabulary of {path} has {len(languages)} "
                f"{convention} language token(s) this node knows a code for; list {key}.languages"
            )
        return convention, languages
    for code in conf.languages:
        token = language_token(code, convention)
        if token is None:
            raise ConfigError(
                f"invalid configuration: {key}.languages: no {convention} token is known for {code!r} "
                "(universal_decoder_node.language_codes.LANGUAGE_TOKENS)"
            )
        if tokens is not None and token not in tokens:
            raise ConfigError(
                f"invalid configuration: {key}.languages: {code!r} ({token}) is not in the "
                f"vocabulary of {path}"
            )
    return convention, list(dict.fromkeys(conf.languages))


def language_names(sources: dict[str, PairSourceType]) -> dict[str, str]:
    """Language names the pairs' sources give (Argos packages' ``from_name``, ``to_name``), by code."""
    names: dict[str, str] = {}
    for source in sources.values():
        if isinstance(source, ArgosSource):
            package = source.package
            for code, name in ((package.from_code, package.from_name), (package.to_code, package.to_name)):
                if name:
                    names.setdefault(code, name)
    return names


def pair_sources(settings: Settings) -> dict[str, PairSourceType]:
    """Every pair the settings make available, by pair name; Argos packages override bundled
    pairs, configured pairs override both (the module's docstring says the whole order).

    Raises ConfigError when a pair is configured twice, names a backend that does not exist,
    a repository or revision is not a valid Hub name, ``adapters.prewarm`` or
    ``adapters.pinned`` names a pair that is not configured, or an Argos package is invalid.
    """
    sources: dict[str, PairSourceType] = {}
    multilingual = multilingual_sources(settings)
    if not settings.models.prefer_multilingual:
        sources.update(multilingual)
    if settings.models.bundled:
        for pair, path in bundled_model_dirs().items():
            sources[pair] = DirectorySource(path, kind="bundled")
    sources.update(_argos_sources(settings))
    options = settings.models.options
    for pair, conf in settings.models.pairs.items():
        merged = _merged_options(pair, conf, options.get(pair))
        sources[pair] = DirectorySource(
            conf.path, kind="directory", backend=merged.backend, engine_options=merged.engine_options()
        )
    adapters = settings.adapters
    store = model_store(settings)
    hub_options = HubOptions.from_settings(adapters)
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
        engine = _merged_options(pair, None, options.get(pair))
        model = HubModel(
            ref=ref,
            label=pair,
            allow_patterns=tuple(repo.allow_patterns) if repo.allow_patterns is not None else None,
            ignore_patterns=tuple(repo.ignore_patterns) if repo.ignore_patterns is not None else None,
            backend=engine.backend,
        )
        sources[pair] = HubSource(model, store, hub_options, engine_options=engine.engine_options())
    if settings.models.prefer_multilingual:
        sources.update(multilingual)
    unknown_options = [pair for pair in options if pair not in sources]
    if unknown_options:
        raise ConfigError(
            f"invalid configuration: models.options names {', '.join(map(repr, unknown_options))}, "
            f"which is not configured; configured pairs: {', '.join(sorted(sources)) or 'none'}"
        )
    for key, names in (("prewarm", adapters.prewarm), ("pinned", adapters.pinned)):
        unknown = [name for name in names if name not in sources]
        if unknown:
            raise ConfigError(
                f"invalid configuration: adapters.{key} names {', '.join(map(repr, unknown))}, "
                f"which is not configured; configured pairs: {', '.join(sorted(sources)) or 'none'}"
            )
    return sources


def _merged_options(
    pair: str, directory: PairSettings | None, options: EngineOptions | None
) -> EngineOptions:
    """A pair's options from ``models.pairs.<pair>`` and ``models.options.<pair>``, its backend checked.

    Raises ConfigError when both set the same key, or the backend named does not exist.
    """
    own = directory.model_dump(exclude={"path"}, exclude_none=True) if directory is not None else {}
    extra = options.model_dump(exclude_none=True) if options is not None else {}
    twice = sorted(set(own) & set(extra))
    if twice:
        raise ConfigError(
            f"invalid configuration: {', '.join(twice)} of pair {pair!r} is set both in "
            f"models.pairs.{pair} and in models.options.{pair}; keep one"
        )
    merged = EngineOptions(**own, **extra)
    if merged.backend is not None:
        where = "pairs" if "backend" in own else "options"
        try:
            backend_kind(merged.backend)
        except UnknownBackendError as exc:
            raise ConfigError(f"invalid configuration: models.{where}.{pair}.backend: {exc}") from None
    return merged


def check_local_pairs(sources: dict[str, PairSourceType]) -> None:
    """Check every configured model directory and its options without loading it (``udn serve``).

    Raises ConfigError naming the pair, the path and what is wrong: no model in a known
    layout, a missing or mismatched file, options the backend refuses, a device this
    machine does not have.
    """
    checked: set[Path] = set()
    for pair, source in sorted(sources.items()):
        if isinstance(source, MultilingualSource):
            if source.path not in checked:
                checked.add(source.path)
                try:
                    backend_kind(MULTILINGUAL_BACKEND).check_pair(source.path, source.engine_options)
                except ModelLoadError as exc:
                    raise ConfigError(
                        f"models.multilingual.{source.name} cannot be served from {source.path}: {exc.detail}"
                    ) from None
            continue
        if not isinstance(source, DirectorySource) or source.kind not in ("directory", "argos"):
            continue
        try:
            name = source.backend or detect_backend(source.path)
            backend_kind(name).check_pair(source.path, source.engine_options)
        except ModelLoadError as exc:
            raise ConfigError(
                f"language pair {pair!r} cannot be served from {source.path}: {exc.detail}"
            ) from None


def startup_pairs(settings: Settings, sources: dict[str, PairSourceType]) -> list[str]:
    """The pairs a worker loads before it reports ready: local ones (bundled, packages, directories),
    then pre-warm."""
    local: list[str] = []
    models: set[str] = set()
    for pair, source in sorted(sources.items()):
        if isinstance(source, MultilingualSource):
            # One pair loads the model all its pairs share; the others take it when first asked.
            if source.name in models:
                continue
            models.add(source.name)
        if isinstance(source, DirectorySource):
            local.append(pair)
    return list(dict.fromkeys([*local, *settings.adapters.prewarm]))
