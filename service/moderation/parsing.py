"""Parsing a Kafka message into a :class:`~service.moderation.contract.Post`.

``parse_post`` is the only way a message becomes a post. It never raises anything but
:class:`~service.errors.PostRejected`, whose ``code`` is stable (the DLQ header
``postguard-error``) and whose ``reason`` is short and never quotes more than a few dozen
characters of the message: reasons travel in Kafka headers and logs, post text must not.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from service.errors import PostRejected
from service.moderation.contract import MAX_TEXT_CHARS, ImageRef, Post

#: At most this many characters taken from the payload (unknown field names) appear in a reason.
_ECHO_BUDGET = 80
_MAX_LISTED_ERRORS = 8
_SPECIAL_CODES = frozenset({"text_too_long", "empty_post", "created_at_in_future"})


def parse_post(raw: bytes, *, max_text_chars: int = MAX_TEXT_CHARS, now: datetime | None = None) -> Post:
    """Parse one message value into a :class:`Post`, or raise :class:`PostRejected`.

    ``now`` (default: the current time) is what ``created_at`` is compared with.
    """
    try:
        document = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PostRejected(
            "invalid_encoding", f"message is not valid UTF-8 (bad byte at offset {exc.start})"
        ) from None
    try:
        value = json.loads(
            document,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except DuplicateKeyError as exc:
        raise PostRejected("invalid_json", str(exc)) from None
    except RecursionError:
        raise PostRejected("invalid_json", "message is nested too deeply to parse") from None
    except json.JSONDecodeError as exc:
        raise PostRejected(
            "invalid_json", f"message is not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    except ValueError as exc:  # huge integers, NaN/Infinity, numbers that overflow to infinity
        raise PostRejected("invalid_json", f"message is not JSON: {str(exc)[:100]}") from None
    if not isinstance(value, dict):
        raise PostRejected("schema_violation", f"message must be a JSON object, not {_json_type(value)}")
    try:
        return Post.model_validate(value, context={"max_text_chars": max_text_chars, "now": now})
    except ValidationError as exc:
        raise _rejection(exc) from None
    except RecursionError:  # belt and braces: validation walks are iterative, but be certain
        raise PostRejected("schema_violation", "message is nested too deeply") from None


class DuplicateKeyError(ValueError):
    """An object names the same key twice."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refuse duplicate keys: parsers differ on which value wins (Python keeps the last, others the
    first), so a producer could see other content than postguard moderates."""
    document: dict[str, Any] = {}
    for key, value in pairs:
        if key in document:
            shown = key[:_ECHO_BUDGET] + ("..." if len(key) > _ECHO_BUDGET else "")
            raise DuplicateKeyError(
                f"message is not JSON that every parser reads alike: the key {shown!r} appears twice in one object"
            )
        document[key] = value
    return document


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    number = float(text)
    if number in (float("inf"), float("-inf")):
        raise ValueError("a number is too large for a 64-bit float")
    return number


def _json_type(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}.get(
        type(value), "null"
    )


def _rejection(exc: ValidationError) -> PostRejected:
    errors = exc.errors(include_url=False, include_input=False, include_context=False)
    if len(errors) == 1 and errors[0]["type"] in _SPECIAL_CODES:
        return PostRejected(errors[0]["type"], errors[0]["msg"])
    budget = [_ECHO_BUDGET]
    parts = [
        f"{_format_loc(error['loc'], budget)}: {_short_msg(error)}" for error in errors[:_MAX_LISTED_ERRORS]
    ]
    if len(errors) > _MAX_LISTED_ERRORS:
        parts.append(f"and {len(errors) - _MAX_LISTED_ERRORS} more")
    return PostRejected("schema_violation", "; ".join(parts))


_KNOWN_NAMES = frozenset(Post.model_fields) | frozenset(ImageRef.model_fields)


def _format_loc(loc: tuple[int | str, ...], budget: list[int]) -> str:
    """Join a field path; names not in the contract come from the payload and share a small budget."""
    if not loc:
        return "(post)"
    shown = []
    for part in loc:
        name = str(part)
        if name not in _KNOWN_NAMES:
            printable = "".join(ch if ch.isprintable() else "?" for ch in name)
            take = min(len(printable), max(budget[0], 0), 24)
            budget[0] -= take
            name = printable[:take] + ("…" if take < len(printable) else "")
        shown.append(name)
    return ".".join(shown)


def _short_msg(error: Any) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown field"
    if error["type"] == "missing":
        return "required"
    return str(error["msg"]).removeprefix("Value error, ")
