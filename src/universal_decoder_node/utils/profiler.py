"""Function and section profiler: call statistics per name, bottlenecks, history and export.

``@profile`` times a function (sync, coroutine, or a FastAPI endpoint: the signature is kept,
so FastAPI still sees the parameters, and a sync function stays sync); ``profile_section``
times a block, in sync and async code. Both record into ``function_profiler`` unless given
another profiler. Exceptions are recorded as errors and re-raised.

While profiling is off, a decorated call costs one attribute check on top of the call
(``bench/instrumentation_overhead.py`` measures it in nanoseconds), so decorators can stay
in production code and profiling can be switched on when needed.

Percentiles (p50, p95) are computed over the most recent ``recent_samples`` calls per name;
calls, errors, total, mean, min and max cover every call since the last reset.
"""

from __future__ import annotations

import csv
import functools
import inspect
import io
import json
import math
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, overload

from ..config import ProfilingSettings
from ..errors import UdnError
from .atomic_write import write_atomic

P = ParamSpec("P")
R = TypeVar("R")

EXPORT_FORMATS = ("json", "csv", "txt")
STAT_FIELDS = ("calls", "errors", "total_ms", "mean_ms", "min_ms", "max_ms", "p50_ms", "p95_ms")


class ProfileExportError(UdnError, OSError):
    """The profile could not be written; the message names the path and the reason."""


class _Series:
    """Everything recorded for one name. History buckets are ``[start, calls, errors, total_s, max_s]``."""

    __slots__ = ("calls", "errors", "history", "max_s", "min_s", "recent", "total_s")

    def __init__(self, recent_samples: int, history_buckets: int) -> None:
        self.calls = 0
        self.errors = 0
        self.total_s = 0.0
        self.min_s = math.inf
        self.max_s = 0.0
        self.recent: deque[float] = deque(maxlen=recent_samples)
        self.history: deque[list[float]] = deque(maxlen=history_buckets)

    def add(self, seconds: float, error: bool, bucket: float) -> None:
        self.calls += 1
        self.total_s += seconds
        if seconds < self.min_s:
            self.min_s = seconds
        if seconds > self.max_s:
            self.max_s = seconds
        self.recent.append(seconds)
        errors = 1 if error else 0
        self.errors += errors
        history = self.history
        if history and history[-1][0] == bucket:
            last = history[-1]
            last[1] += 1
            last[2] += errors
            last[3] += seconds
            if seconds > last[4]:
                last[4] = seconds
        else:
            history.append([bucket, 1, errors, seconds, seconds])

    def stats(self) -> dict[str, float | int]:
        ordered = sorted(self.recent)
        return {
            "calls": self.calls,
            "errors": self.errors,
            "total_ms": round(self.total_s * 1000, 3),
            "mean_ms": round(self.total_s / self.calls * 1000, 3) if self.calls else 0.0,
            "min_ms": round(self.min_s * 1000, 3) if self.calls else 0.0,
            "max_ms": round(self.max_s * 1000, 3),
            "p50_ms": round(_percentile(ordered, 50) * 1000, 3),
            "p95_ms": round(_percentile(ordered, 95) * 1000, 3),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "errors": self.errors,
            "total_s": self.total_s,
            "min_s": self.min_s if self.calls else None,
            "max_s": self.max_s,
            "recent": list(self.recent),
            "history": [list(b) for b in self.history],
        }

    def merge(self, data: Mapping[str, Any]) -> None:
        self.calls += int(data["calls"])
        self.errors += int(data["errors"])
        self.total_s += float(data["total_s"])
        if data.get("min_s") is not None:
            self.min_s = min(self.min_s, float(data["min_s"]))
        self.max_s = max(self.max_s, float(data["max_s"]))
        self.recent.extend(float(s) for s in data["recent"])
        buckets: dict[float, list[float]] = {b[0]: list(b) for b in self.history}
        for raw in data["history"]:
            bucket = [float(v) for v in raw]
            mine = buckets.get(bucket[0])
            if mine is None:
                buckets[bucket[0]] = bucket
            else:
                mine[1] += bucket[1]
                mine[2] += bucket[2]
                mine[3] += bucket[3]
                mine[4] = max(mine[4], bucket[4])
        self.history.clear()
        self.history.extend(buckets[k] for k in sorted(buckets))


