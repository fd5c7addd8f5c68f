"""``postguard review ...``, ``postguard moderators ...`` and ``postguard export-labels``.

Registered on the main parser by ``service.cli``; everything heavy is imported when a command
runs. Commands that only touch PostgreSQL need ``POSTGUARD_DATABASE_URL`` alone; ``review serve``
and ``review publish`` also need ``POSTGUARD_KAFKA_BOOTSTRAP`` (verdict events).
Passwords are never taken from the command line: they are read from stdin or a prompt.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from service.observability.log_safety import configure_logging
from service.settings import DatabaseSettings, load_settings

if TYPE_CHECKING:  # the CLI starts without importing SQLAlchemy
    from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

__all__ = ["COMMANDS", "add_commands", "run"]

logger = logging.getLogger("postguard")

COMMANDS = ("review", "moderators", "export-labels")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2
T = TypeVar("T")


def add_commands(commands: Any) -> None:
    """Add the review commands to the main parser's subparsers."""
    review = commands.add_parser(
        "review",
        help="the moderators' review queue: list, claim, resolve, skip, appeal, serve the review page",
        description="Work the review queue from scripts, or serve the review page. Needs POSTGUARD_DATABASE_URL.",
    )
    actions = review.add_subparsers(dest="review_command", required=True, metavar="ACTION")

    listing = actions.add_parser("list", help="list review items in queue order")
    listing.add_argument("--status", choices=("open", "claimed", "resolved", "appealed"))
    listing.add_argument("--limit", type=int, default=50, help="at most N items (default: 50)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")

    claim = actions.add_parser("claim", help="claim the next item for a moderator and print it")
    claim.add_argument("--moderator", required=True)
    claim.add_argument(
        "--ttl", type=float, help="claim duration in seconds (default: POSTGUARD_REVIEW_CLAIM_TTL_S)"
    )
    claim.add_argument("--json", action="store_true", help="print the item as JSON")

    resolve = actions.add_parser("resolve", help="record a verdict on an item the moderator claimed")
    resolve.add_argument("item", type=int, metavar="ITEM_ID")
    resolve.add_argument("--moderator", required=True)
    resolve.add_argument("--action", required=True, choices=("allow", "block"))
    resolve.add_argument(
        "--labels",
        default="",
        metavar="CAT[,CAT...]",
        help="the categories the post is (label 1); the item's other categories get 0",
    )
    resolve.add_argument("--note", help="a note for the record (not published)")

    skip = actions.add_parser("skip", help="give a claim back (review later)")
    skip.add_argument("item", type=int, metavar="ITEM_ID")
    skip.add_argument("--moderator", required=True)

    appeal = actions.add_parser("appeal", help="re-open a post's review for a different moderator")
    appeal.add_argument("post_id", metavar="POST_ID")
    appeal.add_argument("--reason", required=True)
    appeal.add_argument(
        "--actor", default="platform", help="who files it, for the audit log (default: platform)"
    )

    actions.add_parser("publish", help="publish pending verdict events from the outbox now, then exit")
    outbox = actions.add_parser(
        "outbox",
        help="show the outbox (pending and parked verdict events); --requeue parked ones",
        description="Count pending verdict events and list parked ones (refused by the broker again "
        "and again while others went through). --requeue puts the parked ones back for the relay, "
        "once the cause is fixed.",
    )
    outbox.add_argument("--requeue", action="store_true", help="re-queue every parked event (attempts reset)")

    serve = actions.add_parser(
        "serve",
        help="serve the review page (needs POSTGUARD_REVIEW_SECRET)",
        description="Serve the review page until SIGTERM/SIGINT, publishing verdict events as they are made.",
    )
    serve.add_argument("--host", help="address to bind (default: POSTGUARD_REVIEW_HOST, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: POSTGUARD_REVIEW_PORT, 8080)")

    moderators = commands.add_parser(
        "moderators",
        help="manage moderator accounts",
        description="Add, list, disable or enable moderator accounts. Needs POSTGUARD_DATABASE_URL.",
    )
    accounts = moderators.add_subparsers(dest="moderators_command", required=True, metavar="ACTION")
    add = accounts.add_parser(
        "add",
        help="add an account; the password is read from stdin (or prompted for on a terminal)",
    )
    add.add_argument("username", metavar="USERNAME")
    add.add_argument("--role", choices=("moderator", "admin"), default="moderator")
    accounts.add_parser("list", help="list the accounts")
    for name in ("disable", "enable"):
        accounts.add_parser(name, help=f"{name} an account").add_argument("username", metavar="USERNAME")

    export = commands.add_parser(
        "export-labels",
        help="moderators' verdicts as labelled JSONL for fine-tuning (models/userdata.py format)",
        description="Write the latest verdict of every review item as one JSON line in the format of "
        "models/userdata.py. Images (review thumbnails) go into FILE's folder; on stdout, or with "
        "--no-images, posts with an image are skipped.",
    )
    export.add_argument("--output", "-o", type=Path, metavar="FILE", help="output file (default: stdout)")
    export.add_argument(
        "--since", metavar="DATE", help="only verdicts from DATE on (ISO 8601; UTC if no offset)"
    )
    export.add_argument("--no-images", action="store_true", help="skip posts with an image")
    export.add_argument("--val-fraction", type=float, default=0.1, help="share of posts in split val (0.1)")
    export.add_argument("--test-fraction", type=float, default=0.1, help="share of posts in split test (0.1)")


