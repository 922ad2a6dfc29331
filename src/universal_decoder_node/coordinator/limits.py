"""Per-key limits on requests and characters per minute, shared by every coordinator replica.

The count is a sliding window approximated from two fixed one-minute windows (the current one,
plus the previous one weighted by how much of it still lies within the last minute), which avoids
the double burst a fixed window allows at its edge. In Redis, one Lua script reads, decides and
increments atomically, with Redis's own clock, so replicas share one exact count. While Redis is
unreachable (or not configured) each coordinator counts on its own.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from ..config import CoordinatorSettings
from . import metrics
from .records import KeyRecord
from .state import StateStore

WINDOW = 60.0  # seconds

# KEYS[1]: the key's counter hash. ARGV: window, request limit, character limit (0 = none), characters.
# Returns {allowed (0/1), which limit refused (1 requests, 2 characters), seconds to wait}.
_ADMIT_LUA = """
local window = tonumber(ARGV[1])
local rlim, clim, chars = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cur = math.floor(now / window)
local weight = 1 - (now - cur * window) / window
local v = redis.call('HMGET', KEYS[1], 'r' .. cur, 'c' .. cur, 'r' .. (cur - 1), 'c' .. (cur - 1))
local requests = (tonumber(v[3]) or 0) * weight + (tonumber(v[1]) or 0)
local characters = (tonumber(v[4]) or 0) * weight + (tonumber(v[2]) or 0)
local wait = math.ceil((cur + 1) * window - now)
if rlim > 0 and requests + 1 > rlim then return {0, 1, wait} end
if clim > 0 and characters + chars > clim then return {0, 2, wait} end
if redis.call('HINCRBY', KEYS[1], 'r' .. cur, 1) == 1 then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    local n = tonumber(string.sub(f, 2))
    if n and n < cur - 1 then redis.call('HDEL', KEYS[1], f) end
  end
end
redis.call('HINCRBY', KEYS[1], 'c' .. cur, chars)
redis.call('EXPIRE', KEYS[1], math.ceil(window * 2))
return {1, 0, 0}
"""

_LIMIT_NAMES = {1: "requests", 2: "characters"}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: str | None = None  # "requests" or "characters" when refused
    retry_after: int = 0  # seconds


class RateLimiter:
    def __init__(
        self, store: StateStore, config: CoordinatorSettings, clock: Callable[[], float] = time.time
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self._local: dict[str, dict[int, list[float]]] = {}  # key id -> window -> [requests, characters]
        self._script = store.register_script(_ADMIT_LUA)

    def limits_for(self, key: KeyRecord) -> tuple[int, int]:
        """(requests, characters) per minute for ``key``; 0 means unlimited."""
        rpm = (
            key.requests_per_minute
            if key.requests_per_minute is not None
            else self.config.requests_per_minute
        )
        cpm = (
            key.characters_per_minute
            if key.characters_per_minute is not None
            else self.config.characters_per_minute
        )
        return rpm, cpm

    async def admit(self, key: KeyRecord, characters: int) -> Decision:
        """Count one request of ``characters`` against ``key``'s limits, or refuse it (counting nothing)."""
        rpm, cpm = self.limits_for(key)
        if rpm == 0 and cpm == 0:
            return Decision(True)
        if self._script is not None and self.store.redis_available:
            try:
                allowed, which, wait = await self._script(
                    keys=[self.store.redis_key(f"limits:{key.id}")], args=[WINDOW, rpm, cpm, characters]
                )
            except (RedisError, OSError) as exc:
                self.store.lost_redis(exc)
            else:
                return self._decided(bool(allowed), _LIMIT_NAMES.get(int(which)), int(wait))
        return self._admit_locally(key.id, rpm, cpm, characters)

    def _admit_locally(self, key_id: str, rpm: int, cpm: int, characters: int) -> Decision:
        now = self.clock()
        cur = math.floor(now / WINDOW)
        weight = 1 - (now - cur * WINDOW) / WINDOW
        windows = self._local.setdefault(key_id, {})
        for old in [w for w in windows if w < cur - 1]:
            del windows[old]
        current = windows.setdefault(cur, [0.0, 0.0])
        previous = windows.get(cur - 1, [0.0, 0.0])
        wait = math.ceil((cur + 1) * WINDOW - now)
        if rpm and previous[0] * weight + current[0] + 1 > rpm:
            return self._decided(False, "requests", wait)
        if cpm and previous[1] * weight + current[1] + characters > cpm:
            return self._decided(False, "characters", wait)
        current[0] += 1
        current[1] += characters
        return Decision(True)

    @staticmethod
    def _decided(allowed: bool, limit: str | None, wait: int) -> Decision:
        if allowed:
            return Decision(True)
        metrics.RATE_LIMITED.labels(limit or "unknown").inc()
        return Decision(False, limit, max(1, wait))
