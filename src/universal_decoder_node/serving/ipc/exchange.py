"""An API server's side of a work item's round trip: send it to the workers, wait for its answer.

The LitServe internals used here are the ones LitServe hands a spec (``LitSpec``): its
``request_queue`` (the node's ``RequestPipes``, which ``NodeServer`` installs in place of
LitServe's queue), ``response_buffer`` (filled from the node's ``AnswerPipes`` by LitServe's
``response_queue_to_buffer`` task) and ``response_queue_id`` (this API server's index).
"""

from __future__ import annotations

import asyncio
import itertools
import logging

from litserve.specs.base import LitSpec
from litserve.utils import LitAPIStatus, ResponseBufferItem

from ...errors import WorkerUnavailable
from .messages import Queued, WorkItem, WorkResult

log = logging.getLogger(__name__)


class WorkExchange:
    """Sends work items from the API server process that owns ``spec`` (LitServe set it up)."""

    def __init__(self, spec: LitSpec) -> None:
        self._spec = spec
        # Work item ids: unique within this API server process, which alone waits for their answers.
        self._uids = itertools.count()

    async def send(self, item: WorkItem) -> PendingWork:
        """Queue ``item`` for the inference workers; its answer arrives on the returned handle."""
        spec = self._spec
        uid = next(self._uids)
        pending = PendingWork(spec, uid)
        try:
            await spec.request_queue.put(spec.response_queue_id, Queued(spec.response_queue_id, uid, item))
        except BaseException:
            pending.close()
            raise
        return pending


class PendingWork:
    """One work item on its way: ``arrived`` is set when its answer (``result()``) is in.

    ``close()`` must be called once the answer is taken or no longer wanted.
    """

    def __init__(self, spec: LitSpec, uid: int) -> None:
        self._spec = spec
        self._uid = uid
        self.arrived = asyncio.Event()
        spec.response_buffer[uid] = ResponseBufferItem(event=self.arrived)

    def result(self) -> WorkResult | None:
        """The worker's answer, or None while there is none yet."""
        answered = self._spec.response_buffer[self._uid].response
        if answered is None:
            return None
        result, status = answered
        if status != LitAPIStatus.OK or not isinstance(result, WorkResult):
            log.error("inference worker failed on a request: %r", result)
            return WorkResult(
                error=WorkerUnavailable("the inference worker failed on this request; try again")
            )
        return result

    def cancel(self) -> None:
        """Tell the workers to drop what is left of the item (its client is gone, or its time)."""
        self._spec.request_queue.cancel(self._spec.response_queue_id, self._uid)

    def close(self) -> None:
        self._spec.response_buffer.pop(self._uid, None)
