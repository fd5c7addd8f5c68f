"""Kafka clients configured from :class:`Settings`: the FastStream broker, plain aiokafka clients
(admin, producer) and topic creation. The publishers that send through them are in
:mod:`service.kafka.publishers`.

Every client is built from the same settings, so a production broker with SASL/SSL needs the
security variables once, for consuming, publishing and creating topics alike.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512

from service.errors import ConfigError
from service.settings import KafkaSettings

logger = logging.getLogger(__name__)

#: Partitions of the topics postguard creates when they are missing (the most consumers of one
#: group that can share the input topic). Existing topics are never changed.
DEFAULT_PARTITIONS = 4
#: How long stopping waits for the batch in flight; Kubernetes' default grace period is 30 s, our
#: promise is an exit within 10 s.
GRACEFUL_TIMEOUT_S = 8.0
CLIENT_ID = "postguard"


def _ssl_context(settings: KafkaSettings) -> Any:
    cafile = settings.kafka_ssl_cafile
    if cafile is not None and not cafile.is_file():
        raise ConfigError(f"POSTGUARD_KAFKA_SSL_CAFILE: {cafile} is not a file")
    return create_ssl_context(cafile=str(cafile) if cafile else None)


def _sasl_credentials(settings: KafkaSettings) -> tuple[str, str, str]:
    missing = [
        name
        for name, value in (
            ("POSTGUARD_KAFKA_SASL_MECHANISM", settings.kafka_sasl_mechanism),
            ("POSTGUARD_KAFKA_SASL_USERNAME", settings.kafka_sasl_username),
            ("POSTGUARD_KAFKA_SASL_PASSWORD", settings.kafka_sasl_password),
        )
        if not value
    ]
    if missing:
        raise ConfigError(
            f"POSTGUARD_KAFKA_SECURITY_PROTOCOL={settings.kafka_security_protocol} needs "
            + ", ".join(missing)
        )
    assert settings.kafka_sasl_mechanism and settings.kafka_sasl_username and settings.kafka_sasl_password
    return (
        settings.kafka_sasl_mechanism,
        settings.kafka_sasl_username,
        settings.kafka_sasl_password.get_secret_value(),
    )


def client_security_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """Security keyword arguments for plain aiokafka clients (producer, consumer, admin)."""
    protocol = settings.kafka_security_protocol
    kwargs: dict[str, Any] = {"security_protocol": protocol}
    if protocol in ("SSL", "SASL_SSL"):
        kwargs["ssl_context"] = _ssl_context(settings)
    if protocol.startswith("SASL"):
        mechanism, username, password = _sasl_credentials(settings)
        kwargs.update(sasl_mechanism=mechanism, sasl_plain_username=username, sasl_plain_password=password)
    return kwargs


def producer_delivery_kwargs(settings: KafkaSettings) -> dict[str, Any]:
    """How every producer of the service waits for the broker: ``acks="all"`` (a write counts only
    once every in-sync replica has it, so a leader failover cannot lose a decision whose offset
    was committed) and, where the broker supports it, idempotence (producer retries never write
    a message twice)."""
    return {"acks": "all", "enable_idempotence": settings.kafka_enable_idempotence}


async def check_idempotent_producer(settings: KafkaSettings, *, timeout_s: float = 15.0) -> None:
    """With ``POSTGUARD_KAFKA_ENABLE_IDEMPOTENCE`` on, make sure the broker grants a producer id
    before the service starts: a broker without idempotence support otherwise fails every publish
    later, with an error that names neither the setting nor the cause."""
    if not settings.kafka_enable_idempotence:
        return
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=f"{CLIENT_ID}-idempotence-check",
        request_timeout_ms=int(timeout_s * 1000),
        **producer_delivery_kwargs(settings),
        **client_security_kwargs(settings),
    )
    try:
        await asyncio.wait_for(start_producer(producer, settings), timeout_s)
    finally:
        await producer.stop()


async def start_producer(producer: AIOKafkaProducer, settings: KafkaSettings) -> None:
    """Start ``producer`` (stopped again if that fails). With idempotence on, start() asks the
    broker for a producer id (InitProducerId): a refusal becomes a :class:`ConfigError` naming
    the setting; an unreachable broker is not a verdict on idempotence and is raised as it is."""
    try:
        await producer.start()
    except BaseException as exc:
        await producer.stop()
        if (
            isinstance(exc, KafkaError)
            and settings.kafka_enable_idempotence
            and not isinstance(exc, KafkaConnectionError)
        ):
            raise ConfigError(
                "POSTGUARD_KAFKA_ENABLE_IDEMPOTENCE=true, but the broker at "
                f"{settings.kafka_bootstrap} did not grant an idempotent producer id ({exc!r}); "
                "turn the setting off for brokers without idempotence support (Tansu is one)"
            ) from exc
        raise


def broker_security(settings: KafkaSettings) -> BaseSecurity | None:
    """The same security settings in the form FastStream's broker takes."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    ssl_context = _ssl_context(settings) if protocol in ("SSL", "SASL_SSL") else None
    if protocol == "SSL":
        return BaseSecurity(ssl_context=ssl_context, use_ssl=True)
    mechanism, username, password = _sasl_credentials(settings)
    use_ssl = protocol == "SASL_SSL"
    kind = {"PLAIN": SASLPlaintext, "SCRAM-SHA-256": SASLScram256, "SCRAM-SHA-512": SASLScram512}[mechanism]
    return kind(username, password, ssl_context=ssl_context, use_ssl=use_ssl)


def build_broker(settings: KafkaSettings) -> KafkaBroker:
    """A FastStream broker for the service: producer limits raised for inline images, every publish
    acknowledged by all in-sync replicas."""
    return KafkaBroker(
        settings.kafka_bootstrap,
        security=broker_security(settings),
        client_id=CLIENT_ID,
        max_request_size=settings.max_message_bytes,
        **producer_delivery_kwargs(settings),
        graceful_timeout=GRACEFUL_TIMEOUT_S,
        logger=logging.getLogger("postguard.kafka"),
        # FastStream logs every message (here: every batch) at this level; keep that out of INFO.
        log_level=logging.DEBUG,
    )


async def ensure_topics(
    settings: KafkaSettings, names: Sequence[str], *, partitions: int = DEFAULT_PARTITIONS
) -> None:
    """Create the missing topics among ``names``; never fails the start over it.

    A broker that refuses (ACLs, or Tansu's partial admin API) is logged: the topics may exist
    already or be auto-created on first use, and a real problem shows up as a publish error.
    """
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        client_id=CLIENT_ID,
        request_timeout_ms=15_000,
        **client_security_kwargs(settings),
    )
    try:
        # Inside the try: a start that fails half-way (or is cancelled) has connections to close.
        await admin.start()
        existing = set(await admin.list_topics())
        missing = sorted({name for name in names if name not in existing})
        if not missing:
            return
        try:
            response = await admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
            )
        except TopicAlreadyExistsError:
            return
        except KafkaError as exc:
            logger.warning(
                "could not create topics %s (%r); relying on the broker to have them", missing, exc
            )
            return
        for topic, code, *_ in getattr(response, "topic_errors", ()):
            if code not in (0, TopicAlreadyExistsError.errno):
                logger.warning("creating topic %s failed with Kafka error code %d", topic, code)
            else:
                logger.info("topic %s ready (%d partitions)", topic, partitions)
    finally:
        await admin.close()
