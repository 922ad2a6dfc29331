"""The inference worker's loop: dynamic batches in, each answer out as soon as it is done.

LitServe's batched loop collects a batch, runs ``predict`` on all of it, and only then takes
the next batch: the cores wait for the slowest sentence of every batch, and requests that
arrive meanwhile wait for the whole batch. This loop (a LitServe ``LitLoop``) keeps the
translation threads fed instead: whenever fewer than two engine calls per thread are ahead of
a new request (``BatchTranslator.backlog``: calls being made, and requests not yet started;
the translator takes one segment of each request in turn, so a request's place in line does
not depend on the size of those before it), it admits everything queued (up to
``max_batch_size`` items) as one batch (``TranslationAPI.dispatch``), and the translator
answers each item the moment its own segments are done. While every thread is busy with a
call and more work is queued behind it, it waits up to ``batch_timeout`` to fill a batch; it
never holds work back from an idle thread.
"""

from __future__ import annotations

import logging
import time
from functools import partial
from typing import TYPE_CHECKING

from litserve.callbacks import CallbackRunner
from litserve.loops.base import LitLoop
from litserve.transport.base import MessageTransport

from ..ipc.messages import Queued, WorkResult
from ..ipc.pipes import RequestPipes, answer_frame

if TYPE_CHECKING:
    from .api import TranslationAPI

log = logging.getLogger(__name__)

# Admit more work once fewer than this many engine calls per translation thread are ahead of it.
_CALLS_PER_THREAD = 2


class TranslationLoop(LitLoop):
    def run(  # type: ignore[override]
        self,
        lit_api: TranslationAPI,
        device: str,
        worker_id: int,
        request_queue: RequestPipes,
        transport: MessageTransport,
        workers_setup_status: dict[int, str],
        callback_runner: CallbackRunner,
    ) -> None:
        """Admit one batch (LitServe calls this over and over in the worker)."""
        translator = lit_api.translator
        assert translator is not None, "setup() has not run"
        low_water = _CALLS_PER_THREAD * translator.threads
        translator.wait_until_below(low_water)
        limit = max(1, lit_api.max_batch_size)
        entries = request_queue.take(limit, None)
        wait_until = time.monotonic() + lit_api.batch_timeout
        # Wait for more only while every thread has a call and more work is queued behind it,
        # looking again every millisecond: never hold work back from a thread about to idle.
        while len(entries) < limit and translator.backlog > translator.threads:
            remaining = wait_until - time.monotonic()
            if remaining <= 0:
                break
            entries += request_queue.take(limit - len(entries), min(remaining, 0.001))
        self._admit(lit_api, entries, request_queue, transport)

    def _admit(
        self,
        lit_api: TranslationAPI,
        entries: list[Queued],
        requests: RequestPipes,
        transport: MessageTransport,
    ) -> None:
        if not entries:
            return
        worker_id = self.worker_id
        # Asked before each of an item's segments: its client may go away meanwhile.
        cancelled = [partial(requests.is_cancelled, e.consumer, e.uid) for e in entries]

        def respond(index: int, result: WorkResult) -> None:
            entry = entries[index]
            transport.send(answer_frame(entry.uid, result, worker_id), consumer_id=entry.consumer)

        lit_api.dispatch([lit_api.decode_request(e.item) for e in entries], respond, cancelled)
