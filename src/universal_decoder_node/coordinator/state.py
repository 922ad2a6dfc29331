"""The state store: nodes and API keys in Redis, a copy in this process, mirrored to the state file.

Redis (``coordinator.redis_url``) is the primary store, shared by every coordinator replica. This
process keeps its own copy, refreshed from Redis every second and written to the state file
(``coordinator.state_file``) every ``mirror_interval`` seconds. The copy is what routing reads, so
no request waits on Redis for node information.

When Redis is unreachable, whether at start (the snapshot is loaded and served at once) or later,
the store keeps working on its copy and retries Redis every second. When Redis answers again the
store reconciles record by record: each side's copy is merged with ``records.newer_node`` /
``records.merge_keys`` and written with a compare-and-set, so an older local copy never overwrites
newer Redis state. Without ``redis_url`` the state file is the only store.

A key change is durable before it is applied: it is written to Redis, or, when Redis is not
configured or not answering, to the state file at once. When neither takes it the change is not
made (StateWriteFailed). With ``coordinator.state_secret`` the file is signed (see ``snapshot``), and
a file whose signature fails stops the start (SnapshotUntrusted) rather than being set aside.

A Redis that restarts quickly may never look unreachable, yet come back empty (or from an older
save). Reconciling therefore also stamps Redis with a random generation (``{prefix}generation``),
read in the same transaction as every refresh: when it is missing or another one, Redis lost what
it held, and the store reconciles again instead of adopting the emptied copy. Keys are never
deleted (revocation is final), so a key this process knows that Redis lacks is restored, not dropped.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from pydantic import BaseModel, ValidationError
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from ..config import CoordinatorSettings
from ..errors import StateWriteFailed
from . import metrics
from .records import KeyRecord, NodeRecord, merge_keys, newer_node
from .snapshot import (
    Snapshot,
    SnapshotError,
    SnapshotUntrusted,
    read_snapshot,
    set_aside,
    write_snapshot,
)

log = logging.getLogger(__name__)

R = TypeVar("R", bound=BaseModel)

# Compare-and-set on one hash field: ARGV = field, expected value ('' = absent), new value ('' = delete).
_CAS_LUA = """
local current = redis.call('HGET', KEYS[1], ARGV[1])
if (current == false and ARGV[2] == '') or current == ARGV[2] then
  if ARGV[3] == '' then
    redis.call('HDEL', KEYS[1], ARGV[1])
  else
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  end
  return 1
end
return 0
"""

# Delete node records last seen before ARGV[1] (epoch seconds); returns how many went.
_PRUNE_LUA = """
local removed = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local ok, record = pcall(cjson.decode, all[i + 1])
  if (not ok) or type(record) ~= 'table' or tonumber(record['seen_at']) == nil
     or tonumber(record['seen_at']) < tonumber(ARGV[1]) then
    redis.call('HDEL', KEYS[1], all[i])
    removed = removed + 1
  end
