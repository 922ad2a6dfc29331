"""The pair registry: which language pairs exist, which are loaded, and their lifetimes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from .backends import detect_backend
from .base import Backend, EngineError, Model, ModelLoadError, UnknownBackendError, UnsupportedPairError
from .pivot import PivotPair, pivot_pairs

log = logging.getLogger(__name__)

_MIB = 1024 * 1024

UnloadResult = Literal["unloaded", "not_loaded", "in_use", "pinned"]


class PairSource(Protocol):
    """Where a pair's model comes from; ``directory()`` may download, and raises ModelLoadError."""

    @property
    def backend(self) -> str | None:
        """The name of the backend that loads the model (``engine.backends``); None: from its files."""
        ...

    def directory(self) -> Path: ...

    def describe(self) -> dict[str, object]: ...


class PairLoading(EngineError):
    """The pair is being loaded in the background; ask again shortly.

    ``waited``: a request waited for the load until its deadline, and the load goes on.
    """

    retry_after = 1

    def __init__(self, pair: str, origin: str = "", *, waited: bool = False) -> None:
        self.pair = pair
        self.origin = origin
        where = f" from {origin}" if origin else ""
        message = f"language pair {pair!r} is still loading{where}"
        if waited:
            message += "; it did not finish within the request's deadline, try again shortly"
        super().__init__(message)


@dataclass
class LoadedPair:
    model: Model
    loaded_at: float
    load_seconds: float
    last_used: float
    in_use: int = 0
    pinned: bool = False


