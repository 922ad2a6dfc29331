"""The messages between a node's API servers and its inference workers, as they cross the pipes.

Work: an API server puts a ``Queued`` work item on its request pipe; a worker answers it with a
``WorkResult``: the translations, or the error that stopped it (a ``UdnError``
pickles whole, so the API server raises the same error and the one error table maps it to
a status). Control: an API server sends a request dataclass (``LoadPair``, ``Cleanup``, ...)
to every worker's control socket and gets a ``ControlReply`` from each. Times are
``time.monotonic()`` values: CLOCK_MONOTONIC is system-wide on Linux,
so a worker compares an API server's deadline with its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...errors import UdnError
from ...utils.tracing import TraceContext


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One request's translation work."""

    pair: str
    texts: list[str]
    deadline: float  # past it, the worker drops what is left of the item
    enqueued: float
    trace: TraceContext | None = None  # the request's trace, when it is sampled
    alternatives: int = 0  # other translations wanted per text (LibreTranslate's ``alternatives``)
    request_id: str = ""  # the HTTP request's id (``utils.request_id``), for the worker's spans and logs


@dataclass(frozen=True, slots=True)
class Queued:
    """A work item on a request pipe, with where its answer goes."""

    consumer: int  # the API server waiting for it
    uid: int  # its id in that API server
    item: WorkItem


@dataclass(frozen=True, slots=True)
class WorkResult:
    """A work item's outcome: ``translations`` (one per text), or ``error``.

    ``alternatives``: when the item asked for any, each text's other translations, best first.
    """

    translations: list[str] | None = None
    error: UdnError | None = None
    alternatives: list[list[str]] | None = None


# Control requests, from an API server to every inference worker (``ipc.control``).
# Each names one operation; the worker answers with a ControlReply.


@dataclass(frozen=True, slots=True)
class DescribeModels:
    """Every pair's state in the worker, and the registry's limits."""


@dataclass(frozen=True, slots=True)
class LoadPair:
    """Load ``pair`` (downloading it first if needed) and wait for it."""

    pair: str


@dataclass(frozen=True, slots=True)
class UnloadPair:
    """Unload ``pair`` unless it is pinned or in use."""

    pair: str


@dataclass(frozen=True, slots=True)
class UnloadIdle:
    """Unload the least recently used pairs idle ``idle_seconds`` or more, keeping ``keep``."""

    keep: int = 0
    idle_seconds: float = 0.0


@dataclass(frozen=True, slots=True)
class Cleanup:
    """Run the memory manager's cleanup (``idle_seconds``: None for its configured value)."""

    idle_seconds: float | None = None
    trigger: str = "manual"


@dataclass(frozen=True, slots=True)
class Report:
    """Memory, models and inference settings, for ``/admin/memory``."""


@dataclass(frozen=True, slots=True)
class Describe:
    """Cheap facts for ``/status``."""


@dataclass(frozen=True, slots=True)
class ProfilerSnapshot:
    """The worker's profiler statistics."""


@dataclass(frozen=True, slots=True)
class ProfilerReset:
    """Clear the worker's profiler statistics."""


@dataclass(frozen=True, slots=True)
class ProfilerEnable:
    """Switch the worker's profiler on or off."""

    enabled: bool = True


ControlRequest = (
    DescribeModels
    | LoadPair
    | UnloadPair
    | UnloadIdle
    | Cleanup
    | Report
    | Describe
    | ProfilerSnapshot
    | ProfilerReset
    | ProfilerEnable
)


@dataclass(frozen=True, slots=True)
class ControlReply:
    """A worker's answer to a control request: its report (a JSON document), or why it failed."""

    ok: bool
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        """``{"ok": ..., **data}``, with ``error`` when it failed: what the admin endpoints show."""
        body: dict[str, Any] = {"ok": self.ok, **self.data}
        if self.error is not None:
            body["error"] = self.error
        return body