end
return removed
"""

SYNC_INTERVAL = 1.0  # seconds between refreshes from Redis, or reconnection attempts
HEALTH_CHECK_INTERVAL = 5  # seconds a pooled Redis connection may idle before it is checked on reuse


class StateStore:
    """Nodes and keys, with Redis as the primary store and the state file as the fallback."""

    def __init__(self, config: CoordinatorSettings, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.nodes: dict[str, NodeRecord] = {}
        self.keys: dict[str, KeyRecord] = {}  # by digest
        self.redis_available = False
        self.redis_losses = 0  # times Redis went from in use to lost
        self.snapshot_error: str | None = None
        self.mirror_error: str | None = None
        self.mirror_version = 0
        self.mirror_written_at: float | None = None
        # Nodes heard from by this process since Redis went away: only those expire while it is
        # away, since the others may be heartbeating to another replica we cannot hear about.
        self.heard_locally: set[str] = set()
        self._removed: dict[str, float] = {}  # node id -> when it deregistered while Redis was away
        self._generation: str | None = None  # Redis's generation stamp as of the last reconcile
        self._mirror_lock = asyncio.Lock()  # one write at a time: they share the temporary file
        self._prefix = config.redis_prefix
        self._redis: aioredis.Redis | None = None
        if config.redis_url:
            self._redis = aioredis.Redis.from_url(
                config.redis_url,
                decode_responses=True,
                socket_timeout=config.redis_timeout,
                socket_connect_timeout=config.redis_timeout,
                # A pooled connection that died with a restarted Redis fails its next call with a
                # ConnectionError: that call is made once more, at once, on a new connection, so a
                # restart costs no call (and no fall back to counting alone). A timeout is not
                # retried: a Redis that does not answer must cost one timeout, not several.
                retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
                # A connection idle this long is PINGed (and replaced if dead) before it is used.
                health_check_interval=HEALTH_CHECK_INTERVAL,
            )
            self._cas = self._redis.register_script(_CAS_LUA)
            self._prune = self._redis.register_script(_PRUNE_LUA)

    # ----- facts about the store -------------------------------------------------------------
    @property
    def mode(self) -> str:
        """ "redis" when Redis is configured (reachable or not), "file" when the state file is all."""
        return "redis" if self._redis is not None else "file"

    @property
    def redis(self) -> aioredis.Redis | None:
        """The Redis client while Redis is reachable, else None."""
        return self._redis if self.redis_available else None

    def register_script(self, source: str) -> AsyncScript | None:
        """A Lua script on the configured Redis (None on the file alone); calls raise RedisError."""
        return None if self._redis is None else self._redis.register_script(source)

    def redis_key(self, name: str) -> str:
        return self._prefix + name

    def mirror_age(self) -> float | None:
        """Seconds since the state file was last written by this process, or None before the first write."""
        return None if self.mirror_written_at is None else max(0.0, self.clock() - self.mirror_written_at)

    # ----- start, stop, background work -------------------------------------------------------
    async def start(self) -> None:
        """Load the snapshot, then reconcile with Redis if it answers.

        A damaged file is set aside and the store starts empty; a signed file that fails its
        signature (or cannot be checked) raises SnapshotUntrusted and is left where it is.
        """
        path, secret = self.config.state_file, self.config.state_secret
        if secret is None:
            log.warning(
                "coordinator.state_secret (UDN_STATE_SECRET) is not set: the state file %s is not "
                "signed, so an edit to it would be trusted",
                path,
            )
        try:
            snapshot = read_snapshot(path, secret)
        except SnapshotUntrusted:
            raise
        except SnapshotError as exc:
            self.snapshot_error = str(exc)
            moved = self._set_aside()
            log.error("%s; nothing in it is used; %s; starting with no nodes and no keys", exc, moved)
            snapshot = None
        if snapshot is not None and secret is not None and not snapshot.signed:
            log.warning("state file %s is not signed; it is used, and signed when next written", path)
        if snapshot is not None:
            self.mirror_version = snapshot.version
            self.nodes = dict(snapshot.nodes)
            self.keys = dict(snapshot.keys)
            if self._redis is None:
                # After a restart on the file alone, each known node gets one expiry period to
                # heartbeat again before it is dropped.
                now = self.clock()
                self.nodes = {i: n.model_copy(update={"seen_at": now}) for i, n in self.nodes.items()}
            log.info(
                "loaded state file %s (version %d): %d nodes, %d keys",
                self.config.state_file,
                snapshot.version,
                len(self.nodes),
                len(self.keys),
            )
        if self._redis is not None and not await self.reconnect():
            log.warning(
                "Redis at %s is unreachable; serving from the state file and retrying every %gs",
                self.config.redis_url,
                SYNC_INTERVAL,
            )

    def _set_aside(self) -> str:
        try:
            return f"it was moved to {set_aside(self.config.state_file)}"
        except OSError as exc:
            return f"it could not be moved aside ({exc.strerror or exc})"

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()

    async def run_sync(self) -> None:
        """Forever: refresh from Redis while it answers, or try to reconnect while it does not."""
        while True:
            await asyncio.sleep(SYNC_INTERVAL)
            if self._redis is None:
                continue
            if self.redis_available:
                await self.refresh()
            else:
                await self.reconnect()

    async def run_mirror(self) -> None:
        """Forever: write the state file every ``mirror_interval`` seconds."""
        while True:
            await asyncio.sleep(self.config.mirror_interval)
            await self.mirror()

    async def mirror(self) -> bool:
        """Write the state file now; returns False (and logs) when it cannot be written."""
        async with self._mirror_lock:
            try:
                await self._write_mirror(self.keys)
            except StateWriteFailed:
                return False
            return True

    async def _write_mirror(self, keys: dict[str, KeyRecord]) -> None:
        """Write the nodes and ``keys`` to the state file; raises StateWriteFailed (logged) if it fails."""
        snapshot = Snapshot(
            version=self.mirror_version + 1,
            written_at=self.clock(),
            nodes=dict(self.nodes),
            keys=dict(keys),
        )
        path = self.config.state_file
        try:
            await asyncio.to_thread(write_snapshot, path, snapshot, self.config.state_secret)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            self.mirror_error = f"cannot write state file {path}: {reason}" + (
                f" ({exc.filename})" if exc.filename and str(exc.filename) != str(path) else ""
            )
            log.error("%s", self.mirror_error)
            raise StateWriteFailed(self.mirror_error) from None
        self.mirror_version = snapshot.version
        self.mirror_written_at = snapshot.written_at
        self.mirror_error = None

    # ----- Redis availability -----------------------------------------------------------------
    async def _call(self, operation: Callable[[aioredis.Redis], Awaitable[Any]]) -> tuple[bool, Any]:
        """Run one Redis operation; (False, None) when Redis is away or fails, marking it unavailable."""
        client = self.redis
        if client is None:
            return False, None
        try:
            return True, await operation(client)
        except (RedisError, OSError) as exc:
            self.lost_redis(exc)
            return False, None

    def lost_redis(self, exc: BaseException) -> None:
        """Note that Redis failed; the store serves its own copy until ``reconnect`` succeeds."""
        if self.redis_available:
            self.redis_losses += 1
            metrics.REDIS_LOSSES.inc()
            log.warning(
                "lost Redis at %s (%s); continuing on this coordinator's copy", self.config.redis_url, exc
            )
        self.redis_available = False

    async def reconnect(self) -> bool:
        """Ping Redis and, if it answers, reconcile with it; True when Redis is in use again."""
        assert self._redis is not None
        try:
            await self._redis.ping()
            await self._reconcile(self._redis)
        except (RedisError, OSError) as exc:
            log.debug("Redis still unreachable: %s", exc)
            return False
        self.redis_available = True
        self.heard_locally.clear()
        log.info("Redis at %s is in use (state reconciled)", self.config.redis_url)
        return True

    async def _reconcile(self, client: aioredis.Redis) -> None:
        # Stamped first: a Redis that loses its data while this runs is caught by the pull below.
        generation_key = self.redis_key("generation")
        await client.set(generation_key, secrets.token_hex(8), nx=True)
        self._generation = _text(await client.get(generation_key) or "")
        nodes_key, keys_key = self.redis_key("nodes"), self.redis_key("keys")
        for node in list(self.nodes.values()):
            await self._merge_into(client, nodes_key, node.id, node, NodeRecord, newer_node)
        for node_id, removed_at in list(self._removed.items()):
            raw = await client.hget(nodes_key, node_id)
            remote = _parse(NodeRecord, raw)
            if raw is not None and (remote is None or remote.seen_at <= removed_at):
                await self._cas(keys=[nodes_key], args=[node_id, raw, ""])
            self._removed.pop(node_id, None)
        for key in list(self.keys.values()):
            await self._merge_into(client, keys_key, key.digest, key, KeyRecord, merge_keys)
        if not await self._pull(client):
            raise RedisError("Redis lost its data again while being reconciled")

    async def _merge_into(
        self,
        client: aioredis.Redis,
        hash_key: str,
        field: str,
        local: R,
        model: type[R],
        merge: Callable[[R, R], R],
    ) -> R:
        """Merge ``local`` with the Redis copy and store the winner, retrying if another writer races."""
        for _ in range(8):
            raw = await client.hget(hash_key, field)
            remote = _parse(model, raw)
            winner = local if remote is None else merge(local, remote)
            if winner is remote:
                return remote
            if await self._cas(keys=[hash_key], args=[field, raw or "", winner.model_dump_json()]):
                return winner
        raise RedisError(f"{hash_key}[{field}] kept changing while being merged")

    async def refresh(self) -> None:
        """Replace this process's copy with Redis's (keeping anything newer heard meanwhile), or
        reconcile again if Redis lost its data since the last reconcile."""
        await self._call(self._refresh)

    async def _refresh(self, client: aioredis.Redis) -> None:
        if not await self._pull(client):
            log.warning(
                "Redis at %s lost the coordinator's state (restarted or flushed); restoring it from "
                "this coordinator's copy",
                self.config.redis_url,
            )
            await self._reconcile(client)
            log.info("Redis at %s is in use (state restored)", self.config.redis_url)

    async def _pull(self, client: aioredis.Redis) -> bool:
        """Adopt Redis's copy; False (adopting nothing) when it is not the generation reconciled with."""
        started = self.clock()
        async with client.pipeline(transaction=True) as pipe:
            pipe.get(self.redis_key("generation"))
            pipe.hgetall(self.redis_key("nodes"))
            pipe.hgetall(self.redis_key("keys"))
            generation, raw_nodes, raw_keys = await pipe.execute()
        if generation is None or _text(generation) != self._generation:
            return False
        nodes: dict[str, NodeRecord] = {}
        for field, raw in raw_nodes.items():
            node_id = _text(field)
            record = _parse(NodeRecord, raw)
            if record is not None:
                local = self.nodes.get(node_id)
                nodes[node_id] = record if local is None else newer_node(record, local)
        for node_id, local in self.nodes.items():
            # Heard while the HGETALL was on its way: keep it, it is not a deletion.
            if node_id not in nodes and local.seen_at >= started:
                nodes[node_id] = local
        keys: dict[str, KeyRecord] = {}
        for field, raw in raw_keys.items():
            key = _parse(KeyRecord, raw)
            if key is not None:
                keys[_text(field)] = key
        self.nodes, self.keys = nodes, keys
        return True

    # ----- nodes ------------------------------------------------------------------------------
    async def put_node(self, record: NodeRecord) -> None:
        """Store a node's registration or heartbeat (the newest thing known about it)."""
        self.nodes[record.id] = record
        self._removed.pop(record.id, None)
        if not self.redis_available:
            self.heard_locally.add(record.id)
        await self._call(lambda c: c.hset(self.redis_key("nodes"), record.id, record.model_dump_json()))

    async def remove_node(self, node_id: str) -> bool:
        """Forget a node; True if it was known here."""
        known = self.nodes.pop(node_id, None) is not None
        self.heard_locally.discard(node_id)
        ok, removed = await self._call(lambda c: c.hdel(self.redis_key("nodes"), node_id))
        if not ok and self._redis is not None:
            self._removed[node_id] = self.clock()
        return known or bool(removed)

    async def prune_nodes(self, alive: Callable[[NodeRecord], bool], cutoff: float) -> list[str]:
        """Drop nodes ``alive`` rejects here, and in Redis those last seen before ``cutoff``."""
        gone = [n.id for n in self.nodes.values() if not alive(n)]
        for node_id in gone:
            del self.nodes[node_id]
            self.heard_locally.discard(node_id)
        await self._call(lambda c: self._prune(keys=[self.redis_key("nodes")], args=[cutoff]))
        return gone

    # ----- keys -------------------------------------------------------------------------------
    async def get_key(self, digest: str) -> KeyRecord | None:
        """The key with this digest: from Redis when it answers (so revocations apply at once)."""
        local = self.keys.get(digest)
        ok, raw = await self._call(lambda c: c.hget(self.redis_key("keys"), digest))
        if not ok:
            return local
        record = _parse(KeyRecord, raw)
        if local is not None and (record is None or merge_keys(local, record) is local):
            # Redis lacks this process's newer copy: it lost it (restarted empty, or from an older
            # save). Keys are never deleted, so restore it rather than forget it.
            ok, merged = await self._call(
                lambda c: self._merge_into(c, self.redis_key("keys"), digest, local, KeyRecord, merge_keys)
            )
            record = merged if ok else local
        if record is not None:
            self.keys[digest] = record
        return record

    async def put_key(self, record: KeyRecord) -> KeyRecord:
        """Store a new or changed key, merged with any other copy; returns the copy that won.

        The change is durable when this returns: in Redis, or else in the state file. Raises
        StateWriteFailed, with nothing changed here, when neither could take it.
        """
        current = self.keys.get(record.digest)
        winner = record if current is None else merge_keys(record, current)
        ok, merged = await self._call(
            lambda c: self._merge_into(
                c, self.redis_key("keys"), record.digest, winner, KeyRecord, merge_keys
            )
        )
        if ok:
            stored: KeyRecord = merged
            self.keys[stored.digest] = stored
            return stored
        # No Redis to hold it: the state file must, before the change is applied or answered.
        async with self._mirror_lock:
            try:
                await self._write_mirror({**self.keys, winner.digest: winner})
            except StateWriteFailed as exc:
                raise StateWriteFailed(f"the key change was not made: {exc}") from None
            self.keys[winner.digest] = winner
        if self.redis_available:  # Redis came back (and was reconciled) while the file was written
            await self._call(
                lambda c: self._merge_into(
                    c, self.redis_key("keys"), winner.digest, winner, KeyRecord, merge_keys
                )
            )
        return winner

    async def list_keys(self) -> list[KeyRecord]:
        """Every key, revoked ones included, oldest first (fresh from Redis when it answers)."""
        await self.refresh()
        return sorted(self.keys.values(), key=lambda k: k.created_at)


def _text(value: str | bytes) -> str:
    # The client decodes responses; the bytes case only satisfies redis-py's type hints.
    return value.decode() if isinstance(value, bytes) else value


def _parse(model: type[R], raw: str | bytes | None) -> R | None:
    if raw is None:
        return None
    try:
        return model.model_validate_json(raw)
    except ValidationError:
        log.warning("ignoring an invalid %s in Redis", model.__name__)
        return None
