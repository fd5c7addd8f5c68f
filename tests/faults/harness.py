"""Running ``postguard serve`` as a real process, and reading what it left in Kafka and PostgreSQL.

Fault-injection tests need the real thing: a separate process that can be killed with SIGKILL,
stopped with SIGTERM, whose memory can be measured and whose log can be read. Everything here
waits with a deadline; a wait that runs out fails the test with the service's log tail attached.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from PIL import Image, ImageDraw, ImageFont

from devtools.embedded import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Longest any single wait in these tests may take: a stuck service fails instead of hanging CI.
WAIT_S = 60.0
#: Where the service logs that it was assigned partitions (FastStream's INFO line).
_ASSIGNED = re.compile(r"Consumer (\S+) assigned to partitions: \((.*)\)")
_PARTITION = re.compile(r"TopicPartition\(topic='[^']+', partition=(\d+)\)")


@dataclass(frozen=True)
class Topics:
    """One test's topics and consumer group (the brokers outlive single tests)."""

    input: str
    output: str
    dlq: str
    group: str

    @classmethod
    def fresh(cls) -> Topics:
        suffix = uuid.uuid4().hex[:8]
        return cls(f"posts-{suffix}", f"decisions-{suffix}", f"dlq-{suffix}", f"postguard-{suffix}")


def service_env(
    *, bootstrap: str, database_url: str, checkpoint: Path, topics: Topics, **overrides: object
) -> dict[str, str]:
    """The environment of one service process: the caller's, minus any POSTGUARD_*, plus ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    values: dict[str, object] = {
        "kafka_bootstrap": bootstrap,
        "database_url": database_url,
        "model_path": checkpoint,
        "input_topic": topics.input,
        "output_topic": topics.output,
        "dlq_topic": topics.dlq,
        "group_id": topics.group,
        # Fast group membership for tests (see INFRA.md): a dead member is noticed within 2 s.
        "session_timeout_ms": 2000,
        "heartbeat_interval_ms": 500,
        "batch_max_size": 16,
        "torch_threads": 1,
        "metrics_host": "127.0.0.1",
        "metrics_port": free_port(),
    }
    values.update(overrides)
    for name, value in values.items():
        env[f"POSTGUARD_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


@dataclass
class ServiceProcess:
    """One ``postguard serve`` process; its stderr (the log) goes to ``log_path``."""

    name: str
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    #: What to run (default: ``postguard serve``); tests/faults/hanging_service.py runs the real
    #: service with a scorer that hangs.
    command: tuple[str, ...] = ("-m", "service.cli", "serve")
    metrics_port: int = field(init=False)

    def __post_init__(self) -> None:
        self.metrics_port = int(self.env["POSTGUARD_METRICS_PORT"])

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            log.write(f"--- {self.name}: starting postguard serve\n".encode())
            self.process = subprocess.Popen(
                [sys.executable, *self.command],
                cwd=REPO_ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, chars: int = 6000) -> str:
        return f"--- {self.name} log tail ---\n{self.logs()[-chars:]}"

    async def wait_ready(self, timeout_s: float = WAIT_S) -> None:
        """Until /readyz answers 200 (the consumer is started); fails if the process exits."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited while starting\n{self.log_tail()}")
            try:
                status, _ = await asyncio.to_thread(self.get, "/readyz")
                if status == 200:
                    return
            except OSError:
                pass
            await asyncio.sleep(0.2)
        raise AssertionError(f"{self.name} not ready after {timeout_s:.0f} s\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: no cleanup, no commit, no leaving the group."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    async def terminate(self, timeout_s: float) -> tuple[int | None, float]:
        """SIGTERM, then wait up to ``timeout_s``: (exit code or None if still running, seconds)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        while time.monotonic() - started < timeout_s:
            code = self.process.poll()
            if code is not None:
                return code, time.monotonic() - started
            await asyncio.sleep(0.05)
        return None, time.monotonic() - started

    def stop(self) -> None:
        """Best-effort cleanup at the end of a test: SIGTERM, then SIGKILL."""
        if not self.alive():
            return
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(12)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def get(self, path: str) -> tuple[int, str]:
        """GET ``path`` on the metrics port: (status, body), error statuses included."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}{path}", timeout=2) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()

    async def scrape(self) -> str:
        """The /metrics page (Prometheus text format)."""
        status, body = await asyncio.to_thread(self.get, "/metrics")
        assert status == 200, status
        return body

    async def metric(self, name: str) -> float:
        """The value of an unlabelled sample ``name`` (0 if absent)."""
        for line in (await self.scrape()).splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
        return 0.0

    def peak_rss_bytes(self) -> int:
        """VmHWM (the peak resident set size) from /proc; the process must still be running."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmHWM in /proc status")

    def assignments(self) -> list[set[int]]:
        """Every partition assignment this process logged, oldest first."""
        return [
            {int(p) for p in _PARTITION.findall(match.group(2))} for match in _ASSIGNED.finditer(self.logs())
        ]


async def wait_until(
    check: Callable[[], Awaitable[bool]],
    what: str,
    *,
    timeout_s: float = WAIT_S,
    interval_s: float = 0.2,
    services: Sequence[ServiceProcess] = (),
) -> None:
    """Poll ``check`` until it is true; fail naming ``what`` (with the services' logs) otherwise."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(interval_s)
    tails = "\n".join(s.log_tail() for s in services)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tails}")


