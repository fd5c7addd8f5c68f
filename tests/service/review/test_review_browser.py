"""End to end in headless Chromium: ``postguard review serve`` on a migrated PostgreSQL, a
moderator logs in, the page claims, keyboard shortcuts record verdicts, the database and the
verdicts topic show them.

Set ``POSTGUARD_UPDATE_SCREENSHOT=1`` to refresh docs/images/review_page.png from this run.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from PIL import Image
from sqlalchemy import select

from devtools.embedded import TansuBroker, free_port
from service.storage.repository import record_decisions
from service.storage.tables import AuditLogRow, OutboxRow, ReviewItemRow, VerdictRow
from tests.utils.browser import CHROMIUM_ARGS
from tests.utils.records import make_record
from tests.utils.review import PASSWORD, Sessions, add_moderators

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
SCREENSHOT = REPO / "docs" / "images" / "review_page.png"
SECRET = "browser-test-secret-0123456789abcdefghij"
XSS = "<script>window.__pwned = 1; alert('pwned')</script><img src=x onerror=\"window.__pwned = 2\">"


def _thumbnail() -> bytes:
    with Image.open(REPO / "devtools" / "samples" / "images" / "benign_mondays.jpg") as opened:
        image = opened.convert("RGB")
    image.thumbnail((320, 320))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


async def _seed(sessions: Sessions) -> None:
    await add_moderators(sessions, ["alice"])
    shares = {"caption": 0.25, "image_pixels": 0.15, "image_text": 0.6}
    readable = make_record(
        "post-mondays",
        action="review",
        text="Ugh, Mondays. Send them all back where they came from.",
        ocr_text="I HATE MONDAYS",
        image_thumbnail_jpeg=_thumbnail(),
        scores={"hate": 0.41, "offensive": 0.58, "toxic": 0.66},
        triggered=[
            {"kind": "category", "name": "offensive", "action": "review", "score": 0.58, "threshold": 0.5},
            {"kind": "category", "name": "toxic", "action": "review", "score": 0.66, "threshold": 0.6},
        ],
        attribution={"hate": shares, "offensive": shares, "toxic": shares},
        review_priority=90,
    )
    hostile = make_record(
        "post-xss", action="review", text=XSS, offset=1, review_priority=10, triggered=[], attribution={}
    )
    await record_decisions(sessions=sessions, records=[readable, hostile])


@pytest.fixture
def review_server(migrated_db: str, tansu: TansuBroker) -> Iterator[tuple[str, str]]:
    """``postguard review serve`` in a subprocess; yields (base URL, verdicts topic)."""
    port = free_port()
    topic = f"verdicts-{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSTGUARD_")}
    env.update(
        POSTGUARD_DATABASE_URL=migrated_db,
        POSTGUARD_KAFKA_BOOTSTRAP=tansu.bootstrap,
        POSTGUARD_REVIEW_SECRET=SECRET,
        POSTGUARD_VERDICTS_TOPIC=topic,
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "review", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                output, _ = process.communicate()
                raise AssertionError(f"review serve exited with {process.returncode}:\n{output}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("review serve did not answer /healthz within 30 s")
            time.sleep(0.1)
        yield base, topic
    finally:
        process.terminate()
        try:
            output, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate(timeout=5)
        assert process.returncode == 0, output


async def _events(
    bootstrap: str, topic: str, count: int
) -> dict[bytes | None, tuple[dict[str, object], dict[str, bytes]]]:
    """The first ``count`` messages of ``topic`` (any partition), by key."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: dict[bytes | None, tuple[dict[str, object], dict[str, bytes]]] = {}
    try:
        async with asyncio.timeout(20):
            while len(found) < count:
                message = await consumer.getone()
                found[message.key] = (json.loads(message.value), dict(message.headers))
    finally:
        await consumer.stop()
    return found


async def test_log_in_claim_and_resolve_with_the_keyboard(
    chromium: str, review_server: tuple[str, str], db_sessions: Sessions, tansu: TansuBroker, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    base, topic = review_server
    await _seed(db_sessions)
    dialogs: list[str] = []

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            page = await browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("dialog", lambda dialog: dialogs.append(dialog.message))

            await page.goto(base + "/")
            assert page.url == base + "/login"
            await page.fill("input[name=username]", "alice")
            await page.fill("input[name=password]", PASSWORD)
            await page.click("button[type=submit]")

            # Opening the page claimed the most urgent item.
            await page.wait_for_selector("article.item")
            assert (
                await page.inner_text("#post-text")
                == "Ugh, Mondays. Send them all back where they came from."
            )
            assert await page.inner_text("#ocr-text") == "I HATE MONDAYS"
            assert await page.eval_on_selector("#post-image", "img => img.naturalWidth") > 0
            assert await page.is_checked("input[name=label_toxic]")  # flagged by the model
            shot = tmp_path / "review_page.png"
            await page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("POSTGUARD_UPDATE_SCREENSHOT") == "1":
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                SCREENSHOT.write_bytes(shot.read_bytes())

            # 1 toggles "hate", b blocks.
            await page.keyboard.press("1")
            async with page.expect_navigation():
                await page.keyboard.press("b")
            await page.wait_for_selector("article.item")
            assert "block recorded" in await page.inner_text(".flash")

            # The hostile post is shown as text, and nothing in it runs.
            assert await page.inner_text("#post-text") == XSS
            assert await page.evaluate("window.__pwned === undefined")
            async with page.expect_navigation():
                await page.keyboard.press("a")
            await page.wait_for_selector("section.empty")
        finally:
            await browser.close()
    assert dialogs == []

    async with db_sessions() as session:
        verdicts = (await session.scalars(select(VerdictRow).order_by(VerdictRow.id))).all()
        statuses = set((await session.scalars(select(ReviewItemRow.status))).all())
        audit = (await session.scalars(select(AuditLogRow.action).order_by(AuditLogRow.id))).all()
    assert [(v.post_id, v.moderator, v.action, v.labels) for v in verdicts] == [
        ("post-mondays", "alice", "block", {"hate": 1, "offensive": 1, "toxic": 1}),
        ("post-xss", "alice", "allow", {"hate": 0, "offensive": 0, "toxic": 0}),
    ]
    assert statuses == {"resolved"}
    assert audit == ["login", "claim", "resolve", "claim", "resolve"]

    events = await _events(tansu.bootstrap, topic, 2)
    event, headers = events[b"post-mondays"]
    assert headers == {"postguard-event": b"verdict"}
    assert event["event_id"] == f"verdict-{verdicts[0].id}" and event["action"] == "block"
    assert event["labels"] == {"hate": 1, "offensive": 1, "toxic": 1} and event["model_action"] == "review"
    assert events[b"post-xss"][0]["action"] == "allow"
    deadline = time.monotonic() + 10
    while True:  # the relay marks rows published after the broker's acknowledgement
        async with db_sessions() as session:
            pending = (
                await session.scalars(select(OutboxRow.id).where(OutboxRow.published_at.is_(None)))
            ).all()
        if not pending or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.2)
    assert pending == []
