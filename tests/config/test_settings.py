"""Settings: YAML file, environment overrides, the specification's own names, clear errors."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import UDN
from universal_decoder_node.config import (
    CONFIG_ENV,
    DEFAULT_CONFIG_YAML,
    ConfigError,
    Settings,
    load_settings,
)


def write(tmp_path: Path, data: object, name: str = "udn.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data))
    return path


def test_defaults_without_a_file() -> None:
    settings = load_settings()
    assert settings.serving.host == "127.0.0.1"
    assert settings.serving.port == 8000
    assert settings.serving.max_batch_size == 32
    assert settings.serving.threads == (os.cpu_count() or 1)
    assert settings.models.bundled is True
    assert settings.https.enforce_https is False
    assert settings.admin.token is None


def test_yaml_file_sets_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        {
            "serving": {"port": 9001, "batch_timeout": 0.02, "max_items": 7},
            "models": {"pairs": {"en-es": {"path": str(tmp_path)}}},
            "memory": {"memory_threshold_percent": 70},
        },
    )
    settings = load_settings(path)
    assert settings.serving.port == 9001
    assert settings.serving.batch_timeout == 0.02
    assert settings.serving.max_items == 7
    assert settings.serving.max_batch_size == 32  # untouched keys keep their defaults
    assert settings.models.pairs["en-es"].path == tmp_path
    assert settings.memory.memory_threshold_percent == 70


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, {"serving": {"port": 9001, "max_items": 7}})
    monkeypatch.setenv("UDN_SERVING__PORT", "9002")
    settings = load_settings(path)
    assert settings.serving.port == 9002
    assert settings.serving.max_items == 7  # the rest of the section still comes from YAML


def test_udn_config_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CONFIG_ENV, str(write(tmp_path, {"serving": {"port": 9003}})))
    assert load_settings().serving.port == 9003
    # An explicit file wins over UDN_CONFIG.
    assert load_settings(write(tmp_path, {"serving": {"port": 9004}}, "other.yaml")).serving.port == 9004


def test_keyword_overrides_win_over_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_SERVING__PORT", "9002")
    settings = load_settings(write(tmp_path, {"serving": {"port": 9001}}), serving={"port": 9005})
    assert settings.serving.port == 9005


def test_specification_environment_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, {"https": {"enforce_https": False}, "admin": {"token": "from-yaml"}})
    monkeypatch.setenv("ENFORCE_HTTPS", "true")
    monkeypatch.setenv("UDN_ADMIN_TOKEN", "s3cret")
    settings = load_settings(path)
    assert settings.https.enforce_https is True
    assert settings.admin.token == "s3cret"


def test_specification_names_win_over_nested_names(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_HTTPS__ENFORCE_HTTPS", "false")
    monkeypatch.setenv("ENFORCE_HTTPS", "1")
    assert load_settings().https.enforce_https is True


def test_header_limit_and_docs_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert load_settings().serving.max_header_bytes == 65_536
    assert load_settings().serving.docs is True
    monkeypatch.setenv("UDN_SERVING__MAX_HEADER_BYTES", "16384")
    monkeypatch.setenv("UDN_SERVING__DOCS", "false")
    settings = load_settings()
    assert settings.serving.max_header_bytes == 16_384
    assert settings.serving.docs is False


def test_enforcing_https_needs_named_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    load_settings().https.check_redirect_hosts()  # not enforcing: '*' is fine
    monkeypatch.setenv("ENFORCE_HTTPS", "true")
    with pytest.raises(ConfigError, match=r"^https\.allowed_hosts allows '\*' while HTTPS is enforced"):
        load_settings().https.check_redirect_hosts()
    monkeypatch.setenv("UDN_HTTPS__ALLOWED_HOSTS", '["translate.example.com", "*.internal.example"]')
    load_settings().https.check_redirect_hosts()


def test_empty_specification_variable_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_ADMIN_TOKEN", "")
    assert load_settings().admin.token is None


@pytest.mark.parametrize(
    ("data", "key", "detail"),
    [
        ({"serving": {"port": 70000}}, "serving.port", "less than or equal to 65535"),
        ({"serving": {"port": "eighty"}}, "serving.port", "valid integer"),
        ({"serving": {"max_batch_size": 0}}, "serving.max_batch_size", "greater than or equal to 1"),
        ({"serving": {"batch_timeout": -1}}, "serving.batch_timeout", "greater than or equal to 0"),
        ({"serving": {"request_timeout": 0}}, "serving.request_timeout", "greater than 0"),
        ({"serving": {"max_header_bytes": 100}}, "serving.max_header_bytes", "greater than or equal to 1024"),
        ({"serving": {"bogus": 1}}, "serving.bogus", "Extra inputs are not permitted"),
        ({"servng": {"port": 1}}, "servng", "Extra inputs are not permitted"),
        ({"serving": 5}, "serving", "valid dictionary"),
        ({"models": {"pairs": {"english": {"path": "/m"}}}}, "models.pairs", "must look like 'en-pt'"),
        ({"models": {"pairs": {"en-es": {}}}}, "models.pairs.en-es.path", "Field required"),
        ({"https": {"enforce_https": "maybe"}}, "https.enforce_https", "valid boolean"),
        ({"profiling": {"export_format": "xml"}}, "profiling.export_format", "pattern"),
        ({"memory": {"memory_threshold_percent": 150}}, "memory.memory_threshold_percent", "100"),
    ],
)
def test_bad_value_names_the_key(tmp_path: Path, data: dict[str, object], key: str, detail: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, data))
    message = str(info.value)
    assert f"\n  {key}: " in message, message
    assert detail in message, message


def test_bad_environment_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UDN_SERVING__MAX_ITEMS", "lots")
    with pytest.raises(ConfigError, match=r"serving\.max_items: .*'lots'"):
        load_settings()


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, {"serving": {"port": 0, "workers": 0}}))
    assert "serving.port" in str(info.value) and "serving.workers" in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read config file .*missing\.yaml"):
        load_settings(tmp_path / "missing.yaml")


def test_file_that_is_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_settings(write(tmp_path, "serving: [1\n"))


def test_file_that_is_not_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must hold a mapping of sections, not list"):
        load_settings(write(tmp_path, "- serving\n- models\n"))


def test_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, "")) == Settings()


def test_default_config_text_matches_the_defaults(tmp_path: Path) -> None:
    # The commented file `udn init` writes must describe the real defaults.
    assert load_settings(write(tmp_path, DEFAULT_CONFIG_YAML)) == Settings()


def test_udn_init_writes_a_config_that_loads(tmp_path: Path) -> None:
    path = tmp_path / "node.yaml"
    result = subprocess.run([*UDN, "init", str(path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"wrote {path}" in result.stdout
    assert path.read_text() == DEFAULT_CONFIG_YAML
    assert load_settings(path) == Settings()

    again = subprocess.run([*UDN, "init", str(path)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 1
    assert "exists; use --force" in again.stderr

    path.write_text("changed")
    forced = subprocess.run([*UDN, "init", str(path), "--force"], capture_output=True, text=True, timeout=60)
    assert forced.returncode == 0
    assert path.read_text() == DEFAULT_CONFIG_YAML


def test_serve_with_a_bad_config_exits_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, {"serving": {"max_batch_size": "many", "colour": "blue"}})
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDN_")}
    result = subprocess.run(
        [*UDN, "serve", "--config", str(path)], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == 2
    assert "serving.max_batch_size" in result.stderr
    assert "'many'" in result.stderr
    assert "serving.colour: Extra inputs are not permitted" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_with_a_bad_environment_value_exits_naming_the_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("UDN_")}
    env["UDN_SERVING__PORT"] = "http"
    result = subprocess.run(
        [*UDN, "serve"], capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path
    )
    assert result.returncode == 2
    assert "serving.port" in result.stderr and "'http'" in result.stderr


def test_coordinator_urls_from_yaml_environment_and_the_single_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = ["http://a:5100", "https://b:5100"]
    listed = write(tmp_path, {"registration": {"coordinator_urls": ["http://a:5100/", "https://b:5100"]}})
    assert load_settings(listed).registration.coordinator_urls == both
    single = write(tmp_path, {"registration": {"coordinator_url": "http://a:5100"}}, "single.yaml")
    assert load_settings(single).registration.coordinator_urls == ["http://a:5100"]
    # The single key still works next to the list, and a URL named twice counts once.
    mixed = {"registration": {"coordinator_urls": both, "coordinator_url": "http://a:5100,http://c:1"}}
    assert load_settings(write(tmp_path, mixed, "mixed.yaml")).registration.coordinator_urls == [
        *both,
        "http://c:1",
    ]
    monkeypatch.setenv("UDN_REGISTRATION__COORDINATOR_URLS", "http://a:5100, https://b:5100")
    assert load_settings().registration.coordinator_urls == both
    assert Settings().registration.coordinator_urls == both


def test_a_coordinator_url_that_is_not_http_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, {"registration": {"coordinator_urls": ["http://a:5100", "a:5100"]}})
    with pytest.raises(ConfigError, match=r"registration: .*'a:5100' must look like http://host:port"):
        load_settings(path)


def test_a_list_in_the_environment_not_in_json_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UDN_HTTPS__ALLOWED_HOSTS", "a.example")
    with pytest.raises(ConfigError) as refused:
        load_settings()
    assert "UDN_HTTPS__ALLOWED_HOSTS='[\"a.example\"]'" in str(refused.value)
