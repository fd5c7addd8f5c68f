"""``postguard review serve``: the review page under uvicorn, with the outbox relay beside it."""

from __future__ import annotations

import logging

from prometheus_client import CollectorRegistry

from service.http_serving import serve_until_signal
from service.kafka.publishers import KafkaEventPublisher
from service.observability.metrics import build_outbox_gauges
from service.review.events import OutboxRelay
from service.review.metrics import build_review_metrics
from service.review.web import build_review_app
from service.review.web_security import review_secret
from service.settings import Settings
from service.storage import migrate
from service.storage.database import create_engine_from_url, session_factory, wait_for_database

__all__ = ["serve"]

logger = logging.getLogger(__name__)

DATABASE_WAIT_S = 60.0


async def serve(settings: Settings, *, host: str, port: int) -> None:
    """Serve the review page on ``host:port`` until SIGTERM or SIGINT."""
    review_secret(settings)  # a missing secret fails before anything starts
    url = settings.database_url.get_secret_value()
    await wait_for_database(url, DATABASE_WAIT_S)
    await migrate.require_head(url)
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
        logger.info(
            "review page on http://%s:%d/ (verdict events to %s)", host, port, settings.verdicts_topic
        )
        await serve_until_signal(app, host=host, port=port, name="review page")
    finally:
        await publisher.close()
        await engine.dispose()
