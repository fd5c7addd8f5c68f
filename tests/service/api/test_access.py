"""Keys, rate limits and anonymous access, without a server."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.api.errors import ApiError
from service.api.keys import KeyRing, hash_key, new_key, shown_prefix
from service.api.rate_limit import RateLimiter, retry_after_header
from service.api.server import check_anonymous_host
from service.errors import ConfigError
from service.settings import DatabaseSettings, load_settings
from service.storage.api_records import ApiKeyRecord


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_limit_then_refills() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    assert [limiter.take("k", 2) for _ in range(2)] == [0.0, 0.0]
    wait = limiter.take("k", 2)
    assert wait == pytest.approx(30.0) and retry_after_header(wait) == "30"
    assert limiter.take("other", 2) == 0.0  # per key
    clock.now += 30.0
    assert limiter.take("k", 2) == 0.0
    assert limiter.take("k", 2) > 0


def _record(name: str, *, revoked: bool = False, limit: int | None = None) -> ApiKeyRecord:
    return ApiKeyRecord(
        1, name, "pgk_abcdefgh", limit, datetime.now(UTC), datetime.now(UTC) if revoked else None
    )


async def test_keys_are_looked_up_by_hash_and_cached() -> None:
    key = new_key()
    assert key.startswith("pgk_") and len(key) == 47 and shown_prefix(key) == key[:12]
    lookups: list[str] = []
    clock = Clock()

    async def find(digest: str) -> ApiKeyRecord | None:
        lookups.append(digest)
        return _record("team-a", limit=7) if digest == hash_key(key) else None

    ring = KeyRing(find=find, default_rate_per_minute=60, allow_anonymous=False, clock=clock)
    caller = await ring.caller(key)
    assert (caller.name, caller.rate_limit_per_minute) == ("team-a", 7)
    await ring.caller(key)
    assert lookups == [hash_key(key)]  # cached
    clock.now += 10
    await ring.caller(key)
    assert len(lookups) == 2  # the cache expires: a revocation takes effect


@pytest.mark.parametrize(
    ("presented", "code"),
    [
        (None, "missing_api_key"),
        ("sk-not-ours", "invalid_api_key"),
        ("pgk_unknown", "invalid_api_key"),
        ("pgk_revoked", "revoked_api_key"),
    ],
)
async def test_refusals_are_401_with_a_reason(presented: str | None, code: str) -> None:
    async def find(digest: str) -> ApiKeyRecord | None:
        return _record("old", revoked=True) if digest == hash_key("pgk_revoked") else None

    ring = KeyRing(find=find, default_rate_per_minute=60, allow_anonymous=False)
    with pytest.raises(ApiError) as caught:
        await ring.caller(presented)
    assert caught.value.status == 401 and caught.value.code == code
    assert "Bearer" in caught.value.headers["WWW-Authenticate"]


async def test_anonymous_callers_share_the_default_limit() -> None:
    async def find(digest: str) -> ApiKeyRecord | None:
        return None

    ring = KeyRing(find=find, default_rate_per_minute=9, allow_anonymous=True)
    caller = await ring.caller(None)
    assert (caller.name, caller.rate_limit_per_minute) == ("anonymous", 9)
    assert (await ring.caller("sk-whatever-the-client-sends")).name == "anonymous"
    with pytest.raises(ApiError):  # a postguard key must still be a valid one
        await ring.caller("pgk_unknown")


def test_anonymous_access_is_refused_off_loopback() -> None:
    settings = load_settings(DatabaseSettings, database_url="postgresql://u@h/d", api_allow_anonymous=True)
    check_anonymous_host(settings, "127.0.0.1")
    check_anonymous_host(settings, "::1")
    check_anonymous_host(settings, "localhost")
    with pytest.raises(ConfigError, match="POSTGUARD_API_ALLOW_ANONYMOUS"):
        check_anonymous_host(settings, "0.0.0.0")
