"""The API's HTTP surface (Starlette): routes, authentication, limits, errors, metrics.

- ``POST /v1/moderations`` (OpenAI's request and response; errors in OpenAI's shape);
- ``POST /v1alpha1/comments:analyze`` (Perspective's; the key as ``?key=`` or a bearer token);
- ``GET /healthz`` (the process runs), ``/readyz`` (the database answers), ``/metrics``.

Every request is authenticated (unless anonymous trials are on), rate-limited per key, refused
past ``max_request_bytes`` before its body is read in full, then judged (service/api/judge.py).
The model and policy versions travel in ``X-Postguard-Model-Version`` / ``X-Postguard-Policy-Version``.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from prometheus_client.exposition import choose_encoder
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from service.api.errors import ApiError, openai_error_response, perspective_error_response
from service.api.judge import Item, Judge, request_id_for
from service.api.keys import KeyRing
from service.api.metrics import ApiMetrics, observe_decided
from service.api.openai_format import moderation_response, parse_moderation_request
from service.api.perspective_format import analyze_response, parse_analyze_request, sentence_spans
from service.api.rate_limit import RateLimiter, retry_after_header

__all__ = ["ApiLimits", "build_api_app"]

logger = logging.getLogger(__name__)

MAX_IDEMPOTENCY_KEY_CHARS = 255


@dataclass(frozen=True)
class ApiLimits:
    max_request_bytes: int = 12 * 1024 * 1024
    max_inputs: int = 32
    max_text_chars: int = 10_000


class _Endpoint:
    """What differs between the two APIs: the metrics label and the error shape."""

    def __init__(self, name: str, error: Callable[[ApiError], JSONResponse]) -> None:
        self.name = name
        self.error = error


_OPENAI = _Endpoint("openai", openai_error_response)
_PERSPECTIVE = _Endpoint("perspective", perspective_error_response)


def build_api_app(
    *,
    judge: Judge,
    keys: KeyRing,
    limiter: RateLimiter,
    metrics: ApiMetrics,
    labels: Collection[str],
    limits: ApiLimits,
    ready: Callable[[], Awaitable[str | None]],
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[None]] | None = None,
) -> Starlette:
    """The ASGI app. ``ready()`` returns None when the API can take requests, else the reason."""
    version_headers = {
        "X-Postguard-Model-Version": judge.model_version,
        "X-Postguard-Policy-Version": judge.policy_version,
    }
    metrics.model_info.info({"version": judge.model_version, "policy_version": judge.policy_version})

    async def handle(
        request: Request,
        endpoint: _Endpoint,
        work: Callable[[Request, Any, str, str, bool], Awaitable[dict[str, Any]]],
    ) -> Response:
        started = time.perf_counter()
        request_id = uuid.uuid4().hex
        try:
            caller = await keys.caller(_presented_key(request, allow_query=endpoint is _PERSPECTIVE))
            wait_s = limiter.take(caller.name, caller.rate_limit_per_minute)
            if wait_s > 0:
                raise ApiError(
                    429,
                    f"Rate limit reached for key {caller.name}: {caller.rate_limit_per_minute} requests per "
                    f"minute. Try again in {retry_after_header(wait_s)} s.",
                    "rate_limit_exceeded",
                    headers={"Retry-After": retry_after_header(wait_s)},
                )
            body = await _read_json(request, limits.max_request_bytes)
            idempotency_key = request.headers.get("idempotency-key")
            if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS:
                raise ApiError(
                    400,
                    f"Idempotency-Key must have 1-{MAX_IDEMPOTENCY_KEY_CHARS} characters",
                    "invalid_value",
                    "Idempotency-Key",
                )
            request_id = request_id_for(
                key_name=caller.name, idempotency_key=idempotency_key, fresh_id=request_id
            )
            payload = await work(request, body, request_id, caller.name, idempotency_key is not None)
            response: Response = JSONResponse(
                payload, headers={**version_headers, "X-Request-Id": request_id}
            )
        except ApiError as error:
            response = endpoint.error(error)
            response.headers.update(version_headers)
        except ClientDisconnect:
            response = Response(status_code=499)
        except Exception:  # a bug or an outage nobody anticipated: the caller gets a 500, the log the trace
            logger.exception("request %s failed", request_id)
            response = endpoint.error(
                ApiError(500, "The server had an error processing your request.", "server_error")
            )
        response.headers["X-Request-Id"] = request_id
        metrics.requests.labels(endpoint=endpoint.name, status=str(response.status_code)).inc()
        metrics.request_seconds.labels(endpoint=endpoint.name).observe(time.perf_counter() - started)
        return response

    async def openai_work(
        request: Request, body: Any, request_id: str, author: str, idempotent: bool
    ) -> dict[str, Any]:
        items, model = parse_moderation_request(
            body, max_inputs=limits.max_inputs, max_text_chars=limits.max_text_chars
        )
        judged = await judge.judge(
            items,
            request_id=request_id,
            author_id=author,
            keep=True,
            idempotent=idempotent,
            metadata={"api": "openai", "requested_model": model},
        )
        observe_decided(metrics, "openai", judged)
        return moderation_response(
            request_id=request_id, model=model or judge.model_version, judged=judged, labels=labels
        )

    async def perspective_work(
        request: Request, body: Any, request_id: str, author: str, idempotent: bool
    ) -> dict[str, Any]:
        analyze = parse_analyze_request(body, labels=labels, max_text_chars=limits.max_text_chars)
        (whole,) = await judge.judge(
            [Item(text=analyze.text, image=None, param="comment.text")],
            request_id=request_id,
            author_id=author,
            keep=not analyze.do_not_store,
            idempotent=idempotent,
            metadata={"api": "perspective"},
        )
        observe_decided(metrics, "perspective", [whole])
        spans = sentence_spans(analyze.text) if analyze.span_annotations else [(0, len(analyze.text))]
        if len(spans) == 1:
            span_scores = [(0, len(analyze.text), whole.scores)]
        else:
            # Sentences are scored, never stored: the comment is the post.
            parts = await judge.judge(
                [Item(text=analyze.text[b:e], image=None, param="comment.text") for b, e in spans],
                request_id=f"{request_id}-spans",
                author_id=author,
                keep=False,
                idempotent=False,
            )
            span_scores = [(b, e, p.scores) for (b, e), p in zip(spans, parts, strict=True)]
        return analyze_response(analyze, scores=whole.scores, span_scores=span_scores)

    async def moderations(request: Request) -> Response:
        return await handle(request, _OPENAI, openai_work)

    async def comments_analyze(request: Request) -> Response:
        return await handle(request, _PERSPECTIVE, perspective_work)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        problem = await ready()
        if problem is not None:
            return JSONResponse({"status": "not ready", "reason": problem}, status_code=503)
        return JSONResponse({"status": "ready", "model_version": judge.model_version})

    async def metrics_page(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(metrics.registry), media_type=content_type)

    async def not_routed(request: Request, exc: Exception) -> Response:
        # Unknown paths and methods answer in OpenAI's error shape too (clients parse it).
        status = getattr(exc, "status_code", 404)
        message = (
            f"Invalid URL ({request.method} {request.url.path})"
            if status == 404
            else f"Method {request.method} is not allowed on {request.url.path}"
        )
        return openai_error_response(
            ApiError(status, message, "not_found" if status == 404 else "method_not_allowed")
        )

    return Starlette(
        exception_handlers={404: not_routed, 405: not_routed},
        routes=[
            Route("/v1/moderations", moderations, methods=["POST"]),
            Route("/v1alpha1/comments:analyze", comments_analyze, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            Route("/metrics", metrics_page, methods=["GET"]),
        ],
        lifespan=lifespan,
    )


def _presented_key(request: Request, *, allow_query: bool) -> str | None:
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiError(
                401,
                "The Authorization header must be 'Bearer <key>'.",
                "invalid_api_key",
                headers={"WWW-Authenticate": 'Bearer realm="postguard"'},
            )
        return token.strip()
    if allow_query:
        return request.query_params.get("key")
    return None


async def _read_json(request: Request, max_bytes: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise _too_large(int(declared), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(size, max_bytes)
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError(
            400, f"We could not parse the JSON body of your request: {exc}", "invalid_json"
        ) from None


def _too_large(size: int, max_bytes: int) -> ApiError:
    return ApiError(
        413,
        f"The request body has at least {size:,} bytes, more than the limit of {max_bytes:,}.",
        "request_too_large",
    )
