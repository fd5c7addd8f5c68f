"""The two request formats and the category mapping, without a server."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from service.api.errors import ApiError
from service.api.openai_format import moderation_response, parse_moderation_request
from service.api.perspective_format import analyze_response, parse_analyze_request, sentence_spans
from service.api.taxonomy import OPENAI_KEYS, PERSPECTIVE_ATTRIBUTES, Mapped
from tests.utils.judged import category_rules, make_judged

LABELS = ("hate", "offensive", "toxic", "self_harm", "violence", "sexual", "spam")


def _png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _parse(body: object, max_inputs: int = 8, max_text_chars: int = 100) -> list:
    items, _ = parse_moderation_request(body, max_inputs=max_inputs, max_text_chars=max_text_chars)
    return items


def test_openai_input_shapes() -> None:
    assert [i.text for i in _parse({"input": "hello"})] == ["hello"]
    assert [i.param for i in _parse({"input": ["a", "b"]})] == ["input[0]", "input[1]"]
    (combined,) = _parse(
        {
            "input": [
                {"type": "text", "text": "one"},
                {"type": "image_url", "image_url": {"url": _png_data_url()}},
                {"type": "text", "text": "two"},
            ]
        }
    )
    assert combined.text == "one\ntwo"
    assert combined.image is not None and combined.image.data and combined.image.url is None
    (remote,) = _parse({"input": [{"type": "image_url", "image_url": {"url": "https://example.com/a.png"}}]})
    assert (
        remote.text is None and remote.image is not None and remote.image.url == "https://example.com/a.png"
    )


@pytest.mark.parametrize(
    ("body", "status", "param", "words"),
    [
        ({}, 400, "input", "provide an input"),
        ({"input": []}, 400, "input", "must not be empty"),
        ({"input": 3}, 400, "input", "a string, a list"),
        ({"input": ["a", 1]}, 400, "input", "a string, a list"),
        ({"input": "x", "temperature": 1}, 400, "temperature", "unrecognized"),
        ({"input": "x", "model": 5}, 400, "model", "string"),
        ({"input": "x" * 101}, 413, "input", "101 characters"),
        ({"input": ["a"] * 9}, 413, "input", "limit of 8"),
        ({"input": [{"type": "audio"}]}, 400, "input[0].type", "'text' or 'image_url'"),
        (
            {"input": [{"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}}]},
            400,
            "input[0].image_url.url",
            "not of an image",
        ),
        (
            {"input": [{"type": "image_url", "image_url": {"url": "ftp://x/y.png"}}]},
            400,
            "input[0].image_url.url",
            "http or https",
        ),
        (
            {"input": [{"type": "image_url", "image_url": {"url": "data:image/png,raw"}}]},
            400,
            "input[0].image_url.url",
            "base64 data URL",
        ),
    ],
)
def test_openai_bad_requests_name_the_field(body: object, status: int, param: str, words: str) -> None:
    with pytest.raises(ApiError) as caught:
        _parse(body)
    assert caught.value.status == status
    assert caught.value.param == param
    assert words in caught.value.message


def test_openai_keys_follow_the_mapping() -> None:
    scores = {label: 0.1 for label in LABELS} | {"hate": 0.9, "violence": 0.7, "offensive": 0.2}
    (result,) = moderation_response(
        request_id="r",
        model="m",
        judged=[
            make_judged(scores=scores, triggered=category_rules(scores, ["hate", "violence"]), image=True)
        ],
        labels=LABELS,
    )["results"]
    assert list(result["categories"]) == list(OPENAI_KEYS)
    assert result["category_scores"]["hate"] == 0.9
    assert result["category_scores"]["hate/threatening"] == 0.7  # all_of: the lower of hate and violence
    assert result["categories"]["hate/threatening"] is True  # both flagged
    assert result["categories"]["harassment/threatening"] is False  # offensive not flagged
    assert (
        result["category_scores"]["illicit"] == 0.0
        and result["category_applied_input_types"]["illicit"] == []
    )
    assert result["category_applied_input_types"]["hate"] == ["text"]  # OpenAI allows only text there
    assert result["category_applied_input_types"]["violence"] == ["text", "image"]
    assert result["flagged"] is True and result["postguard"]["action"] == "review"


def test_a_category_the_model_lacks_answers_zero() -> None:
    scores = {"hate": 0.9, "offensive": 0.1, "toxic": 0.8}
    (result,) = moderation_response(
        request_id="r",
        model="m",
        judged=[make_judged(scores=scores, triggered=category_rules(scores, ["hate"]))],
        labels=("hate", "offensive", "toxic"),
    )["results"]
    assert result["category_scores"]["violence"] == 0.0 and result["categories"]["violence"] is False
    assert result["category_applied_input_types"]["self-harm"] == []
    assert result["category_scores"]["hate/threatening"] == 0.0  # needs violence, which is not scored


def test_mapping_rules() -> None:
    rule = Mapped(("a", "b"), "all_of")
    assert rule.score({"a": 0.3, "b": 0.8}) == 0.3 and not rule.flagged({"a"}) and rule.flagged({"a", "b"})
    assert Mapped(("a", "b")).score({"a": 0.3, "b": 0.8}) == 0.8 and Mapped(("a", "b")).flagged({"b"})
    assert len(OPENAI_KEYS) == 13 and set(PERSPECTIVE_ATTRIBUTES) == {
        "TOXICITY",
        "SEVERE_TOXICITY",
        "IDENTITY_ATTACK",
        "INSULT",
        "PROFANITY",
        "THREAT",
        "SEXUALLY_EXPLICIT",
        "FLIRTATION",
    }


def test_sentence_spans_cover_each_sentence() -> None:
    text = "You are great.  Really! Go away\nnow"
    spans = sentence_spans(text)
    assert [text[b:e] for b, e in spans] == ["You are great.", "Really!", "Go away", "now"]
    assert sentence_spans("no end") == [(0, 6)]


def test_perspective_request_and_response() -> None:
    request = parse_analyze_request(
        {
            "comment": {"text": "hi there. bye"},
            "requestedAttributes": {"TOXICITY": {}, "INSULT": {"scoreThreshold": 0.5}},
            "doNotStore": True,
            "clientToken": "t",
            "spanAnnotations": True,
            "languages": ["en-GB"],
        },
        labels=LABELS,
        max_text_chars=100,
    )
    assert (
        request.do_not_store
        and request.span_annotations
        and request.attributes == {"TOXICITY": None, "INSULT": 0.5}
    )
    scores = {label: 0.2 for label in LABELS} | {"toxic": 0.7}
    body = analyze_response(
        request, scores=scores, span_scores=[(0, 9, scores), (10, 13, scores | {"toxic": 0.1})]
    )
    assert set(body["attributeScores"]) == {"TOXICITY"}  # INSULT 0.2 is under its threshold
    toxicity = body["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"] == {"value": 0.7, "type": "PROBABILITY"}
    assert [s["begin"] for s in toxicity["spanScores"]] == [0, 10] and toxicity["spanScores"][1]["score"][
        "value"
    ] == 0.1
    assert body["clientToken"] == "t" and body["languages"] == ["en-GB"]


@pytest.mark.parametrize(
    ("body", "words", "error_type"),
    [
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"NOPE": {}}},
            "NOPE",
            "INVALID_REQUESTED_ATTRIBUTE",
        ),
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["de"]},
            "de",
            "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE",
        ),
        ({"comment": {"text": " "}, "requestedAttributes": {"TOXICITY": {}}}, "empty", None),
        ({"comment": {"text": "x"}, "requestedAttributes": {}}, "at least one", None),
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreType": "SEVERITY"}}},
            "PROBABILITY",
            None,
        ),
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {"scoreThreshold": 2}}},
            "[0, 1]",
            None,
        ),
        (
            {"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "doNotStore": "yes"},
            "true or false",
            None,
        ),
        ({"comment": {"text": "x"}, "requestedAttributes": {"TOXICITY": {}}, "bogus": 1}, "bogus", None),
    ],
)
def test_perspective_errors(body: object, words: str, error_type: str | None) -> None:
    with pytest.raises(ApiError) as caught:
        parse_analyze_request(body, labels=LABELS, max_text_chars=100)
    assert caught.value.status == 400 and words in caught.value.message
    if error_type:
        assert caught.value.details[0]["errorType"] == error_type


def test_without_languages_the_comment_language_is_detected() -> None:
    german = "Heute war ich mit dem Fahrrad am See und das Wasser war noch kalt"
    with pytest.raises(ApiError) as caught:
        parse_analyze_request(
            {"comment": {"text": german}, "requestedAttributes": {"TOXICITY": {}}},
            labels=LABELS,
            max_text_chars=200,
        )
    assert caught.value.status == 400 and "languages: de" in caught.value.message
    error = caught.value.details[0]
    assert error["errorType"] == "LANGUAGE_NOT_SUPPORTED_BY_ATTRIBUTE"
    assert error["languageNotSupportedByAttributeError"]["detectedLanguages"] == ["de"]
    # Named languages are taken at their word, as Perspective does; short or English text is English.
    named = parse_analyze_request(
        {"comment": {"text": german}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["en"]},
        labels=LABELS,
        max_text_chars=200,
    )
    assert named.detected_languages == ["en"]
    for text in ("you are a wonderful person and I like your work", "lol"):
        request = parse_analyze_request(
            {"comment": {"text": text}, "requestedAttributes": {"TOXICITY": {}}},
            labels=LABELS,
            max_text_chars=200,
        )
        scores = {label: 0.1 for label in LABELS}
        body = analyze_response(request, scores=scores, span_scores=[(0, len(text), scores)])
        assert body["languages"] == ["en"] and body["detectedLanguages"] == ["en"]


def test_an_attribute_the_model_cannot_serve_is_refused() -> None:
    with pytest.raises(ApiError, match="THREAT"):
        parse_analyze_request(
            {"comment": {"text": "x"}, "requestedAttributes": {"THREAT": {}}},
            labels=("hate", "offensive", "toxic"),
            max_text_chars=100,
        )


def _rule_cell(rule: Mapped | None) -> str:
    if rule is None:
        return "— (always `false` / 0.0)"
    names = ", ".join(f"`{c}`" for c in rule.categories)
    return f"{'any of' if rule.combine == 'any_of' else 'all of'} {names}"


def _doc_rows(marker: str) -> list[str]:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "docs" / "api.md").read_text(encoding="utf-8")
    block = text.split(f"<!-- {marker} -->")[1].split(f"<!-- /{marker} -->")[0]
    return [line for line in block.strip().splitlines() if line.startswith("| `")]


def test_the_docs_tables_are_the_code_tables() -> None:
    openai_rows = [
        f"| `{key}` | {_rule_cell(rule)} | {rule.note if rule else 'no model'} |"
        for key, rule in OPENAI_KEYS.items()
    ]
    assert _doc_rows("openai-table") == openai_rows
    perspective_rows = [
        f"| `{name}` | {_rule_cell(rule)} | {rule.note} |" for name, rule in PERSPECTIVE_ATTRIBUTES.items()
    ]
    assert _doc_rows("perspective-table") == perspective_rows
