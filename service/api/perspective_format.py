"""Perspective's ``POST /v1alpha1/comments:analyze``: its request parsed, its response built.

Request: ``comment.text`` (``type`` PLAIN_TEXT), ``requestedAttributes`` (each optionally with
``scoreType: PROBABILITY`` and ``scoreThreshold``: attributes scoring below it are left out, as
Perspective does), ``languages`` (English only, as the model is), ``doNotStore`` (then nothing is
persisted), ``spanAnnotations`` (a score per sentence), ``clientToken`` (echoed).
``context``, ``sessionId`` and ``communityId`` are accepted and ignored.

Response: ``attributeScores.<ATTR>.summaryScore.value`` (``type: PROBABILITY``) and ``spanScores``
(the whole comment as one span, or one per sentence with ``spanAnnotations``; ``begin``/``end``
are character offsets), ``languages`` and ``detectedLanguages``, ``clientToken``.

Languages, as Perspective: a request that names ``languages`` is taken at its word (English only
is served); one that does not has its language detected (models/language.py): a comment clearly in
another language is refused with ``LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE`` naming the detected
language, anything else is answered as English (``detectedLanguages: ["en"]``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from models.language import language_identifier
from service.api.errors import ApiError
from service.api.taxonomy import PERSPECTIVE_ATTRIBUTES

__all__ = ["AnalyzeRequest", "analyze_response", "parse_analyze_request", "sentence_spans"]

SUPPORTED_LANGUAGES = ("en",)
_KNOWN_FIELDS = frozenset(
    {
        "comment",
        "context",
        "requestedAttributes",
        "languages",
        "doNotStore",
        "clientToken",
        "sessionId",
        "communityId",
        "spanAnnotations",
    }
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")


@dataclass(frozen=True)
class AnalyzeRequest:
    text: str
    #: Attribute -> score threshold (None: every score is returned).
    attributes: dict[str, float | None]
    languages: list[str]
    #: What ``detectedLanguages`` answers: the detected language when none was named, else ``languages``.
    detected_languages: list[str]
    do_not_store: bool
    span_annotations: bool
    client_token: str | None


def _bad(message: str, param: str) -> ApiError:
    return ApiError(400, message, "invalid_argument", param)


def parse_analyze_request(body: Any, *, labels: Collection[str], max_text_chars: int) -> AnalyzeRequest:
    """The request, or :class:`ApiError` in Perspective's terms (unknown attributes and languages
    name themselves in ``details``)."""
    if not isinstance(body, dict):
        raise _bad("Invalid JSON payload: the body must be a JSON object.", "body")
    unknown = sorted(set(body) - _KNOWN_FIELDS)
    if unknown:
        raise _bad(
            f'Invalid JSON payload received. Unknown name "{unknown[0]}": Cannot find field.', unknown[0]
        )
    comment = body.get("comment")
    if not isinstance(comment, dict) or not isinstance(comment.get("text"), str):
        raise _bad("comment.text must be a string.", "comment.text")
    text = comment["text"]
    if comment.get("type", "PLAIN_TEXT") != "PLAIN_TEXT":
        raise _bad(f"comment.type {comment.get('type')!r} is not supported: only PLAIN_TEXT.", "comment.type")
    if not text.strip():
        raise _bad("Comment text was too short or empty.", "comment.text")
    if len(text) > max_text_chars:
        raise ApiError(
            413,
            f"Comment text too long: {len(text):,} characters, the limit is {max_text_chars:,}.",
            "comment_too_long",
            "comment.text",
        )
    languages = body.get("languages")
    if languages is not None and (
        not isinstance(languages, list) or not all(isinstance(x, str) for x in languages)
    ):
        raise _bad("languages must be a list of language codes.", "languages")
    if languages:
        detected = list(languages)
    else:
        reading = language_identifier().read(text, SUPPORTED_LANGUAGES)
        detected = [reading.language] if reading.other else list(SUPPORTED_LANGUAGES)
        languages = list(SUPPORTED_LANGUAGES)
    wanted = body.get("requestedAttributes")
    if not isinstance(wanted, dict) or not wanted:
        raise _bad("requestedAttributes must name at least one attribute.", "requestedAttributes")
    attributes: dict[str, float | None] = {}
    for name, options in wanted.items():
        rule = PERSPECTIVE_ATTRIBUTES.get(name)
        if rule is None or not rule.available(labels):
            raise ApiError(
                400,
                f"Attribute {name} does not exist or is not served by this deployment.",
                "invalid_attribute",
                "requestedAttributes",
                details=[{"errorType": "INVALID_REQUESTED_ATTRIBUTE", "attribute": name}],
            )
        attributes[name] = _threshold(name, options)
        if not any(_language(code) in SUPPORTED_LANGUAGES for code in detected):
            raise ApiError(
                400,
                f"Attribute {name} does not support request languages: {','.join(detected)}",
                "language_not_supported",
                "languages",
                details=[
                    {
                        "errorType": "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
                        "languageNotSupportedByAttributeError": {
                            "detectedLanguages": detected,
                            "attribute": name,
                        },
                    }
                ],
            )
    flags = {}
    for field in ("doNotStore", "spanAnnotations"):
        value = body.get(field, False)
        if not isinstance(value, bool):
            raise _bad(f"{field} must be true or false.", field)
        flags[field] = value
    token = body.get("clientToken")
    if token is not None and not isinstance(token, str):
        raise _bad("clientToken must be a string.", "clientToken")
    return AnalyzeRequest(
        text=text,
        attributes=attributes,
        languages=languages,
        detected_languages=detected,
        do_not_store=flags["doNotStore"],
        span_annotations=flags["spanAnnotations"],
        client_token=token,
    )


def _language(code: str) -> str:
    return code.replace("_", "-").split("-")[0].lower()


def _threshold(name: str, options: Any) -> float | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        raise _bad(f"requestedAttributes.{name} must be an object.", f"requestedAttributes.{name}")
    extra = set(options) - {"scoreType", "scoreThreshold"}
    if extra:
        raise _bad(
            f"requestedAttributes.{name}: unknown field {sorted(extra)[0]}.", f"requestedAttributes.{name}"
        )
    if options.get("scoreType", "PROBABILITY") != "PROBABILITY":
        raise _bad(
            f"requestedAttributes.{name}.scoreType: only PROBABILITY is supported.",
            f"requestedAttributes.{name}",
        )
    threshold = options.get("scoreThreshold")
    if threshold is None:
        return None
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise _bad(
            f"requestedAttributes.{name}.scoreThreshold must be a number in [0, 1].",
            f"requestedAttributes.{name}",
        )
    return float(threshold)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(begin, end) character offsets of each sentence (whitespace between sentences belongs to none)."""
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _SENTENCE_END.finditer(text):
        if text[start : match.start()].strip():
            spans.append((start, match.start()))
        start = match.end()
    if text[start:].strip():
        spans.append((start, len(text)))
    return spans or [(0, len(text))]


def _probability(value: float) -> dict[str, Any]:
    return {"value": round(float(value), 6), "type": "PROBABILITY"}


def analyze_response(
    request: AnalyzeRequest,
    *,
    scores: dict[str, float],
    span_scores: list[tuple[int, int, dict[str, float]]],
) -> dict[str, Any]:
    """The response for ``request``: ``scores`` are the comment's category scores, ``span_scores``
    each span's (begin, end, category scores)."""
    attribute_scores: dict[str, Any] = {}
    for name, threshold in request.attributes.items():
        rule = PERSPECTIVE_ATTRIBUTES[name]
        summary = rule.score(scores)
        if threshold is not None and summary < threshold:
            continue
        attribute_scores[name] = {
            "spanScores": [
                {"begin": begin, "end": end, "score": _probability(rule.score(span))}
                for begin, end, span in span_scores
            ],
            "summaryScore": _probability(summary),
        }
    response: dict[str, Any] = {
        "attributeScores": attribute_scores,
        "languages": request.languages,
        "detectedLanguages": request.detected_languages,
    }
    if request.client_token is not None:
        response["clientToken"] = request.client_token
    return response
