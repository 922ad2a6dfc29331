"""compose.yaml as the compose tool reads it (`config`), the observability profile included."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from tests.deploy.tools import DEPLOY, REPO, compose

TOKENS = {"UDN_NODE_TOKEN": "node-token-for-config", "UDN_ADMIN_TOKEN": "admin-token-for-config"}
SYSTEM = {"redis", "coordinator", "node-1", "node-2"}
OBSERVABILITY = {"prometheus", "grafana", "otel-collector", "jaeger"}


def config(*profile: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = compose({**TOKENS, **(env or {})}, *profile, "config", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(yaml.safe_load(result.stdout))


def published(service: dict[str, Any]) -> list[str]:
    """Each published port as HOST_IP:PORT..., whichever form the compose tool printed it in."""
    ports = service.get("ports", [])
    return [f"{p.get('host_ip', '')}:{p['published']}" if isinstance(p, dict) else str(p) for p in ports]


def test_the_default_profile_is_the_system() -> None:
    assert set(config()["services"]) == SYSTEM


@pytest.mark.parametrize("profile", [(), ("--profile", "observability")])
def test_ports_are_published_on_loopback_only_and_redis_never(profile: tuple[str, ...]) -> None:
    services = config(*profile)["services"]
    assert set(services) == (SYSTEM | OBSERVABILITY if profile else SYSTEM)
    assert published(services["redis"]) == []
    ports = [port for service in services.values() for port in published(service)]
    assert ports and all(port.startswith("127.0.0.1:") for port in ports), ports
    assert not any(":6379" in port for port in ports)


def test_redis_persists_and_the_services_find_each_other() -> None:
    services = config(env={"UDN_IMAGE": "example/udn:1", "UDN_REDIS_IMAGE": "example/redis:1"})["services"]
    redis = services["redis"]
    assert redis["image"] == "example/redis:1"
    assert "--appendonly" in redis["command"] and any(v.endswith(":/data") for v in redis["volumes"])
    coordinator = services["coordinator"]
    assert coordinator["image"] == "example/udn:1" and coordinator["command"] == ["coordinator"]
    assert coordinator["environment"]["REDIS_URL"] == "redis://redis:6379/0"
    for name in ("node-1", "node-2"):
        env = services[name]["environment"]
        assert env["UDN_REGISTRATION__COORDINATOR_URLS"] == "http://coordinator:5100"
        assert env["UDN_REGISTRATION__ADVERTISE_URL"] == f"http://{name}:8000"
        assert env["UDN_NODE_TOKEN"] == TOKENS["UDN_NODE_TOKEN"]
        assert any(v.endswith(":/models/adapters") for v in services[name]["volumes"])


def test_the_tokens_are_required() -> None:
    result = compose({"UDN_NODE_TOKEN": "", "UDN_ADMIN_TOKEN": ""}, "config", timeout=60)
    assert result.returncode != 0
    assert "UDN_NODE_TOKEN" in result.stdout + result.stderr


def test_the_observability_profile_mounts_files_that_exist() -> None:
    services = config("--profile", "observability")["services"]
    for name in OBSERVABILITY:
        for volume in services[name].get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (REPO / source).exists(), (name, volume)
    prometheus = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]}
    assert targets == {"coordinator:5100", "node-1:8000", "node-2:8000"}
