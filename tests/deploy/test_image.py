"""The image, built for real, and the system run from compose.yaml: translations through the coordinator.

Needs podman, podman-compose and the local Debian base image (scripts/ensure-podman.sh, which
scripts/test.sh runs); fails in CI without them. Ports are published on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.deploy.tools import BASE_IMAGE, REPO, compose, missing, run, tool
from tests.support.net import free_port
from tests.support.polling import eventually

IMAGE = "localhost/universal-decoder-node:test"
NODE_TOKEN = "image-test-node-token"
ADMIN_TOKEN = "image-test-admin-token"


@dataclass
class System:
    """compose.yaml's services, running under one project name."""

    project: str
    env: dict[str, str]
    coordinator: str
    nodes: dict[str, str]

    def container(self, service: str) -> str:
        return f"{self.project}_{service}_1"

    def podman(self, *args: str, timeout: float = 60) -> str:
        result = run([tool("podman"), *args], timeout)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def logs(self) -> str:
        return "\n".join(
            f"--- {s}\n" + run([tool("podman"), "logs", "--tail", "30", self.container(s)], 30).stderr
            for s in ("redis", "coordinator", "node-1", "node-2")
        )


@pytest.fixture(scope="module")
def image() -> str:
    """The image, built by scripts/build-image.sh from the local base image with wheels built here."""
    podman = tool("podman")
    if run([podman, "image", "exists", BASE_IMAGE], 60).returncode != 0:
        missing(f"the base image {BASE_IMAGE} is missing")
    result = run(
        ["bash", str(REPO / "scripts/build-image.sh"), "--base", BASE_IMAGE, "--tag", IMAGE, "--host-wheels"],
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return IMAGE


@pytest.fixture(scope="module")
def system(image: str) -> Iterator[System]:
    ports = {"coordinator": free_port(), "node-1": free_port(), "node-2": free_port()}
    project = f"udn-test-{os.getpid()}"
    env = {
        "COMPOSE_PROJECT_NAME": project,
        "UDN_IMAGE": image,
        "UDN_REDIS_IMAGE": BASE_IMAGE,  # Debian's redis-server, in the debootstrapped base
        "UDN_NODE_TOKEN": NODE_TOKEN,
        "UDN_ADMIN_TOKEN": ADMIN_TOKEN,
        "UDN_NODE_THREADS": "1",
        "UDN_COORDINATOR_PORT": str(ports["coordinator"]),
        "UDN_NODE1_PORT": str(ports["node-1"]),
        "UDN_NODE2_PORT": str(ports["node-2"]),
    }
    up = compose(env, "up", "-d", timeout=300)
    system = System(
        project,
        env,
        f"http://127.0.0.1:{ports['coordinator']}",
        {name: f"http://127.0.0.1:{ports[name]}" for name in ("node-1", "node-2")},
    )
    try:
        assert up.returncode == 0, up.stdout[-4000:] + up.stderr[-4000:]
        eventually(lambda: _ready_nodes(system) == {"node-1", "node-2"}, 240, lambda: system.logs())
        yield system
    finally:
        # The image's VOLUME gives the coordinator an anonymous volume, which `down -v` leaves behind.
        podman = tool("podman")
        inspect = run(
            [
                podman,
                "inspect",
                "--format",
                "{{range .Mounts}}{{.Name}} {{end}}",
                system.container("coordinator"),
            ],
            60,
        )
        compose(env, "down", "-v", "-t", "20", timeout=300)
        anonymous = [name for name in inspect.stdout.split() if len(name) == 64]
        if anonymous:
            run([podman, "volume", "rm", *anonymous], 60)


def _ready_nodes(system: System) -> set[str]:
    try:
        status = httpx.get(system.coordinator + "/status", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return set()
    return {n["id"] for n in status["nodes"] if n["health"] == "ok"}


def test_the_image_runs_unprivileged_with_a_healthcheck(image: str) -> None:
    config = json.loads(run([tool("podman"), "image", "inspect", image], 60).stdout)[0]
    assert config["Config"]["User"] == "10001:10001"
    assert "/health" in " ".join(config["Healthcheck"]["Test"])  # kept: built with --format docker
    assert "/models/adapters" in config["Config"]["Volumes"]
    assert "ADAPTER_DIR=/models/adapters" in config["Config"]["Env"]


def test_translations_through_the_coordinator(system: System) -> None:
    url = system.coordinator + "/translate"
    for text in ("Good morning.", "The book is on the table.", "Where is the station?", "Thank you."):
        response = httpx.post(url, json={"q": text, "source": "en", "target": "pt"}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["translatedText"].strip()
    response = httpx.post(url, json={"q": ["Hello.", "Goodbye."], "source": "en", "target": "pt"}, timeout=30)
    assert response.status_code == 200, response.text
    back = httpx.post(url, json={"q": "Bom dia.", "source": "pt", "target": "en"}, timeout=30)
    assert back.status_code == 200 and back.json()["translatedText"].strip(), back.text


def test_bad_requests_get_a_clear_4xx_in_the_middle_of_good_ones(system: System) -> None:
    url = system.coordinator + "/translate"
    unknown = httpx.post(url, json={"q": "Hello", "source": "en", "target": "xx"}, timeout=30)
    assert unknown.status_code == 400 and "xx" in unknown.text, unknown.text
    broken = httpx.post(
        url, content=b'{"q": "Hello", ', headers={"content-type": "application/json"}, timeout=30
    )
    assert 400 <= broken.status_code < 500, broken.text
    good = httpx.post(url, json={"q": "Hello", "source": "en", "target": "pt"}, timeout=30)
    assert good.status_code == 200, good.text


def test_each_node_answers_on_its_loopback_port(system: System) -> None:
    for url in system.nodes.values():
        assert httpx.get(url + "/ready", timeout=10).status_code == 200
        response = httpx.post(
            url + "/translate", json={"q": "Yes.", "source": "en", "target": "pt"}, timeout=30
        )
        assert response.status_code == 200, response.text


def test_healthchecks_pass_and_the_services_run_unprivileged(system: System) -> None:
    for service in ("coordinator", "node-1", "node-2"):
        system.podman("healthcheck", "run", system.container(service))
        assert system.podman("exec", system.container(service), "id", "-u").strip() == "10001"


def test_redis_keeps_its_data_across_a_restart(system: System) -> None:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created = httpx.post(
        system.coordinator + "/admin/keys", json={"name": "kept"}, headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text
    redis = system.container("redis")
    assert "yes" in system.podman("exec", redis, "redis-cli", "config", "get", "appendonly")
    # Only what Redis itself kept can bring this back (the coordinator knows nothing of it).
    system.podman("exec", redis, "redis-cli", "set", "image-test-sentinel", "kept")
    system.podman("restart", redis)

    def sentinel() -> str:
        result = run([tool("podman"), "exec", redis, "redis-cli", "get", "image-test-sentinel"], 30)
        return result.stdout.strip() if result.returncode == 0 else ""

    assert eventually(lambda: sentinel() or None, 60, "Redis to answer after its restart") == "kept"
    key = created.json()["key"]
    body = {"q": "Hello", "source": "en", "target": "pt", "api_key": key}
    eventually(
        lambda: httpx.post(system.coordinator + "/translate", json=body, timeout=30).status_code == 200,
        60,
        "the kept key to be accepted after Redis restarted",
    )
