"""The review page in-process (httpx over ASGI): authentication, CSRF, escaping, verdicts."""

from __future__ import annotations

import base64
import hashlib
import io
import re
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select, update

from service.errors import ConfigError
from service.review.auth import set_disabled
from service.review.login_throttle import LoginThrottle
from service.review.metrics import build_review_metrics
from service.review.web import (
    FAILED_LOGIN_FLOOR_S,
    SESSION_ABSOLUTE_S,
    SESSION_COOKIE,
    build_review_app,
)
from service.review.web_security import cookie_secure, review_secret
from service.settings import load_settings
from service.storage.tables import AuditLogRow, ModeratorRow, VerdictRow
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


async def test_a_post_reviewed_for_its_language_says_so_and_flags_no_category(
    client: httpx.AsyncClient, db_sessions: Sessions
) -> None:
    await add_moderators(db_sessions, ["alice"])
    language = {"kind": "language", "name": "es", "action": "review", "score": 0.93}
    await seed_items(db_sessions, 1, text="Los inmigrantes son basura", triggered=[language])
    await _login(client)

    page = await client.get("/")

    assert page.status_code == 200
    assert "language <b>es</b> → review" in page.text
    assert "a language the classifier does not read" in page.text and "confidence 0.93" in page.text
    # A language rule is not a category the model flagged: nothing comes pre-checked.
    assert not re.search(r'name="label_[a-z_]+"[^>]*checked', page.text)


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


# --- logins: throttling, timing, rehashing; sessions: revocation, lifetime, Secure cookies -------


def _app(db_sessions: Sessions, **options: Any) -> httpx.AsyncClient:
    app = build_review_app(
        settings=_settings(review_secret=SECRET),  # type: ignore[arg-type]
        sessions=db_sessions,
        metrics=build_review_metrics(),
        refresh_interval_s=None,
        **options,
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


async def test_failed_logins_are_throttled_before_any_password_is_hashed(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    throttle = LoginThrottle(per_user=3, per_client=100)
    async with _app(db_sessions, throttle=throttle, failed_login_floor_s=0.0) as client:
        for _ in range(3):
            assert (await _login(client, password="wrong password!")).status_code == 401
        started = time.monotonic()
        locked = await _login(client)  # even the right password waits out the window
        assert time.monotonic() - started < 0.3, "a locked name still paid for a hash"
        assert locked.status_code == 429
        assert int(locked.headers["retry-after"]) > 800
        assert "Too many failed logins" in locked.text and "try again in 15 minutes" in locked.text
        # A name that does not exist is throttled alike (the answer reveals nothing).
        for _ in range(3):
            await _login(client, username="mallory")
        assert (await _login(client, username="mallory")).status_code == 429


async def test_failed_logins_take_as_long_for_unknown_and_known_names(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    throttle = LoginThrottle(per_user=100, per_client=100)
    async with _app(db_sessions, throttle=throttle) as client:
        timings: dict[str, list[float]] = {"alice": [], "nobody-here": []}
        for _ in range(3):
            for name, spent in timings.items():
                started = time.monotonic()
                assert (await _login(client, username=name, password="wrong password!")).status_code == 401
                spent.append(time.monotonic() - started)
    known, unknown = (statistics.median(t) for t in timings.values())
    assert min(min(t) for t in timings.values()) >= FAILED_LOGIN_FLOOR_S
    assert abs(known - unknown) < 0.1, timings


async def test_a_weaker_stored_hash_is_replaced_at_login(
    db_sessions: Sessions, client: httpx.AsyncClient
) -> None:
    await add_moderators(db_sessions, ["alice"])
    weak = "scrypt$16384$8$1$" + "$".join(
        base64.b64encode(part).decode()
        for part in (
            b"s" * 16,
            hashlib.scrypt(PASSWORD.encode(), salt=b"s" * 16, n=16384, r=8, p=1, dklen=32),
        )
    )
    async with db_sessions() as session, session.begin():
        await session.execute(update(ModeratorRow).values(password_hash=weak))
    assert (await _login(client)).status_code == 303
    async with db_sessions() as session:
        stored = await session.scalar(select(ModeratorRow.password_hash))
        audit = (await session.scalars(select(AuditLogRow.after).where(AuditLogRow.action == "login"))).all()
    assert stored is not None and stored.startswith("scrypt$131072$8$1$")
    assert audit == [{"password_rehashed": True}]


async def test_logout_revokes_every_copy_of_the_session_cookie(
    db_sessions: Sessions, client: httpx.AsyncClient
) -> None:
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 1)
    await _login(client)
    page = await client.get("/")
    stolen = client.cookies[SESSION_COOKIE]
    await client.post("/logout", data={"csrf_token": _csrf(page.text)})
    async with _app(db_sessions) as thief:
        thief.cookies.set(SESSION_COOKIE, stolen)
        response = await thief.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"
    async with db_sessions() as session:
        actions = (await session.scalars(select(AuditLogRow.action).order_by(AuditLogRow.id))).all()
    assert actions[-1] == "logout"


async def test_disabling_revokes_sessions_and_enabling_does_not_bring_them_back(
    db_sessions: Sessions, client: httpx.AsyncClient
) -> None:
    await add_moderators(db_sessions, ["alice"])
    await _login(client)
    assert (await client.get("/")).status_code == 200
    copied = client.cookies[SESSION_COOKIE]
    await set_disabled(sessions=db_sessions, username="alice", disabled=True)
    await set_disabled(sessions=db_sessions, username="alice", disabled=False)
    async with _app(db_sessions) as other:
        other.cookies.set(SESSION_COOKIE, copied)
        assert (await other.get("/")).status_code == 303


async def test_a_session_ends_eight_hours_after_its_login_however_active(
    db_sessions: Sessions, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await add_moderators(db_sessions, ["alice"])
    await _login(client)
    assert (await client.get("/")).status_code == 200
    later = time.time() + SESSION_ABSOLUTE_S + 1
    monkeypatch.setattr("service.review.web.time.time", lambda: later)
    response = await client.get("/")
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize(
    ("host", "setting", "secure"),
    [
        ("127.0.0.1", None, False),
        ("localhost", None, False),
        ("::1", None, False),
        ("0.0.0.0", None, True),
        ("10.2.3.4", None, True),
        ("review.example", None, True),
        ("0.0.0.0", False, False),
        ("127.0.0.1", True, True),
    ],
)
def test_cookies_are_secure_unless_served_on_loopback(host: str, setting: bool | None, secure: bool) -> None:
    settings = _settings(review_secret=SECRET, review_cookie_secure=setting)
    assert cookie_secure(settings, host) is secure  # type: ignore[arg-type]


async def test_the_session_cookie_carries_secure_when_served_beyond_loopback(db_sessions: Sessions) -> None:
    await add_moderators(db_sessions, ["alice"])
    app = build_review_app(
        settings=_settings(review_secret=SECRET),  # type: ignore[arg-type]
        sessions=db_sessions,
        metrics=build_review_metrics(),
        refresh_interval_s=None,
        host="0.0.0.0",
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="https://review.example"
    ) as client:
        response = await _login(client)
    assert response.status_code == 303
    assert "; secure" in response.headers["set-cookie"].lower()
