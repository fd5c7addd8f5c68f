"""The naive baseline: a consumer written the straightforward FastStream way.

One message at a time: consume, decode, score one post, insert its decision, commit the offset.
No micro-batching, no bulk insert, no overlap, no OCR gate, no cache, RapidOCR's default
detection and its graphs as shipped — the model is loaded with :class:`models.inference.Moderator`'s defaults, except the
torch and OCR thread counts, which it takes from the same settings as the service. It reads the same ``POSTGUARD_*`` settings as the
service and writes the same tables, so the benchmark measures both the same way.

Run: ``python -m bench.naive_consumer`` (the benchmark starts it as a subprocess).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
import signal
from datetime import UTC, datetime

from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from models.image_decoding import decode_image
from models.inference import InferenceOptions, Moderator
from models.types import PostContent
from service.moderation.parsing import parse_post
from service.moderation.policy import load_policy
from service.moderation.scoring import category_bundle_path
from service.records import SourceRef
from service.settings import load_settings
from service.storage.database import create_engine_from_url, session_factory
from service.storage.repository import DecisionRecord, record_decisions

logger = logging.getLogger("bench.naive_consumer")


async def main() -> None:
    settings = load_settings()
    # Only the thread counts are shared with the service's configuration: no gate, cache or batching.
    moderator = Moderator.load(
        settings.model_path,
        torch_threads=settings.torch_threads,
        options=InferenceOptions(ocr_threads=settings.ocr_threads),
        # the same categories as the service, so that both do the same work
        categories=category_bundle_path(settings),
        categories_required=settings.categories_path is not None,
        nsfw=settings.nsfw_enabled,
    )
    policy = load_policy(settings.policy_path)
    if settings.policy_path is None:  # as the service: the packaged policy moderates what is scored
        policy = policy.restricted_to(moderator.labels)
    engine = create_engine_from_url(settings.database_url.get_secret_value())
    sessions = session_factory(engine)
    broker = KafkaBroker(settings.kafka_bootstrap)

    @broker.subscriber(
        settings.input_topic,
        group_id=settings.group_id,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.MANUAL,
        session_timeout_ms=settings.session_timeout_ms,
        heartbeat_interval_ms=settings.heartbeat_interval_ms,
        max_partition_fetch_bytes=settings.max_message_bytes,
        # the same fetch wait as the service: on Tansu it bounds latency (see service/app.py)
        fetch_max_wait_ms=settings.kafka_fetch_max_wait_ms,
    )
    async def moderate(message: KafkaMessage) -> None:
        record = message.raw_message
        post = parse_post(message.body)
        image = None
        image_sha256 = None
        if post.image is not None and post.image.data is not None:
            raw = base64.b64decode(post.image.data)
            image = decode_image(raw)
            image_sha256 = hashlib.sha256(raw).hexdigest()
        (result,) = moderator.score([PostContent(text=post.text, image=image)])
        outcome = policy.decide(scores=result.scores, texts=[t for t in (post.text, result.ocr_text) if t])
        decision = DecisionRecord(
            post_id=post.post_id,
            author_id=post.author_id,
            text=post.text,
            text_sha256=hashlib.sha256(post.text.encode()).hexdigest() if post.text else None,
            image_sha256=image_sha256,
            image_thumbnail_jpeg=None,
            ocr_text=result.ocr_text,
            created_at=post.created_at,
            lang=post.lang,
            metadata=dict(post.metadata),
            source=SourceRef(
                topic=record.topic,  # type: ignore[union-attr]
                partition=record.partition,  # type: ignore[union-attr]
                offset=record.offset,  # type: ignore[union-attr]
                timestamp_ms=record.timestamp,  # type: ignore[union-attr]
            ),
            model_version=moderator.version,
            policy_version=policy.version,
            action=outcome.action,
            scores=dict(result.scores),
            triggered=[rule.model_dump(mode="json") for rule in outcome.triggered],
            attribution={k: dict(v) for k, v in result.attribution.items()},
            decided_at=datetime.now(UTC),
            review_priority=outcome.priority,
        )
        await record_decisions(sessions=sessions, records=[decision])
        await message.ack()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await broker.start()
    logger.info("naive consumer running on %s", settings.input_topic)
    await stop.wait()
    await broker.stop()
    await engine.dispose()


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main())
