"""Errors of the HTTP API, answered in the shape each API's clients parse.

OpenAI: ``{"error": {"message", "type", "param", "code"}}``. Perspective (a Google API):
``{"error": {"code": <status>, "message", "status": "INVALID_ARGUMENT"|..., "details": [...]}}``.
Every error says what was wrong and, where there is one, which field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.responses import JSONResponse

__all__ = ["ApiError", "openai_error_response", "perspective_error_response"]

#: OpenAI's ``type`` per status (its API reference: invalid_request_error, authentication_error...).
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    409: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "requests",
    500: "server_error",
    503: "server_error",
}
#: Google's canonical status names.
_GOOGLE_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    409: "ALREADY_EXISTS",
    413: "INVALID_ARGUMENT",
    422: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


@dataclass
class ApiError(Exception):
    """A request the API answers with an error: ``status``, a message for the caller, the field at
    fault (``param``) and a stable machine-readable ``code``."""

    status: int
    message: str
    code: str
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: Perspective's ``details`` entries (e.g. an unknown attribute), passed through as given.
    details: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.message}"


def openai_error_response(error: ApiError) -> JSONResponse:
    body = {
        "error": {
            "message": error.message,
            "type": _OPENAI_TYPES.get(error.status, "invalid_request_error"),
            "param": error.param,
            "code": error.code,
        }
    }
    return JSONResponse(body, status_code=error.status, headers=error.headers)


def perspective_error_response(error: ApiError) -> JSONResponse:
    body: dict[str, Any] = {
        "code": error.status,
        "message": error.message,
        "status": _GOOGLE_STATUSES.get(error.status, "UNKNOWN"),
    }
    if error.details:
        body["details"] = error.details
    return JSONResponse({"error": body}, status_code=error.status, headers=error.headers)
