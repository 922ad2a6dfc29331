"""``udn serve`` with the instrumentation taken out, as the baseline of instrumentation_overhead.py.

In the inference worker, ``profile_section`` becomes an empty context and ``batch_trace``
the tracing-off no-op (the benchmark also switches profiling off); the HTTP layer no longer puts trace
context into work items. LitServe spawns its inference workers, and a spawned process re-runs
this file (as ``__mp_main__``) before it unpickles the LitAPI, so the replacements hold in
every process of the node.

Usage: python bench/_uninstrumented_node.py serve --config FILE
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Any

if __name__ == "__main__":
    from universal_decoder_node.serving.metrics_dir import prepare_metrics_dir

    prepare_metrics_dir()  # before prometheus_client is imported below

from universal_decoder_node.serving.worker import api
from universal_decoder_node.utils import tracing

_EMPTY = nullcontext()


def no_section(name: str, profiler: Any = None) -> nullcontext[None]:
    return _EMPTY


def no_batch_trace(contexts: Any, describe: Any, **attributes: Any) -> Any:
    return tracing._NO_TRACE


def no_current_context() -> None:
    return None


api.profile_section = no_section  # type: ignore[assignment]
api.tracing.batch_trace = no_batch_trace  # type: ignore[assignment]
tracing.current_context = no_current_context

if __name__ == "__main__":
    from universal_decoder_node.cli import main

    sys.exit(main(sys.argv[1:]))
