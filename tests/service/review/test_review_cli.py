"""``postguard review | moderators | export-labels``, run in-process through ``service.cli.main``."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from models.userdata import load_user_posts
from service.cli import main
from service.review.auth import authenticate
from service.storage.database import create_engine_from_url, session_factory
from tests.utils.review import PASSWORD, seed_items

pytestmark = pytest.mark.integration


@pytest.fixture
def env(migrated_db: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.delenv("POSTGUARD_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.setenv("POSTGUARD_DATABASE_URL", migrated_db)
    return migrated_db


def _seed(url: str, count: int, **kwargs: object) -> list[str]:
    async def work() -> list[str]:
        engine = create_engine_from_url(url)
        try:
            return await seed_items(session_factory(engine), count, **kwargs)  # type: ignore[arg-type]
        finally:
            await engine.dispose()

    return asyncio.run(work())


def _add(monkeypatch: pytest.MonkeyPatch, username: str, *extra: str, password: str = PASSWORD) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return main(["moderators", "add", username, *extra])


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 120, 200)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_moderators_add_reads_the_password_from_stdin(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _add(monkeypatch, "alice", "--role", "admin") == 0
    assert "moderator alice added (role admin)" in capsys.readouterr().out
    assert _add(monkeypatch, "alice") == 1
    assert "already exists" in capsys.readouterr().err
    assert _add(monkeypatch, "bob", password="short") == 1
    assert "at least 12 characters" in capsys.readouterr().err
    assert _add(monkeypatch, "bad name") == 1

    async def check() -> bool:
        engine = create_engine_from_url(env)
        try:
            sessions = session_factory(engine)
            return await authenticate(sessions=sessions, username="alice", password=PASSWORD) is not None
        finally:
            await engine.dispose()

    assert asyncio.run(check())
    assert main(["moderators", "disable", "alice"]) == 0
    assert main(["moderators", "list"]) == 0
    assert "alice  admin (disabled)" in capsys.readouterr().out


def test_list_claim_resolve_appeal_and_export(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _add(monkeypatch, "alice")
    _add(monkeypatch, "bob")
    _seed(env, 2, priorities=[80, 20])
    _seed(env, 1, prefix="pic", priorities=[10], image_thumbnail=_jpeg())
    capsys.readouterr()

    assert main(["review", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(i["post_id"], i["status"]) for i in listed] == [
        ("post-0", "open"),
        ("post-1", "open"),
        ("pic-0", "open"),
    ]

    # alice takes and judges everything
    for labels in ("hate,toxic", "", "offensive"):
        assert main(["review", "claim", "--moderator", "alice", "--json"]) == 0
        claimed = json.loads(capsys.readouterr().out)
        action = "block" if labels else "allow"
        args = ["review", "resolve", str(claimed["item_id"]), "--moderator", "alice", "--action", action]
        assert main([*args, "--labels", labels, "--note", "cli"]) == 0
        assert "verdict" in capsys.readouterr().out
    assert main(["review", "claim", "--moderator", "alice"]) == 1
    assert "nothing to claim" in capsys.readouterr().err

    # bad input is a usage error; a verdict on an unclaimed item a failure
    assert main(
        ["review", "resolve", "1", "--moderator", "alice", "--action", "block", "--labels", "spam"]
    ) in (1, 2)
    assert main(["review", "skip", "1", "--moderator", "alice"]) == 1
    capsys.readouterr()

    # an appeal re-opens post-0 for someone other than alice
    assert main(["review", "appeal", "post-0", "--reason", "it was a quote"]) == 0
    assert "alice may not decide it again" in capsys.readouterr().out
    assert main(["review", "claim", "--moderator", "alice"]) == 1
    assert main(["review", "claim", "--moderator", "bob", "--json"]) == 0
    reopened = json.loads(capsys.readouterr().out)
    assert reopened["post_id"] == "post-0" and reopened["appeal_reason"] == "it was a quote"
    assert (
        main(["review", "resolve", str(reopened["item_id"]), "--moderator", "bob", "--action", "allow"]) == 0
    )
    capsys.readouterr()

    output = tmp_path / "labels.jsonl"
    assert main(["export-labels", "--output", str(output)]) == 0
    assert "exported 3 labelled posts (1 images)" in capsys.readouterr().err
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert all(set(row) <= {"text", "image", "labels", "split"} for row in rows)
    # post-0's latest verdict is bob's allow on appeal (not alice's block), post-1 was allowed.
    zero = {"hate": 0, "offensive": 0, "toxic": 0}
    assert [row["labels"] for row in rows if "image" not in row] == [zero, zero]
    image_rows = [row for row in rows if "image" in row]
    assert len(image_rows) == 1 and image_rows[0]["labels"] == {**zero, "offensive": 1}
    assert (output.parent / image_rows[0]["image"]).is_file()
    assert {row["split"] for row in rows} <= {"train", "val", "test"}

    texts, posts = load_user_posts(output)
    assert len(texts) + len(posts) == 3 and len(posts) == 1

    # stdout: the post with an image is skipped, not exported as text alone
    assert main(["export-labels", "--since", "2000-01-01"]) == 0
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == 2 and "1 skipped" in captured.err
    assert main(["export-labels", "--since", "2999-01-01T00:00:00+00:00"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["export-labels", "--since", "yesterday"]) == 2


def test_serve_without_a_secret_is_a_configuration_error(
    env: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("POSTGUARD_KAFKA_BOOTSTRAP", "127.0.0.1:9")
    monkeypatch.delenv("POSTGUARD_REVIEW_SECRET", raising=False)
    assert main(["review", "serve", "--port", "0"]) == 2
    assert "POSTGUARD_REVIEW_SECRET is required" in capsys.readouterr().err


def test_outbox_lists_parked_events_and_requeues_them(env: str, capsys: pytest.CaptureFixture[str]) -> None:
    from sqlalchemy import func, select

    from service.storage.tables import OutboxRow

    async def seed() -> None:
        engine = create_engine_from_url(env)
        try:
            async with session_factory(engine)() as session, session.begin():
                session.add(OutboxRow(topic="verdicts", key="p-1", payload={"_kind": "verdict"}))
                session.add(
                    OutboxRow(
                        topic="verdicts",
                        key="p-big",
                        payload={"_kind": "verdict"},
                        attempts=5,
                        last_error="MessageSizeTooLargeError()",
                        parked_at=func.now(),
                    )
                )
        finally:
            await engine.dispose()

    async def parked() -> int:
        engine = create_engine_from_url(env)
        try:
            async with session_factory(engine)() as session:
                count = await session.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.parked_at.is_not(None))
                )
                return int(count or 0)
        finally:
            await engine.dispose()

    asyncio.run(seed())
    assert main(["review", "outbox"]) == 0
    out = capsys.readouterr().out
    assert "1 events pending" in out and "1 parked" in out
    assert "key p-big, 5 attempts" in out and "MessageSizeTooLargeError" in out
    assert asyncio.run(parked()) == 1  # listing changes nothing
    assert main(["review", "outbox", "--requeue"]) == 0
    assert "re-queued 1 parked events" in capsys.readouterr().out
    assert asyncio.run(parked()) == 0
