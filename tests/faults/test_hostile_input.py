"""The hostile corpus (tests/corpus) through one real ``postguard serve`` process.

Every message goes to the same partition, each followed by a valid "sentinel" post: a poison
message that blocked its partition would leave the sentinels behind it undecided. The process
runs at DEBUG with a database password and a SASL password set, URL fetching enabled against a
hostile local image server (only ``localhost`` allowlisted), and tight limits (2 MiB messages,
1 MiB images, 2 s fetches). One run, several tests reading its results.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from devtools.embedded import PostgresServer, TansuBroker
from service.moderation.messages import (
    HEADER_ERROR,
    HEADER_ORIGINAL_BYTES,
    HEADER_REASON,
    HEADER_SOURCE_OFFSET,
)
from service.storage.migrate import upgrade
from tests.corpus.hostile import (
    AUTHOR_MARKER,
    DECIDED,
    PRODUCER_MAX_REQUEST_BYTES,
    SERVICE_SETTINGS,
    TEXT_MARKER,
    Case,
    build_corpus,
    install_routes,
)
from tests.corpus.server import HostileImageServer

from .harness import (
    ServiceProcess,
    Topics,
    decided_post_ids,
    header,
    post_message,
    produce,
    read_topic,
    service_env,
    stored_posts,
    wait_until,
)

pytestmark = pytest.mark.integration

DB_PASSWORD = "DbPassw0rd-4f1c9e"
SASL_PASSWORD = "SaslPassw0rd-7be2d0"
PEAK_RSS_LIMIT_BYTES = 1536 * 1024 * 1024
KEY = b"corpus"  # one key: every message on one partition, in order


@dataclass
class CorpusRun:
    cases: list[Case]
    positions: list[tuple[int, int]]  # (partition, offset) of every message sent, in order
    sentinels: list[str]
    dead: dict[int, ConsumerRecord[Any, Any]]  # source offset -> dead letter
    events: list[ConsumerRecord[Any, Any]]
    rows: dict[str, int]  # post_id -> decision rows
    posts: dict[str, dict[str, Any]]
    logs: str
    metrics: str
    peak_rss: int

    def outcome(self, index: int) -> str:
        """What became of case ``index``: its DLQ code, ``decided``, or ``lost``."""
        case = self.cases[index]
        _, offset = self.positions[2 * index]
        if offset in self.dead:
            return header(self.dead[offset], HEADER_ERROR) or "?"
        return DECIDED if self.rows.get(case.post_id) else "lost"


async def _run(tansu: TansuBroker, postgres: PostgresServer, checkpoint: Path, log_path: Path) -> CorpusRun:
    server = HostileImageServer()
    server.start()
    install_routes(server)
    name = f"corpus_{uuid.uuid4().hex[:12]}"
    url = postgres.create_database(name)
    await asyncio.to_thread(upgrade, url)
    topics = Topics.fresh()
    env = service_env(
        bootstrap=tansu.bootstrap,
        # Trust authentication ignores the password; the service must still never print it.
        database_url=url.replace("postgres@", f"postgres:{DB_PASSWORD}@", 1),
        checkpoint=checkpoint,
        topics=topics,
        log_level="DEBUG",
        kafka_sasl_mechanism="PLAIN",
        kafka_sasl_username="postguard",
        kafka_sasl_password=SASL_PASSWORD,
        **SERVICE_SETTINGS,
    )
    service = ServiceProcess("corpus", env, log_path)
    try:
        service.start()
        await service.wait_ready()
        cases = build_corpus(server.port)
        sentinels = [f"s-{i:03d}" for i in range(len(cases))]
        messages: list[tuple[bytes | None, bytes | None]] = []
        for i, case in enumerate(cases):
            text = f"{TEXT_MARKER} sentinel {i}"
            messages += [
                (KEY, case.value),
                (KEY, post_message(sentinels[i], text=text, author_id=f"{AUTHOR_MARKER}-{i}")),
            ]
        positions = await produce(
            tansu.bootstrap, topics.input, messages, max_request_size=PRODUCER_MAX_REQUEST_BYTES
        )

        async def last_sentinel_decided() -> bool:
            return sentinels[-1] in await decided_post_ids(url)

        await wait_until(last_sentinel_decided, "the whole corpus", services=[service], timeout_s=120)
        expected_dead = sum(1 for case in cases if case.expect != DECIDED)
        dead = await read_topic(
            tansu.bootstrap, topics.dlq, expected=expected_dead, max_bytes=8 * 1024 * 1024
        )
        events = await read_topic(tansu.bootstrap, topics.output, expected=len(sentinels))
        metrics = await service.scrape()
        peak_rss = service.peak_rss_bytes()
        return CorpusRun(
            cases=cases,
            positions=positions,
            sentinels=sentinels,
            dead={int(header(r, HEADER_SOURCE_OFFSET) or -1): r for r in dead},
            events=events,
            rows=dict(await decided_post_ids(url)),
            posts=await stored_posts(url),
            logs="",
            metrics=metrics,
            peak_rss=peak_rss,
        )
    finally:
        service.stop()
        server.stop()
        postgres.drop_database(name)


@pytest.fixture(scope="module")
def corpus_run(
    tansu: TansuBroker,
    postgres: PostgresServer,
    serve_checkpoint: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CorpusRun]:
    log_path = tmp_path_factory.mktemp("corpus") / "service.log"
    run = asyncio.run(_run(tansu, postgres, serve_checkpoint, log_path))
    run.logs = log_path.read_text(errors="replace")  # including the shutdown
    yield run


def test_every_hostile_input_ends_in_its_expected_outcome(corpus_run: CorpusRun) -> None:
    table: dict[str, list[tuple[str, str]]] = {}
    for index, case in enumerate(corpus_run.cases):
        table.setdefault(case.kind, []).append((case.expect, corpus_run.outcome(index)))
    print("\n| input | expected | outcome |\n|---|---|---|")
    for kind, results in table.items():
        for expected, outcome in results:
            print(f"| {kind} | {expected} | {outcome} |")
    wrong = {kind: results for kind, results in table.items() if any(e != o for e, o in results)}
    assert not wrong, wrong
    assert len(table) >= 40
    for record in corpus_run.dead.values():
        assert header(record, HEADER_REASON), "every dead letter says why"


def test_a_poison_message_never_blocks_its_partition(corpus_run: CorpusRun) -> None:
    assert len({partition for partition, _ in corpus_run.positions}) == 1
    assert all(corpus_run.rows.get(sentinel) == 1 for sentinel in corpus_run.sentinels)


def test_an_oversized_message_is_dead_lettered_without_its_value(corpus_run: CorpusRun) -> None:
    (index,) = [i for i, case in enumerate(corpus_run.cases) if case.kind == "oversized_message"]
    record = corpus_run.dead[corpus_run.positions[2 * index][1]]
    assert record.value in (None, b"")
    assert int(header(record, HEADER_ORIGINAL_BYTES) or 0) == len(corpus_run.cases[index].value or b"")


def test_duplicate_post_id_keeps_the_first_content(corpus_run: CorpusRun) -> None:
    assert corpus_run.rows["h-duplicate_post_id"] == 1
    assert corpus_run.posts["h-duplicate_post_id"]["text"] == f"{TEXT_MARKER} first version"
    events = [r for r in corpus_run.events if bytes(r.key) == b"h-duplicate_post_id"]
    # The second copy republishes the stored decision (or is folded into the first in one batch).
    assert 1 <= len(events) <= 2
    assert len({bytes(r.value) for r in events}) == 1, "both events carry the same, first decision"


def test_sql_in_text_is_stored_verbatim(corpus_run: CorpusRun) -> None:
    stored = corpus_run.posts["h-sql_injection_text"]["text"]
    assert stored == f"{TEXT_MARKER} '); DROP TABLE decisions; -- \\x00"


def test_peak_memory_under_the_corpus(corpus_run: CorpusRun) -> None:
    print(f"\n[corpus] consumer peak RSS (VmHWM) {corpus_run.peak_rss / 2**20:.0f} MiB")
    assert corpus_run.peak_rss < PEAK_RSS_LIMIT_BYTES


def test_logs_and_metrics_carry_no_secrets_post_text_or_author_ids(corpus_run: CorpusRun) -> None:
    assert "consuming" in corpus_run.logs, "the log was captured"
    for secret in (DB_PASSWORD, SASL_PASSWORD, TEXT_MARKER, AUTHOR_MARKER):
        assert secret not in corpus_run.logs, f"{secret} in the service log"
        assert secret not in corpus_run.metrics, f"{secret} in /metrics"
    assert "postguard_decisions_total" in corpus_run.metrics


def test_no_log_line_is_forged_or_disguised_by_the_input(corpus_run: CorpusRun) -> None:
    # The corpus holds post ids with CR/LF and a fake log line, ESC sequences and a bidi override.
    assert not [
        line
        for line in corpus_run.logs.splitlines()
        if "postguard: forged" in line and line.startswith("00:00:00")
    ]
    for raw in ("\x1b", "\u202e", "\r"):
        assert raw not in corpus_run.logs, f"{raw!r} reached the service log unescaped"
