"""The offset tracker: commits only the decided prefix of each partition, never past a pending post."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, ConsumerStoppedError

from service.kafka.offsets import OffsetTracker
from service.records import RawRecord

P0 = TopicPartition("posts", 0)
P1 = TopicPartition("posts", 1)


def _records(partition: int, *offsets: int) -> list[RawRecord]:
    return [
        RawRecord(value=b"{}", key=None, topic="posts", partition=partition, offset=o, timestamp_ms=None)
        for o in offsets
    ]


class _Commits:
    def __init__(self, fail: int = 0, error: Exception | None = None) -> None:
        self.calls: list[dict[TopicPartition, int]] = []
        self.fail = fail
        self.error = error or CommitFailedError("the group rebalanced")

    async def __call__(self, positions: dict[TopicPartition, int]) -> None:
        if self.fail:
            self.fail -= 1
            raise self.error
        self.calls.append(dict(positions))


async def test_a_post_decided_early_is_committed_only_with_the_posts_before_it() -> None:
    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 10, 11, 12))
    tracker.settle(_records(0, 10, 12))  # 11 (a meme) is still in OCR
    assert await tracker.commit()
    assert commits.calls == [{P0: 11}]  # up to the meme, not past it
    assert tracker.pending() == 1

    assert await tracker.commit()
    assert commits.calls == [{P0: 11}]  # nothing moved: no second commit

    tracker.settle(_records(0, 11))
    await tracker.commit()
    assert commits.calls[-1] == {P0: 13}


async def test_partitions_advance_independently() -> None:
    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 0, 1) + _records(1, 5))
    tracker.settle(_records(1, 5))
    await tracker.commit()
    assert commits.calls == [{P1: 6}]  # partition 0 has nothing decided at its front yet
    tracker.settle(_records(0, 0))
    await tracker.commit()
    assert commits.calls[-1] == {P0: 1}


@pytest.mark.parametrize(
    "error", [CommitFailedError("the group rebalanced"), ConsumerStoppedError()], ids=["rebalance", "stopped"]
)
async def test_a_failed_commit_is_reported_and_tried_again_next_time(error: Exception) -> None:
    commits = _Commits(fail=1, error=error)
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 3))
    tracker.settle(_records(0, 3))
    assert not await tracker.commit()
    assert tracker.committable() == {P0: 4}
    assert await tracker.commit()
    assert commits.calls == [{P0: 4}]


async def test_revoked_partitions_are_kept_but_never_committed_while_not_ours() -> None:
    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 0, 1))
    tracker.revoke([P0])
    tracker.settle(_records(0, 0, 1))  # a lane finishing after the revocation commits nothing
    assert tracker.committable() == {} and tracker.pending() == 0
    await tracker.commit()
    assert commits.calls == []


async def test_a_redelivered_record_holds_its_partition_until_settled_again() -> None:
    tracker = OffsetTracker()
    tracker.bind(_Commits())
    tracker.register(_records(0, 0, 1))
    tracker.settle(_records(0, 0))
    await tracker.commit()
    tracker.register(_records(0, 1))  # rewound and fetched again
    assert tracker.committable() == {}
    tracker.settle(_records(0, 1))
    assert tracker.committable() == {P0: 2}


async def test_without_a_consumer_nothing_is_committed() -> None:
    tracker = OffsetTracker()
    tracker.register(_records(0, 0))
    tracker.settle(_records(0, 0))
    assert await tracker.commit()
    assert tracker.committable() == {P0: 1}


async def test_a_rebalance_commits_what_is_decided_then_revokes_the_partitions() -> None:
    from service.kafka.consumer import _CommitBeforeRevoke

    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 0, 1, 2) + _records(1, 7))
    tracker.settle(_records(0, 0, 1))  # offset 2 is still in the OCR lane
    listener = _CommitBeforeRevoke(tracker, drain_s=0.05)
    await listener.on_partitions_revoked({P0})
    assert commits.calls == [{P0: 2}]  # the decided prefix went out before the partition did
    assert tracker.pending() == 1  # partition 1 is still ours; partition 0's pending post is not
    tracker.settle(_records(0, 2))  # the lane finishing after the revocation commits nothing
    assert tracker.committable() == {}


class _Group:
    """The group's committed offsets, as the consumer reads them back."""

    def __init__(self, commits: _Commits) -> None:
        self.commits = commits

    async def __call__(self, partition: TopicPartition) -> int | None:
        positions = [call[partition] for call in self.commits.calls if partition in call]
        return max(positions) if positions else None


async def test_a_batch_rewound_after_a_rebalance_never_commits_past_a_meme_still_in_the_lane() -> None:
    """The data-loss sequence of a rebalance: batch 1 leaves a meme (offset 3) in the OCR lane;
    the group takes the partition away and gives it back while batch 2 (10-19) is in flight;
    batch 2 fails, ``nack`` seeks to 10, and the redelivered batch is decided. Committing 20 then
    would pass the meme, which only the old lane holds: a crash would lose it."""
    from service.kafka.consumer import _CommitBeforeRevoke

    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits, _Group(commits))
    listener = _CommitBeforeRevoke(tracker, drain_s=0.05)
    tracker.register(_records(0, *range(10)))
    tracker.settle(_records(0, 0, 1, 2, 4, 5, 6, 7, 8, 9))  # 3 went to the OCR lane
    await tracker.commit()
    tracker.register(_records(0, *range(10, 20)))  # batch 2 in flight

    await listener.on_partitions_revoked({P0})  # the lane and batch 2 do not finish in time
    await listener.on_partitions_assigned({P0})
    tracker.register(_records(0, *range(10, 20)))  # batch 2 failed: rewound to 10, fetched again
    tracker.settle(_records(0, *range(10, 20)))
    await tracker.commit()
    assert max(call[P0] for call in commits.calls) == 3, "committed past the meme still in the lane"

    tracker.settle(_records(0, 3))  # the lane decides the meme
    await tracker.commit()
    assert commits.calls[-1] == {P0: 20}


async def test_revoking_waits_for_the_lane_so_the_new_owner_does_not_decide_it_again() -> None:
    from service.kafka.consumer import _CommitBeforeRevoke

    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 0, 1, 2))
    tracker.settle(_records(0, 0, 1))

    async def lane() -> None:
        await asyncio.sleep(0.1)
        tracker.settle(_records(0, 2))

    task = asyncio.create_task(lane())
    await _CommitBeforeRevoke(tracker, drain_s=5).on_partitions_revoked({P0})
    await task
    assert commits.calls == [{P0: 3}]  # the meme was decided and committed before giving it up


async def test_on_assignment_posts_another_member_finished_stop_holding_the_partition() -> None:
    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits, _Group(commits))
    tracker.register(_records(0, 5, 6))  # rewound batch whose partition went to another member
    tracker.revoke([P0])
    commits.calls.append({P0: 40})  # the other member decided up to 39 and committed
    await tracker.assign([P0])
    assert tracker.pending() == 0
    tracker.register(_records(0, 40))
    tracker.settle(_records(0, 40))
    assert tracker.committable() == {P0: 41}
