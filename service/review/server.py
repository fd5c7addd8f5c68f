"""``postguard review serve``: the review page under uvicorn, with the outbox relay beside it."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from typing import Any

from prometheus_client import CollectorRegistry

from service.errors import InfrastructureError
from service.kafka.publishers import KafkaEventPublisher
from service.observability.metrics import build_outbox_gauges
from service.review.events import OutboxRelay
from service.review.metrics import build_review_metrics
from service.review.web import build_review_app
from service.review.web_security import review_secret
from service.settings import Settings
from service.storage import migrate
from service.storage.database import create_engine_from_url, describe_url, session_factory, wait_for_database

__all__ = ["serve", "serve_until_signal"]

logger = logging.getLogger(__name__)

DATABASE_WAIT_S = 60.0


async def serve_until_signal(server: Any, name: str = "review page") -> None:
    """Run uvicorn until SIGTERM/SIGINT, then return normally (exit code 0, like ``postguard serve``).

    uvicorn shuts down gracefully on those signals and then re-raises the signal to the handler
    that was installed before it; a no-op handler there turns the re-raise into a plain return.
    """
    if threading.current_thread() is not threading.main_thread():
        await server.serve()
        return
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        await server.serve()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    logger.info("%s stopped", name)


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serve the review page on ``host:port`` until SIGTERM or SIGINT."""
    import uvicorn

    review_secret(settings)  # a missing secret fails before anything starts
    url = settings.database_url.get_secret_value()
    await wait_for_database(url, DATABASE_WAIT_S)
    found, expected = await asyncio.to_thread(migrate.current, url), migrate.head()
    if found != expected:
        raise InfrastructureError(
            f"the database {describe_url(url)} is at revision {found}, the review page needs {expected}: "
            "run `postguard migrate` first"
        )
    engine = create_engine_from_url(url)
    publisher = KafkaEventPublisher(settings)
    try:
        sessions = session_factory(engine)
        registry = CollectorRegistry(auto_describe=True)
        app = build_review_app(
            settings=settings,
            sessions=sessions,
            metrics=build_review_metrics(registry),
            relay=OutboxRelay(sessions=sessions, publisher=publisher, gauges=build_outbox_gauges(registry)),
            host=host,
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            server_header=False,
        )
        logger.info(
            "review page on http://%s:%d/ (verdict events to %s)", host, port, settings.verdicts_topic
        )
        await serve_until_signal(uvicorn.Server(config))
    finally:
        await publisher.close()
        await engine.dispose()
