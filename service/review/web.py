"""The review page: a small server-rendered Starlette app (``postguard review serve``).

- No anonymous access: every page but ``/login``, ``/healthz`` and ``/metrics`` redirects to the
  login form without a session. Sessions are signed cookies (``POSTGUARD_REVIEW_SECRET``, no
  default), ``SameSite=Strict``, ``HttpOnly``, ``Secure`` unless the page binds a loopback
  address, at most eight hours from the login however active; each request re-checks that the
  account is still enabled and that the session's version is the account's (logout and
  disabling revoke every cookie issued before, copies included).
- Logins: failures are throttled per user name and per client address
  (``service/review/login_throttle.py``), password hashes run at most two at a time, and every
  failed login answers no sooner than :data:`FAILED_LOGIN_FLOOR_S` after it arrived, so response
  times do not tell which user names exist.
- CSRF: every form carries the session's random token; a POST without it, or with another, is 403.
- Everything from a post is rendered by Jinja2 with autoescaping on, and a strict
  Content-Security-Policy (scripts and styles from this server only, no inline code) backs it up.
- Opening the page claims the next item (or shows the one the moderator already holds); a verdict
  redirects to the next. Keyboard: a = allow, b = block, s = skip (review later), 1-9 toggle the
  category checkboxes, n = note.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from prometheus_client.exposition import choose_encoder
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from service.background import BackgroundTask
from service.errors import ModeratorRejected, ReviewConflict, ReviewNotFound
from service.review.auth import (
    HashingBusy,
    Moderator,
    PasswordHashing,
    authenticate,
    get_active_moderator,
    revoke_sessions,
)
from service.review.events import OutboxRelay
from service.review.login_throttle import LoginThrottle
from service.review.metrics import ReviewMetrics
from service.review.queue import (
    DEFAULT_DEFER_S,
    claim_next,
    current_claim,
    refresh_queue_metrics,
    release_expired_claims,
    skip,
    thumbnail,
)
from service.review.verdicts import model_flags, resolve
from service.review.web_security import (
    SecurityHeaders,
    cookie_secure,
    csrf_forbidden,
    csrf_ok,
    csrf_token,
    review_secret,
)
from service.settings import Settings

__all__ = ["SESSION_COOKIE", "build_review_app"]

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
SESSION_COOKIE = "postguard_review"
SESSION_MAX_AGE_S = 8 * 3600
#: A session ends this long after its login, however active (the cookie itself renews).
SESSION_ABSOLUTE_S = 8 * 3600
#: Every failed login answers no sooner than this after it arrived: longer than a password hash
#: plus the audit insert a known user name costs, so timing does not reveal which names exist.
FAILED_LOGIN_FLOOR_S = 1.0
#: How often the page server sweeps expired claims and re-reads the queue depth.
REFRESH_INTERVAL_S = 15.0


class _Pages:
    """The route handlers, sharing the database, metrics, relay and templates."""

    def __init__(
        self,
        *,
        sessions: async_sessionmaker[AsyncSession],
        metrics: ReviewMetrics,
        relay: OutboxRelay | None,
        claim_ttl_s: float,
        verdicts_topic: str,
        throttle: LoginThrottle,
        failed_login_floor_s: float,
    ) -> None:
        self.sessions = sessions
        self.metrics = metrics
        self.relay = relay
        self.claim_ttl_s = claim_ttl_s
        self.verdicts_topic = verdicts_topic
        self.throttle = throttle
        self.failed_login_floor_s = failed_login_floor_s
        self.hashing = PasswordHashing()
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"),
            autoescape=select_autoescape(enabled_extensions=("html",), default=True),
        )

    # --- helpers ---

    def render(self, request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        flash = request.session.pop("flash", None)
        body = self.templates.get_template(name).render(
            csrf_token=csrf_token(request), flash=flash, user=request.session.get("user"), **context
        )
        return HTMLResponse(body, status_code=status_code)

    async def moderator(self, request: Request) -> Moderator | None:
        """The logged-in, still enabled moderator; clears the session otherwise."""
        username = request.session.get("user")
        issued_at = request.session.get("iat")
        if not isinstance(username, str) or not isinstance(issued_at, int | float):
            request.session.clear()
            return None
        if time.time() - issued_at > SESSION_ABSOLUTE_S:
            request.session.clear()
            return None
        try:
            async with self.sessions() as session:
                user = await get_active_moderator(session=session, username=username)
        except (ReviewNotFound, ModeratorRejected):
            request.session.clear()
            return None
        if request.session.get("sv") != user.session_version:  # logged out or disabled since
            request.session.clear()
            return None
        return user

    # --- routes ---

    async def login_form(self, request: Request) -> Response:
        if await self.moderator(request) is not None:
            return RedirectResponse("/", status_code=303)
        return self.render(request, "login.html")

    async def login(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get("csrf_token")):
            return csrf_forbidden()
        arrived = time.monotonic()
        username, password = form.get("username"), form.get("password")
        if not (isinstance(username, str) and isinstance(password, str) and username and password):
            return self.render(
                request, "login.html", status_code=400, error="Give a user name and a password."
            )
        username = username.strip()
        client = request.client.host if request.client else "unknown"
        wait = self.throttle.retry_after(username, client)
        if wait > 0:
            return self._login_refused(request, 429, wait, "Too many failed logins for this name or address.")
        try:
            user = await authenticate(
                sessions=self.sessions, username=username, password=password, hashing=self.hashing
            )
        except HashingBusy:
            return self._login_refused(request, 503, 5, "The login service is busy.")
        if user is None:
            self.throttle.failed(username, client)
            await asyncio.sleep(max(0.0, arrived + self.failed_login_floor_s - time.monotonic()))
            return self.render(request, "login.html", status_code=401, error="Wrong user name or password.")
        self.throttle.succeeded(username)
        # A new session (and CSRF token) at login: nothing from before the login carries over.
        request.session.clear()
        request.session["user"] = user.username
        request.session["csrf"] = secrets.token_urlsafe(32)
        request.session["iat"] = int(time.time())
        request.session["sv"] = user.session_version
        return RedirectResponse("/", status_code=303)

    def _login_refused(self, request: Request, status_code: int, wait_s: float, why: str) -> Response:
        minutes = max(1, round(wait_s / 60))
        retry = (
            f"try again in {minutes} minute{'s' if minutes > 1 else ''}"
            if wait_s >= 60
            else "try again in a few seconds"
        )
        response = self.render(request, "login.html", status_code=status_code, error=f"{why} Please {retry}.")
        response.headers["Retry-After"] = str(max(1, int(wait_s + 0.999)))
        return response

    async def logout(self, request: Request) -> Response:
        form = await request.form()
        if not csrf_ok(request, form.get("csrf_token")):
            return csrf_forbidden()
        user = await self.moderator(request)
        if user is not None:  # every cookie of this account stops working, copies included
            await revoke_sessions(sessions=self.sessions, username=user.username)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    async def next_item(self, request: Request) -> Response:
        user = await self.moderator(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        item = await current_claim(sessions=self.sessions, moderator=user.username)
        if item is None:
            item = await claim_next(
                sessions=self.sessions,
                moderator=user.username,
                claim_ttl_s=self.claim_ttl_s,
                metrics=self.metrics,
            )
        if item is None:
            return self.render(request, "empty.html", moderator=user)
        flagged = model_flags(item.triggered)
        return self.render(
            request,
            "item.html",
            moderator=user,
            item=item,
            flagged=flagged,
            shortcuts=[str(n) for n in range(1, min(len(item.categories), 9) + 1)],
        )

    async def verdict(self, request: Request) -> Response:
        user = await self.moderator(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        form = await request.form()
        if not csrf_ok(request, form.get("csrf_token")):
            return csrf_forbidden()
        item_id = _item_id(request)
        if item_id is None:
            return _bad_request(f"no review item {request.path_params['item_id']}", status_code=404)
        choice = form.get("decision")
        note = form.get("note")
        labels = {str(key)[len("label_") :]: 1 for key in form if str(key).startswith("label_")}
        try:
            if choice == "skip":
                await skip(
                    sessions=self.sessions, item_id=item_id, moderator=user.username, defer_s=DEFAULT_DEFER_S
                )
                request.session["flash"] = f"Item {item_id} put back for later."
            elif choice in ("allow", "block"):
                await resolve(
                    sessions=self.sessions,
                    item_id=item_id,
                    moderator=user.username,
                    action=str(choice),
                    labels=labels,
                    note=note if isinstance(note, str) else None,
                    verdicts_topic=self.verdicts_topic,
                    metrics=self.metrics,
                )
                if self.relay is not None:
                    self.relay.nudge()
                request.session["flash"] = f"Item {item_id}: {choice} recorded."
            else:
                return _bad_request("choose allow, block or skip")
        except ReviewConflict as exc:
            request.session["flash"] = f"Not recorded: {exc}"
        except ReviewNotFound as exc:
            return _bad_request(str(exc), status_code=404)
        except ValueError as exc:
            return _bad_request(str(exc))
        return RedirectResponse("/", status_code=303)

    async def thumbnail(self, request: Request) -> Response:
        user = await self.moderator(request)
        if user is None:
            return RedirectResponse("/login", status_code=303)
        item_id = _item_id(request)
        if item_id is None:
            return Response(status_code=404)
        image = await thumbnail(
            sessions=self.sessions, item_id=item_id, claimant=None if user.is_admin else user.username
        )
        if image is None:  # no image, no such item, or not this moderator's claim: all look alike
            return Response(status_code=404)
        return Response(image, media_type="image/jpeg")

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def metrics_page(self, request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(self.metrics.registry), media_type=content_type)


#: Review item ids are PostgreSQL BIGINTs: a larger number in a URL names no item (and would fail
#: the query with a 500).
_MAX_ITEM_ID = 2**63 - 1


def _item_id(request: Request) -> int | None:
    """The ``{item_id:int}`` of the path, or ``None`` when no BIGINT can hold it."""
    item_id = int(request.path_params["item_id"])
    return item_id if 0 < item_id <= _MAX_ITEM_ID else None


def _bad_request(message: str, status_code: int = 400) -> Response:
    return Response(f"{status_code}: {message}", status_code=status_code, media_type="text/plain")


async def _refresh_forever(pages: _Pages, interval_s: float) -> None:
    while True:
        try:
            await release_expired_claims(sessions=pages.sessions, metrics=pages.metrics)
            await refresh_queue_metrics(sessions=pages.sessions, metrics=pages.metrics)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - an observability refresh must not stop the page
            logger.warning("refreshing the review queue failed: %s", exc)
        await asyncio.sleep(interval_s)


def build_review_app(
    *,
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    metrics: ReviewMetrics,
    relay: OutboxRelay | None = None,
    refresh_interval_s: float | None = REFRESH_INTERVAL_S,
    host: str | None = None,
    throttle: LoginThrottle | None = None,
    failed_login_floor_s: float = FAILED_LOGIN_FLOOR_S,
) -> Starlette:
    """The review page's ASGI app. ``relay`` (if any) and the queue refresher run in its lifespan.
    ``host`` is the address it is served on (default: ``POSTGUARD_REVIEW_HOST``): cookies are
    ``Secure`` unless it is a loopback address or ``POSTGUARD_REVIEW_COOKIE_SECURE`` says otherwise."""
    pages = _Pages(
        sessions=sessions,
        metrics=metrics,
        relay=relay,
        claim_ttl_s=settings.review_claim_ttl_s,
        verdicts_topic=settings.verdicts_topic,
        throttle=throttle or LoginThrottle(),
        failed_login_floor_s=failed_login_floor_s,
    )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        interval_s = refresh_interval_s or 0.0
        refresher = BackgroundTask("postguard-review-refresh", lambda: _refresh_forever(pages, interval_s))
        if refresh_interval_s:
            refresher.start()
        if relay is not None:
            relay.start()
        try:
            yield
        finally:
            await refresher.stop()
            if relay is not None:
                await relay.stop()

    routes = [
        Route("/", pages.next_item, methods=["GET"]),
        Route("/login", pages.login_form, methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/logout", pages.logout, methods=["POST"]),
        Route("/items/{item_id:int}/verdict", pages.verdict, methods=["POST"]),
        Route("/items/{item_id:int}/thumbnail", pages.thumbnail, methods=["GET"]),
        Route("/healthz", pages.healthz, methods=["GET"]),
        Route("/metrics", pages.metrics_page, methods=["GET"]),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=review_secret(settings),
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_MAX_AGE_S,
            same_site="strict",
            https_only=cookie_secure(settings, host or settings.review_host),
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, lifespan=lifespan)
