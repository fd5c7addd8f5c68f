"""Which Kafka offsets may be committed, when posts are decided out of order.

The consumer hands a batch to the pipeline and fetches the next one while the batch's images that
need OCR are still being read (service/ocr_lane.py). Kafka's committed offset is a single position
per partition meaning "everything before it is done", so it may only advance to the *first post of
the partition that is not decided yet*: a post decided early (a text post behind a slow meme) is
remembered, and committed once every post before it is decided too.

:class:`OffsetTracker` keeps, per partition, the offsets handed out and not yet settled, and the
highest offset seen. It commits through a function it is given (the consumer's ``commit``), only
positions that moved forward, under a lock so the consumer loop and the OCR lane never interleave
two commits.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError, KafkaError

from .pipeline import RawRecord

logger = logging.getLogger(__name__)

#: Commits ``{partition: next offset to read}`` for the group.
CommitFunction = Callable[[dict[TopicPartition, int]], Awaitable[None]]


@dataclass
class _PartitionState:
    pending: set[int] = field(default_factory=set)
    highest_seen: int = -1
    committed: int | None = None

    def position(self) -> int | None:
        """The offset to commit (next to read): the first pending offset, or one past the highest
        seen when nothing is pending; None before anything was seen."""
        if self.pending:
            return min(self.pending)
        return self.highest_seen + 1 if self.highest_seen >= 0 else None


class OffsetTracker:
    """Tracks posts from consumption until they are decided, and commits the decided prefix."""

    def __init__(self) -> None:
        self._partitions: dict[TopicPartition, _PartitionState] = {}
        self._commit: CommitFunction | None = None
        self._lock = asyncio.Lock()

    def bind(self, commit: CommitFunction) -> None:
        """Set the function commits go through (the current consumer's)."""
        self._commit = commit

    def register(self, records: Iterable[RawRecord]) -> None:
        """Records were consumed: they hold their partitions back until settled."""
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            state = self._partitions.get(partition)
            if state is None:
                # The first record seen of a partition is where the group's committed position (or
                # the reset policy) put us: nothing to commit until the position passes it.
                state = self._partitions[partition] = _PartitionState(committed=record.offset)
            state.pending.add(record.offset)
            state.highest_seen = max(state.highest_seen, record.offset)

    def settle(self, records: Iterable[RawRecord]) -> None:
        """Records were decided (stored and published) or dead-lettered: they no longer hold back."""
        for record in records:
            state = self._partitions.get(TopicPartition(record.topic, record.partition))
            if state is not None:  # None: the partition was revoked meanwhile; its new owner redoes it
                state.pending.discard(record.offset)

    def pending(self) -> int:
        """How many registered records are not settled yet (all partitions)."""
        return sum(len(state.pending) for state in self._partitions.values())

    def committable(self) -> dict[TopicPartition, int]:
        """Positions that moved past what this tracker last committed."""
        positions: dict[TopicPartition, int] = {}
        for partition, state in self._partitions.items():
            position = state.position()
            if position is not None and (state.committed is None or position > state.committed):
                positions[partition] = position
        return positions

    async def commit(self) -> bool:
        """Commit every partition whose decided prefix grew; False when the commit failed (typically a
        rebalance took the partitions: their new owner redelivers what is not committed, and the
        stored decisions make that a no-op)."""
        async with self._lock:
            positions = self.committable()
            if not positions or self._commit is None:
                return True
            try:
                await self._commit(positions)
            # ConsumerStoppedError: the OCR lane finished a post after a stop that could not wait for it.
            except (CommitFailedError, IllegalStateError, KafkaError, ConsumerStoppedError) as exc:
                logger.warning(
                    "could not commit offsets %s (%s); they will be redelivered", _describe(positions), exc
                )
                return False
            for partition, position in positions.items():
                state = self._partitions.get(partition)
                if state is not None:
                    state.committed = position if state.committed is None else max(position, state.committed)
            return True

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """The group took these partitions away: whatever is pending there is its new owner's now."""
        for partition in partitions:
            self._partitions.pop(partition, None)


def _describe(positions: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}@{offset}" for tp, offset in sorted(positions.items()))
