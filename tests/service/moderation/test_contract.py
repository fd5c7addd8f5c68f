"""The wire contract: what parse_post accepts, each rejection code, and the committed JSON Schemas."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from service.errors import PostRejected
from service.moderation.contract import Decision, ImageRef, Post, TriggeredRule
from service.moderation.parsing import parse_post
from service.moderation.schemas import decision_json_schema, post_json_schema, render_json_schema

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"


def post(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "post_id": "p-1",
        "author_id": "u-1",
        "text": "hello world",
        "created_at": "2026-11-27T10:00:00Z",
    }
    base.update(fields)
    return {key: value for key, value in base.items() if value is not ...}


def encode(document: Any) -> bytes:
    return json.dumps(document).encode()


def rejected(raw: bytes, **kwargs: Any) -> PostRejected:
    with pytest.raises(PostRejected) as caught:
        parse_post(raw, now=NOW, **kwargs)
    return caught.value


# --- accepted ---------------------------------------------------------------------------------


def test_minimal_text_post() -> None:
    parsed = parse_post(encode(post()), now=NOW)
    assert parsed.post_id == "p-1"
    assert parsed.text == "hello world"
    assert parsed.image is None
    assert parsed.metadata == {}
    assert parsed.created_at == datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def test_full_post_with_image_lang_metadata() -> None:
    document = post(
        image={"data": "aGVsbG8="},
        lang="pt-BR",
        metadata={"source": "app", "tags": ["a", 1, 2.5, None, True], "nested": {"k": {"v": 1}}},
        created_at="2026-11-27T13:00:00.123456+02:00",
    )
    parsed = parse_post(encode(document), now=NOW)
    assert parsed.image == ImageRef(data="aGVsbG8=")
    assert parsed.lang == "pt-BR"
    assert parsed.metadata["nested"] == {"k": {"v": 1}}
    # Offsets are honoured and normalised to UTC.
    assert parsed.created_at == datetime(2026, 11, 27, 11, 0, 0, 123456, tzinfo=UTC)


def test_image_only_post_and_url_image() -> None:
    parsed = parse_post(encode(post(text=..., image={"url": "https://cdn.example.com/a.png"})), now=NOW)
    assert parsed.text is None
    assert parsed.image is not None and parsed.image.url == "https://cdn.example.com/a.png"


def test_created_at_up_to_a_day_ahead_is_accepted() -> None:
    ahead = (NOW + timedelta(hours=23)).isoformat()
    assert parse_post(encode(post(created_at=ahead)), now=NOW).created_at == NOW + timedelta(hours=23)


def test_limits_are_inclusive() -> None:
    parsed = parse_post(
        encode(post(post_id="p" * 128, text="x" * 10_000, lang="x" * 8 + "-abcdefgh" * 3)), now=NOW
    )
    assert len(parsed.post_id) == 128


def test_explicit_nulls_for_optional_fields() -> None:
    parsed = parse_post(encode(post(image=None, lang=None)), now=NOW)
    assert parsed.image is None and parsed.lang is None


# --- rejection codes --------------------------------------------------------------------------


def test_invalid_encoding() -> None:
    error = rejected(b'{"text": "caf\xe9"}')
    assert error.code == "invalid_encoding"


@pytest.mark.parametrize(
    "raw",
    [b"", b"{", b"not json", b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e999}', b"[" * 100_000, b"9" * 5000],
)
def test_invalid_json(raw: bytes) -> None:
    assert rejected(raw).code == "invalid_json"


@pytest.mark.parametrize("document", [[], "post", 3, None, True])
def test_top_level_must_be_an_object(document: Any) -> None:
    error = rejected(encode(document))
    assert error.code == "schema_violation"
    assert "JSON object" in error.reason


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"post_id": ""}, "post_id"),
        ({"post_id": "p" * 129}, "post_id"),
        ({"post_id": 12}, "post_id"),
        ({"post_id": ...}, "post_id"),
        ({"author_id": ""}, "author_id"),
        ({"author_id": "a\x00b"}, "author_id"),
        ({"text": "nul \x00 inside"}, "text"),
        ({"text": "lone \ud800 surrogate"}, "text"),
        ({"created_at": "2026-11-27T10:00:00"}, "created_at"),
        ({"created_at": "2026-11-27"}, "created_at"),
        ({"created_at": 1_790_000_000}, "created_at"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": "2026-13-27T10:00:00Z"}, "created_at"),
        ({"lang": "english language"}, "lang"),
        ({"lang": "en-" + "a" * 40}, "lang"),
        ({"metadata": []}, "metadata"),
        ({"metadata": {"k": "v\x00"}}, "metadata"),
        ({"metadata": {"big": "x" * 70_000}}, "metadata"),
        ({"image": {}}, "image"),
        ({"image": {"data": "aGk=", "url": "https://example.com/a.png"}}, "image"),
        ({"image": {"url": "ftp://example.com/a.png"}}, "image.url"),
        ({"image": {"url": "https:///nohost"}}, "image.url"),
        ({"image": {"url": "https://example.com/a b.png"}}, "image.url"),
        ({"image": {"url": "https://example.com:99999/a.png"}}, "image.url"),
        ({"image": {"data": ""}}, "image.data"),
        ({"image": {"data": None}}, "image"),
        ({"image": {"data": "aGk=", "extra": 1}}, "image.extra"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_schema_violation_names_the_field(fields: dict[str, Any], path: str) -> None:
    error = rejected(encode(post(**fields)))
    assert error.code == "schema_violation"
    assert error.reason.startswith(path + ":") or f"; {path}:" in error.reason, error.reason


def test_metadata_depth_is_limited() -> None:
    nested: Any = "leaf"
    for _ in range(40):
        nested = {"k": nested}
    error = rejected(encode(post(metadata=nested)))
    assert error.code == "schema_violation"
    assert "nested deeper" in error.reason


def test_every_bad_field_is_listed() -> None:
    error = rejected(encode(post(post_id="", author_id="", lang="?", extra_field=1)))
    assert error.code == "schema_violation"
    for path in ("post_id", "author_id", "lang", "extra_field"):
        assert path in error.reason


def test_reason_never_echoes_much_of_the_payload() -> None:
    secret = "S" * 5_000
    document = post(**{secret: 1, secret + "2": 2, secret + "3": 3, "text": secret, "post_id": secret})
    error = rejected(encode(document))
    assert error.code == "schema_violation"
    assert error.reason.count("S") <= 80
    assert len(error.reason) < 1_000


def test_text_too_long() -> None:
    error = rejected(encode(post(text="x" * 10_001)))
    assert error.code == "text_too_long"
    assert "10,001" in error.reason or "10001" in error.reason


def test_text_limit_is_configurable() -> None:
    assert rejected(encode(post(text="x" * 11)), max_text_chars=10).code == "text_too_long"
    assert parse_post(encode(post(text="x" * 20_000)), max_text_chars=20_000, now=NOW).text == "x" * 20_000


def test_text_too_long_with_other_errors_is_a_schema_violation() -> None:
    error = rejected(encode(post(text="x" * 10_001, post_id="")))
    assert error.code == "schema_violation"
    assert "text:" in error.reason and "post_id:" in error.reason


@pytest.mark.parametrize(
    "fields", [{"text": ...}, {"text": ""}, {"text": "  \n\t "}, {"text": None, "image": None}]
)
def test_empty_post(fields: dict[str, Any]) -> None:
    assert rejected(encode(post(**fields))).code == "empty_post"


def test_created_at_in_future() -> None:
    error = rejected(encode(post(created_at=(NOW + timedelta(hours=25)).isoformat())))
    assert error.code == "created_at_in_future"
    assert "24 h" in error.reason


@pytest.mark.parametrize("created_at", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
def test_calendar_extremes_never_crash(created_at: str) -> None:
    assert rejected(encode(post(created_at=created_at))).code in {"created_at_in_future", "schema_violation"}


# --- property: parse_post either returns a Post or raises PostRejected ---------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)
field_values = st.one_of(
    json_values,
    st.sampled_from(["2026-11-27T10:00:00Z", "2026-11-27T10:00:00", "9999-12-31T23:59:59Z", "", "en"]),
    st.fixed_dictionaries(
        {}, optional={"data": json_values | st.text(), "url": st.text() | st.just("http://x/")}
    ),
)
post_like = st.dictionaries(
    st.sampled_from(["post_id", "author_id", "text", "image", "created_at", "lang", "metadata", "other"]),
    field_values,
)


def _never_anything_but_rejected(raw: bytes) -> None:
    try:
        result = parse_post(raw, now=NOW)
    except PostRejected as exc:
        assert exc.code in {
            "invalid_encoding",
            "invalid_json",
            "schema_violation",
            "text_too_long",
            "empty_post",
            "created_at_in_future",
        }
        assert len(exc.reason) < 2_000
    else:
        assert isinstance(result, Post)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=512))
def test_parse_post_on_arbitrary_bytes(raw: bytes) -> None:
    _never_anything_but_rejected(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(json_values, post_like))
def test_parse_post_on_arbitrary_json(document: Any) -> None:
    _never_anything_but_rejected(json.dumps(document).encode())


# --- decision and schemas ---------------------------------------------------------------------


def test_decision_round_trip_in_utc() -> None:
    decision = Decision(
        post_id="p-1",
        action="review",
        scores={"hate": 0.7, "toxic": 0.1},
        triggered=[TriggeredRule(kind="category", name="hate", action="review", score=0.7, threshold=0.5)],
        attribution={"hate": {"caption": 0.8, "image_pixels": 0.2, "image_text": 0.0}},
        model_version="m-1",
        policy_version="2026-11-27.1",
        decided_at=datetime(2026, 11, 27, 13, 0, tzinfo=UTC).astimezone(),
    )
    encoded = json.loads(decision.model_dump_json())
    assert encoded["decided_at"] == "2026-11-27T13:00:00Z"
    assert encoded["schema_version"] == 1
    assert Decision.model_validate(encoded) == decision


@pytest.mark.parametrize(
    "change",
    [
        {"scores": {"hate": 1.5}},
        {"scores": {"hate": float("nan")}},
        {"action": "delete"},
        {"decided_at": datetime(2026, 1, 1)},
    ],
)
def test_decision_rejects_invalid_values(change: dict[str, Any]) -> None:
    fields: dict[str, Any] = {
        "post_id": "p",
        "action": "allow",
        "scores": {},
        "model_version": "m",
        "policy_version": "p",
        "decided_at": NOW,
    }
    with pytest.raises(ValidationError):
        Decision(**(fields | change))


@pytest.mark.parametrize(("name", "export"), [("post", post_json_schema), ("decision", decision_json_schema)])
def test_committed_schema_matches_the_models(name: str, export: Any) -> None:
    committed = (SCHEMAS / f"{name}.schema.json").read_text(encoding="utf-8")
    assert committed == render_json_schema(export()), (
        "run: .venv/bin/python -m service.moderation.schemas docs/schemas"
    )


def test_post_schema_describes_the_limits() -> None:
    schema = post_json_schema()
    properties = schema["properties"]
    assert schema["additionalProperties"] is False
    assert properties["post_id"]["maxLength"] == 128
    assert properties["text"]["maxLength"] == 10_000
    assert properties["created_at"]["format"] == "date-time"
    assert set(schema["required"]) == {"post_id", "author_id", "created_at"}


# --- fuzz: byte-level mutations of complete, valid messages ---------------------------------------

_VALID_MESSAGES = [
    encode(post()),
    encode(post(image={"data": "iVBORw0KGgo="}, lang="pt-BR", metadata={"a": [1, 2.5, None, {"b": "c"}]})),
    encode(
        post(text=None, image={"url": "https://images.example/a.png"}, created_at="2026-11-27T11:15:00+01:00")
    ),
]


@st.composite
def mutated_messages(draw: st.DrawFn) -> bytes:
    """A valid message with a few bytes replaced, inserted or cut: deeper than random bytes reach."""
    data = bytearray(draw(st.sampled_from(_VALID_MESSAGES)))
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = draw(
            st.sampled_from([0, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x80, 0xC3, 0xFF])
            | st.integers(0, 255)
        )
        if operation == "replace":
            data[position] = byte
        elif operation == "insert":
            data.insert(position, byte)
        elif len(data) > 1:
            del data[position]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_messages())
def test_parse_post_on_mutated_valid_messages(raw: bytes) -> None:
    _never_anything_but_rejected(raw)


# --- ids that would forge or disguise log lines, and keys that parsers read differently ----------


@pytest.mark.parametrize(
    "bad",
    [
        "p-1\r\n12:00:00 INFO  postguard: all good",  # a forged log line
        "p-1\x1b[2J",  # ESC: terminal control
        "p-\u202eexe.jpg",  # right-to-left override
        "p\u200b-1",  # zero-width space
        "p-1\u2028",  # line separator
        "p-1\x85",  # C1 next line
        "p\t1",
    ],
    ids=["crlf", "esc", "bidi", "zero_width", "line_separator", "c1", "tab"],
)
@pytest.mark.parametrize("field", ["post_id", "author_id"])
def test_ids_with_control_format_or_separator_characters_are_refused(field: str, bad: str) -> None:
    message = json.dumps(
        {"post_id": "p-1", "author_id": "u-1", "created_at": "2026-01-02T03:04:05Z", "text": "hi"}
        | {field: bad}
    ).encode()
    with pytest.raises(PostRejected) as caught:
        parse_post(message, now=datetime(2026, 1, 3, tzinfo=UTC))
    assert caught.value.code == "schema_violation"
    assert f"{field}: must not contain control, format or line-separator characters (U+" in str(caught.value)


def test_ids_in_any_script_with_spaces_and_punctuation_are_accepted() -> None:
    post = parse_post(
        json.dumps(
            {
                "post_id": "пост 42/é-中文-😀:#",
                "author_id": "مستخدم 7",
                "created_at": "2026-01-02T03:04:05Z",
                "text": "hi",
            }
        ).encode(),
        now=datetime(2026, 1, 3, tzinfo=UTC),
    )
    assert post.post_id == "пост 42/é-中文-😀:#"


@pytest.mark.parametrize(
    "message",
    [
        b'{"post_id": "p", "author_id": "u", "created_at": "2026-01-02T03:04:05Z", "text": "kind words", '
        b'"text": "hateful words"}',
        b'{"post_id": "p", "author_id": "u", "created_at": "2026-01-02T03:04:05Z", "text": "x", '
        b'"image": {"url": "https://a.example/1.png", "url": "https://b.example/2.png"}}',
        b'{"post_id": "p", "author_id": "u", "created_at": "2026-01-02T03:04:05Z", "text": "x", '
        b'"metadata": {"thread": {"id": 1, "id": 2}}}',
    ],
    ids=["top_level", "image", "nested_metadata"],
)
def test_duplicate_keys_anywhere_are_refused(message: bytes) -> None:
    with pytest.raises(PostRejected) as caught:
        parse_post(message, now=datetime(2026, 1, 3, tzinfo=UTC))
    assert caught.value.code == "invalid_json"
    assert "appears twice in one object" in str(caught.value)
