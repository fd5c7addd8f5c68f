"""The offset tracker: commits only the decided prefix of each partition, never past a pending post."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, ConsumerStoppedError

from service.offsets import OffsetTracker
from service.pipeline import RawRecord

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


async def test_revoked_partitions_are_forgotten() -> None:
    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 0, 1))
    tracker.forget([P0])
    tracker.settle(_records(0, 0, 1))  # a lane finishing after the revocation changes nothing
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


async def test_a_rebalance_commits_what_is_decided_then_forgets_the_partitions() -> None:
    from service.app import _CommitBeforeRevoke

    commits = _Commits()
    tracker = OffsetTracker()
    tracker.bind(commits)
    tracker.register(_records(0, 0, 1, 2) + _records(1, 7))
    tracker.settle(_records(0, 0, 1))  # offset 2 is still in the OCR lane
    listener = _CommitBeforeRevoke(tracker)
    await listener.on_partitions_revoked({P0})
    assert commits.calls == [{P0: 2}]  # the decided prefix went out before the partition did
    assert tracker.pending() == 1  # partition 1 is still ours; partition 0's pending post is not
    tracker.settle(_records(0, 2))  # the lane finishing after the revocation commits nothing
    assert tracker.committable() == {}
