"""The ``postguard`` command: serve, migrate, produce, review, api, api-keys, categories.

Exit codes: 0 success; 1 a runtime failure (broker or database unreachable, invalid input lines);
2 a configuration error (the message names the ``POSTGUARD_*`` variable) or bad command-line usage.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from service import categories_cli
from service.api import cli as api_cli
from service.errors import ConfigError, PostguardError, PostRejected
from service.observability.log_safety import configure_logging
from service.review import cli as review_cli
from service.settings import ENV_PREFIX, DatabaseSettings, KafkaSettings, Settings, load_settings

logger = logging.getLogger("postguard")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


# For the settings whose field carries no description.
_FALLBACK_HELP = {
    "kafka_security_protocol": "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
    "kafka_sasl_mechanism": "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (SASL_* protocols)",
    "kafka_sasl_username": "SASL user name",
    "kafka_sasl_password": "SASL password",
    "kafka_ssl_cafile": "CA bundle (PEM) to verify the brokers (SSL, SASL_SSL)",
    "log_level": "DEBUG, INFO, WARNING or ERROR",
}


def _environment_help() -> str:
    """One line per setting: the variable, its description, its default (from Settings itself)."""
    lines = ["environment variables (prefix POSTGUARD_; only the first two are required):"]
    # The two connections first (the only required ones), then the rest in the class's order.
    fields = sorted(Settings.model_fields.items(), key=lambda item: not item[1].is_required())
    for name, info in fields:
        if info.is_required():
            default = "required"
        else:
            value = info.get_default(call_default_factory=True)
            default = "optional" if value in (None, []) else f"default: {value}"
        description = info.description or _FALLBACK_HELP.get(name, "")
        lines.append(f"  {ENV_PREFIX}{name.upper():<32} {description} ({default})")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="postguard",
        description=(
            "Multimodal content moderation: reads posts from Kafka, scores image and text, decides "
            "allow/review/block under a versioned policy, stores every decision in PostgreSQL and "
            "publishes it back to Kafka."
        ),
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser(
        "serve",
        help="run the service (consumer group member) until SIGTERM/SIGINT",
        description="Run the moderation service, configured by POSTGUARD_* variables. "
        "The database must be migrated first (postguard migrate).",
    )

    migrate = commands.add_parser(
        "migrate",
        help="apply the database migrations (needs POSTGUARD_DATABASE_URL only)",
        description="Upgrade the database schema to the newest revision, or downgrade it.",
    )
    migrate.add_argument("--downgrade", metavar="REV", help="downgrade to revision REV instead (e.g. base)")

    produce = commands.add_parser(
        "produce",
        help="publish posts from a JSON Lines file to the input topic",
        description="Validate each line of FILE against the post contract and publish the valid ones "
        "with key=post_id. Invalid lines are reported and skipped (exit code 1 if any).",
    )
    produce.add_argument("file", type=Path, metavar="FILE.jsonl", help="one JSON post per line")
    produce.add_argument("--topic", help="topic to publish to (default: POSTGUARD_INPUT_TOPIC)")
    produce.add_argument("--bootstrap", help="Kafka bootstrap servers (default: POSTGUARD_KAFKA_BOOTSTRAP)")

    review_cli.add_commands(commands)
    api_cli.add_commands(commands)
    categories_cli.add_commands(commands)
    return parser


def _configure_logging(level: str = "INFO") -> None:
    configure_logging(level)


def _serve() -> int:
    settings = load_settings()
    _configure_logging(settings.log_level)
    from service.app import build_app, run_service

    return run_service(build_app(settings))


def _migrate(downgrade_to: str | None) -> int:
    settings = load_settings(DatabaseSettings)  # migrations never talk to Kafka
    _configure_logging(settings.log_level)
    from service.storage import migrate
    from service.storage.database import describe_url

    url = settings.database_url.get_secret_value()
    if downgrade_to:
        migrate.downgrade(url, downgrade_to)
        logger.info("database %s downgraded to %s", describe_url(url), downgrade_to)
    else:
        migrate.upgrade(url)
        logger.info("database %s is at revision %s", describe_url(url), migrate.head())
        role = settings.database_runtime_role
        if role:
            try:
                migrate.grant_runtime_role(url, role)
            except ValueError as exc:
                print(f"postguard migrate: {exc}", file=sys.stderr)
                return EXIT_CONFIG
            logger.info("granted the runtime role %s its privileges (audit_log: SELECT, INSERT only)", role)
        else:
            logger.warning(
                "POSTGUARD_DATABASE_RUNTIME_ROLE is not set: the service connects as the tables' owner, "
                "which can disable the audit log's append-only trigger (docs/operations.md)"
            )
    return EXIT_OK


def _read_posts(path: Path) -> Iterator[tuple[int, bytes, str | PostRejected]]:
    """(line number, raw line, post_id or the rejection) for each non-blank line."""
    from service.moderation.parsing import parse_post

    with path.open("rb") as handle:
        for number, line in enumerate(handle, 1):
            raw = line.rstrip(b"\r\n")
            if not raw.strip():
                continue
            try:
                yield number, raw, parse_post(raw).post_id
            except PostRejected as exc:
                yield number, raw, exc


def _produce(file: Path, topic: str | None, bootstrap: str | None) -> int:
    overrides: dict[str, object] = {"kafka_bootstrap": bootstrap} if bootstrap else {}
    settings = load_settings(KafkaSettings, **overrides)  # produce never touches the database
    _configure_logging(settings.log_level)
    if not file.is_file():
        print(f"postguard produce: {file} is not a file", file=sys.stderr)
        return EXIT_FAILURE
    from tqdm import tqdm

    from service.kafka.producer import OutgoingPost, publish

    valid: list[OutgoingPost] = []
    invalid = 0
    for number, raw, outcome in _read_posts(file):
        if isinstance(outcome, PostRejected):
            invalid += 1
            print(f"{file}:{number}: skipped ({outcome.code}: {outcome.reason})", file=sys.stderr)
        else:
            valid.append(OutgoingPost(key=outcome.encode(), value=raw))
    target = topic or settings.input_topic
    with tqdm(total=len(valid), unit="post", desc=f"publishing to {target}", file=sys.stderr) as bar:
        sent = asyncio.run(publish(settings, valid, topic=target, on_sent=bar.update))
    print(f"published {sent} posts to {target} ({invalid} invalid lines skipped)", file=sys.stderr)
    return EXIT_FAILURE if invalid else EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``postguard`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "serve":
            return _serve()
        if args.command == "migrate":
            return _migrate(args.downgrade)
        if args.command == "produce":
            return _produce(args.file, args.topic, args.bootstrap)
        if args.command in review_cli.COMMANDS:
            return review_cli.run(args)
        if args.command in api_cli.COMMANDS:
            return api_cli.run(args)
        if args.command in categories_cli.COMMANDS:
            return categories_cli.run(args)
    except ConfigError as exc:
        print(f"postguard {args.command}: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except PostguardError as exc:
        print(f"postguard {args.command}: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130
    raise AssertionError(f"unhandled command {args.command!r}")  # argparse restricts the choices


if __name__ == "__main__":
    sys.exit(main())
