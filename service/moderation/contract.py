"""The wire contract: the post postguard consumes and the decision it publishes.

:func:`service.moderation.parsing.parse_post` is the only way a Kafka message becomes a
:class:`Post`; :mod:`service.moderation.schemas` writes the committed JSON Schemas.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from service.records import UtcDateTime

SCHEMA_VERSION: Literal[1] = 1
MAX_TEXT_CHARS = 10_000
MAX_ID_CHARS = 128
MAX_URL_CHARS = 2048
MAX_LANG_CHARS = 35
MAX_METADATA_BYTES = 64 * 1024
#: Deeper metadata is almost certainly an attack or a bug; the limit keeps every walk over it cheap.
MAX_METADATA_DEPTH = 32
#: Clocks drift and queues replay, so a little future is normal; a day ahead means a broken clock.
MAX_CLOCK_SKEW = timedelta(hours=24)

Action = Literal["allow", "review", "block"]
Modality = Literal["caption", "image_pixels", "image_text"]

#: Unicode categories refused in ids: controls (CR, LF, ESC...), format characters (bidi
#: overrides, zero-width), line and paragraph separators.
_ID_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# NUL cannot be stored in PostgreSQL text or jsonb; lone surrogates cannot be encoded as UTF-8 at all.
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?P<tz>[Zz]|[+-]\d{2}:\d{2})?")
_LANG = r"^[A-Za-z]{2,8}(?:-[A-Za-z0-9]{1,8})*$"


def _clean_string(value: str) -> str:
    match = _BAD_CHARS.search(value)
    if match is not None:
        what = "NUL characters" if match.group() == "\x00" else "unpaired UTF-16 surrogates"
        raise ValueError(f"must not contain {what}")
    return value


def _string_only(schema: dict[str, Any]) -> None:
    """Describe an optional string field as a plain string: with ``oneOf`` required, null has no use."""
    for member in schema.pop("anyOf", []):
        if member.get("type") == "string":
            schema.update(member)
    schema.pop("default", None)


CleanStr = Annotated[str, AfterValidator(_clean_string)]


def _clean_id(value: str) -> str:
    """Ids end up in keys, headers, URLs and log lines: no control, format (bidi overrides,
    zero-width) or line-separator characters, which would forge or disguise those."""
    _clean_string(value)
    for position, ch in enumerate(value):
        if unicodedata.category(ch) in _ID_FORBIDDEN_CATEGORIES:
            raise ValueError(
                f"must not contain control, format or line-separator characters "
                f"(U+{ord(ch):04X} at position {position})"
            )
    return value


IdStr = Annotated[str, AfterValidator(_clean_id)]
Share = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
#: A decision's scores (category -> probability) and attribution (category -> modality -> share):
#: the pipeline checks the model's output against them before anything is stored.
Scores = dict[str, Share]
Attribution = dict[str, dict[Modality, Share]]


class ImageRef(BaseModel):
    """The image of a post: inline base64 bytes or an http(s) URL, exactly one of them."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"oneOf": [{"required": ["data"]}, {"required": ["url"]}]},
    )

    # null is tolerated on input, but the schema tells producers to omit the field (see _string_only).
    # The length constraints sit on the ``str`` member: on the Optional they would be applied to None too.
    data: Annotated[str, Field(min_length=1)] | None = Field(
        default=None,
        description="The image file (JPEG, PNG, WebP or GIF), base64 with the standard alphabet and padding.",
        json_schema_extra=_string_only,
    )
    url: Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS)] | None = Field(
        default=None,
        description="An http(s) URL of the image; only fetched when the deployment enables URL fetching.",
        json_schema_extra=_string_only,
    )

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
            raise ValueError("must not contain whitespace or control characters")
        _clean_string(value)
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - parsing the port is what validates it
        except ValueError:
            raise ValueError("is not a valid URL") from None
        if parts.scheme.lower() not in ("http", "https"):
            raise ValueError("must be an http or https URL")
        if not parts.hostname:
            raise ValueError("must include a host")
        return value

    @model_validator(mode="after")
    def _exactly_one(self) -> ImageRef:
        if (self.data is None) == (self.url is None):
            raise ValueError("give exactly one of data or url")
        return self


