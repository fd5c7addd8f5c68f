"""The review page in-process (httpx over ASGI): authentication, CSRF, escaping, verdicts."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from service.errors import ConfigError
from service.review.metrics import build_review_metrics
from service.review.web import build_review_app, review_secret
from service.settings import load_settings
from service.tables import AuditLogRow, VerdictRow
from tests.utils.review import PASSWORD, Sessions, add_moderators, seed_items

pytestmark = pytest.mark.integration

SECRET = "test-secret-0123456789-abcdefghijklmnop"
XSS = '<script>alert("pwned")</script> & <img src=x onerror=alert(1)>'


def _settings(**overrides: object) -> object:
    return load_settings(
        kafka_bootstrap="unused:9092", database_url="postgresql://unused@localhost/unused", **overrides
    )


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buffer, format="JPEG")
    return buffer.getvalue()


@pytest.fixture
async def client(db_sessions: Sessions) -> AsyncIterator[httpx.AsyncClient]:
    settings = _settings(review_secret=SECRET)
    app = build_review_app(
        settings=settings,  # type: ignore[arg-type]
        sessions=db_sessions,
        metrics=build_review_metrics(),
        refresh_interval_s=None,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def _login(
    client: httpx.AsyncClient, username: str = "alice", password: str = PASSWORD
) -> httpx.Response:
    form = await client.get("/login")
    return await client.post(
        "/login", data={"username": username, "password": password, "csrf_token": _csrf(form.text)}
    )


def test_the_secret_is_required_and_not_a_placeholder() -> None:
    with pytest.raises(ConfigError, match="POSTGUARD_REVIEW_SECRET is required"):
        review_secret(_settings())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="at least 32"):
        review_secret(_settings(review_secret="changeme"))  # type: ignore[arg-type]


async def test_anonymous_requests_go_to_the_login_form(client: httpx.AsyncClient) -> None:
    for path in ("/", "/items/1/thumbnail"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    response = await client.post("/items/1/verdict", data={"decision": "allow"})
    assert response.status_code == 303 and response.headers["location"] == "/login"
    assert (await client.get("/healthz")).status_code == 200


async def test_login_needs_the_csrf_token_and_the_right_password(
    client: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    await add_moderators(db_sessions, ["alice"])
    await client.get("/login")
    no_token = await client.post("/login", data={"username": "alice", "password": PASSWORD})
    assert no_token.status_code == 403
    wrong = await _login(client, password="not the password")
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    unknown = await _login(client, username="mallory")
    assert unknown.status_code == 401

    ok = await _login(client)
    assert ok.status_code == 303 and ok.headers["location"] == "/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    async with db_sessions() as session:
        actions = (await session.scalars(select(AuditLogRow.action).order_by(AuditLogRow.id))).all()
    assert actions == ["login_failed", "login"]


async def test_the_page_claims_shows_escaped_content_and_records_the_verdict(
    client: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 1, text=XSS, image_thumbnail=_jpeg(), ocr_text="<b>ocr</b>")
    await _login(client)

    page = await client.get("/")

    assert page.status_code == 200
    assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert (
        "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt; &amp; &lt;img src=x onerror=alert(1)&gt;"
        in page.text
    )
    assert "&lt;b&gt;ocr&lt;/b&gt;" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    item_id = int(re.search(r'data-item="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    # The categories the model flagged come pre-checked.
    assert re.search(r'name="label_toxic"[^>]*checked', page.text)
    assert not re.search(r'name="label_hate"[^>]*checked', page.text)
    # The same item while the claim lasts: reloading claims nothing new.
    assert f'data-item="{item_id}"' in (await client.get("/")).text

    image = await client.get(f"/items/{item_id}/thumbnail")
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    assert image.content[:2] == b"\xff\xd8"

    verdict_url = f"/items/{item_id}/verdict"
    assert (await client.post(verdict_url, data={"decision": "block"})).status_code == 403
    wrong = await client.post(verdict_url, data={"decision": "block", "csrf_token": "forged"})
    assert wrong.status_code == 403

    done = await client.post(
        verdict_url,
        data={"decision": "block", "label_hate": "1", "note": "quoted slur", "csrf_token": _csrf(page.text)},
    )
    assert done.status_code == 303
    async with db_sessions() as session:
        verdict = (await session.scalars(select(VerdictRow))).one()
    assert (verdict.moderator, verdict.action, verdict.note) == ("alice", "block", "quoted slur")
    assert verdict.labels == {"hate": 1, "offensive": 0, "toxic": 0}
    after = await client.get("/")
    assert "Nothing to review" in after.text and f"Item {item_id}: block recorded." in after.text

    metrics = await client.get("/metrics")
    assert 'postguard_review_verdicts_total{action="block"} 1.0' in metrics.text


async def test_skip_and_logout(client: httpx.AsyncClient, db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 2, priorities=[90, 10])
    await _login(client)
    page = await client.get("/")
    first = re.search(r'data-item="(\d+)"', page.text).group(1)  # type: ignore[union-attr]

    skipped = await client.post(
        f"/items/{first}/verdict", data={"decision": "skip", "csrf_token": _csrf(page.text)}
    )
    assert skipped.status_code == 303
    page = await client.get("/")
    assert f'data-item="{first}"' not in page.text and "put back for later" in page.text

    assert (await client.post("/logout", data={"csrf_token": "nope"})).status_code == 403
    out = await client.post("/logout", data={"csrf_token": _csrf(page.text)})
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert (await client.get("/")).headers["location"] == "/login"


async def test_a_thumbnail_is_shown_only_to_the_claimant_and_to_admins(
    client: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    await add_moderators(db_sessions, ["alice", "bob"])
    await add_moderators(db_sessions, ["root"], role="admin")
    await seed_items(db_sessions, 2, image_thumbnail=_jpeg())
    await _login(client, "alice")
    page = await client.get("/")
    claimed = int(re.search(r'data-item="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
    assert (await client.get(f"/items/{claimed}/thumbnail")).status_code == 200
    other = await client.get(f"/items/{claimed + 1 if claimed % 2 else claimed - 1}/thumbnail")
    assert other.status_code == 404, "alice browsed an image she has not claimed"

    client.cookies.clear()
    await _login(client, "bob")
    assert (await client.get(f"/items/{claimed}/thumbnail")).status_code == 404, "bob saw alice's item"

    client.cookies.clear()
    await _login(client, "root")
    assert (await client.get(f"/items/{claimed}/thumbnail")).status_code == 200


@pytest.mark.parametrize("item_id", ["99999999999999999999", "9223372036854775808", "0"])
async def test_item_ids_no_bigint_holds_are_not_found_not_a_server_error(
    client: httpx.AsyncClient, db_sessions: Sessions, item_id: str
) -> None:
    await add_moderators(db_sessions, ["alice"])
    await _login(client)
    page = await client.get("/")
    assert (await client.get(f"/items/{item_id}/thumbnail")).status_code == 404
    verdict = await client.post(
        f"/items/{item_id}/verdict", data={"decision": "allow", "csrf_token": _csrf(page.text)}
    )
    assert verdict.status_code == 404
