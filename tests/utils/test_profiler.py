"""The profiler's documented API: decorators, sections, stats, bottlenecks, history, export."""

from __future__ import annotations

import asyncio
import csv
import inspect
import io
import json
import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from universal_decoder_node.utils.profiler import (
    FunctionProfiler,
    ProfileExportError,
    function_profiler,
    profile,
    profile_section,
)


@pytest.fixture
def prof() -> FunctionProfiler:
    return FunctionProfiler(bottleneck_threshold_ms=100.0)


def test_documented_imports_record_into_the_global_profiler() -> None:
    function_profiler.reset()
    function_profiler.enable()

    @profile
    def add(a: int, b: int) -> int:
        return a + b

    with profile_section("block"):
        assert add(2, 3) == 5
    stats = function_profiler.get_stats()
    assert (
        stats[f"{__name__}.test_documented_imports_record_into_the_global_profiler.<locals>.add"]["calls"]
        == 1
    )
    assert stats["block"]["calls"] == 1
    function_profiler.reset()


def test_sync_function_keeps_its_signature_and_counts_errors(prof: FunctionProfiler) -> None:
    @profile(profiler=prof)
    def named_by_default() -> None:
        return None

    named_by_default()
    assert f"{__name__}.{named_by_default.__qualname__}" in prof.get_stats()

    def plain(a: float, b: float = 1.0) -> float:
        """Divide."""
        return a / b

    divide = profile(name="divide", profiler=prof)(plain)
    assert not inspect.iscoroutinefunction(divide)
    assert inspect.signature(divide) == inspect.signature(plain)
    assert list(inspect.signature(divide).parameters) == ["a", "b"]
    assert divide.__doc__ == "Divide."
    assert divide(6, 3) == 2
    with pytest.raises(ZeroDivisionError):
        divide(1, 0)
    stats = prof.get_stats()["divide"]
    assert stats["calls"] == 2
    assert stats["errors"] == 1


def test_coroutine_stays_a_coroutine_and_is_timed(prof: FunctionProfiler) -> None:
    @profile("fetch", profiler=prof)
    async def fetch(delay: float) -> str:
        await asyncio.sleep(delay)  # the work being timed, not a wait
        return "done"

    assert inspect.iscoroutinefunction(fetch)
    assert asyncio.run(fetch(0.02)) == "done"
    stats = prof.get_stats()["fetch"]
    assert stats["calls"] == 1
    assert stats["min_ms"] >= 15  # the await is inside the timed call


def test_async_exception_is_recorded_and_reraised(prof: FunctionProfiler) -> None:
    @profile(name="boom", profiler=prof)
    async def boom() -> None:
        raise RuntimeError("no")

    with pytest.raises(RuntimeError, match="no"):
        asyncio.run(boom())
    assert prof.get_stats()["boom"]["errors"] == 1


def test_fastapi_endpoints_keep_parameters_and_sync_ness(prof: FunctionProfiler) -> None:
    app = FastAPI()
    seen_threads: list[str] = []

    @app.get("/sync")
    @profile(name="sync_endpoint", profiler=prof)
    def sync_endpoint(n: int, word: str = "x") -> dict[str, object]:
        seen_threads.append(threading.current_thread().name)
        return {"n": n * 2, "word": word}

    @app.get("/async")
    @profile(name="async_endpoint", profiler=prof)
    async def async_endpoint(n: int) -> dict[str, int]:
        return {"n": n + 1}

    assert not inspect.iscoroutinefunction(sync_endpoint)
    with TestClient(app) as client:
        assert client.get("/sync", params={"n": 4, "word": "hi"}).json() == {"n": 8, "word": "hi"}
        assert client.get("/async", params={"n": 4}).json() == {"n": 5}
        assert client.get("/sync", params={"n": "not a number"}).status_code == 422  # FastAPI saw `n: int`
    # FastAPI ran the sync endpoint in its thread pool, as it does for any sync endpoint.
    assert seen_threads and seen_threads[0] != threading.main_thread().name
    stats = prof.get_stats()
    assert stats["sync_endpoint"]["calls"] == 1
    assert stats["async_endpoint"]["calls"] == 1


def test_sections_in_sync_and_async_code(prof: FunctionProfiler) -> None:
    with profile_section("sync-block", prof):
        pass
    with pytest.raises(KeyError), profile_section("failing-block", prof):
        raise KeyError("x")

    async def work() -> None:
        async with profile_section("async-block", prof):
            await asyncio.sleep(0)

    asyncio.run(work())
    stats = prof.get_stats()
    assert stats["sync-block"]["calls"] == 1
    assert stats["failing-block"] == {**stats["failing-block"], "calls": 1, "errors": 1}
    assert stats["async-block"]["calls"] == 1


def test_stats_figures_are_exact(prof: FunctionProfiler) -> None:
    for ms in range(1, 101):  # 1..100 ms
        prof.record("f", ms / 1000)
    prof.record("f", 0.5, error=True)
    s = prof.get_stats()["f"]
    assert s["calls"] == 101
    assert s["errors"] == 1
    assert s["total_ms"] == pytest.approx(5050 + 500)
    assert s["mean_ms"] == pytest.approx(5550 / 101, abs=1e-3)
    assert s["min_ms"] == 1.0
    assert s["max_ms"] == 500.0
    assert s["p50_ms"] == 51.0  # nearest rank over the 101 samples
    assert s["p95_ms"] == 96.0