def _percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty list)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


class FunctionProfiler:
    """Collects timings by name; thread-safe. ``enabled`` is checked on every profiled call."""

    def __init__(
        self,
        *,
        enabled: bool = True,
        bottleneck_threshold_ms: float = 100.0,
        output_dir: str | os.PathLike[str] = "profiles",
        export_format: str = "json",
        recent_samples: int = 1000,
        history_bucket_seconds: float = 10.0,
        history_buckets: int = 360,
    ) -> None:
        self.enabled = enabled
        self.bottleneck_threshold_ms = bottleneck_threshold_ms
        self.output_dir = Path(output_dir)
        self.export_format = _check_format(export_format)
        self.recent_samples = recent_samples
        self.history_bucket_seconds = history_bucket_seconds
        self.history_buckets = history_buckets
        self._series: dict[str, _Series] = {}
        self._lock = threading.Lock()
        self._since = time.time()

    # -- configuration -------------------------------------------------------------------
    def configure(
        self,
        *,
        enabled: bool | None = None,
        bottleneck_threshold_ms: float | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        export_format: str | None = None,
    ) -> None:
        """Change any of the settings; those not given stay as they are."""
        if export_format is not None:
            self.export_format = _check_format(export_format)
        if enabled is not None:
            self.enabled = bool(enabled)
        if bottleneck_threshold_ms is not None:
            self.bottleneck_threshold_ms = float(bottleneck_threshold_ms)
        if output_dir is not None:
            self.output_dir = Path(output_dir)

    def apply_settings(self, settings: ProfilingSettings) -> None:
        """Take the ``profiling`` section of the node's settings."""
        self.configure(
            enabled=settings.enable_profiling,
            bottleneck_threshold_ms=settings.bottleneck_threshold_ms,
            output_dir=settings.profile_output_dir,
            export_format=settings.export_format,
        )

    def enable(self) -> None:
        self.enabled = True

    def disable(self) -> None:
        self.enabled = False

    # -- recording -----------------------------------------------------------------------
    def record(self, name: str, seconds: float, error: bool = False) -> None:
        """Add one call of ``seconds`` to ``name`` (recorded even while disabled)."""
        now = time.time()
        bucket = now - now % self.history_bucket_seconds
        with self._lock:
            series = self._series.get(name)
            if series is None:
                series = self._series[name] = _Series(self.recent_samples, self.history_buckets)
            series.add(seconds, error, bucket)

    def reset(self) -> None:
        """Forget everything recorded so far."""
        with self._lock:
            self._series.clear()
            self._since = time.time()

    # -- reading -------------------------------------------------------------------------
    def get_stats(self) -> dict[str, dict[str, float | int]]:
        """Per name: calls, errors, total_ms, mean_ms, min_ms, max_ms, p50_ms, p95_ms."""
        with self._lock:
            return {name: series.stats() for name, series in sorted(self._series.items())}

    def identify_bottlenecks(self, threshold_ms: float | None = None) -> list[dict[str, Any]]:
        """Names whose typical (median) time exceeds ``threshold_ms``, largest total time first.

        ``threshold_ms`` defaults to ``bottleneck_threshold_ms``. Each entry carries its stats
        and ``share_percent``: its total time as a share of all profiled time.
        """
        threshold = self.bottleneck_threshold_ms if threshold_ms is None else float(threshold_ms)
        if threshold < 0 or math.isnan(threshold):
            raise ValueError(f"threshold_ms must be a number >= 0, not {threshold_ms!r}")
        stats = self.get_stats()
        grand_total = sum(float(s["total_ms"]) for s in stats.values())
        found = [
            {
                "name": name,
                **s,
                "share_percent": round(100.0 * float(s["total_ms"]) / grand_total, 2) if grand_total else 0.0,
            }
            for name, s in stats.items()
            if float(s["p50_ms"]) > threshold
        ]
        found.sort(key=lambda b: float(b["total_ms"]), reverse=True)
        for rank, entry in enumerate(found, start=1):
            entry["rank"] = rank
        return found

    def get_history(self, name: str) -> list[dict[str, float | int]]:
        """The time series of ``name``: one entry per ``history_bucket_seconds``, oldest first.

        Each entry has ``time`` (bucket start, Unix seconds), ``calls``, ``errors``,
        ``mean_ms`` and ``max_ms``. An unknown name has an empty history.
        """
        with self._lock:
            series = self._series.get(name)
            buckets = [list(b) for b in series.history] if series else []
        return [
            {
                "time": start,
                "calls": int(calls),
                "errors": int(errors),
                "mean_ms": round(total / calls * 1000, 3) if calls else 0.0,
                "max_ms": round(peak * 1000, 3),
            }
            for start, calls, errors, total, peak in buckets
        ]

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._series)

    # -- moving between processes ----------------------------------------------------------
    def snapshot(self) -> dict[str, Any]:
        """Everything recorded, as plain JSON-serialisable data (see ``merge_snapshot``)."""
        with self._lock:
            return {
                "pid": os.getpid(),
                "enabled": self.enabled,
                "since": self._since,
                "series": {name: series.to_dict() for name, series in self._series.items()},
            }

    def merge_snapshot(self, snapshot: Mapping[str, Any]) -> None:
        """Add another profiler's ``snapshot()`` (for example from another process) to this one."""
        with self._lock:
            for name, data in snapshot.get("series", {}).items():
                series = self._series.get(name)
                if series is None:
                    series = self._series[name] = _Series(self.recent_samples, self.history_buckets)
                series.merge(data)

    @classmethod
    def from_snapshots(cls, snapshots: Iterable[Mapping[str, Any]], **settings: Any) -> FunctionProfiler:
        """One profiler holding the sum of several snapshots; percentiles use all their samples."""
        snapshots = list(snapshots)
        settings.setdefault("recent_samples", 1000)
        settings["recent_samples"] *= max(1, len(snapshots))
        merged = cls(**settings)
        for snap in snapshots:
            merged.merge_snapshot(snap)
        return merged

    # -- export --------------------------------------------------------------------------
    def export_stats(
        self,
        filepath: str | os.PathLike[str] | None = None,
        format: str | None = None,  # the documented keyword, shadowing the builtin
    ) -> Path:
        """Write the stats and bottlenecks to ``filepath`` atomically and return the path.

        The format is ``format`` if given, else the file's extension (.json, .csv, .txt), else
        ``export_format``. Without ``filepath`` the file goes to ``output_dir`` with a
        timestamped name. Missing directories are created. Raises ProfileExportError when the
        file cannot be written and ValueError for an unknown format.
        """
        fmt = _resolve_format(filepath, format, self.export_format)
        if filepath is None:
            stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
            path = self.output_dir / f"profile-{stamp}-{os.getpid()}.{fmt}"
        else:
            path = Path(filepath)
        text = self.render(fmt)
        try:
            return write_atomic(path, text)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise ProfileExportError(exc.errno, f"cannot write profile export to {path}: {reason}") from exc

    def render(self, fmt: str) -> str:
        """The stats as JSON, CSV or an aligned text table."""
        fmt = _check_format(fmt)
        stats = self.get_stats()
        bottlenecks = self.identify_bottlenecks()
        if fmt == "json":
            return json.dumps(
                {
                    "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._since)),
                    "bottleneck_threshold_ms": self.bottleneck_threshold_ms,
                    "stats": stats,
                    "bottlenecks": bottlenecks,
                },
                indent=2,
            )
        if fmt == "csv":
            out = io.StringIO()
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["name", *STAT_FIELDS])
            for name, s in stats.items():
                writer.writerow([name, *(s[f] for f in STAT_FIELDS)])
            return out.getvalue()
        return _text_table(stats, bottlenecks, self.bottleneck_threshold_ms)


