"""The service's review hooks: version changes audited at start, verdict events relayed to Kafka."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence

import pytest
from aiokafka import AIOKafkaConsumer
from prometheus_client import CollectorRegistry

from devtools.embedded import TansuBroker
from models.types import ModerationResult, PostContent
from service.app import build_app
from service.moderation.policy import load_policy
from service.review.audit import audit_entries
from service.review.events import pending_events
from service.settings import load_settings
from tests.utils.review import Sessions, add_moderators, claim_and_resolve, seed_items

pytestmark = pytest.mark.integration


class IdleScorer:
    """A scorer that is never asked to score (no posts are published in these tests)."""

    labels = tuple(load_policy().categories)  # every category the default policy moderates

    def __init__(self, version: str) -> None:
        self.version = version

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        raise AssertionError("no posts expected")


async def test_the_service_audits_versions_and_publishes_verdicts(
    migrated_db: str, db_sessions: Sessions, tansu: TansuBroker
) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = load_settings(
        kafka_bootstrap=tansu.bootstrap,
        database_url=migrated_db,
        input_topic=f"posts-{suffix}",
        output_topic=f"decisions-{suffix}",
        dlq_topic=f"dlq-{suffix}",
        verdicts_topic=f"verdicts-{suffix}",
        group_id=f"postguard-{suffix}",
        session_timeout_ms=2000,
        heartbeat_interval_ms=500,
        metrics_host="127.0.0.1",
        metrics_port=0,
    )
    await add_moderators(db_sessions, ["alice"])
    await seed_items(db_sessions, 1)
    await claim_and_resolve(
        db_sessions, "alice", action="allow", labels={}, verdicts_topic=settings.verdicts_topic
    )

    for version in ("model-a", "model-b"):  # the policy stays the same: audited once
        app = build_app(settings, scorer=IdleScorer(version), registry=CollectorRegistry())
        async with app:
            for _ in range(200):  # the relay drains at start; 20 s at most
                if not await pending_events(sessions=db_sessions):
                    break
                await asyncio.sleep(0.1)

    changes = await audit_entries(sessions=db_sessions, entity_type="service")
    assert [(c.entity_id, (c.before or {}).get("version"), c.after) for c in changes] == [
        ("model", None, {"version": "model-a"}),
        ("policy", None, {"version": changes[1].after["version"] if changes[1].after else None}),
        ("model", "model-a", {"version": "model-b"}),
    ]

    consumer = AIOKafkaConsumer(
        settings.verdicts_topic,
        bootstrap_servers=tansu.bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        message = await asyncio.wait_for(consumer.getone(), 20)
    finally:
        await consumer.stop()
    assert message.key == b"post-0"
    assert json.loads(message.value)["action"] == "allow"
