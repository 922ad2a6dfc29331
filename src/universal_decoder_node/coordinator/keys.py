"""API keys: creation, revocation, and checking the key a client presents.

A key is ``udn_`` followed by 43 random URL-safe characters (256 bits). Only its SHA-256 digest
is stored: a key this random cannot be guessed from its digest, and a fast hash keeps the check
cheap on every request (a slow password hash would protect nothing more here). How a client
presents its key, and how it is kept from the nodes, is ``client_key``'s business.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable

from ..errors import ApiKeyRequired, KeyRejected
from .records import KeyRecord
from .state import StateStore

KEY_PREFIX = "udn_"


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class KeyService:
    def __init__(self, store: StateStore, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    async def create(
        self, name: str, requests_per_minute: int | None = None, characters_per_minute: int | None = None
    ) -> tuple[str, KeyRecord]:
        """A new key and its record; the key is not stored and cannot be shown again."""
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        now = self.clock()
        record = KeyRecord(
            id="k_" + secrets.token_hex(6),
            name=name,
            digest=digest(key),
            prefix=key[: len(KEY_PREFIX) + 4],
            created_at=now,
            updated_at=now,
            requests_per_minute=requests_per_minute,
            characters_per_minute=characters_per_minute,
        )
        return key, await self.store.put_key(record)

    async def revoke(self, key_id: str) -> KeyRecord | None:
        """Revoke the key with this id (for good); None if there is no such key."""
        for record in await self.store.list_keys():
            if record.id == key_id:
                if record.revoked:
                    return record
                now = self.clock()
                return await self.store.put_key(
                    record.model_copy(update={"revoked_at": now, "updated_at": now})
                )
        return None

    async def list_all(self) -> list[KeyRecord]:
        return await self.store.list_keys()

    async def check(self, key: str | None, required: bool) -> KeyRecord | None:
        """The record of a valid presented key; None when none was sent and none is required.

        Raises ApiKeyRequired (a KeyRejected) when none was sent and one is required, KeyRejected
        when it is unknown or revoked.
        """
        if key is None:
            if required:
                raise ApiKeyRequired(
                    "an API key is required: send it as 'api_key' or as 'Authorization: Bearer <key>'"
                )
            return None
        record = await self.store.get_key(digest(key))
        if record is None:
            raise KeyRejected("API key is not valid")
        if record.revoked:
            raise KeyRejected("API key has been revoked")
        return record
