"""The review page's protections: the session-signing secret, the Secure cookie rule, CSRF
tokens for every form, and the security headers on every response."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from service.errors import ConfigError
from service.settings import Settings

MIN_SECRET_CHARS = 32
_PLACEHOLDERS = {"changeme", "change-me", "secret", "default", "development", "test"}

_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def review_secret(settings: Settings) -> str:
    """``POSTGUARD_REVIEW_SECRET``, or a ``ConfigError`` saying how to set one."""
    secret = settings.review_secret.get_secret_value() if settings.review_secret is not None else ""
    hint = "set it to a random string, e.g. `python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
    if not secret:
        raise ConfigError(
            f"POSTGUARD_REVIEW_SECRET is required by the review page (it signs sessions): {hint}"
        )
    if len(secret) < MIN_SECRET_CHARS or secret.lower() in _PLACEHOLDERS:
        raise ConfigError(
            f"POSTGUARD_REVIEW_SECRET must have at least {MIN_SECRET_CHARS} random characters: {hint}"
        )
    return secret


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use), for the page's forms."""
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def csrf_ok(request: Request, given: object) -> bool:
    """Whether ``given`` is the session's CSRF token (compared in constant time)."""
    expected = request.session.get("csrf")
    return isinstance(expected, str) and isinstance(given, str) and hmac.compare_digest(given, expected)


def csrf_forbidden() -> Response:
    """The answer to a form posted without the session's CSRF token."""
    return Response("403 Forbidden: missing or wrong CSRF token; reload the page.", status_code=403)


def cookie_secure(settings: Settings, host: str) -> bool:
    """``POSTGUARD_REVIEW_COOKIE_SECURE`` when set; otherwise Secure unless ``host`` is loopback
    (a browser on the same machine speaks plain HTTP to it; anything else should be HTTPS)."""
    if settings.review_cookie_secure is not None:
        return settings.review_cookie_secure
    if host.strip("[]").lower() == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return True


class SecurityHeaders:
    """Pure ASGI middleware adding :data:`_SECURITY_HEADERS` to every HTTP response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(k.lower().encode(), v.encode()) for k, v in _SECURITY_HEADERS.items()]
                headers.extend(item for item in extra if item[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
