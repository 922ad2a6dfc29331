"""Starting and stopping a node: readiness only after warm-up, a clean stop on SIGTERM.

LitServe opens the HTTP port only once at least one inference worker has finished
``setup`` (``LitServer.verify_worker_status`` runs before uvicorn starts), and our setup
loads and warms every pair. So with one worker /ready is never seen answering 503: before
the worker is ready, nothing listens. With two workers the port opens when the first is
ready, and /ready answers 503 until the second is too. The test below polls from the
moment the process starts and checks that every answer it gets is consistent with that.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.conftest import NodeProcess, start_node
from tests.serving.helpers import BEACH_EN, translate


def _poll_ready(node: NodeProcess, timeout: float = 180) -> list[tuple[int, dict[str, object]]]:
    answers: list[tuple[int, dict[str, object]]] = []
    give_up = time.monotonic() + timeout
    while time.monotonic() < give_up:
        assert node.process.poll() is None, node.log()
        try:
            response = httpx.get(node.url + "/ready", timeout=2)
        except httpx.TransportError:
            time.sleep(0.02)
            continue
        answers.append((response.status_code, response.json()))
        if response.status_code == 200:
            return answers
        time.sleep(0.02)
    raise AssertionError(f"node not ready after {timeout}s: {answers}\n{node.log()}")


def _leftovers(node: NodeProcess, timeout: float = 15) -> list[int]:
    """The node's processes still alive ``timeout`` seconds after its main process exited."""
    give_up = time.monotonic() + timeout
    while (pids := node.group_pids()) and time.monotonic() < give_up:
        time.sleep(0.1)
    return pids


def test_ready_only_after_every_worker_is_warm_and_sigterm_stops_everything(tmp_path: Path) -> None:
    node = start_node(tmp_path, {"serving": {"workers": 2, "threads": 1}}, wait_ready=False)
    try:
        answers = _poll_ready(node)
        for status, body in answers:
            workers = body["workers"]
            assert isinstance(workers, dict)
            if status == 200:
                assert body["ready"] is True
                assert len(workers) == 2 and set(workers.values()) == {"ready"}
            else:
                assert status == 503, (status, body)
                assert body["ready"] is False
                assert set(workers.values()) != {"ready"}
        assert answers[-1][0] == 200
        # Ready means warm: the very first translation is served at once.
        response = translate(node.url, BEACH_EN)
        assert response.status_code == 200, response.text
        assert "praia" in response.json()["translatedText"]
        status = httpx.get(node.url + "/status", timeout=10).json()
        assert status["status"] == "healthy"
        assert len(status["workers"]) == 2

        assert len(node.group_pids()) >= 4  # main, queue manager, API server, two workers
        node.process.terminate()
        assert node.process.wait(30) == 0, node.log()
        assert _leftovers(node) == [], f"processes left behind after SIGTERM:\n{node.log()}"
        try:
            httpx.get(node.url + "/health", timeout=2)
        except httpx.TransportError:
            pass
        else:
            raise AssertionError("the node's port still answers after it stopped")
        assert "Traceback" not in node.log(), node.log()
    finally:
        node.stop()


def test_missing_model_directory_fails_startup_with_its_path(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    node = start_node(tmp_path, {"models": {"pairs": {"en-es": {"path": str(missing)}}}}, wait_ready=False)
    try:
        assert node.process.wait(180) != 0
        assert f"model directory {missing} does not exist" in node.log()
        assert _leftovers(node) == [], node.log()
    finally:
        node.stop()