def _text_table(
    stats: Mapping[str, Mapping[str, float | int]], bottlenecks: list[dict[str, Any]], threshold: float
) -> str:
    header = ["name", *STAT_FIELDS]
    rows = [
        [name, *(str(s[f]) for f in STAT_FIELDS)]
        for name, s in sorted(stats.items(), key=lambda kv: -float(kv[1]["total_ms"]))
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(r, widths, strict=True))
        )
        for r in [header, *rows]
    ]
    lines.append("")
    if bottlenecks:
        lines.append(f"Bottlenecks (median above {threshold:g} ms):")
        lines.extend(
            f"  {b['rank']}. {b['name']}: p50 {b['p50_ms']} ms, {b['share_percent']}% of profiled time"
            for b in bottlenecks
        )
    else:
        lines.append(f"No bottlenecks (no median above {threshold:g} ms).")
    return "\n".join(lines) + "\n"


def _check_format(fmt: str) -> str:
    value = str(fmt).lower().lstrip(".")
    if value not in EXPORT_FORMATS:
        raise ValueError(f"export format {fmt!r} is not supported; use one of: {', '.join(EXPORT_FORMATS)}")
    return value


def _resolve_format(filepath: str | os.PathLike[str] | None, fmt: str | None, default: str) -> str:
    if fmt is not None:
        return _check_format(fmt)
    if filepath is not None:
        suffix = Path(filepath).suffix.lower().lstrip(".")
        if suffix in EXPORT_FORMATS:
            return suffix
    return _check_format(default)


