"""Moderator accounts: scrypt password hashes, creation, authentication, lookup.

Passwords are hashed with scrypt (``hashlib.scrypt``, RFC 7914) and a random 16-byte salt per
user; the stored form carries its parameters (``scrypt$N$r$p$salt$hash``, base64), so they can be
raised without invalidating existing hashes: a hash with weaker parameters than today's is
replaced at the next successful login. Comparison is constant-time, and an unknown user name
costs one full hash too. Hashing is CPU- and memory-heavy on purpose, so :class:`PasswordHashing`
bounds how many run at once (an unauthenticated flood of logins would otherwise take the
machine); the review page adds throttling and a response-time floor (service/review/web.py).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from service.errors import ModeratorRejected, ReviewConflict, ReviewNotFound
from service.review.audit import add_audit
from service.storage.tables import MODERATOR_ROLES, ModeratorRow

__all__ = [
    "MIN_PASSWORD_CHARS",
    "Moderator",
    "add_moderator",
    "authenticate",
    "get_active_moderator",
    "HashingBusy",
    "PasswordHashing",
    "hash_password",
    "needs_rehash",
    "revoke_sessions",
    "list_moderators",
    "set_disabled",
    "verify_password",
]

#: scrypt cost: OWASP's recommendation today (N = 2**17, r = 8, p = 1): 128 MiB and ~0.3-0.6 s
#: per hash on one core, which makes offline guessing slow. Logins pay it once.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**17, 8, 1
#: Hashes computed at once (each holds 128 MiB); more logins wait, and a long queue is refused.
HASHING_CONCURRENCY = 2
HASHING_QUEUE = 16
_SALT_BYTES, _KEY_BYTES = 16, 32
MIN_PASSWORD_CHARS = 12
T = TypeVar("T")
MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True)
class Moderator:
    """A moderator account as the workflow sees it (never the hash)."""

    username: str
    role: str
    disabled: bool
    #: Sessions issued with another version are revoked (logout and disabling add one).
    session_version: int = 0

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @classmethod
    def from_row(cls, row: ModeratorRow) -> Moderator:
        return cls(
            username=row.username, role=row.role, disabled=row.disabled, session_version=row.session_version
        )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    # maxmem: OpenSSL's default limit (32 MiB) is just above 128*N*r; leave room for raised params.
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=_KEY_BYTES, maxmem=256 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    """The stored form of ``password``: ``scrypt$N$r$p$<salt>$<key>`` with a fresh random salt."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(key)}"


def needs_rehash(stored: str) -> bool:
    """True when ``stored`` was hashed with weaker parameters than today's (or is malformed)."""
    try:
        scheme, n, r, p, _salt, _key = stored.split("$")
        return scheme != "scrypt" or (int(n), int(r), int(p)) < (SCRYPT_N, SCRYPT_R, SCRYPT_P)
    except ValueError:
        return True


class HashingBusy(Exception):
    """Too many password hashes are waiting: the login is refused, not queued."""


class PasswordHashing:
    """Runs password hashes on worker threads, at most ``concurrency`` at once and at most
    ``queue`` waiting (then :class:`HashingBusy`): an unauthenticated login flood costs bounded
    CPU and memory. One per event loop (the review page makes its own)."""

    def __init__(self, concurrency: int = HASHING_CONCURRENCY, queue: int = HASHING_QUEUE) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._queue = queue
        self._waiting = 0

    async def run(self, function: Callable[..., T], *args: object) -> T:
        if self._waiting >= self._queue:
            raise HashingBusy(f"{self._waiting} logins are already waiting for a password check")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await asyncio.to_thread(function, *args)
        finally:
            self._slots.release()


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches ``stored`` (constant-time comparison; False for a malformed hash)."""
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key, validate=True)
        actual = _scrypt(password, base64.b64decode(salt, validate=True), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Verified against when the user name is unknown, so both paths cost one hash.
_DUMMY_HASH = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(bytes(_SALT_BYTES))}${_b64(bytes(_KEY_BYTES))}"


def check_new_password(password: str) -> None:
    """Raise ``ModeratorRejected`` for a password too short or too long to accept."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ModeratorRejected(f"the password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password) > MAX_PASSWORD_CHARS:
        raise ModeratorRejected(f"the password must have at most {MAX_PASSWORD_CHARS} characters")


def _check_username(username: str) -> None:
    if not 1 <= len(username) <= 64 or not all(ch.isalnum() or ch in "._-@" for ch in username):
        raise ModeratorRejected(
            f"user name {username!r} must have 1-64 letters, digits or . _ - @ (no spaces)"
        )
    if username in ("system", "platform"):
        raise ModeratorRejected(f"user name {username!r} is reserved for the audit log")