def test_disabled_profiler_records_nothing_and_can_be_switched_on(prof: FunctionProfiler) -> None:
    prof.disable()

    @profile(name="f", profiler=prof)
    def f() -> int:
        return 1

    assert f() == 1
    with profile_section("s", prof):
        pass
    assert prof.get_stats() == {}
    prof.enable()
    f()
    with profile_section("s", prof):
        pass
    assert prof.get_stats()["f"]["calls"] == 1
    assert prof.get_stats()["s"]["calls"] == 1


def test_bottlenecks_are_ranked_by_total_time_with_shares(prof: FunctionProfiler) -> None:
    for _ in range(10):
        prof.record("slow", 0.200)  # typical 200 ms, total 2 s
    for _ in range(100):
        prof.record("medium", 0.150)  # typical 150 ms, total 15 s
    for _ in range(1000):
        prof.record("fast", 0.003)  # typical 3 ms, total 3 s
    found = prof.identify_bottlenecks()
    assert [b["name"] for b in found] == ["medium", "slow"]
    assert [b["rank"] for b in found] == [1, 2]
    assert found[0]["share_percent"] == pytest.approx(75.0)
    assert found[1]["share_percent"] == pytest.approx(10.0)
    assert [b["name"] for b in prof.identify_bottlenecks(threshold_ms=1)] == ["medium", "fast", "slow"]
    assert prof.identify_bottlenecks(threshold_ms=500) == []
    with pytest.raises(ValueError, match="threshold_ms"):
        prof.identify_bottlenecks(threshold_ms=-1)


def test_history_is_a_bounded_time_series() -> None:
    prof = FunctionProfiler(history_bucket_seconds=0.05, history_buckets=3)
    for _ in range(5):
        prof.record("f", 0.010)
        prof.record("f", 0.030)
        threading.Event().wait(0.06)  # move into the next bucket
    history = prof.get_history("f")
    assert len(history) == 3  # bounded
    assert [h["time"] for h in history] == sorted(h["time"] for h in history)
    assert all(
        h["calls"] == 2 and h["mean_ms"] == pytest.approx(20.0) and h["max_ms"] == 30.0 for h in history
    )
    assert prof.get_history("never-recorded") == []


def test_export_formats_follow_extension_or_setting(tmp_path: Path, prof: FunctionProfiler) -> None:
    prof.record("translate", 0.25)
    prof.record("parse", 0.001)
    as_json = prof.export_stats(filepath=tmp_path / "deep" / "dir" / "p.json")
    data = json.loads(as_json.read_text())
    assert data["stats"]["translate"]["calls"] == 1
    assert [b["name"] for b in data["bottlenecks"]] == ["translate"]

    as_csv = prof.export_stats(filepath=tmp_path / "p.csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.read_text())))
    assert {r["name"] for r in rows} == {"translate", "parse"}
    assert set(rows[0]) == {
        "name",
        "calls",
        "errors",
        "total_ms",
        "mean_ms",
        "min_ms",
        "max_ms",
        "p50_ms",
        "p95_ms",
    }

    as_txt = prof.export_stats(filepath=tmp_path / "p.txt")
    text = as_txt.read_text()
    assert text.splitlines()[0].split()[:2] == ["name", "calls"]
    assert "1. translate" in text

    forced = prof.export_stats(filepath=tmp_path / "report.out", format="csv")
    assert forced.read_text().startswith("name,calls")

    prof.configure(output_dir=tmp_path / "auto", export_format="txt")
    default = prof.export_stats()
    assert default.parent == tmp_path / "auto"
    assert default.suffix == ".txt"
    # Written atomically: no temporary files are left next to the exports.
    assert not [p for p in tmp_path.rglob(".*") if p.is_file()]


def test_export_errors_are_clear(tmp_path: Path, prof: FunctionProfiler) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a directory should be")
    target = blocker / "profiles" / "p.json"
    with pytest.raises(
        ProfileExportError, match=r"cannot write profile export to .*not-a-dir/profiles/p\.json"
    ):
        prof.export_stats(filepath=target)
    with pytest.raises(ValueError, match="'xml' is not supported"):
        prof.export_stats(filepath=tmp_path / "p.json", format="xml")


def test_snapshots_merge_across_processes(prof: FunctionProfiler) -> None:
    other = FunctionProfiler()
    prof.record("inference", 0.010)
    prof.record("inference", 0.030)
    other.record("inference", 0.002, error=True)
    other.record("postprocess", 0.001)
    merged = FunctionProfiler.from_snapshots([json.loads(json.dumps(prof.snapshot())), other.snapshot()])
    s = merged.get_stats()
    assert s["inference"]["calls"] == 3
    assert s["inference"]["errors"] == 1
    assert s["inference"]["min_ms"] == 2.0
    assert s["inference"]["max_ms"] == 30.0
    assert s["inference"]["p50_ms"] == 10.0
    assert s["postprocess"]["calls"] == 1
    assert sum(h["calls"] for h in merged.get_history("inference")) == 3


def test_concurrent_recording_loses_nothing(prof: FunctionProfiler) -> None:
    @profile(name="hot", profiler=prof)
    def hot() -> None:
        return None

    threads = [threading.Thread(target=lambda: [hot() for _ in range(2000)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert prof.get_stats()["hot"]["calls"] == 16000


def test_reset_forgets_everything(prof: FunctionProfiler) -> None:
    prof.record("x", 0.1)
    prof.reset()
    assert prof.get_stats() == {}
    assert prof.get_history("x") == []
