"""The synchronous API under load (``postguard api``): requests/s and p50/p95 at 1, 8 and 32
concurrent clients, text-only and with images, and the consumer's text-only posts/s beside it.

Clients are coroutines on one ``httpx`` connection pool in the benchmark's own process: each
sends its next request as soon as the previous one is answered (closed loop), for a fixed time.
The load generator shares the host's two cores with the API, as a caller on the same machine
would; that is part of what is measured.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bench.posts import BenchPost

CONCURRENCY = (1, 8, 32)


def request_body(post: BenchPost) -> dict[str, Any]:
    """OpenAI's request for a post: its text alone, or its text and image as parts."""
    if post.image is None:
        return {"input": post.text}
    url = "data:image/jpeg;base64," + base64.b64encode(post.image).decode()
    return {"input": [{"type": "text", "text": post.text}, {"type": "image_url", "image_url": {"url": url}}]}


class PostFeed:
    """Hands out posts in order, each once; past the end it starts again and counts the repeats
    (a repeat is answered from the model's encoder cache: the benchmark reports how many)."""

    def __init__(self, posts: Sequence[BenchPost]) -> None:
        self._bodies = [request_body(p) for p in posts]
        self._next = 0
        self.repeats = 0

    def take(self) -> dict[str, Any]:
        if self._next >= len(self._bodies):
            self.repeats += 1
        body = self._bodies[self._next % len(self._bodies)]
        self._next += 1
        return body


async def closed_loop(url: str, feed: PostFeed, *, clients: int, seconds: float) -> dict[str, Any]:
    """``clients`` callers, each sending the feed's next post as soon as its last request is
    answered, for ``seconds``. Errors are counted, never retried."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    repeats_before = feed.repeats
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + seconds

        async def caller() -> None:
            while time.perf_counter() < deadline:
                body = feed.take()
                started = time.perf_counter()
                response = await client.post("/v1/moderations", json=body)
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - started)
                else:
                    errors[str(response.status_code)] = errors.get(str(response.status_code), 0) + 1

        started = time.perf_counter()
        await asyncio.gather(*(caller() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    latencies.sort()

    def quantile(q: float) -> float:
        return (
            round(latencies[min(len(latencies) - 1, int(q * len(latencies)))], 4)
            if latencies
            else float("nan")
        )

    return {
        "clients": clients,
        "requests": len(latencies),
        "errors": errors,
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(len(latencies) / elapsed, 2),
        # Posts sent a second time in this phase (cached embeddings): 0 means every request was new.
        "repeated_posts": feed.repeats - repeats_before,
        "latency_s": {"p50": quantile(0.5), "p95": quantile(0.95), "p99": quantile(0.99)},
    }


async def measure_api(
    url: str, text_posts: Sequence[BenchPost], image_posts: Sequence[BenchPost], *, seconds: float, log: Any
) -> dict[str, Any]:
    """Each concurrency level, text-only then with images, after a short warm-up on other posts.
    Every request carries a post not sent before (the feeds run on across the levels), so the
    model's encoder cache does not flatter the numbers; reposts inside the image mix stay, as in
    real traffic."""
    warm = PostFeed([*text_posts[-50:], *image_posts[-10:]])
    await closed_loop(url, warm, clients=4, seconds=min(5.0, seconds))
    result: dict[str, Any] = {"text": {}, "image": {}}
    for kind, posts in (("text", text_posts[:-50]), ("image", image_posts[:-10])):
        feed = PostFeed(posts)
        for clients in CONCURRENCY:
            phase = await closed_loop(url, feed, clients=clients, seconds=seconds)
            result[kind][str(clients)] = phase
            log(
                f"  API {kind}, {clients} clients: {phase['requests_per_s']} requests/s, "
                f"p50/p95 {phase['latency_s']['p50']}/{phase['latency_s']['p95']} s, errors {phase['errors']}, "
                f"repeated posts {phase['repeated_posts']}"
            )
    return result
