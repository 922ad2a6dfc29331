"""Per-key limits on requests and characters per minute, shared by every coordinator replica.

The count is a sliding window approximated from two fixed windows (the current one, plus the
previous one weighted by how much of it still lies within the last window), which avoids the
double burst a fixed window allows at its edge. Only admitted requests are counted: a refused
one changes nothing, so retrying early costs a client nothing. A refusal says how long to wait:
the exact time at which the weighted count leaves room for the request (rounded up to a whole
second), so a request sent then passes unless other admitted requests took the room first.

In Redis, one Lua script reads, decides and increments atomically, with Redis's own clock, so
replicas share one exact count. While Redis is unreachable (or not configured) each coordinator
counts on its own, in memory, where the event loop makes each decision atomic.
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

WINDOW = 60.0  # seconds: the limits are per minute

# Seconds until ``need`` more fits under ``limit``, given the previous and current windows' counts
# and how far (``into`` seconds) the current window has run; 0 when it fits now. The weighted count
# only falls as time passes (without admissions), so the first moment it fits is found in closed form:
# within this window if the current count alone leaves room, else in the next one, whose previous
# window is this one.
_WAIT_LUA = """
local function wait_for(window, limit, need, prev, curr, into)
  if limit <= 0 then return 0 end
  if prev * (1 - into / window) + curr + need <= limit then return 0 end
  if need > limit then return 2 * window end
  if curr + need <= limit then return window * (1 - (limit - curr - need) / prev) - into end
  return window - into + window * (1 - (limit - need) / curr)
end
"""

# KEYS[1]: the key's counter hash. ARGV: window, request limit, character limit (0 = none), characters.
# Returns {allowed (0/1), which limit refused (1 requests, 2 characters), seconds to wait (a string)}.
_ADMIT_LUA = (
    _WAIT_LUA
    + """
local window = tonumber(ARGV[1])
local rlim, clim, chars = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cur = math.floor(now / window)
local into = now - cur * window
local v = redis.call('HMGET', KEYS[1], 'r' .. cur, 'c' .. cur, 'r' .. (cur - 1), 'c' .. (cur - 1))
local rwait = wait_for(window, rlim, 1, tonumber(v[3]) or 0, tonumber(v[1]) or 0, into)
local cwait = wait_for(window, clim, chars, tonumber(v[4]) or 0, tonumber(v[2]) or 0, into)
if rwait > 0 or cwait > 0 then
  return {0, rwait >= cwait and 1 or 2, tostring(math.max(rwait, cwait))}
end
if redis.call('HINCRBY', KEYS[1], 'r' .. cur, 1) == 1 then
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    local n = tonumber(string.sub(f, 2))
    if n and n < cur - 1 then redis.call('HDEL', KEYS[1], f) end
  end
end
redis.call('HINCRBY', KEYS[1], 'c' .. cur, chars)
redis.call('EXPIRE', KEYS[1], math.ceil(window * 2))
return {1, 0, '0'}
"""
)

# KEYS[1]: the key's counter hash; ARGV[1]: window. Returns the weighted {requests, characters} now.
_USAGE_LUA = """
local window = tonumber(ARGV[1])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local cur = math.floor(now / window)
local weight = 1 - (now - cur * window) / window
local v = redis.call('HMGET', KEYS[1], 'r' .. cur, 'c' .. cur, 'r' .. (cur - 1), 'c' .. (cur - 1))
return {tostring((tonumber(v[3]) or 0) * weight + (tonumber(v[1]) or 0)),
        tostring((tonumber(v[4]) or 0) * weight + (tonumber(v[2]) or 0))}
"""

_LIMIT_NAMES = {1: "requests", 2: "characters"}


def wait_for(window: float, limit: int, need: int, previous: float, current: float, into: float) -> float:
    """The local twin of the Lua ``wait_for`` above: seconds until ``need`` fits under ``limit``."""
    if limit <= 0 or previous * (1 - into / window) + current + need <= limit:
        return 0.0
    if need > limit:
        return 2 * window
    if current + need <= limit:
        return window * (1 - (limit - current - need) / previous) - into
    return window - into + window * (1 - (limit - need) / current)


def whole_seconds(wait: float) -> int:
    """``wait`` rounded up to the whole second a client can wait (at least 1).

    The millisecond added first keeps a float rounding at the exact moment from landing one
    microsecond too early.
    """
    return max(1, math.ceil(wait + 0.001))


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    limit: str | None = None  # "requests" or "characters" when refused
    retry_after: int = 0  # seconds after which the same request passes, when refused


@dataclass(frozen=True, slots=True)
class Usage:
    """A key's weighted counts over the last window, as its limits see them."""

    requests: float
    characters: float


class RateLimiter:
    """Admits requests under each key's limits; ``window`` (seconds) is a minute except in tests."""

    def __init__(
        self,
        store: StateStore,
        config: CoordinatorSettings,
        clock: Callable[[], float] = time.time,
        window: float = WINDOW,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.window = window
        self._local: dict[str, dict[int, list[float]]] = {}  # key id -> window -> [requests, characters]
        self._script = store.register_script(_ADMIT_LUA)
        self._usage_script = store.register_script(_USAGE_LUA)

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
                    keys=[self._redis_key(key)], args=[self.window, rpm, cpm, characters]
                )
            except (RedisError, OSError) as exc:
                self.store.lost_redis(exc)
            else:
                return self._decided(bool(allowed), _LIMIT_NAMES.get(int(which)), float(wait))
        return self._admit_locally(key.id, rpm, cpm, characters)

    async def usage(self, key: KeyRecord) -> Usage:
        """What ``key`` has used of its limits now (from Redis when it answers, else this process's count)."""
        if self._usage_script is not None and self.store.redis_available:
            try:
                counts = await self._usage_script(keys=[self._redis_key(key)], args=[self.window])
            except (RedisError, OSError) as exc:
                self.store.lost_redis(exc)
            else:
                return Usage(float(counts[0]), float(counts[1]))
        cur, into = self._now()
        windows = self._local.get(key.id, {})
        current = windows.get(cur, [0.0, 0.0])
        previous = windows.get(cur - 1, [0.0, 0.0])
        weight = 1 - into / self.window
        return Usage(previous[0] * weight + current[0], previous[1] * weight + current[1])

    def _redis_key(self, key: KeyRecord) -> str:
        return self.store.redis_key(f"limits:{key.id}")

    def _now(self) -> tuple[int, float]:
        """The current window's number and how many seconds into it we are."""
        now = self.clock()
        cur = math.floor(now / self.window)
        return cur, now - cur * self.window

    def _admit_locally(self, key_id: str, rpm: int, cpm: int, characters: int) -> Decision:
        cur, into = self._now()
        windows = self._local.setdefault(key_id, {})
        for old in [w for w in windows if w < cur - 1]:
            del windows[old]
        current = windows.setdefault(cur, [0.0, 0.0])
        previous = windows.get(cur - 1, [0.0, 0.0])
        rwait = wait_for(self.window, rpm, 1, previous[0], current[0], into)
        cwait = wait_for(self.window, cpm, characters, previous[1], current[1], into)
        if rwait > 0 or cwait > 0:
            return self._decided(False, "requests" if rwait >= cwait else "characters", max(rwait, cwait))
        current[0] += 1
        current[1] += characters
        return Decision(True)

    @staticmethod
    def _decided(allowed: bool, limit: str | None, wait: float) -> Decision:
        if allowed:
            return Decision(True)
        metrics.RATE_LIMITED.labels(limit or "unknown").inc()
        return Decision(False, limit, whole_seconds(wait))