class Post(BaseModel):
    """One post to moderate, as it arrives on the input topic (key: ``post_id``)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={"anyOf": [{"required": ["text"]}, {"required": ["image"]}]},
    )

    post_id: IdStr = Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="Unique id of the post; the idempotency key (a redelivered post_id is decided once). "
        "No control, format (bidi overrides, zero-width) or line-separator characters (Unicode Cc, Cf, Zl, Zp).",
        examples=["p-000123"],
    )
    author_id: IdStr = Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="The author's id; the same characters are refused as in post_id.",
        examples=["u-42"],
    )
    text: CleanStr | None = Field(
        default=None,
        description="The caption or body of the post, at most 10,000 Unicode characters.",
        json_schema_extra={"maxLength": MAX_TEXT_CHARS},
    )
    image: ImageRef | None = None
    created_at: datetime = Field(
        description="RFC 3339 time with an offset (Z or ±HH:MM); at most 24 h in the future.",
        examples=["2026-11-27T10:15:00Z"],
    )
    lang: str | None = Field(
        default=None,
        max_length=MAX_LANG_CHARS,
        pattern=_LANG,
        description="BCP 47 language tag",
        examples=["en-GB"],
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="Free-form JSON object stored with the post (at most 64 KiB serialized, depth 32).",
    )

    @field_validator("text")
    @classmethod
    def _check_text_length(cls, value: str | None, info: ValidationInfo) -> str | None:
        limit = (info.context or {}).get("max_text_chars", MAX_TEXT_CHARS)
        if value is not None and len(value) > limit:
            raise PydanticCustomError(
                "text_too_long",
                "text has {length} characters, more than the limit of {limit}",
                {"length": len(value), "limit": limit},
            )
        return value

    @field_validator("created_at", mode="before")
    @classmethod
    def _require_rfc3339(cls, value: Any) -> Any:
        # pydantic alone would also take unix numbers and naive times; the contract is RFC 3339 with offset.
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("must include a timezone offset (Z or ±HH:MM)")
            return value
        if not isinstance(value, str):
            raise ValueError("must be an RFC 3339 date-time string")
        match = _RFC3339.fullmatch(value)
        if match is None:
            raise ValueError("must be an RFC 3339 date-time string, e.g. 2026-11-27T10:15:00Z")
        if match.group("tz") is None:
            raise ValueError("must include a timezone offset (Z or ±HH:MM)")
        return value

    @field_validator("created_at")
    @classmethod
    def _not_far_future(cls, value: datetime, info: ValidationInfo) -> datetime:
        now = (info.context or {}).get("now") or datetime.now(UTC)
        ahead = value - now  # aware arithmetic: no conversion, so no overflow at the calendar's ends
        if ahead > MAX_CLOCK_SKEW:
            raise PydanticCustomError(
                "created_at_in_future",
                "created_at is {hours} h in the future (more than 24 h ahead: check the producer's clock)",
                {"hours": round(ahead.total_seconds() / 3600, 1)},
            )
        try:
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("is outside the representable range of dates") from None

    @field_validator("metadata")
    @classmethod
    def _check_metadata(cls, value: dict[str, Any]) -> dict[str, Any]:
        _check_json_tree(value)
        size = len(json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"is {size:,} bytes serialized, more than the limit of {MAX_METADATA_BYTES:,}")
        return value

    @model_validator(mode="after")
    def _not_empty(self) -> Post:
        if (self.text is None or not self.text.strip()) and self.image is None:
            raise PydanticCustomError("empty_post", "the post has neither text nor an image")
        return self


def _check_json_tree(root: Any) -> None:
    """Walk a JSON value without recursion: depth, string content and finite numbers."""
    stack: list[tuple[Any, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_METADATA_DEPTH:
            raise ValueError(f"is nested deeper than {MAX_METADATA_DEPTH} levels")
        if isinstance(node, dict):
            for key, child in node.items():
                if not isinstance(key, str):
                    raise ValueError("must have string keys only")
                _clean_string(key)
                stack.append((child, depth + 1))
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
        elif isinstance(node, str):
            _clean_string(node)
        elif isinstance(node, float):
            if node != node or node in (float("inf"), float("-inf")):
                raise ValueError("must not contain NaN or infinite numbers")
        elif node is not None and not isinstance(node, bool | int):
            raise ValueError("must contain JSON values only")


class TriggeredRule(BaseModel):
    """One policy rule that fired for a decision."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)

    kind: Literal["category", "deny_term", "allow_term", "language"]
    name: str = Field(
        description="The category name, the term as written in the policy, or the language a text "
        "of the post is written in (a language rule: ISO 639 code, outside the policy's supported ones)."
    )
    action: Action = Field(
        description="What this rule asks for (an allow_term asks for review instead of block)."
    )
    score: Share | None = Field(
        default=None,
        description="The category score (category rules), or the language identifier's confidence (language rules).",
    )
    threshold: Share | None = Field(
        default=None, description="The threshold the score reached (category rules only)."
    )


class Decision(BaseModel):
    """The moderation decision published for one post (key: ``post_id``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, json_schema_serialization_defaults_required=True)

    post_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    action: Action
    scores: Scores = Field(description="Probability per category, in [0, 1].")
    triggered: list[TriggeredRule] = Field(default_factory=list, description="Every rule that fired.")
    attribution: Attribution = Field(
        default_factory=dict,
        description="Per category, the share of the score due to the caption, the image pixels and the image's text.",
    )
    model_version: str = Field(min_length=1)
    policy_version: str = Field(min_length=1)
    decided_at: UtcDateTime = Field(description="When the decision was made, UTC.")
    schema_version: Literal[1] = SCHEMA_VERSION
