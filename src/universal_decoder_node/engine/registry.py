"""The pair registry: which language pairs exist, which are loaded, and their lifetimes."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from .base import Backend, Model, ModelLoadError, UnsupportedPairError


class PairSource(Protocol):
    """Where a pair's model comes from; ``directory()`` may download, and raises ModelLoadError."""

    def directory(self) -> Path: ...

    def describe(self) -> dict[str, object]: ...


@dataclass
class LoadedPair:
    model: Model
    loaded_at: float
    load_seconds: float
    last_used: float
    in_use: int = 0
    pinned: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)


class PairRegistry:
    """Loads pairs on first use (one load per pair however many threads ask) and unloads idle ones.

    ``max_loaded`` bounds how many pairs stay resident; the least recently used idle,
    unpinned pair is unloaded first when a new one needs room.
    """

    def __init__(
        self,
        sources: Mapping[str, PairSource],
        backend: Backend,
        *,
        pinned: frozenset[str] = frozenset(),
        max_loaded: int | None = None,
    ) -> None:
        self._sources = dict(sources)
        self._backend = backend
        self._pinned = pinned
        self._max_loaded = max_loaded
        self._loaded: dict[str, LoadedPair] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    @property
    def backend(self) -> Backend:
        return self._backend

    def pairs(self) -> list[str]:
        """Every pair that can be served, loaded or not."""
        return sorted(self._sources)

    def source(self, pair: str) -> PairSource:
        try:
            return self._sources[pair]
        except KeyError:
            raise UnsupportedPairError(pair, list(self._sources)) from None

    def is_loaded(self, pair: str) -> bool:
        return pair in self._loaded

    def load(self, pair: str) -> Model:
        """Return the pair's model, loading it if needed; raises UnsupportedPairError, ModelLoadError."""
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
            model = self._backend.load(source.directory())
            now = time.monotonic()
            with self._lock:
                self._loaded[pair] = LoadedPair(
                    model=model,
                    loaded_at=time.time(),
                    load_seconds=now - started,
                    last_used=now,
                    pinned=pair in self._pinned,
                )
            self._enforce_limit(keep=pair)
            return model

    @contextmanager
    def use(self, pair: str) -> Iterator[Model]:
        """Hold the pair's model for the duration; a pair in use is never unloaded."""
        model = self.load(pair)
        with self._lock:
            entry = self._loaded.get(pair)
            if entry is None:  # unloaded between load and here: load again
                raise ModelLoadError(f"pair {pair} was unloaded while being acquired; retry")
            entry.in_use += 1
            entry.last_used = time.monotonic()
        try:
            yield model
        finally:
            with self._lock:
                entry.in_use -= 1
                entry.last_used = time.monotonic()

    def unload(self, pair: str, *, force: bool = False) -> bool:
        """Unload ``pair``; returns False if it was not loaded, or is busy or pinned and not forced."""
        with self._lock:
            entry = self._loaded.get(pair)
            if entry is None or (not force and (entry.in_use or entry.pinned)):
                return False
            del self._loaded[pair]
        entry.model.close()
        return True

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

    def _enforce_limit(self, keep: str) -> None:
        if self._max_loaded is None:
            return
        with self._lock:
            over = len(self._loaded) - self._max_loaded
            candidates = sorted(
                (e.last_used, name)
                for name, e in self._loaded.items()
                if name != keep and not e.in_use and not e.pinned
            )
        for _, name in candidates[: max(over, 0)]:
            self.unload(name)

    def describe(self) -> dict[str, dict[str, object]]:
        """Per pair: where it comes from, whether it is loaded, its size and usage."""
        now = time.monotonic()
        out: dict[str, dict[str, object]] = {}
        with self._lock:
            loaded = dict(self._loaded)
        for pair in self.pairs():
            info: dict[str, object] = {**self._sources[pair].describe(), "loaded": pair in loaded}
            entry = loaded.get(pair)
            if entry is not None:
                info.update(
                    memory_bytes=entry.model.memory_bytes(),
                    load_seconds=round(entry.load_seconds, 3),
                    idle_seconds=round(now - entry.last_used, 1),
                    in_use=entry.in_use,
                    pinned=entry.pinned,
                )
            out[pair] = info
        return out

    def memory_bytes(self) -> int:
        with self._lock:
            return sum(e.model.memory_bytes() for e in self._loaded.values())