# --- PostgreSQL --------------------------------------------------------------------------------


async def _fetch(url: str, query: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        return await connection.fetch(query, *args)
    finally:
        await connection.close()


async def decision_counts(url: str) -> tuple[int, int]:
    """(decision rows, distinct posts with a decision)."""
    (row,) = await _fetch(url, "SELECT count(*) AS n, count(DISTINCT post_id) AS d FROM decisions")
    return int(row["n"]), int(row["d"])


async def decided_post_ids(url: str) -> Counter[str]:
    """Decision rows per post_id (every value should be 1)."""
    rows = await _fetch(url, "SELECT post_id, count(*) AS n FROM decisions GROUP BY post_id")
    return Counter({row["post_id"]: int(row["n"]) for row in rows})


async def stored_posts(url: str) -> dict[str, dict[str, Any]]:
    rows = await _fetch(url, "SELECT post_id, author_id, text FROM posts")
    return {row["post_id"]: dict(row) for row in rows}


async def rows_at_least(url: str, expected: int) -> bool:
    rows, _ = await decision_counts(url)
    return rows >= expected


# --- Kafka -------------------------------------------------------------------------------------


async def produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes | None, bytes | None]],
    *,
    max_request_size: int = 1024 * 1024,
) -> list[tuple[int, int]]:
    """Publish (key, value) pairs in order; return each message's (partition, offset)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, acks="all", max_request_size=max_request_size
    )
    await producer.start()
    try:
        futures = [await producer.send(topic, value, key=key) for key, value in messages]
        return [(meta.partition, meta.offset) for meta in await asyncio.gather(*futures)]
    finally:
        await producer.stop()


def post_message(post_id: str, *, text: str | None = None, author_id: str = "u-1", **fields: Any) -> bytes:
    document: dict[str, Any] = {
        "post_id": post_id,
        "author_id": author_id,
        "created_at": "2026-01-02T03:04:05Z",
        **fields,
    }
    if text is not None:
        document["text"] = text
    return json.dumps(document).encode()


#: Every this many posts of a fault test's stream is a meme (text written in an image), so every
#: fault also hits posts in the OCR lane, decided out of order behind their batch.
MEMES_EVERY = 50


def valid_posts(prefix: str, count: int, *, memes_every: int = MEMES_EVERY) -> list[tuple[bytes, bytes]]:
    """``count`` posts keyed by post_id: ``{prefix}-00000`` ...; every ``memes_every``-th is a
    meme whose text needs OCR (the service's text gate sends it to the OCR lane), the rest text."""
    posts = []
    for i in range(count):
        pid = f"{prefix}-{i:05d}"
        if memes_every and i % memes_every == memes_every - 1:
            message = post_message(pid, image={"data": meme_image(f"MEME {i}")})
        else:
            message = post_message(pid, text=f"post number {i}")
        posts.append((pid.encode(), message))
    return posts


@functools.cache
def meme_image(caption: str) -> str:
    """A small PNG (base64) with lines of large text on white."""
    image = Image.new("RGB", (360, 240), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for row, line in enumerate((caption, "WHEN IT WORKS", "ON FRIDAY")):
        draw.text((16, 20 + row * 70), line, fill=(0, 0, 0), font=font)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    expected: int = 0,
    timeout_s: float = 20.0,
    max_bytes: int = 16 * 1024 * 1024,
) -> list[ConsumerRecord[Any, Any]]:
    """Every record of ``topic`` from the beginning, waiting until at least ``expected`` arrived."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, max_partition_fetch_bytes=max_bytes
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + timeout_s
        numbers = consumer.partitions_for_topic(topic)
        while not numbers and time.monotonic() < deadline:
            await consumer.topics()  # refreshes the metadata
            numbers = consumer.partitions_for_topic(topic)
            await asyncio.sleep(0.2)
        assert numbers, f"topic {topic} does not exist"
        partitions = [TopicPartition(topic, p) for p in sorted(numbers)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        records: list[ConsumerRecord[Any, Any]] = []
        while time.monotonic() < deadline:
            for batch in (await consumer.getmany(timeout_ms=200)).values():
                records.extend(batch)
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if len(records) >= expected and all(positions[tp] >= end[tp] for tp in partitions):
                # Everything that was there when we looked: done, unless more is expected.
                end = await consumer.end_offsets(partitions)
                if all(positions[tp] >= end[tp] for tp in partitions):
                    break
        return records
    finally:
        await consumer.stop()


async def committed_offsets(bootstrap: str, group: str, topic: str, partitions: int = 4) -> dict[int, int]:
    """The group's committed offset per partition (-1 where none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        # Partitions named explicitly: Tansu closes the connection on the "all partitions" form.
        offsets = await admin.list_consumer_group_offsets(
            group, partitions=[TopicPartition(topic, p) for p in range(partitions)]
        )
        return {tp.partition: (meta.offset if meta is not None else -1) for tp, meta in offsets.items()}
    finally:
        await admin.close()


async def list_topics(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def header(record: ConsumerRecord[Any, Any], name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None


def duplicate_events(records: Sequence[ConsumerRecord[Any, Any]]) -> Counter[str]:
    """post_id -> number of decision events beyond the first."""
    counts = Counter(bytes(r.key).decode() for r in records)
    return Counter({key: n - 1 for key, n in counts.items() if n > 1})
