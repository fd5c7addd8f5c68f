"""The API driven by its users' own clients: OpenAI's official ``openai`` package and the
``perspective`` client of Google's Perspective API, against a real PostgreSQL."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import uuid
from collections.abc import Iterator

import httpx
import openai
import pytest
from openai import OpenAI
from openai.types import ModerationCreateResponse, ModerationMultiModalInputParam
from openai.types.moderation import Categories, CategoryAppliedInputTypes, CategoryScores
from perspective import PerspectiveAPI
from PIL import Image, ImageDraw
from pydantic import BaseModel

from devtools.embedded import free_port
from tests.service.api.conftest import RunningApi, make_key, query

pytestmark = pytest.mark.integration


_OPEN_CLIENTS: list[OpenAI] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _OPEN_CLIENTS:
        _OPEN_CLIENTS.pop().close()


def _client(api: RunningApi, key: str) -> OpenAI:
    # max_retries=0: a 429 or 5xx must reach the test, not be retried away by the client.
    client = OpenAI(base_url=f"{api.url}/v1", api_key=key, max_retries=0, timeout=30)
    _OPEN_CLIENTS.append(client)
    return client


def _aliases(model: type[BaseModel]) -> set[str]:
    return {field.alias or name for name, field in model.model_fields.items()}


@pytest.fixture(scope="module")
def key(running_api: RunningApi) -> str:
    return make_key(running_api.database_url, "clients-test")


def _png_data_url(text: str | None = None) -> str:
    image = Image.new("RGB", (320, 120), "white")
    if text:
        ImageDraw.Draw(image).text((10, 50), text, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_text_input_matches_openais_types_exactly(running_api: RunningApi, key: str) -> None:
    raw = _client(running_api, key).moderations.with_raw_response.create(
        input="have a nice day", model="omni-moderation-latest"
    )
    assert (
        raw.headers["x-postguard-model-version"] and raw.headers["x-postguard-policy-version"] == "api-test-1"
    )
    body = raw.http_response.json()
    parsed = ModerationCreateResponse.model_validate(body)  # pydantic validation with the client's own types
    assert parsed.model == "omni-moderation-latest" and parsed.id.startswith("modr-")
    (result,) = body["results"]
    assert set(result) == {
        "flagged",
        "categories",
        "category_scores",
        "category_applied_input_types",
        "postguard",
    }
    assert set(result["categories"]) == _aliases(Categories)
    assert set(result["category_scores"]) == _aliases(CategoryScores)
    assert set(result["category_applied_input_types"]) == _aliases(CategoryAppliedInputTypes)
    assert all(isinstance(v, bool) for v in result["categories"].values())
    assert all(type(v) is float for v in result["category_scores"].values())
    # The typed object the client hands its users: every field read without error.
    typed = raw.parse().results[0]
    assert typed.flagged is True  # this test policy sends every post to review
    assert typed.categories.hate is True and typed.category_applied_input_types.hate == ["text"]
    assert typed.category_scores.illicit == 0.0 and typed.categories.sexual_minors is False
    assert result["postguard"]["action"] == "review" and result["postguard"]["policy_version"] == "api-test-1"

    rows = query(
        running_api.database_url,
        "SELECT p.source, p.request_id, p.author_id, p.text, d.action, r.status FROM posts p "
        "JOIN decisions d USING (post_id) LEFT JOIN review_items r USING (post_id) WHERE p.post_id = :post_id",
        post_id=result["postguard"]["post_id"],
    )
    assert rows == [
        ("api", parsed.id.removeprefix("modr-"), "clients-test", "have a nice day", "review", "open")
    ]


def test_a_list_input_gets_one_result_per_string(running_api: RunningApi, key: str) -> None:
    response = _client(running_api, key).moderations.create(input=["first", "second", "third"])
    assert len(response.results) == 3
    post_ids = [r.model_extra["postguard"]["post_id"] for r in response.results]  # type: ignore[index]
    assert len(set(post_ids)) == 3
    texts = query(
        running_api.database_url,
        "SELECT text FROM posts WHERE post_id = ANY(:ids) ORDER BY post_id",
        ids=post_ids,
    )
    assert [t for (t,) in texts] == ["first", "second", "third"]


def test_an_inline_image_and_caption_get_one_combined_result(running_api: RunningApi, key: str) -> None:
    parts: list[ModerationMultiModalInputParam] = [
        {"type": "text", "text": "look at this"},
        {"type": "image_url", "image_url": {"url": _png_data_url()}},
    ]
    response = _client(running_api, key).moderations.create(input=parts)
    (result,) = response.results
    extra = result.model_extra["postguard"]  # type: ignore[index]
    rows = query(
        running_api.database_url,
        "SELECT text, image_sha256 IS NOT NULL, image_thumbnail IS NOT NULL FROM posts WHERE post_id = :p",
        p=extra["post_id"],
    )
    assert rows == [("look at this", True, True)]  # the review page gets its thumbnail
    assert set(extra["attribution"]["hate"]) >= {"caption", "image_pixels"}


def test_an_internal_image_url_is_refused_by_the_ssrf_policy(running_api: RunningApi, key: str) -> None:
    parts: list[ModerationMultiModalInputParam] = [
        {"type": "image_url", "image_url": {"url": "http://169.254.169.254/latest/meta-data/x.png"}}
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        _client(running_api, key).moderations.create(input=parts)
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "input[0].image_url.url" and error["type"] == "invalid_request_error"
    assert "169.254.169.254" in error["message"] and caught.value.status_code == 400


def test_a_missing_or_wrong_key_is_401(running_api: RunningApi) -> None:
    bare = httpx.post(f"{running_api.url}/v1/moderations", json={"input": "hi"})
    assert bare.status_code == 401 and bare.json()["error"]["code"] == "missing_api_key"
    with pytest.raises(openai.AuthenticationError) as caught:
        _client(running_api, "pgk_" + "x" * 43).moderations.create(input="hi")
    assert caught.value.code == "invalid_api_key"
    with pytest.raises(openai.AuthenticationError):
        _client(running_api, "sk-an-openai-key").moderations.create(input="hi")


def test_an_oversized_request_is_413_before_it_is_read(running_api: RunningApi, key: str) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        _client(running_api, key).moderations.create(input="x" * 300_000)
    assert caught.value.status_code == 413
    assert caught.value.code == "request_too_large" and "262,144" in caught.value.message
    with pytest.raises(openai.APIStatusError) as too_many:
        _client(running_api, key).moderations.create(input=["a"] * 5)
    assert too_many.value.status_code == 413 and too_many.value.code == "too_many_inputs"


def test_a_rate_limited_key_gets_429_with_retry_after(running_api: RunningApi) -> None:
    limited = make_key(running_api.database_url, "limited", rate_limit=2)
    client = _client(running_api, limited)
    client.moderations.create(input="one")
    client.moderations.create(input="two")
    with pytest.raises(openai.RateLimitError) as caught:
        client.moderations.create(input="three")
    assert caught.value.response.headers["retry-after"] == "30"
    assert caught.value.code == "rate_limit_exceeded" and "2 requests per minute" in caught.value.message


def test_a_retry_with_the_same_idempotency_key_is_answered_from_the_stored_decision(
    running_api: RunningApi, key: str
) -> None:
    client = _client(running_api, key)
    idempotency = {"Idempotency-Key": f"retry-{uuid.uuid4()}"}
    first = client.moderations.create(input=["again", "and again"], extra_headers=idempotency)
    second = client.moderations.create(input=["again", "and again"], extra_headers=idempotency)
    assert second.id == first.id
    assert [r.category_scores.hate for r in second.results] == [r.category_scores.hate for r in first.results]
    extras = [r.model_extra["postguard"] for r in second.results]  # type: ignore[index]
    assert all(e["replayed"] for e in extras)
    (count,) = query(
        running_api.database_url,
        "SELECT count(*) FROM decisions WHERE post_id = ANY(:ids)",
        ids=[e["post_id"] for e in extras],
    )
    assert count == (2,)  # stored once
    with pytest.raises(openai.UnprocessableEntityError) as reused:
        client.moderations.create(input="something else", extra_headers=idempotency)
    assert reused.value.code == "idempotency_key_reused"


def _perspective(api: RunningApi, key: str) -> PerspectiveAPI:
    client = PerspectiveAPI(key)
    client.api_client.url = f"{api.url}/v1alpha1/{{endpoint}}"  # the client's endpoint, pointed here
    return client


def test_perspective_client_analyzes_a_comment(running_api: RunningApi, key: str) -> None:
    response = _perspective(running_api, key).analyze_comment(
        "You are nice. You are also here!",
        requested_attributes={"TOXICITY": {}, "IDENTITY_ATTACK": {"scoreType": "PROBABILITY"}, "INSULT": {}},
        span_annotations=True,
        client_token="abc",
    )
    assert set(response["attributeScores"]) == {"TOXICITY", "IDENTITY_ATTACK", "INSULT"}
    toxicity = response["attributeScores"]["TOXICITY"]
    assert toxicity["summaryScore"]["type"] == "PROBABILITY" and 0 <= toxicity["summaryScore"]["value"] <= 1
    assert [(s["begin"], s["end"]) for s in toxicity["spanScores"]] == [(0, 13), (14, 32)]
    assert response["clientToken"] == "abc" and response["languages"] == ["en"]
    (stored,) = query(
        running_api.database_url,
        "SELECT count(*) FROM posts WHERE text = :t",
        t="You are nice. You are also here!",
    )
    assert stored == (1,)  # the comment is stored, its sentences are not


def test_perspective_do_not_store_persists_nothing(running_api: RunningApi, key: str) -> None:
    text = f"private comment {uuid.uuid4()}"
    response = _perspective(running_api, key).analyze_comment(
        text, requested_attributes={"TOXICITY": {}}, do_not_store=True
    )
    assert "TOXICITY" in response["attributeScores"]
    assert query(running_api.database_url, "SELECT count(*) FROM posts WHERE text = :t", t=text) == [(0,)]


def test_perspective_errors_keep_googles_shape(running_api: RunningApi, key: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        _perspective(running_api, key).analyze_comment(
            "hi", requested_attributes={"SPAMMINESS": {}}, validate=False
        )
    with caught.value as error:
        body = json.loads(error.read())
    assert error.code == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    assert body["error"]["details"][0]["attribute"] == "SPAMMINESS"
    # The key may come as ?key= (what the client sends) or a bearer token; a wrong one is 401.
    wrong = httpx.post(
        f"{running_api.url}/v1alpha1/comments:analyze",
        params={"key": "pgk_wrong"},
        json={"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}},
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["status"] == "UNAUTHENTICATED"


def test_health_readiness_and_metrics(running_api: RunningApi, key: str) -> None:
    _client(running_api, key).moderations.create(input="count me")
    # a post in a language the classifier does not read is counted by its language
    _client(running_api, key).moderations.create(input="No me gusta nada la comida de este restaurante.")
    assert httpx.get(f"{running_api.url}/healthz").status_code == 200
    ready = httpx.get(f"{running_api.url}/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    metrics = httpx.get(f"{running_api.url}/metrics").text
    assert 'postguard_api_requests_total{endpoint="openai",status="200"}' in metrics
    assert 'postguard_api_requests_total{endpoint="openai",status="401"}' in metrics
    assert "postguard_api_batch_size_count" in metrics and "postguard_api_request_seconds_bucket" in metrics
    assert 'postguard_api_inputs_total{action="review",endpoint="openai"}' in metrics
    assert 'postguard_api_other_language_inputs_total{endpoint="openai",language="es"} 1.0' in metrics


def test_unknown_paths_and_methods_answer_in_openais_shape(running_api: RunningApi) -> None:
    missing = httpx.post(f"{running_api.url}/v1/chat/completions", json={})
    assert missing.status_code == 404 and "Invalid URL" in missing.json()["error"]["message"]
    wrong = httpx.get(f"{running_api.url}/v1/moderations")
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"


async def test_readyz_is_503_with_the_reason_while_the_database_is_down(running_api: RunningApi) -> None:
    from service.api.server import build_api
    from service.moderation.scoring import load_scorer
    from service.storage.database import create_engine_from_url, session_factory
    from tests.service.api.conftest import POLICY

    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/nothing"
    engine = create_engine_from_url(closed)
    app = build_api(
        running_api.settings,
        scorer=load_scorer(running_api.settings),
        policy=POLICY,
        sessions=session_factory(engine),
    )
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api") as client:
            ready = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await engine.dispose()
    assert ready.status_code == 503 and "database unreachable" in ready.json()["reason"]
