"""``postguard api`` and ``postguard api-keys create|list|revoke``.

Registered on the main parser by ``service.cli``. ``api`` needs ``POSTGUARD_DATABASE_URL`` (no
Kafka: a request never waits on the broker); ``api-keys`` touches only the database. A new key is
printed once, on stdout alone (the rest goes to stderr), so ``KEY=$(postguard api-keys create x)``
works.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from service.observability.log_safety import configure_logging
from service.settings import DatabaseSettings, load_settings

__all__ = ["COMMANDS", "add_commands", "run"]

COMMANDS = ("api", "api-keys")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def add_commands(commands: Any) -> None:
    api = commands.add_parser(
        "api",
        help="serve the synchronous moderation API (OpenAI /v1/moderations, Perspective comments:analyze)",
        description="Serve POST /v1/moderations and POST /v1alpha1/comments:analyze with the same model, "
        "policy and database as the consumer (docs/api.md). Needs POSTGUARD_DATABASE_URL, migrated.",
    )
    api.add_argument("--host", help="address to bind (default: POSTGUARD_API_HOST, 127.0.0.1)")
    api.add_argument("--port", type=int, help="port (default: POSTGUARD_API_PORT, 8000)")

    keys = commands.add_parser(
        "api-keys",
        help="create, list or revoke the API's bearer keys",
        description="Manage the moderation API's keys. Needs POSTGUARD_DATABASE_URL.",
    )
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", help="create a key and print it (once: only its hash is kept)")
    create.add_argument("name", metavar="NAME", help="who the key is for (1-64 characters, unique)")
    create.add_argument(
        "--rate-limit",
        type=int,
        metavar="N",
        help="requests per minute (default: POSTGUARD_API_RATE_LIMIT_PER_MINUTE)",
    )
    listing = actions.add_parser("list", help="list keys (name, prefix, limit, created, revoked)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    revoke = actions.add_parser("revoke", help="revoke a key (within 5 s on every replica)")
    revoke.add_argument("name", metavar="NAME")


def run(args: argparse.Namespace) -> int:
    settings = load_settings(DatabaseSettings)
    configure_logging(settings.log_level)
    if args.command == "api":
        from service.api.server import serve_api

        asyncio.run(
            serve_api(
                settings,
                host=args.host or settings.api_host,
                port=settings.api_port if args.port is None else args.port,
            )
        )
        return EXIT_OK
    if args.keys_command == "create":
        return _create(settings, args.name, args.rate_limit)
    if args.keys_command == "list":
        return _list(settings, as_json=args.json)
    return _revoke(settings, args.name)


def _with_sessions(settings: DatabaseSettings, work: Callable[[Any], Awaitable[T]]) -> T:
    from service.storage.database import create_engine_from_url, session_factory

    async def go() -> T:
        engine = create_engine_from_url(settings.database_url.get_secret_value())
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(go())


def _create(settings: DatabaseSettings, name: str, rate_limit: int | None) -> int:
    from service.api.keys import hash_key, new_key, shown_prefix
    from service.storage.api_records import create_api_key

    if not 1 <= len(name) <= 64:
        print("postguard api-keys create: NAME must have 1-64 characters", file=sys.stderr)
        return EXIT_USAGE
    if rate_limit is not None and rate_limit < 1:
        print("postguard api-keys create: --rate-limit must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    key = new_key()
    record = _with_sessions(
        settings,
        lambda sessions: create_api_key(
            sessions=sessions,
            name=name,
            key_prefix=shown_prefix(key),
            key_sha256=hash_key(key),
            rate_limit_per_minute=rate_limit,
        ),
    )
    if record is None:
        print(
            f"postguard api-keys create: a key named {name!r} exists already (revoked keys keep their names)",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    limit = record.rate_limit_per_minute or settings.api_rate_limit_per_minute
    print(
        f"created API key {name!r} ({limit} requests/minute); it is shown once, store it now:",
        file=sys.stderr,
    )
    print(key)
    return EXIT_OK


def _list(settings: DatabaseSettings, *, as_json: bool) -> int:
    from service.storage.api_records import list_api_keys

    records = _with_sessions(settings, lambda sessions: list_api_keys(sessions=sessions))
    for r in records:
        row = {
            "name": r.name,
            "prefix": r.key_prefix,
            "rate_limit_per_minute": r.rate_limit_per_minute or settings.api_rate_limit_per_minute,
            "created_at": r.created_at.isoformat(),
            "revoked_at": r.revoked_at.isoformat() if r.revoked_at else None,
        }
        if as_json:
            print(json.dumps(row))
        else:
            state = f"revoked {row['revoked_at']}" if r.revoked_at else "active"
            print(
                f"{r.name:<24} {r.key_prefix}...  {row['rate_limit_per_minute']:>6}/min  created {row['created_at']}  {state}"
            )
    if not records and not as_json:
        print("no API keys yet: postguard api-keys create NAME", file=sys.stderr)
    return EXIT_OK


def _revoke(settings: DatabaseSettings, name: str) -> int:
    from service.storage.api_records import revoke_api_key

    record = _with_sessions(settings, lambda sessions: revoke_api_key(sessions=sessions, name=name))
    if record is None:
        print(f"postguard api-keys revoke: no key named {name!r}", file=sys.stderr)
        return EXIT_FAILURE
    print(f"revoked API key {name!r} ({record.key_prefix}...)", file=sys.stderr)
    return EXIT_OK
