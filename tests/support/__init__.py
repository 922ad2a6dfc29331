"""The one copy of each test helper; ``conftest.py`` files hold fixtures only and import from here.

- ``polling``: ``eventually``, the only way a test waits for something.
- ``net``: ``free_port``; ``RawConnection`` and ``http_request`` for byte-exact HTTP/1.1.
- ``node``: ``start_node`` and ``NodeProcess`` (a real ``udn serve`` on loopback).
- ``coordinator``: ``start_coordinator``, ``start_registered_node``, ``Cluster``.
- ``clients``: ``translate``, ``decode`` and ``/metrics`` readers for a node or coordinator.
- ``cli``: ``udn`` (the command line in a fresh process), ``write_config``.
- ``redis_server``: ``RedisServer`` (a ``redis-server`` of a test's own) and key prefixes.
- ``load``: ``Load``, steady translation traffic for fault tests.
- ``fakehub``, ``otlp_receiver``: stand-ins for the Hugging Face Hub and an OTLP collector.
- ``logs``: ``json_lines``, ``access_lines``: a process's JSON log lines.
- ``records``, ``texts``, ``auth``: sample coordinator records, sample texts, test tokens.

Benchmarks may import from here; nothing here imports from a benchmark or a test module.
"""

from tests.support.auth import ADMIN, ADMIN_TOKEN, NODE_TOKEN
from tests.support.cli import ROOT, UDN, udn, write_config
from tests.support.clients import (
    TIMEOUT,
    Samples,
    batches_larger_than_one,
    decode,
    metric_samples,
    pack,
    sample,
    translate,
)
from tests.support.coordinator import (
    FAST,
    NODE_CONFIG,
    Cluster,
    CoordinatorProcess,
    away_from_a_window_edge,
    coordinator_env,
    start_coordinator,
    start_registered_node,
)
from tests.support.load import TEXT, Load
from tests.support.net import RawConnection, free_port, http_request
from tests.support.node import NodeProcess, start_node, wait_until_ready
from tests.support.polling import eventually
from tests.support.redis_server import (
    RedisServer,
    drop_prefix,
    new_prefix,
    no_redis,
    redis_answers,
    start_redis_server,
)
from tests.support.texts import BEACH_EN, LONG_PARAGRAPH

__all__ = [
    "ADMIN",
    "ADMIN_TOKEN",
    "BEACH_EN",
    "FAST",
    "LONG_PARAGRAPH",
    "NODE_CONFIG",
    "NODE_TOKEN",
    "ROOT",
    "TEXT",
    "TIMEOUT",
    "UDN",
    "Cluster",
    "CoordinatorProcess",
    "Load",
    "NodeProcess",
    "RawConnection",
    "RedisServer",
    "Samples",
    "away_from_a_window_edge",
    "batches_larger_than_one",
    "coordinator_env",
    "decode",
    "drop_prefix",
    "eventually",
    "free_port",
    "http_request",
    "metric_samples",
    "new_prefix",
    "no_redis",
    "pack",
    "redis_answers",
    "sample",
    "start_coordinator",
    "start_node",
    "start_redis_server",
    "start_registered_node",
    "translate",
    "udn",
    "wait_until_ready",
    "write_config",
]
