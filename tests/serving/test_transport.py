"""The pipes between API servers and inference workers, across real spawned processes."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
from typing import Any

from universal_decoder_node.serving.ipc.pipes import AnswerPipes, RequestPipes


def _echo_worker(requests: RequestPipes, answers: AnswerPipes, expected: int) -> None:
    """Take work items and answer each one to the API server named in it."""
    seen = 0
    while seen < expected:
        for server, uid, payload in requests.take(limit=7, timeout=10):
            answers.send((uid, payload[::-1]), consumer_id=server)
            seen += 1


def _start(requests: RequestPipes, answers: AnswerPipes, expected: int) -> Any:
    worker = mp.get_context("spawn").Process(target=_echo_worker, args=(requests, answers, expected))
    worker.start()
    return worker


def test_items_and_answers_cross_intact_in_order_including_ones_larger_than_a_pipe() -> None:
    requests, answers = RequestPipes(servers=2), AnswerPipes(consumers=2)
    # 300 KiB items: several times a pipe's buffer, so writes must queue, not block or interleave.
    payloads = [f"item {i} ".encode() * (1 + (i % 5) * 8000) for i in range(60)]
    worker = _start(requests, answers, len(payloads))

    async def api_server() -> list[tuple[int, bytes]]:
        for uid, payload in enumerate(payloads):
            await requests.put(1, (1, uid, payload))  # returns at once: the write is buffered
        return [await answers.areceive(consumer_id=1, timeout=30) for _ in payloads]

    try:
        received = asyncio.run(api_server())
    finally:
        worker.join(30)
    assert worker.exitcode == 0
    assert [uid for uid, _ in received] == list(range(len(payloads)))
    assert all(answer == payloads[uid][::-1] for uid, answer in received)


def test_take_waits_for_work_and_gives_up_after_its_timeout() -> None:
    requests = RequestPipes(servers=1)
    assert requests.take(limit=5, timeout=0.05) == []

    async def put_three() -> None:
        # Small frames are in the pipe when ``put`` returns (asyncio's pipe transport writes at
        # once while nothing is buffered), so there is nothing to wait for before taking them.
        for i in range(3):
            await requests.put(0, i)

    asyncio.run(put_three())
    assert requests.take(limit=2, timeout=1) == [0, 1]
    assert requests.take(limit=5, timeout=1) == [2]


def test_areceive_times_out_with_none_when_nothing_arrives() -> None:
    answers = AnswerPipes(consumers=1)

    async def receive() -> Any:
        return await answers.areceive(consumer_id=0, timeout=0.05)

    assert asyncio.run(receive()) is None