class PairRegistry:
    """Loads pairs on first use (one load per pair however many threads ask) and unloads idle ones.

    Residency is bounded by ``max_loaded`` pairs and ``memory_budget_bytes`` of model memory:
    after each load, the least recently used pair that is neither in use nor pinned is
    unloaded until both hold. Pairs in use are never unloaded; the bound is restored when
    they are released. A pair that does not fit the budget even next to the pinned pairs
    alone is refused (ModelLoadError).

    ``use(pair, wait=False)`` never blocks on a load: it starts one in the background (shared
    by every caller) and raises PairLoading, so a caller serving many pairs keeps serving the
    loaded ones. A failed background load is reported to callers for ``retry_failed_after``
    seconds before the next request may try again.

    ``backends``: one backend that loads every pair, or backends by name, each pair loaded by
    the one its source names (``PairSource.backend``), or, when it names none, by the one
    whose layout its directory is in (``engine.backends.detect_backend``); raises
    UnknownBackendError when a source names a backend not given. A source's
    ``engine_options`` (when it has any) go to the backend's ``load``.

    ``pivot``: also serve, through English, every pair with no model of its own whose two legs
    (source->en, en->target) have one (``pivot(pair)``, ``engine.pivot``); a pivot pair is
    never loaded itself, its legs are.
    """

    def __init__(
        self,
        sources: Mapping[str, PairSource],
        backends: Backend | Mapping[str, Backend],
        *,
        pinned: frozenset[str] = frozenset(),
        max_loaded: int | None = None,
        memory_budget_bytes: int | None = None,
        retry_failed_after: float = 5.0,
        loader_threads: int = 2,
        pivot: bool = False,
    ) -> None:
        self._sources = dict(sources)
        self._pivots = pivot_pairs(self._sources) if pivot else {}
        if isinstance(backends, Mapping):
            self._backends = dict(backends)
            self._pair_backends: dict[str, Backend | None] = {
                pair: self._named(backends, source.backend) if source.backend is not None else None
                for pair, source in self._sources.items()
            }
        else:
            self._backends = {backends.name: backends}
            self._pair_backends = dict.fromkeys(self._sources, backends)
        self._pinned = pinned
        self._max_loaded = max_loaded
        self._budget = memory_budget_bytes
        self._retry_failed_after = retry_failed_after
        self._loader_threads = loader_threads
        self._loaded: dict[str, LoadedPair] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._background: dict[str, Future[Model]] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._load_counts: dict[str, int] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    @staticmethod
    def _named(backends: Mapping[str, Backend], name: str) -> Backend:
        try:
            return backends[name]
        except KeyError:
            raise UnknownBackendError(name, list(backends)) from None

    @property
    def backends(self) -> dict[str, Backend]:
        """The backends this registry loads pairs with, by name."""
        return dict(self._backends)

    def backend_settings(self) -> dict[str, object]:
        """What the backends apply, for reporting: the one backend's settings, or each one's by name."""
        if len(self._backends) == 1:
            (backend,) = self._backends.values()
            return backend.settings()
        return {"backends": {name: b.settings() for name, b in sorted(self._backends.items())}}

    def release_caches(self) -> object:
        """Ask the backends that keep caches outside their models to drop them; what they released."""
        released = {}
        for name, backend in sorted(self._backends.items()):
            # Optional: a backend that keeps such caches offers ``release_caches()``.
            release = getattr(backend, "release_caches", None)
            if callable(release):
                released[name] = release()
        return released or "none held"

    def pairs(self) -> list[str]:
        """Every pair with a model of its own, loaded or not (pivot pairs: ``pivots``)."""
        return sorted(self._sources)

    def pivots(self) -> dict[str, PivotPair]:
        """The pairs served through English, by pair name (none unless built with ``pivot``)."""
        return dict(self._pivots)

    def pivot(self, pair: str) -> PivotPair | None:
        """How ``pair`` is served through English, or None when it has a model of its own or no legs."""
        return self._pivots.get(pair)

    def source(self, pair: str) -> PairSource:
        try:
            return self._sources[pair]
        except KeyError:
            raise UnsupportedPairError(pair, list(self._sources)) from None

    def is_loaded(self, pair: str) -> bool:
        return pair in self._loaded

    def state(self, pair: str) -> Literal["loaded", "loading", "failed", "not_loaded"]:
        """Where the pair stands now; raises UnsupportedPairError for an unknown pair."""
        self.source(pair)
        with self._lock:
            if pair in self._loaded:
                return "loaded"
            future = self._background.get(pair)
            if future is not None and not future.done():
                return "loading"
            return "failed" if pair in self._failed else "not_loaded"

    def load(self, pair: str) -> Model:
        """Return the pair's model, loading it if needed (downloading too, for a Hub pair).

        Blocks until loaded; raises UnsupportedPairError, or ModelLoadError with the reason (any
        failure is logged in full and raised as a ModelLoadError whose message a client may read).
        """
        entry = self._loaded.get(pair)
        if entry is not None:
            return entry.model
        source = self.source(pair)
        with self._lock:
            pair_lock = self._loading.setdefault(pair, threading.Lock())
        with pair_lock:
            entry = self._loaded.get(pair)
            if entry is not None:
                return entry.model
            started = time.monotonic()
            try:
                directory = source.directory()
                backend = self._pair_backends[pair] or self._named(self._backends, detect_backend(directory))
                options = getattr(source, "engine_options", None)
                model = backend.load(directory) if options is None else backend.load(directory, options)
            except Exception as exc:
                error = _client_safe(pair, exc)
                with self._lock:
                    self._failed[pair] = (time.monotonic(), str(error))
                raise error from exc
            now = time.monotonic()
            with self._lock:
                self._loaded[pair] = LoadedPair(
                    model=model,
                    loaded_at=time.time(),
                    load_seconds=now - started,
                    last_used=now,
                    pinned=pair in self._pinned,
                )
                self._failed.pop(pair, None)
                self._load_counts[pair] = self._load_counts.get(pair, 0) + 1
            log.info("pair %s loaded in %.3fs", pair, now - started)
            self._enforce_limits(keep=pair)
            return model

    def start_load(self, pair: str, *, retry: bool = False) -> Future[Model]:
        """Load the pair in the background; every caller until it finishes gets the same future.

        A recently failed load's future is returned again (so callers see its error) unless
        ``retry`` is set or ``retry_failed_after`` seconds have passed.
        """
        self.source(pair)
        with self._lock:
            future = self._background.get(pair)
            if future is not None:
                if not future.done():
                    return future
                failed = self._failed.get(pair)
                if future.exception() is not None:
                    if not retry and failed and time.monotonic() - failed[0] < self._retry_failed_after:
                        return future
                elif pair in self._loaded:
                    return future
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._loader_threads, thread_name_prefix="pair-load")
            future = self._executor.submit(self.load, pair)
            self._background[pair] = future
            return future

    @contextmanager
    def use(self, pair: str, *, wait: bool = True) -> Iterator[Model]:
        """Hold the pair's model for the duration; a pair in use is never unloaded.

        With ``wait=False`` a pair that is not loaded raises PairLoading (its load started in
        the background), or the ModelLoadError of a load that just failed.
        """
        entry = self._acquire(pair, wait)
        try:
            yield entry.model
        finally:
            with self._lock:
                entry.in_use -= 1
                entry.last_used = time.monotonic()
                over = self._over_limits()
            if over:
                self._enforce_limits(keep=None)

    def _acquire(self, pair: str, wait: bool) -> LoadedPair:
        while True:
            with self._lock:
                entry = self._loaded.get(pair)
                if entry is not None:
                    entry.in_use += 1
                    entry.last_used = time.monotonic()
                    return entry
            if wait:
                self.load(pair)
                continue
            future = self.start_load(pair)
            if not future.done():
                raise PairLoading(pair, _origin(self.source(pair)))
            exc = future.exception()
            if exc is not None:
                # A fresh exception per caller: one object raised from many threads would share a traceback.
                raise ModelLoadError(str(exc)) from None
            # Loaded, then unloaded before we got it: go round again.

    def unload(self, pair: str, *, force: bool = False) -> bool:
        """Unload ``pair``; returns False if it was not loaded, or is busy or pinned and not forced."""
        return self.try_unload(pair, force=force) == "unloaded"

    def try_unload(self, pair: str, *, force: bool = False) -> UnloadResult:
        """Unload ``pair`` and say what happened; ``force`` overrides pinning and use (for shutdown)."""
        with self._lock:
            entry = self._loaded.get(pair)
            if entry is None:
                return "not_loaded"
            if not force and entry.pinned:
                return "pinned"
            if not force and entry.in_use:
                return "in_use"
            del self._loaded[pair]
        entry.model.close()
        log.info("pair %s unloaded", pair)
        return "unloaded"

    def unload_idle(self, *, keep: int = 0, idle_seconds: float = 0.0) -> list[str]:
        """Unload least recently used idle, unpinned pairs until ``keep`` remain; returns their names."""
        now = time.monotonic()
        with self._lock:
            candidates = sorted(
                (e.last_used, name)
                for name, e in self._loaded.items()
                if not e.in_use and not e.pinned and now - e.last_used >= idle_seconds
            )
            excess = len(self._loaded) - keep
        unloaded = []
        for _, name in candidates[: max(excess, 0)]:
            if self.unload(name):
                unloaded.append(name)
        return unloaded

    def _over_limits(self) -> bool:
        # Caller holds self._lock.
        if self._max_loaded is not None and len(self._loaded) > self._max_loaded:
            return True
        if self._budget is not None:
            return sum(e.model.memory_bytes() for e in self._loaded.values()) > self._budget
        return False

    def _enforce_limits(self, keep: str | None) -> None:
        """Unload LRU idle, unpinned pairs (never ``keep``) until within the limits.

        Raises ModelLoadError, after unloading ``keep``, if ``keep`` cannot fit the memory
        budget even next to the pinned pairs alone.
        """
        while True:
            with self._lock:
                if not self._over_limits():
                    return
                candidates = sorted(
                    (e.last_used, name)
                    for name, e in self._loaded.items()
                    if name != keep and not e.in_use and not e.pinned
                )
                if not candidates:
                    refused = keep is not None and self._exceeds_budget_alone(keep)
                    break
            self.unload(candidates[0][1])
        if refused and keep is not None:
            with self._lock:
                entry = self._loaded.pop(keep)
                pinned = sorted(n for n, e in self._loaded.items() if e.pinned)
                need = entry.model.memory_bytes() / _MIB
                message = (
                    f"language pair {keep!r} needs {need:.0f} MiB, which does not "
                    f"fit adapters.memory_budget_mb={(self._budget or 0) / _MIB:g}"
                    + (f" next to the pinned pairs {', '.join(pinned)}" if pinned else "")
                )
                self._failed[keep] = (time.monotonic(), message)
            entry.model.close()
            raise ModelLoadError(message)

    def _exceeds_budget_alone(self, pair: str) -> bool:
        # Caller holds self._lock. Busy pairs are released soon; pinned ones never are.
        if self._budget is None:
            return False
        fixed = sum(e.model.memory_bytes() for n, e in self._loaded.items() if e.pinned or n == pair)
        return fixed > self._budget

    def limits(self) -> dict[str, object]:
        return {
            "max_loaded": self._max_loaded,
            "memory_budget_mb": self._budget / _MIB if self._budget is not None else None,
            "pinned": sorted(self._pinned),
        }

    def describe(self) -> dict[str, dict[str, object]]:
        """Per pair: where it comes from, its state (loaded, loading, failed), size, usage and load count."""
        now = time.monotonic()
        out: dict[str, dict[str, object]] = {}
        with self._lock:
            loaded = dict(self._loaded)
            loading = {p for p, f in self._background.items() if not f.done()}
            failed = dict(self._failed)
            counts = dict(self._load_counts)
        for pair in self.pairs():
            info: dict[str, object] = {
                **self._sources[pair].describe(),
                "loaded": pair in loaded,
                "loads": counts.get(pair, 0),
            }
            entry = loaded.get(pair)
            if entry is not None:
                info.update(
                    state="loaded",
                    memory_bytes=entry.model.memory_bytes(),
                    load_seconds=round(entry.load_seconds, 3),
                    idle_seconds=round(now - entry.last_used, 1),
                    in_use=entry.in_use,
                    pinned=entry.pinned,
                )
                shared = getattr(entry.model, "shared", None)  # a model several pairs share (optional)
                if callable(shared) and shared() is not None:
                    info["shared_model"] = shared()
            elif pair in loading:
                info["state"] = "loading"
            elif pair in failed:
                info.update(state="failed", error=failed[pair][1])
            else:
                info["state"] = "not_loaded"
            out[pair] = info
        return out

    def memory_bytes(self) -> int:
        with self._lock:
            return sum(e.model.memory_bytes() for e in self._loaded.values())

    def close(self) -> None:
        """Stop background loading threads (a running download finishes first)."""
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)


def _client_safe(pair: str, exc: Exception) -> ModelLoadError:
    """Log why ``pair`` failed to load, in full; return what clients may read (no paths, no URLs)."""
    if isinstance(exc, ModelLoadError):
        log.error("language pair %s could not be loaded: %s", pair, exc.detail)
        message = str(exc) if exc.detail == str(exc) else f"{exc}; the node logged the details"
        return ModelLoadError(message, exc.detail)
    log.error("language pair %s could not be loaded", pair, exc_info=exc)
    return ModelLoadError(
        f"language pair {pair!r} could not be loaded ({type(exc).__name__}); the node logged the details",
        f"language pair {pair!r} could not be loaded: {type(exc).__name__}: {exc}",
    )


def _origin(source: PairSource) -> str:
    info = source.describe()
    if info.get("source") == "hub":
        return f"{info.get('repo')}@{info.get('revision')}"
    return ""
