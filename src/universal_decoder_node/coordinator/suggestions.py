"""Where a coordinator keeps suggestions (``POST /suggest``): a Redis list shared by every replica.

When Redis is not configured, or does not answer, a suggestion goes to the coordinator's SQLite
file (``coordinator.suggestions_db``) instead, so none is lost; an export reads both.
"""

from __future__ import annotations

import json
import logging

from redis.exceptions import RedisError

from ..protocol.suggestions import Suggestion, SuggestionFile
from .state import StateStore

log = logging.getLogger(__name__)


class SuggestionBox:
    """Suggestions in Redis (``{prefix}suggestions``), else in the local SQLite file."""

    def __init__(self, store: StateStore, file: SuggestionFile) -> None:
        self.store = store
        self.file = file
        self.key = store.redis_key("suggestions")

    async def add(self, suggestion: Suggestion) -> None:
        """Keep ``suggestion``; raises StateWriteFailed when neither Redis nor the file takes it."""
        redis = self.store.redis
        if redis is not None:
            try:
                await redis.rpush(self.key, json.dumps(suggestion.as_json(), ensure_ascii=False))
                return
            except (RedisError, OSError) as exc:
                self.store.lost_redis(exc)
                log.warning("suggestion kept in %s: Redis did not take it (%s)", self.file.path, exc)
        await self.file.add(suggestion)

    async def all(self) -> list[Suggestion]:
        """Every suggestion kept, from Redis (when it answers) then from the file, each oldest first."""
        found: list[Suggestion] = []
        redis = self.store.redis
        if redis is not None:
            try:
                rows = await redis.lrange(self.key, 0, -1)
            except (RedisError, OSError) as exc:
                self.store.lost_redis(exc)
            else:
                found.extend(Suggestion(**json.loads(row)) for row in rows)
        return found + await self.file.all()