async def add_moderator(
    *,
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    role: str = "moderator",
    actor: str = "system",
) -> Moderator:
    """Create a moderator account (audited); ``ReviewConflict`` when the name is taken."""
    _check_username(username)
    if role not in MODERATOR_ROLES:
        raise ModeratorRejected(f"role {role!r} is not one of {MODERATOR_ROLES}")
    check_new_password(password)
    password_hash = await asyncio.to_thread(hash_password, password)
    async with sessions() as session, session.begin():
        taken = await session.scalar(select(ModeratorRow.id).where(ModeratorRow.username == username))
        if taken is not None:
            raise ReviewConflict(f"moderator {username!r} already exists")
        session.add(ModeratorRow(username=username, role=role, password_hash=password_hash))
        add_audit(
            session,
            actor=actor,
            action="moderator_added",
            entity_type="moderator",
            entity_id=username,
            after={"role": role, "disabled": False},
        )
    return Moderator(username=username, role=role, disabled=False)


async def set_disabled(
    *, sessions: async_sessionmaker[AsyncSession], username: str, disabled: bool, actor: str = "system"
) -> None:
    """Disable (or re-enable) an account; disabled moderators can neither log in nor act."""
    async with sessions() as session, session.begin():
        before = await session.scalar(
            select(ModeratorRow.disabled).where(ModeratorRow.username == username).with_for_update()
        )
        if before is None:
            raise ReviewNotFound(f"no moderator named {username!r}")
        await session.execute(
            update(ModeratorRow)
            .where(ModeratorRow.username == username)
            # Disabling revokes every session; so does enabling again (no old cookie comes back).
            .values(disabled=disabled, session_version=ModeratorRow.session_version + 1)
        )
        add_audit(
            session,
            actor=actor,
            action="moderator_disabled" if disabled else "moderator_enabled",
            entity_type="moderator",
            entity_id=username,
            before={"disabled": before},
            after={"disabled": disabled},
        )


async def list_moderators(*, sessions: async_sessionmaker[AsyncSession]) -> list[Moderator]:
    async with sessions() as session:
        rows = await session.scalars(select(ModeratorRow).order_by(ModeratorRow.username))
        return [Moderator.from_row(r) for r in rows]


async def get_active_moderator(*, session: AsyncSession, username: str) -> Moderator:
    """The enabled moderator ``username`` (inside the caller's transaction), or ``ModeratorRejected``."""
    row = await session.scalar(select(ModeratorRow).where(ModeratorRow.username == username))
    if row is None:
        raise ReviewNotFound(f"no moderator named {username!r} (create one with `postguard moderators add`)")
    if row.disabled:
        raise ModeratorRejected(f"moderator {username!r} is disabled")
    return Moderator.from_row(row)


async def revoke_sessions(*, sessions: async_sessionmaker[AsyncSession], username: str) -> None:
    """Log ``username`` out everywhere: every session cookie issued so far stops working (audited)."""
    async with sessions() as session, session.begin():
        await session.execute(
            update(ModeratorRow)
            .where(ModeratorRow.username == username)
            .values(session_version=ModeratorRow.session_version + 1)
        )
        add_audit(session, actor=username, action="logout", entity_type="moderator", entity_id=username)


async def authenticate(
    *,
    sessions: async_sessionmaker[AsyncSession],
    username: str,
    password: str,
    hashing: PasswordHashing | None = None,
) -> Moderator | None:
    """The moderator when the name and password match an enabled account, else None (audited).

    The hash is computed in a worker thread (through ``hashing``, which bounds how many run at
    once; it may raise :class:`HashingBusy`): scrypt would stall every other request. A hash
    with weaker parameters than today's is replaced after a successful check.
    """
    if len(password) > MAX_PASSWORD_CHARS or len(username) > 64:
        return None
    hashing = hashing or PasswordHashing()
    async with sessions() as session:
        row = await session.scalar(select(ModeratorRow).where(ModeratorRow.username == username))
    stored = row.password_hash if row is not None else _DUMMY_HASH
    ok = await hashing.run(verify_password, password, stored)
    if row is None:
        # Unknown names are attacker input: not audited (the audit log would become a spam sink).
        return None
    async with sessions() as session, session.begin():
        if not ok or row.disabled:
            add_audit(
                session,
                actor=username,
                action="login_failed",
                entity_type="moderator",
                entity_id=username,
                after={"reason": "disabled" if ok else "wrong password"},
            )
            return None
        values: dict[str, object] = {"last_login_at": func.now()}
        if needs_rehash(row.password_hash):
            values["password_hash"] = await hashing.run(hash_password, password)
        await session.execute(update(ModeratorRow).where(ModeratorRow.id == row.id).values(**values))
        add_audit(
            session,
            actor=username,
            action="login",
            entity_type="moderator",
            entity_id=username,
            after={"password_rehashed": True} if "password_hash" in values else None,
        )
        return Moderator.from_row(row)
