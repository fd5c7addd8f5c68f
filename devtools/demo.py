"""``make demo`` (``python -m devtools.demo``): the whole service on one machine, with nothing to
install or configure.

Starts a Tansu broker and a throwaway PostgreSQL on free loopback ports, migrates, runs the
service in-process (the same :class:`~service.app.PostguardApp` as ``postguard serve``), publishes
N sample posts — text-only, image-only, text with image, and a few malformed ones — waits until
every post is decided (a row in PostgreSQL) or dead-lettered (a message on the DLQ topic),
summarises, and stops everything it started. Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from devtools.embedded import free_port, start_postgres, start_tansu
from service.app import build_app
from service.errors import PostguardError
from service.kafka.producer import OutgoingPost, publish
from service.moderation.messages import HEADER_ERROR
from service.observability.log_safety import configure_logging
from service.settings import Settings, load_settings
from service.storage import migrate
from service.storage.database import create_engine_from_url, session_factory
from service.storage.repository import count_decisions, decisions_by_action
from service.storage.tables import DecisionRow

#: Every this many posts, one is malformed (at least one of each malformed kind is sent).
MALFORMED_EVERY = 20
#: Waiting for decisions gives up after this long plus a per-post allowance (CPU inference).
WAIT_BASE_S = 120.0
WAIT_PER_POST_S = 2.0

Progress = Callable[[str], None]


@dataclass
class DemoSummary:
    """What the demo did; :meth:`as_dict` is the ``--json`` output."""

    posts: int
    decided: int
    dead_lettered: int
    actions: dict[str, int]
    categories: dict[str, int]
    dlq_reasons: dict[str, int]
    kinds: dict[str, int]
    posts_per_s: float
    elapsed_s: float
    metrics_url: str
    complete: bool = True
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# --- sample posts ----------------------------------------------------------------------------


def _sample_texts() -> list[str]:
    lines = resources.files("devtools").joinpath("samples", "posts.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]


def _sample_images() -> list[str]:
    """The sample images, base64-encoded."""
    folder = resources.files("devtools").joinpath("samples", "images")
    return [
        base64.b64encode(entry.read_bytes()).decode()
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.rsplit(".", 1)[-1] in ("png", "jpg", "webp", "gif")
    ]


def _malformed(kind: str, post_id: str) -> bytes:
    """One malformed message of each kind the demo shows off."""
    base = {"post_id": post_id, "author_id": "demo-author", "created_at": "2026-11-27T10:15:00Z"}
    if kind == "invalid_json":
        return b'{"post_id": "' + post_id.encode() + b'", "text": "cut off'
    if kind == "missing_field":
        return json.dumps({"post_id": post_id, "text": "who wrote this?"}).encode()
    if kind == "corrupt_base64":
        return json.dumps({**base, "image": {"data": "this is %%% not base64"}}).encode()
    if kind == "unsupported_format":
        # A valid BMP header: decodable in principle, but BMP is not on the format allowlist.
        bmp = b"BM" + (70).to_bytes(4, "little") + b"\0\0\0\0" + (54).to_bytes(4, "little") + b"\0" * 60
        return json.dumps({**base, "image": {"data": base64.b64encode(bmp).decode()}}).encode()
    raise ValueError(f"unknown malformed kind {kind!r}")


MALFORMED_KINDS = ("invalid_json", "missing_field", "corrupt_base64", "unsupported_format")
VALID_KINDS = ("text", "image", "text+image")


def build_posts(count: int, *, seed: int = 0) -> list[tuple[str, OutgoingPost]]:
    """``count`` demo messages as (kind, message), sampled with replacement, unique post ids."""
    rng = random.Random(seed)
    texts, images = _sample_texts(), _sample_images()
    run = uuid.uuid4().hex[:8]
    n_malformed = (
        min(count, max(len(MALFORMED_KINDS), count // MALFORMED_EVERY)) if count >= 8 else count // 4
    )
    malformed_slots = set(rng.sample(range(count), n_malformed))
    messages: list[tuple[str, OutgoingPost]] = []
    malformed_seen = 0
    for index in range(count):
        post_id = f"demo-{run}-{index:05d}"
        if index in malformed_slots:
            kind = MALFORMED_KINDS[malformed_seen % len(MALFORMED_KINDS)]
            malformed_seen += 1
            messages.append((kind, OutgoingPost(key=post_id.encode(), value=_malformed(kind, post_id))))
            continue
        kind = VALID_KINDS[index % len(VALID_KINDS)]
        post: dict[str, Any] = {
            "post_id": post_id,
            "author_id": f"demo-author-{rng.randrange(50)}",
            "created_at": "2026-11-27T10:15:00Z",
            "lang": "en",
        }
        if kind in ("text", "text+image"):
            post["text"] = rng.choice(texts)
        if kind in ("image", "text+image"):
            post["image"] = {"data": rng.choice(images)}
        messages.append((kind, OutgoingPost(key=post_id.encode(), value=json.dumps(post).encode())))
    return messages


# --- watching the outcome --------------------------------------------------------------------


class DeadLetterCounter:
    """Reads the DLQ topic from the beginning (no consumer group) and counts reasons."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.reasons: Counter[str] = Counter()
        self._consumer: AIOKafkaConsumer | None = None

    @property
    def total(self) -> int:
        return sum(self.reasons.values())

    async def start(self) -> None:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=self._settings.max_message_bytes,
        )
        await consumer.start()
        partitions = consumer.partitions_for_topic(self._settings.dlq_topic)
        if not partitions:
            await consumer.stop()
            raise RuntimeError(f"the dead-letter topic {self._settings.dlq_topic} does not exist")
        assigned = [TopicPartition(self._settings.dlq_topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        self._consumer = consumer

    async def poll(self) -> None:
        assert self._consumer is not None
        batches = await self._consumer.getmany(timeout_ms=200)
        for records in batches.values():
            for record in records:
                headers = dict(record.headers)
                self.reasons[headers.get(HEADER_ERROR, b"?").decode(errors="replace")] += 1

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None


async def _triggered_categories(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """How many decisions each category (and deny terms, and other-language posts, each together)
    fired in."""
    async with sessions() as session:
        rows = await session.scalars(select(DecisionRow.triggered))
        counts: Counter[str] = Counter()
        for triggered in rows:
            for rule in triggered:
                if rule.get("kind") == "category":
                    counts[str(rule.get("name"))] += 1
                elif rule.get("kind") == "deny_term":
                    counts["deny_term"] += 1
                elif rule.get("kind") == "language":
                    counts["other_language"] += 1
        return dict(counts.most_common())


# --- the demo ----------------------------------------------------------------------------------


def _stderr(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


async def run_demo(posts: int = 200, *, progress: Progress = _stderr) -> DemoSummary:
    """Run the demo end to end and return its summary; everything started is stopped."""
    if posts < 1:
        raise ValueError("the demo needs at least one post")
    with tempfile.TemporaryDirectory(prefix="postguard-demo-") as scratch:
        progress("starting Tansu (Kafka protocol) and PostgreSQL on loopback ports")
        tansu = start_tansu()
        try:
            postgres = start_postgres(Path(scratch) / "postgres")
            try:
                progress(f"Kafka on {tansu.bootstrap}; PostgreSQL on {postgres.url}; migrating")
                await asyncio.to_thread(migrate.upgrade, postgres.url)
                settings = load_settings(
                    kafka_bootstrap=tansu.bootstrap,
                    database_url=postgres.url,
                    group_id="postguard-demo",
                    metrics_host="127.0.0.1",
                    metrics_port=free_port(),
                    # A quick group join: the broker waits half the session timeout for members.
                    session_timeout_ms=4000,
                    heartbeat_interval_ms=1000,
                )
                return await _run_service(settings, posts, progress)
            finally:
                postgres.stop()
        finally:
            tansu.stop()


async def _run_service(settings: Settings, count: int, progress: Progress) -> DemoSummary:
    messages = build_posts(count)
    kinds = Counter(kind for kind, _ in messages)
    progress("loading the model and starting the service")
    app = build_app(settings)
    await app.start()
    metrics_url = f"http://127.0.0.1:{app.metrics_port}/metrics"
    dlq = DeadLetterCounter(settings)
    engine = create_engine_from_url(settings.database_url.get_secret_value())
    sessions = session_factory(engine)
    try:
        await dlq.start()
        progress(f"service ready (metrics: {metrics_url}); publishing {count} posts")
        started = time.perf_counter()
        await publish(settings, (message for _, message in messages))
        decided, complete = await _wait(sessions, dlq, count, progress)
        elapsed = time.perf_counter() - started
        actions = await decisions_by_action(sessions=sessions)
        categories = await _triggered_categories(sessions)
    finally:
        await engine.dispose()
        await dlq.stop()
        progress("stopping the service")
        await app.stop()
    notes = [] if complete else [f"gave up waiting: {count - decided - dlq.total} posts unaccounted for"]
    return DemoSummary(
        posts=count,
        decided=decided,
        dead_lettered=dlq.total,
        actions=actions,
        categories=categories,
        dlq_reasons=dict(dlq.reasons.most_common()),
        kinds=dict(kinds),
        posts_per_s=round((decided + dlq.total) / elapsed, 1) if elapsed > 0 else 0.0,
        elapsed_s=round(elapsed, 2),
        metrics_url=metrics_url,
        complete=complete,
        notes=notes,
    )


async def _wait(
    sessions: async_sessionmaker[AsyncSession], dlq: DeadLetterCounter, count: int, progress: Progress
) -> tuple[int, bool]:
    """Poll PostgreSQL and the DLQ until every post is accounted for (or the deadline passes)."""
    deadline = time.monotonic() + WAIT_BASE_S + WAIT_PER_POST_S * count
    last_report = 0.0
    while True:
        await dlq.poll()
        decided = await count_decisions(sessions=sessions)
        now = time.monotonic()
        if decided + dlq.total >= count:
            progress(f"{decided} decided, {dlq.total} dead-lettered: all {count} posts accounted for")
            return decided, True
        if now > deadline:
            return decided, False
        if now - last_report >= 2.0:
            progress(f"{decided} decided, {dlq.total} dead-lettered of {count}")
            last_report = now
        await asyncio.sleep(0.2)


def render_summary(summary: DemoSummary) -> str:
    """The human-readable summary table."""
    lines = [
        "postguard demo",
        "=" * 46,
        f"{'posts published':<28}{summary.posts:>18}",
        *(f"  {kind:<26}{n:>18}" for kind, n in sorted(summary.kinds.items())),
        f"{'decided (rows in PostgreSQL)':<28}{summary.decided:>18}",
        *(f"  {action:<26}{n:>18}" for action, n in summary.actions.items()),
        f"{'dead-lettered':<28}{summary.dead_lettered:>18}",
        *(f"  {reason:<26}{n:>18}" for reason, n in summary.dlq_reasons.items()),
        f"{'categories triggered':<28}{sum(summary.categories.values()):>18}",
        *(f"  {name:<26}{n:>18}" for name, n in summary.categories.items()),
        f"{'throughput (posts/s)':<28}{summary.posts_per_s:>18}",
        f"{'elapsed (s)':<28}{summary.elapsed_s:>18}",
        "-" * 46,
        f"metrics were served at {summary.metrics_url}",
        "(the demo has stopped; run `postguard serve` for a long-running service)",
    ]
    lines.extend(f"note: {note}" for note in summary.notes)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m devtools.demo [--posts N] [--json]``; exit code 0 when every post was accounted for."""
    parser = argparse.ArgumentParser(
        prog="python -m devtools.demo",
        description="Start an embedded Tansu broker and a throwaway PostgreSQL, run the service on N "
        "sample posts (text, image, both, malformed), print a summary and stop everything. "
        "Needs no configuration.",
    )
    parser.add_argument("--posts", type=int, default=200, metavar="N", help="number of posts (default: 200)")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object on stdout")
    args = parser.parse_args(argv)
    if args.posts < 1:
        parser.error("--posts must be at least 1")
    configure_logging("WARNING")
    try:
        summary = asyncio.run(run_demo(args.posts))
    except PostguardError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(summary.as_dict()) if args.json else render_summary(summary))
    return 0 if summary.complete else 1


if __name__ == "__main__":
    sys.exit(main())