function_profiler = FunctionProfiler()
"""The process-wide profiler that ``profile`` and ``profile_section`` record into by default."""


class _Section:
    """Times one ``with`` (or ``async with``) block."""

    __slots__ = ("_name", "_profiler", "_started")

    def __init__(self, profiler: FunctionProfiler, name: str) -> None:
        self._profiler = profiler
        self._name = name
        self._started = 0.0

    def __enter__(self) -> _Section:
        self._started = time.perf_counter()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._profiler.record(self._name, time.perf_counter() - self._started, exc_type is not None)

    async def __aenter__(self) -> _Section:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)


class _NoSection:
    """What ``profile_section`` hands out while profiling is off: does nothing, in sync and async code."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_SECTION = _NoSection()


def profile_section(name: str, profiler: FunctionProfiler | None = None) -> _Section | _NoSection:
    """A context manager timing its block under ``name``; usable with ``with`` and ``async with``."""
    prof = function_profiler if profiler is None else profiler
    if not prof.enabled:
        return _NO_SECTION
    return _Section(prof, name)


@overload
def profile(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def profile(
    func: str | None = None, /, *, name: str | None = None, profiler: FunctionProfiler | None = None
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...


def profile(
    func: Callable[P, R] | str | None = None,
    /,
    *,
    name: str | None = None,
    profiler: FunctionProfiler | None = None,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Time every call of the decorated function; use as ``@profile``, ``@profile("name")`` or
    ``@profile(name=..., profiler=...)``. The default name is ``module.qualname``.
    """
    if func is None or isinstance(func, str):
        label = func if isinstance(func, str) else name

        def decorator(f: Callable[P, R]) -> Callable[P, R]:
            return _wrap(f, label, profiler)

        return decorator
    return _wrap(func, name, profiler)


def _wrap(func: Callable[P, R], name: str | None, profiler: FunctionProfiler | None) -> Callable[P, R]:
    label = name or f"{func.__module__}.{func.__qualname__}"
    # Bind the profiler once; ``function_profiler`` itself is never replaced, only reconfigured.
    prof = function_profiler if profiler is None else profiler
    clock = time.perf_counter

    if inspect.iscoroutinefunction(func):
        coro_func: Callable[P, Awaitable[Any]] = func  # type: ignore[assignment]

        @functools.wraps(func)
        async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
            if not prof.enabled:
                return await coro_func(*args, **kwargs)
            started = clock()
            try:
                result = await coro_func(*args, **kwargs)
            except BaseException:
                prof.record(label, clock() - started, True)
                raise
            prof.record(label, clock() - started, False)
            return result

        return async_wrapper  # type: ignore[return-value]

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        if not prof.enabled:
            return func(*args, **kwargs)
        started = clock()
        try:
            result = func(*args, **kwargs)
        except BaseException:
            prof.record(label, clock() - started, True)
            raise
        prof.record(label, clock() - started, False)
        return result

    return wrapper


__all__ = [
    "FunctionProfiler",
    "ProfileExportError",
    "function_profiler",
    "profile",
    "profile_section",
]
