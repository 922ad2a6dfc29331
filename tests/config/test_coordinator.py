"""Coordinator settings: the specification's environment names and the mirror interval rules."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path

import pytest

from tests.support import UDN, coordinator_env
from universal_decoder_node.config import ConfigError, load_settings


def test_defaults() -> None:
    config = load_settings().coordinator
    assert (config.host, config.port, config.mirror_interval) == ("127.0.0.1", 5100, 30.0)


def test_spec_environment_names(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/2")
    monkeypatch.setenv("COORDINATOR_STATE_FILE", str(tmp_path / "s.json"))
    monkeypatch.setenv("COORDINATOR_MIRROR_INTERVAL", "12.5")
    monkeypatch.setenv("UDN_NODE_TOKEN", "tok")
    config = load_settings().coordinator
    assert config.redis_url == "redis://127.0.0.1:6390/2"
    assert config.state_file == tmp_path / "s.json"
    assert config.mirror_interval == 12.5
    assert config.node_token == "tok"


def test_short_mirror_interval_is_raised_to_five_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("COORDINATOR_MIRROR_INTERVAL", "1")
    with caplog.at_level(logging.WARNING):
        assert load_settings().coordinator.mirror_interval == 5.0
    assert "below the minimum; using 5s" in caplog.text


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "10s"])
def test_mirror_interval_that_is_not_a_number_is_an_error(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("COORDINATOR_MIRROR_INTERVAL", value)
    with pytest.raises(ConfigError, match=r"coordinator\.mirror_interval"):
        load_settings()


def test_redis_url_must_be_a_redis_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "http://127.0.0.1:6379")
    with pytest.raises(ConfigError, match=r"coordinator\.redis_url: .*redis://"):
        load_settings()


def test_udn_coordinator_refuses_to_start_with_a_bad_mirror_interval(tmp_path: Path) -> None:
    result = subprocess.run(
        [*UDN, "coordinator", "--port", "5999"],
        env=coordinator_env({"COORDINATOR_MIRROR_INTERVAL": "soon"}),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "coordinator.mirror_interval" in result.stderr and "'soon'" in result.stderr


def test_the_default_config_file_loads(tmp_path: Path) -> None:
    from universal_decoder_node.config import DEFAULT_CONFIG_YAML

    path = tmp_path / "udn.yaml"
    path.write_text(DEFAULT_CONFIG_YAML)
    settings = load_settings(path)
    assert settings.coordinator.port == 5100 and settings.registration.coordinator_url is None


def test_registering_without_a_node_token_is_a_startup_error(tmp_path: Path) -> None:
    env = coordinator_env()
    env.pop("UDN_NODE_TOKEN")
    result = subprocess.run(
        [*UDN, "serve", "--port", "5998", "--coordinator", "http://127.0.0.1:5100"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "needs the node token: set UDN_NODE_TOKEN" in result.stderr


def test_node_expiry_must_outlast_the_heartbeat_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_COORDINATOR__HEARTBEAT_INTERVAL", "10")
    monkeypatch.setenv("UDN_COORDINATOR__NODE_EXPIRY", "5")
    with pytest.raises(ConfigError, match=r"node_expiry .* must be longer than heartbeat_interval"):
        load_settings()
