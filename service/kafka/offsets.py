"""Which Kafka offsets may be committed, when posts are decided out of order.

The consumer hands a batch to the pipeline and fetches the next one while the batch's images that
need OCR are still being read (service/moderation/ocr_lane.py). Kafka's committed offset is a single position
per partition meaning "everything before it is done", so it may only advance to the *first post of
the partition that is not decided yet*: a post decided early (a text post behind a slow meme) is
remembered, and committed once every post before it is decided too.

:class:`OffsetTracker` keeps, per partition, the offsets handed out and not yet settled, and the
highest offset seen. It commits through a function it is given (the consumer's ``commit``), only
positions that moved forward, under a lock so the consumer loop and the OCR lane never interleave
two commits.

Rebalances. A partition taken away is *not* forgotten: its state (posts still in the OCR lane, the
batch in flight) is kept and marked revoked, so nothing is committed for it while it is not ours,
and if it comes back, a batch that was rewound (``nack`` seeks to the batch's first offset) cannot
make a fresh state whose baseline lies past a post the lane still holds. When it is assigned
again, the group's committed offset tells which pending posts another member finished meanwhile.
Before a partition is given up, the rebalance listener waits (bounded) for its pending posts, so
the new owner does not decide them a second time for nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, ConsumerStoppedError, IllegalStateError, KafkaError

from service.records import RawRecord

logger = logging.getLogger(__name__)

#: Commits ``{partition: next offset to read}`` for the group.
CommitFunction = Callable[[dict[TopicPartition, int]], Awaitable[None]]
#: The group's committed offset of a partition (None: nothing committed yet).
CommittedFunction = Callable[[TopicPartition], Awaitable[int | None]]


@dataclass
class _PartitionState:
    pending: set[int] = field(default_factory=set)
    highest_seen: int = -1
    committed: int | None = None
    #: Taken away by a rebalance: kept (the lane may still settle posts of it), never committed.
    revoked: bool = False

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
        self._committed: CommittedFunction | None = None
        self._lock = asyncio.Lock()
        self._settled = asyncio.Event()  # set whenever posts are settled

    def bind(self, commit: CommitFunction, committed: CommittedFunction | None = None) -> None:
        """Set the functions commits and committed-offset lookups go through (the current consumer's)."""
        self._commit = commit
        self._committed = committed

    def register(self, records: Iterable[RawRecord]) -> None:
        """Records were consumed: they hold their partitions back until settled."""
        for record in records:
            partition = TopicPartition(record.topic, record.partition)
            state = self._partitions.get(partition)
            if state is None:
                # The first record seen of a partition is where the group's committed position (or
                # the reset policy) put us: nothing to commit until the position passes it.
                state = self._partitions[partition] = _PartitionState(committed=record.offset)
            state.revoked = False  # its records reach us: it is ours
            state.pending.add(record.offset)
            state.highest_seen = max(state.highest_seen, record.offset)

    def settle(self, records: Iterable[RawRecord]) -> None:
        """Records were decided (stored and published) or dead-lettered: they no longer hold back."""
        for record in records:
            state = self._partitions.get(TopicPartition(record.topic, record.partition))
            if state is not None:
                state.pending.discard(record.offset)
        self._settled.set()

    async def wait_settled(self, partitions: Iterable[TopicPartition], timeout_s: float) -> bool:
        """Wait until no post of ``partitions`` is pending (True), or ``timeout_s`` passed (False)."""
        wanted = list(partitions)

        def done() -> bool:
            return not any(self._partitions[p].pending for p in wanted if p in self._partitions)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not done():
            self._settled.clear()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._settled.wait(), remaining)
        return True

    def pending(self) -> int:
        """How many registered records of partitions that are ours are not settled yet."""
        return sum(len(state.pending) for state in self._partitions.values() if not state.revoked)

    def committable(self) -> dict[TopicPartition, int]:
        """Positions that moved past what this tracker last committed (partitions that are ours)."""
        positions: dict[TopicPartition, int] = {}
        for partition, state in self._partitions.items():
            if state.revoked:
                continue
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

    def revoke(self, partitions: Iterable[TopicPartition]) -> None:
        """The group took these partitions away: nothing is committed for them until they come
        back; their pending posts are kept, so a return cannot commit past one."""
        for partition in partitions:
            state = self._partitions.get(partition)
            if state is not None:
                state.revoked = True

    async def assign(self, partitions: Iterable[TopicPartition]) -> None:
        """The group gave these partitions (back) to us: pending posts before the group's committed
        offset were finished by another member meanwhile, and that offset is the baseline."""
        for partition in partitions:
            state = self._partitions.get(partition)
            if state is None:
                continue
            state.revoked = False
            if self._committed is None:
                continue
            try:
                committed = await self._committed(partition)
            except (KafkaError, IllegalStateError, ConsumerStoppedError) as exc:
                logger.warning(
                    "could not read the committed offset of %s (%s)", _describe({partition: 0}), exc
                )
                continue
            if committed is None:
                continue
            state.pending = {offset for offset in state.pending if offset >= committed}
            state.committed = committed
            state.highest_seen = max(state.highest_seen, committed - 1)
        self._settled.set()


def _describe(positions: dict[TopicPartition, int]) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}@{offset}" for tp, offset in sorted(positions.items()))
