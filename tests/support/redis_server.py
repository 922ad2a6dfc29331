"""Redis for the tests: whether one answers, and ``redis-server`` processes of a test's own."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import redis

from tests.support.ci import unavailable
from tests.support.net import free_port
from tests.support.polling import eventually


def redis_answers(url: str) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError):
        return False


def no_redis(reason: str) -> NoReturn:
    """Fail in CI (Redis tests must run there), skip elsewhere."""
    unavailable(reason, "; the Redis tests must run in CI")


@dataclass
class RedisServer:
    """A ``redis-server`` this test run started (and may stop and restart), keeping nothing on disk."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10) -> None:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is not on PATH"
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        process = self.process = subprocess.Popen(
            [binary, *args, "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            if redis_answers(self.url):
                return True
            if process.poll() is not None:
                raise AssertionError(f"redis-server exited with {process.returncode}")
            return False

        eventually(answers, timeout, f"redis-server on port {self.port} to answer", interval=0.05)

    def kill(self) -> None:
        """End the server at once (SIGKILL): its clients' connections die with it, unannounced."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def start_redis_server(directory: Path) -> RedisServer:
    """A ``redis-server`` on a free port, answering; skips (fails in CI) when there is none to run."""
    if not shutil.which("redis-server"):
        no_redis("redis-server is not on PATH")
    server = RedisServer(free_port(), directory)
    server.start()
    return server


def new_prefix() -> str:
    """A key prefix no other test uses, so tests sharing one Redis never see each other's keys."""
    return f"udn-test:{uuid.uuid4().hex[:12]}:"


def drop_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix``."""
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=prefix + "*", count=500):
            client.delete(key)
    finally:
        client.close()
