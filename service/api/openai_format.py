"""OpenAI's ``POST /v1/moderations``: its request, parsed into inputs, and its response, built from
our decisions (field names and types as in OpenAI's API reference and its Python client's types).

``input``: a string, a list of strings (one result each), or a list of parts
``{"type": "text", "text": ...}`` / ``{"type": "image_url", "image_url": {"url": ...}}`` (one
combined result: the texts joined, at most one image). Image URLs are ``data:image/...;base64,``
(inline) or ``http(s)`` (fetched under the consumer's SSRF policy and ``POSTGUARD_IMAGE_FETCH_*``).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any

from pydantic import ValidationError

from service.api.errors import ApiError
from service.api.judge import Item, Judged
from service.api.taxonomy import OPENAI_KEYS, openai_key_accepts_images
from service.moderation.contract import ImageRef

__all__ = ["parse_moderation_request", "moderation_response"]

_DATA_URL = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*);base64,(?P<data>.*)", re.S
)


def _bad(message: str, param: str, code: str = "invalid_value") -> ApiError:
    return ApiError(400, message, code, param)


def image_ref(url: Any, param: str) -> ImageRef:
    """An image part's URL as the consumer's :class:`ImageRef` (inline bytes or a URL to fetch)."""
    if not isinstance(url, str) or not url:
        raise _bad(f"{param} must be a non-empty string (a data: or http(s) URL)", param, "invalid_type")
    if url[:5].lower() == "data:":
        match = _DATA_URL.fullmatch(url)
        if match is None:
            raise _bad(f"{param} is not a base64 data URL (data:image/png;base64,...)", param)
        mime = (match["mime"] or "").lower()
        if not mime.startswith("image/"):
            raise _bad(f"{param} is a data URL of {mime or 'no type'}, not of an image", param)
        return _checked_ref(param, data=match["data"])
    return _checked_ref(param, url=url)


def _checked_ref(param: str, **fields: str) -> ImageRef:
    try:
        return ImageRef.model_validate(fields)
    except ValidationError as exc:
        problem = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise _bad(f"{param}: {problem}", param) from None


def parse_moderation_request(
    body: Any, *, max_inputs: int, max_text_chars: int
) -> tuple[list[Item], str | None]:
    """The inputs to judge and the ``model`` asked for, or :class:`ApiError` naming the field."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", "body", "invalid_type")
    unknown = sorted(set(body) - {"input", "model"})
    if unknown:
        raise _bad(
            f"unrecognized request argument supplied: {', '.join(unknown)}", unknown[0], "unknown_parameter"
        )
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise _bad("model must be a string", "model", "invalid_type")
    if "input" not in body:
        raise _bad("you must provide an input parameter", "input", "missing_required_parameter")
    raw = body["input"]
    if isinstance(raw, str):
        items = [_text_item(raw, "input", max_text_chars)]
    elif isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        items = [_text_item(text, f"input[{n}]", max_text_chars) for n, text in enumerate(raw)]
    elif isinstance(raw, list) and raw and all(isinstance(x, dict) for x in raw):
        items = [_parts_item(raw, max_text_chars)]
    elif isinstance(raw, list) and not raw:
        raise _bad("input must not be empty", "input")
    else:
        raise _bad(
            "input must be a string, a list of strings, or a list of text and image_url parts",
            "input",
            "invalid_type",
        )
    if len(items) > max_inputs:
        raise ApiError(
            413,
            f"input has {len(items)} items, more than the limit of {max_inputs}",
            "too_many_inputs",
            "input",
        )
    return items, model


def _text_item(text: str, param: str, max_text_chars: int) -> Item:
    _check_text(text, param, max_text_chars)
    return Item(text=text, image=None, param=param)


def _check_text(text: str, param: str, max_text_chars: int) -> None:
    if len(text) > max_text_chars:
        raise ApiError(
            413,
            f"{param} has {len(text):,} characters, more than the limit of {max_text_chars:,}",
            "input_too_long",
            param,
        )
    if "\x00" in text:
        raise _bad(f"{param} contains a NUL character", param)


def _parts_item(parts: list[dict[str, Any]], max_text_chars: int) -> Item:
    texts: list[str] = []
    image: ImageRef | None = None
    image_param: str | None = None
    for n, part in enumerate(parts):
        param = f"input[{n}]"
        kind = part.get("type")
        if kind == "text":
            text = part.get("text")
            if not isinstance(text, str):
                raise _bad(f"{param}.text must be a string", f"{param}.text", "invalid_type")
            texts.append(text)
        elif kind == "image_url":
            if image is not None:
                raise _bad("at most one image_url part per request is supported", param)
            holder = part.get("image_url")
            if not isinstance(holder, dict):
                raise _bad(
                    f"{param}.image_url must be an object with a url", f"{param}.image_url", "invalid_type"
                )
            image_param = f"{param}.image_url.url"
            image = image_ref(holder.get("url"), image_param)
        else:
            raise _bad(f"{param}.type must be 'text' or 'image_url', got {kind!r}", f"{param}.type")
    text = "\n".join(texts) if texts else None
    if text is not None:
        _check_text(text, "input", max_text_chars)
    return Item(text=text, image=image, param="input", image_param=image_param)


def moderation_response(
    *, request_id: str, model: str, judged: Sequence[Judged], labels: Collection[str]
) -> dict[str, Any]:
    """OpenAI's response: ``id``, ``model``, one result per input, each with our own decision in
    ``postguard``."""
    return {
        "id": f"modr-{request_id}",
        "model": model,
        "results": [_result(j, labels) for j in judged],
    }


def _result(judged: Judged, labels: Collection[str]) -> dict[str, Any]:
    flagged_categories = {rule["name"] for rule in judged.triggered if rule.get("kind") == "category"}
    categories: dict[str, bool] = {}
    scores: dict[str, float] = {}
    applied: dict[str, list[str]] = {}
    for key, rule in OPENAI_KEYS.items():
        if rule is None or not rule.available(labels) or not rule.available(judged.scores):
            categories[key], scores[key], applied[key] = False, 0.0, []
            continue
        categories[key] = rule.flagged(flagged_categories)
        scores[key] = float(rule.score(judged.scores))
        types = []
        # Text read from an image counts as text: every key reads it.
        if judged.has_text or judged.ocr_text:
            types.append("text")
        if judged.has_image and openai_key_accepts_images(key):
            types.append("image")
        applied[key] = types
    return {
        "flagged": judged.action != "allow",
        "categories": categories,
        "category_scores": scores,
        "category_applied_input_types": applied,
        "postguard": {
            "post_id": judged.post_id,
            "action": judged.action,
            "scores": judged.scores,
            "triggered": judged.triggered,
            "attribution": judged.attribution,
            "model_version": judged.model_version,
            "policy_version": judged.policy_version,
            "stored": judged.stored,
            "replayed": judged.replayed,
        },
    }
