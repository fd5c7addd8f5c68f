"""What leaves the pipeline: a stored decision as a message on the output topic, a post that
cannot be decided as a dead letter (the original bytes with the reason in headers), and the codes
and header names consumers of the dead-letter topic read (docs/contract.md)."""

from __future__ import annotations

from dataclasses import dataclass

from service.moderation.contract import Decision
from service.records import OutgoingMessage, RawRecord
from service.storage.repository import StoredDecision

#: DLQ header names (see docs/contract.md).
HEADER_ERROR = "postguard-error"
HEADER_REASON = "postguard-reason"
HEADER_SOURCE_TOPIC = "postguard-source-topic"
HEADER_SOURCE_PARTITION = "postguard-source-partition"
HEADER_SOURCE_OFFSET = "postguard-source-offset"
#: Only on a dead letter whose value was dropped because it could not be republished: the size of
#: the original value, which stays readable at the source topic, partition and offset.
HEADER_ORIGINAL_BYTES = "postguard-original-bytes"

#: DLQ code for a post the model raised on (when the model gives no more precise code).
MODEL_ERROR = "model_error"
#: DLQ code for a post PostgreSQL refused as data (e.g. a NUL character): retrying cannot help.
DATABASE_REJECTED = "database_rejected"
#: DLQ code for a message over POSTGUARD_MAX_MESSAGE_BYTES (the broker may still deliver it).
MESSAGE_TOO_LARGE = "message_too_large"
# Kafka headers travel with every message; a reason longer than this is cut.
_MAX_REASON_CHARS = 500
# Room for the record's framing when deciding whether a dead letter fits the producer's size limit
# (the producer refuses a record over it, which would fail the batch on every redelivery).
_RECORD_OVERHEAD_BYTES = 1024


@dataclass(frozen=True)
class DeadLetter:
    """A record that cannot be decided, with a stable ``code`` and a human-readable ``reason``."""

    record: RawRecord
    code: str
    reason: str
    post_id: str | None = None


@dataclass(frozen=True)
class MessageEncoder:
    """Encodes decisions for ``output_topic`` and dead letters for ``dlq_topic``, each within the
    producer's ``max_message_bytes``."""

    output_topic: str
    dlq_topic: str
    max_message_bytes: int

    def decision(self, stored: StoredDecision) -> OutgoingMessage:
        """The decision as the output topic carries it (docs/contract.md), keyed by ``post_id``."""
        # model_validate: the stored row holds plain JSON (dicts, str); the contract re-checks it.
        decision = Decision.model_validate(
            {
                "post_id": stored.post_id,
                "action": stored.action,
                "scores": stored.scores,
                "triggered": stored.triggered,
                "attribution": stored.attribution,
                "model_version": stored.model_version,
                "policy_version": stored.policy_version,
                "decided_at": stored.decided_at,
            }
        )
        return OutgoingMessage(
            topic=self.output_topic,
            value=decision.model_dump_json().encode(),
            key=stored.post_id.encode(),
            headers={"content-type": "application/json"},
        )

    def dead_letter(self, dead: DeadLetter) -> OutgoingMessage:
        """The original bytes and key with the reason in headers; the value (and a key too large
        alone) dropped when the copy would exceed the producer's size limit."""
        record = dead.record
        reason = (
            dead.reason if len(dead.reason) <= _MAX_REASON_CHARS else dead.reason[:_MAX_REASON_CHARS] + "..."
        )
        headers = {
            HEADER_ERROR: dead.code,
            HEADER_REASON: reason,
            HEADER_SOURCE_TOPIC: record.topic,
            HEADER_SOURCE_PARTITION: str(record.partition),
            HEADER_SOURCE_OFFSET: str(record.offset),
        }
        value, key = record.value or b"", record.key
        framing = _RECORD_OVERHEAD_BYTES + sum(len(k) + len(v.encode()) for k, v in headers.items())
        if framing + len(value) + len(key or b"") > self.max_message_bytes:
            # A copy the producer would refuse would fail this batch on every redelivery and block
            # the partition: drop the value (and a key that alone is too large), say so, and point
            # at the original through the source headers.
            headers[HEADER_ORIGINAL_BYTES] = str(len(value))
            value = b""
            if framing + len(key or b"") > self.max_message_bytes:
                key = None
        return OutgoingMessage(topic=self.dlq_topic, value=value, key=key, headers=headers)