def _database_settings() -> DatabaseSettings:
    return load_settings(DatabaseSettings)  # these commands never talk to Kafka


def _with_sessions(
    settings: DatabaseSettings, work: Callable[[async_sessionmaker[AsyncSession]], Awaitable[T]]
) -> T:
    from service.storage.database import create_engine_from_url, session_factory

    async def main() -> T:
        engine = create_engine_from_url(settings.database_url.get_secret_value(), pool_size=2)
        try:
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(main())


def run(args: argparse.Namespace) -> int:
    """Run a command of :data:`COMMANDS`; ``ValueError`` (bad input) exits with 2 and the message."""
    try:
        if args.command == "review":
            return _review(args)
        if args.command == "moderators":
            return _moderators(args)
        return _export(args)
    except ValueError as exc:
        print(f"postguard {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, default=str))


def _review(args: argparse.Namespace) -> int:
    from service.review import queue, verdicts

    action = args.review_command
    if action == "serve":
        return _serve(args.host, args.port)
    if action == "publish":
        return _publish()
    settings = _database_settings()
    if action == "outbox":
        return _outbox(settings, requeue=args.requeue)
    if action == "list":
        items = _with_sessions(
            settings, lambda s: queue.list_items(sessions=s, status=args.status, limit=args.limit)
        )
        for item in items:
            if args.json:
                _print_json(item.as_dict())
            else:
                holder = f" by {item.claimed_by}" if item.claimed_by else ""
                print(f"{item.item_id:>8}  {item.status:<9}{holder:<16} p{item.priority:<4} {item.post_id}")
        return EXIT_OK
    if action == "claim":
        ttl = args.ttl if args.ttl is not None else settings.review_claim_ttl_s
        view = _with_sessions(
            settings, lambda s: queue.claim_next(sessions=s, moderator=args.moderator, claim_ttl_s=ttl)
        )
        if view is None:
            print("nothing to claim", file=sys.stderr)
            return EXIT_FAILURE
        if args.json:
            _print_json(view.as_dict())
        else:
            print(
                f"claimed item {view.item_id} (post {view.summary.post_id}) until {view.summary.claim_expires_at}"
            )
            print(f"  model: {view.model_action}  scores: {json.dumps(view.scores)}")
            print(f"  text: {view.text!r}")
        return EXIT_OK
    if action == "resolve":
        labels = {name.strip(): 1 for name in args.labels.split(",") if name.strip()}
        verdict = _with_sessions(
            settings,
            lambda s: verdicts.resolve(
                sessions=s,
                item_id=args.item,
                moderator=args.moderator,
                action=args.action,
                labels=labels,
                note=args.note,
                verdicts_topic=settings.verdicts_topic,
            ),
        )
        print(
            f"verdict {verdict.verdict_id} on item {verdict.item_id}: {verdict.action} {json.dumps(verdict.labels)} "
            f"(event queued for {settings.verdicts_topic})"
        )
        return EXIT_OK
    if action == "skip":
        _with_sessions(
            settings, lambda s: queue.skip(sessions=s, item_id=args.item, moderator=args.moderator)
        )
        print(f"item {args.item} is back in the queue")
        return EXIT_OK
    if action == "appeal":
        filed = _with_sessions(
            settings,
            lambda s: verdicts.appeal(sessions=s, post_id=args.post_id, reason=args.reason, actor=args.actor),
        )
        previous = f"; {filed.previous_moderator} may not decide it again" if filed.previous_moderator else ""
        print(f"appeal {filed.appeal_id}: item {filed.item_id} re-opened{previous}")
        return EXIT_OK
    raise AssertionError(f"unhandled review action {action!r}")


def _publish() -> int:
    from service.kafka.publishers import KafkaEventPublisher
    from service.review.events import OutboxRelay, pending_events

    settings = load_settings()

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        publisher = KafkaEventPublisher(settings)
        try:
            return await OutboxRelay(sessions=sessions, publisher=publisher).drain_once()
        finally:
            await publisher.close()
            left = await pending_events(sessions=sessions)
            if left:
                print(f"{left} events still pending in the outbox", file=sys.stderr)

    sent = _with_sessions(settings, work)
    print(f"published {sent} events")
    return EXIT_OK


def _outbox(settings: DatabaseSettings, *, requeue: bool) -> int:
    from service.review.events import outbox_state, parked_events, requeue_parked

    async def work(sessions: async_sessionmaker[AsyncSession]) -> int:
        parked = await parked_events(sessions=sessions)
        state = await outbox_state(sessions=sessions)
        print(
            f"{state.pending} events pending (oldest waiting {state.oldest_pending_age_s:.0f} s), "
            f"{state.parked} parked"
        )
        for event in parked:
            print(
                f"parked {event.id}: topic {event.topic}, key {event.key}, {event.attempts} attempts, "
                f"since {event.parked_at:%Y-%m-%d %H:%M:%S %Z}: {event.last_error}"
            )
        if requeue and parked:
            count = await requeue_parked(sessions=sessions)
            print(f"re-queued {count} parked events; the relay publishes them at its next pass")
        return EXIT_OK

    return _with_sessions(settings, work)


def _serve(host: str | None, port: int | None) -> int:
    from service.review.server import serve

    settings = load_settings()
    configure_logging(settings.log_level, datefmt=None)
    asyncio.run(
        serve(
            settings, host=host or settings.review_host, port=settings.review_port if port is None else port
        )
    )
    return EXIT_OK


def _read_new_password() -> str:
    if sys.stdin.isatty():
        first = getpass.getpass("Password: ")
        if getpass.getpass("Repeat it: ") != first:
            raise ValueError("the two passwords differ")
        return first
    line = sys.stdin.readline()
    if not line:
        raise ValueError("no password on stdin (pipe it in, or run on a terminal to be prompted)")
    return line.rstrip("\r\n")


def _moderators(args: argparse.Namespace) -> int:
    from service.review import auth

    settings = _database_settings()
    action = args.moderators_command
    if action == "add":
        password = _read_new_password()
        auth.check_new_password(password)  # before touching the database
        added = _with_sessions(
            settings,
            lambda s: auth.add_moderator(
                sessions=s, username=args.username, password=password, role=args.role
            ),
        )
        print(f"moderator {added.username} added (role {added.role})")
        return EXIT_OK
    if action == "list":
        for moderator in _with_sessions(settings, lambda s: auth.list_moderators(sessions=s)):
            state = " (disabled)" if moderator.disabled else ""
            print(f"{moderator.username}  {moderator.role}{state}")
        return EXIT_OK
    disabled = action == "disable"
    _with_sessions(
        settings, lambda s: auth.set_disabled(sessions=s, username=args.username, disabled=disabled)
    )
    print(f"moderator {args.username} {'disabled' if disabled else 'enabled'}")
    return EXIT_OK


def _parse_since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"--since {value!r} is not an ISO 8601 date or time (e.g. 2026-01-31)") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _export(args: argparse.Namespace) -> int:
    from service.review.export import export_labels

    since = _parse_since(args.since)
    settings = _database_settings()
    output: Path | None = args.output
    folder = output.resolve().parent if output is not None else None
    image_dir = None
    if output is not None and folder is not None and not args.no_images:
        image_dir = folder / f"{output.stem}_images"

    async def work(sessions: async_sessionmaker[AsyncSession]) -> Any:
        common: dict[str, Any] = {
            "sessions": sessions,
            "since": since,
            "val_fraction": args.val_fraction,
            "test_fraction": args.test_fraction,
            "image_dir": image_dir,
        }
        if output is None:
            return await export_labels(output=sys.stdout, **common)
        partial = output.with_name(output.name + ".partial")
        try:
            with partial.open("w", encoding="utf-8") as handle:  # noqa: ASYNC230 - a CLI's own file
                summary = await export_labels(output=handle, relative_to=folder, **common)
            partial.replace(output)  # a reader never sees half a file
        finally:
            partial.unlink(missing_ok=True)
        return summary

    summary = _with_sessions(settings, work)
    where = str(output) if output is not None else "stdout"
    skipped = (
        f", {summary.skipped} skipped (image not exported, or nothing to export)" if summary.skipped else ""
    )
    print(
        f"exported {summary.written} labelled posts ({summary.images} images) to {where}{skipped}",
        file=sys.stderr,
    )
    return EXIT_OK
