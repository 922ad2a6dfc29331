"""What the benchmarks share, so that their figures compare.

- ``procs``: free ports, starting and stopping servers (``udn serve``, ``udn coordinator``, helper
  scripts, a Redis of their own), pausing an idle server, the CPU time of a process tree;
- ``loadgen``: the closed-loop HTTP/1.1 load generator and its keep-alive connection;
- ``stats``: the one percentile rule and the median of per-round ratios;
- ``rounds``: one load on a paused server, its summary, medians over rounds, paired ratios;
- ``corpus``: the English sentences of ``bench/data/`` and the requests built from them;
- ``report``: the machine's description, tables and the JSON results.

The scripts in ``bench/`` run as ``python bench/<name>.py``, which puts ``bench/`` first on
``sys.path``; they import this package as ``common``. It may use ``tests/support`` (never the
reverse) and the installed package, nothing else of the repository.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "results"
