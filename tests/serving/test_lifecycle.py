"""Starting and stopping a node: readiness only after warm-up, a clean stop on SIGTERM, and
nothing left serving when the main process is killed outright.

LitServe opens the HTTP port only once at least one inference worker has finished
``setup`` (``LitServer.verify_worker_status`` runs before uvicorn starts), and our setup
loads and warms every pair. So with one worker /ready is never seen answering 503: before
the worker is ready, nothing listens. With two workers the port opens when the first is
ready, and /ready answers 503 until the second is too. The test below polls from the
moment the process starts and checks that every answer it gets is consistent with that.
"""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import psutil

from tests.support import BEACH_EN, NodeProcess, eventually, start_node, translate


def _poll_ready(node: NodeProcess, timeout: float = 180) -> list[tuple[int, dict[str, object]]]:
    """Every answer /ready gave, polled from the moment the process started until the first 200."""
    answers: list[tuple[int, dict[str, object]]] = []

    def ready() -> bool:
        assert node.process.poll() is None, node.log()
        try:
            response = httpx.get(node.url + "/ready", timeout=2)
        except httpx.TransportError:
            return False
        answers.append((response.status_code, response.json()))
        return response.status_code == 200

    eventually(ready, timeout, lambda: f"the node to be ready: {answers}\n{node.log()}", interval=0.02)
    return answers


def _all_gone(node: NodeProcess, after: str, timeout: float = 15) -> None:
    """Wait until none of the node's processes is alive any more (its main process has exited)."""
    eventually(
        lambda: not node.group_pids(),
        timeout,
        lambda: f"the processes {node.group_pids()} left behind after {after} to end:\n{node.log()}",
    )


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _port_in_use(port: int) -> bool:
    """Whether something still listens on ``port``: binding it as uvicorn does (SO_REUSEADDR) fails."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _gone_and_port_free(children: list[psutil.Process], port: int, node: NodeProcess) -> None:
    """Wait until every one of ``children`` is gone and ``port`` is free."""

    def state() -> str:
        alive = [child.pid for child in children if _alive(child)]
        return f"alive {alive}, port in use: {_port_in_use(port)}"

    eventually(
        lambda: not any(_alive(child) for child in children) and not _port_in_use(port),
        30,
        lambda: f"every process to end after SIGKILL of the main process ({state()})\n{node.log()}",
    )


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
        _all_gone(node, "SIGTERM")
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
        _all_gone(node, "a failed start")
    finally:
        node.stop()


def test_sigkill_of_the_main_process_takes_every_child_with_it(tmp_path: Path) -> None:
    """A node killed outright (SIGKILL, the OOM killer) leaves nothing serving on its port.

    Orphaned API servers and workers would go on answering, unregistered, and hold the port,
    so that the node could not be started again.
    """
    config = {"serving": {"workers": 2, "threads": 1, "api_servers": 2}}
    node = start_node(tmp_path, config)
    replacement: NodeProcess | None = None
    try:
        port = int(node.url.rsplit(":", 1)[1])
        children = psutil.Process(node.process.pid).children(recursive=True)
        # queue manager, resource tracker, two inference workers, two API servers
        assert len(children) >= 6, children
        node.process.kill()
        node.process.wait(10)
        _gone_and_port_free(children, port, node)

        replacement = start_node(tmp_path, config, port=port)
        response = translate(replacement.url, BEACH_EN)
        assert response.status_code == 200, response.text
        assert "praia" in response.json()["translatedText"]
    finally:
        node.stop()
        if replacement is not None:
            replacement.stop()
