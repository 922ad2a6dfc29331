"""Nodes that left (deregistered, expired, removed, or gone from the shared state), remembered for
``KEPT_SECONDS`` with what this coordinator sent them, so the dashboard can show them greyed out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .records import NodeRecord

KEPT_SECONDS = 600.0


@dataclass(frozen=True, slots=True)
class Departed:
    id: str
    url: str
    left_at: float  # epoch seconds
    requests: int
    errors: int


class Departures:
    """Notices nodes leaving the live set and keeps them for ``KEPT_SECONDS``."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._live: dict[str, NodeRecord] = {}
        self._gone: dict[str, Departed] = {}

    def observe(self, live: Iterable[NodeRecord], counts: Callable[[str], tuple[int, int]]) -> None:
        """The live nodes now; any live at the last call and missing now has left.

        ``counts(node_id)`` gives the (requests, errors) this coordinator sent the node.
        """
        now = {node.id: node for node in live}
        for node_id in self._live.keys() - now.keys():
            self.left(node_id, counts)
        for node_id in now.keys() & self._gone.keys():
            del self._gone[node_id]  # it came back
        self._live = now

    def left(self, node_id: str, counts: Callable[[str], tuple[int, int]]) -> None:
        """``node_id`` left now (a no-op for a node never seen live)."""
        record = self._live.pop(node_id, None)
        if record is None:
            return
        requests, errors = counts(node_id)
        self._gone[node_id] = Departed(node_id, record.url, self.clock(), requests, errors)

    def recent(self) -> list[Departed]:
        """Those that left within ``KEPT_SECONDS``, most recent first."""
        oldest = self.clock() - KEPT_SECONDS
        self._gone = {i: d for i, d in self._gone.items() if d.left_at >= oldest}
        return sorted(self._gone.values(), key=lambda d: d.left_at, reverse=True)
