"""API keys: created once (shown once), stored as SHA-256, checked on every request.

A key is ``pgk_`` and 43 URL-safe characters (256 random bits). Only its hash and first 12
characters are stored; ``postguard api-keys list`` shows those. Lookups are cached for
:data:`CACHE_TTL_S` seconds, so a revoked key stops working within that time on every replica.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from service.api.errors import ApiError
from service.storage.api_records import ApiKeyRecord

__all__ = ["ANONYMOUS", "Caller", "KeyRing", "hash_key", "new_key"]

KEY_PREFIX = "pgk_"
SHOWN_PREFIX_CHARS = 12
CACHE_TTL_S = 5.0
MAX_KEY_CHARS = 256


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the key's name (the author of its posts) and its rate limit."""

    name: str
    rate_limit_per_minute: int


ANONYMOUS = "anonymous"


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def shown_prefix(key: str) -> str:
    return key[:SHOWN_PREFIX_CHARS]


def _unauthorized(message: str, code: str) -> ApiError:
    return ApiError(401, message, code, headers={"WWW-Authenticate": 'Bearer realm="postguard"'})


class KeyRing:
    """Turns the key a request presents into a :class:`Caller`, or a 401."""

    def __init__(
        self,
        *,
        find: Callable[[str], Awaitable[ApiKeyRecord | None]],
        default_rate_per_minute: int,
        allow_anonymous: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._find = find
        self._default_rate = default_rate_per_minute
        self._allow_anonymous = allow_anonymous
        self._clock = clock
        self._cache: dict[str, tuple[float, ApiKeyRecord | None]] = {}

    async def caller(self, presented: str | None) -> Caller:
        if self._allow_anonymous and (presented is None or not presented.startswith(KEY_PREFIX)):
            # Trials: clients that insist on sending some key (the openai package does) get in too.
            return Caller(ANONYMOUS, self._default_rate)
        if presented is None:
            raise _unauthorized(
                "You didn't provide an API key. Send it as 'Authorization: Bearer <key>' "
                "(create one with `postguard api-keys create NAME`).",
                "missing_api_key",
            )
        if len(presented) > MAX_KEY_CHARS or not presented.startswith(KEY_PREFIX):
            raise _unauthorized("Incorrect API key provided.", "invalid_api_key")
        digest = hash_key(presented)
        record = await self._lookup(digest)
        if record is None:
            raise _unauthorized(
                f"Incorrect API key provided: {shown_prefix(presented)}...", "invalid_api_key"
            )
        if record.revoked_at is not None:
            raise _unauthorized(
                f"The API key {record.key_prefix}... ({record.name}) was revoked.", "revoked_api_key"
            )
        return Caller(record.name, record.rate_limit_per_minute or self._default_rate)

    async def _lookup(self, digest: str) -> ApiKeyRecord | None:
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and now - cached[0] < CACHE_TTL_S:
            return cached[1]
        record = await self._find(digest)
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (now, record)
        return record
