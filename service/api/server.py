"""``postguard api``: wires the judge to the model, policy and database, and serves it under uvicorn.

Start-up order: database reachable and migrated, model and policy loaded (the same as the
consumer's: ``POSTGUARD_MODEL_PATH``, ``POSTGUARD_CATEGORIES_PATH``, ``POSTGUARD_POLICY_PATH``),
then the port is bound. SIGTERM/SIGINT stop it gracefully (requests in flight are answered).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from collections.abc import AsyncIterator, Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.applications import Starlette

from service.api.app import ApiLimits, build_api_app
from service.api.batcher import MicroBatcher, StoreCoalescer
from service.api.judge import Judge
from service.api.keys import KeyRing
from service.api.metrics import ApiMetrics, build_api_metrics
from service.api.rate_limit import RateLimiter
from service.errors import ConfigError
from service.http_serving import serve_until_signal
from service.moderation.images import ImageLimits, ImageLoader
from service.moderation.inference_thread import InferenceThread
from service.moderation.memory import limit_arenas
from service.moderation.model_guard import ModelGuard
from service.moderation.policy import Policy, policy_for
from service.moderation.scoring import Scorer, load_scorer
from service.review.audit import record_service_versions
from service.settings import DatabaseSettings
from service.storage import migrate
from service.storage.api_records import ApiKeyRecord, StoredApiPost, find_api_key, stored_api_posts
from service.storage.database import create_engine_from_url, session_factory, wait_for_database
from service.storage.repository import DecisionRecord, StoredDecision, record_decisions

__all__ = ["build_api", "check_anonymous_host", "serve_api"]

logger = logging.getLogger(__name__)

DATABASE_WAIT_S = 60.0
READY_TIMEOUT_S = 2.0


class _DatabaseStore:
    """The judge's :class:`~service.api.judge.ApiStore` on PostgreSQL: the decisions of concurrent
    requests are written in one transaction (:class:`StoreCoalescer`)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

        async def write(records: list[DecisionRecord]) -> list[StoredDecision]:
            return await record_decisions(sessions=sessions, records=records)

        self.writer = StoreCoalescer(write)

    async def record(self, records: Sequence[DecisionRecord]) -> list[StoredDecision]:
        return await self.writer.record(records)

    async def find(self, post_ids: Sequence[str]) -> dict[str, StoredApiPost]:
        return await stored_api_posts(sessions=self._sessions, post_ids=post_ids)


def check_anonymous_host(settings: DatabaseSettings, host: str) -> None:
    """Anonymous access is for trials on this machine: refuse it on any other address."""
    if not settings.api_allow_anonymous:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(
            f"POSTGUARD_API_ALLOW_ANONYMOUS=true is only allowed on a loopback address, not {host}: "
            "create keys with `postguard api-keys create NAME` instead"
        )


def build_api(
    settings: DatabaseSettings,
    *,
    scorer: Scorer,
    policy: Policy,
    sessions: async_sessionmaker[AsyncSession],
    metrics: ApiMetrics | None = None,
) -> Starlette:
    """The API app on ``scorer``, ``policy`` and the database behind ``sessions`` (tests call this
    with a small checkpoint; :func:`serve_api` with the configured one)."""
    metrics = metrics or build_api_metrics()
    inference = InferenceThread()
    batcher = MicroBatcher(
        ModelGuard(scorer, inference, metrics),
        max_batch=settings.api_batch_max,
        max_wait_s=settings.api_batch_wait_ms / 1000,
        on_batch=metrics.batch_size.observe,
    )
    store = _DatabaseStore(sessions)
    judge = Judge(
        batcher=batcher,
        policy=policy,
        image_loader=ImageLoader(ImageLimits.from_settings(settings)),
        store=store,
        model_version=scorer.version,
    )

    async def find(digest: str) -> ApiKeyRecord | None:
        return await find_api_key(sessions=sessions, key_sha256=digest)

    async def ready() -> str | None:
        try:
            async with sessions() as session:
                await asyncio.wait_for(session.execute(text("SELECT 1")), READY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure means not ready; the reason says which
            return f"database unreachable: {type(exc).__name__}"
        return None

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        batcher.start()
        store.writer.start()
        try:
            yield
        finally:
            await batcher.stop()
            await store.writer.stop()
            inference.shutdown(wait=False)

    return build_api_app(
        judge=judge,
        keys=KeyRing(
            find=find,
            default_rate_per_minute=settings.api_rate_limit_per_minute,
            allow_anonymous=settings.api_allow_anonymous,
        ),
        limiter=RateLimiter(),
        metrics=metrics,
        labels=scorer.labels,
        limits=ApiLimits(
            max_request_bytes=settings.api_max_request_bytes,
            max_inputs=settings.api_max_inputs,
        ),
        ready=ready,
        lifespan=lifespan,
    )


async def serve_api(settings: DatabaseSettings, *, host: str, port: int) -> None:
    """Serve the API on ``host:port`` until SIGTERM or SIGINT."""
    check_anonymous_host(settings, host)
    limit_arenas(settings.malloc_arena_max)
    url = settings.database_url.get_secret_value()
    await wait_for_database(url, DATABASE_WAIT_S)
    await migrate.require_head(url)
    scorer = await asyncio.to_thread(load_scorer, settings)
    policy = await asyncio.to_thread(policy_for, settings.policy_path, scorer.labels)
    engine = create_engine_from_url(url)
    try:
        sessions = session_factory(engine)
        await record_service_versions(
            sessions=sessions, model_version=scorer.version, policy_version=policy.version
        )
        app = build_api(settings, scorer=scorer, policy=policy, sessions=sessions)
        logger.info(
            "moderation API on http://%s:%d/v1/moderations and /v1alpha1/comments:analyze (model %s, policy %s%s)",
            host,
            port,
            scorer.version,
            policy.version,
            "; anonymous requests allowed" if settings.api_allow_anonymous else "",
        )
        await serve_until_signal(app, host=host, port=port, name="moderation API")
    finally:
        await engine.dispose()
