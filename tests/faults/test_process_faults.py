"""Killing and stopping real ``postguard serve`` processes in the middle of a stream of posts.

Each test runs its own topics and consumer group against the session's Tansu broker and a fresh
migrated database, feeds 2,000 valid posts and checks PostgreSQL afterwards: every post has
exactly one decision row. Every 50th post is a meme, so each fault also hits posts in the OCR
lane. Decision events on the output topic are at-least-once: each post has at least one, and the
duplicates (posts decided, published and not yet committed when the process died) are counted,
bounded (:data:`DUPLICATE_BOUND`) and matched against the surviving process's
``postguard_decisions_republished_total``, which counts every republished stored decision.
"""

from __future__ import annotations

import pytest

from devtools.embedded import TansuBroker

from .conftest import SpawnService
from .harness import (
    ServiceProcess,
    Topics,
    committed_offsets,
    decided_post_ids,
    decision_counts,
    duplicate_events,
    produce,
    read_topic,
    rows_at_least,
    valid_posts,
    wait_until,
)

pytestmark = pytest.mark.integration

TOTAL = 2000
#: The fault is injected once this many posts are decided: well inside the stream of TOTAL.
MID_STREAM = 300
#: Most duplicate events one dead member can leave (docs/reliability.md): the batch in flight and
#: what the OCR lane held (POSTGUARD_BATCH_MAX_SIZE 16 in these tests + POSTGUARD_OCR_LANE_MAX_PENDING
#: 64), plus the batches decided behind a meme and not committed yet (a few of 16).
DUPLICATE_BOUND = 16 + 64 + 4 * 16


async def _assert_every_post_decided_once(
    url: str, bootstrap: str, topics: Topics, ids: set[str], what: str
) -> int:
    """Exactly one decision row per post, at least one decision event; returns the duplicate events."""
    per_post = await decided_post_ids(url)
    assert set(per_post) == ids, f"missing: {sorted(ids - set(per_post))[:10]}"
    assert max(per_post.values()) == 1, f"double rows: {[p for p, n in per_post.items() if n > 1][:10]}"
    events = await read_topic(bootstrap, topics.output, expected=len(ids))
    assert {bytes(r.key).decode() for r in events} == ids
    duplicates = sum(duplicate_events(events).values())
    print(f"\n[{what}] {len(ids)} posts, {len(events)} decision events, {duplicates} duplicate events")
    assert len(events) == len(ids) + duplicates
    assert duplicates <= DUPLICATE_BOUND, f"{duplicates} duplicate events, more than {DUPLICATE_BOUND}"
    return duplicates


async def _assert_republished_counts_the_duplicates(survivor: ServiceProcess, duplicates: int) -> None:
    """Every duplicate on the topic is a stored decision the survivor republished (it may have
    republished more: posts whose first publish died with the first process are not duplicates)."""
    republished = await survivor.metric("postguard_decisions_republished_total")
    assert republished >= duplicates, (republished, duplicates)
    assert republished <= DUPLICATE_BOUND, republished


async def test_kill_9_mid_stream_then_restart(
    tansu: TansuBroker, migrated_db: str, spawn_service: SpawnService
) -> None:
    topics = Topics.fresh()
    posts = valid_posts("kill", TOTAL)
    first = spawn_service("first", bootstrap=tansu.bootstrap, database_url=migrated_db, topics=topics)
    await first.wait_ready()
    await produce(tansu.bootstrap, topics.input, posts)
    await wait_until(
        lambda: rows_at_least(migrated_db, MID_STREAM),
        "the first decisions",
        services=[first],
        interval_s=0.05,
    )
    first.kill()
    at_kill, _ = await decision_counts(migrated_db)
    assert at_kill < TOTAL, "the kill did not land mid-stream"

    second = spawn_service("second", bootstrap=tansu.bootstrap, database_url=migrated_db, topics=topics)
    await second.wait_ready()
    await wait_until(lambda: rows_at_least(migrated_db, TOTAL), "every post decided", services=[second])
    duplicates = await _assert_every_post_decided_once(
        migrated_db, tansu.bootstrap, topics, {k.decode() for k, _ in posts}, f"kill -9 at {at_kill}"
    )
    await _assert_republished_counts_the_duplicates(second, duplicates)


def _holds(service: ServiceProcess, partitions: set[int]) -> bool:
    assignments = service.assignments()
    return bool(assignments) and assignments[-1] == partitions


async def test_killed_group_member_hands_its_partitions_over(
    tansu: TansuBroker, migrated_db: str, spawn_service: SpawnService
) -> None:
    topics = Topics.fresh()
    posts = valid_posts("pair", TOTAL)
    first = spawn_service("first", bootstrap=tansu.bootstrap, database_url=migrated_db, topics=topics)
    second = spawn_service("second", bootstrap=tansu.bootstrap, database_url=migrated_db, topics=topics)
    await first.wait_ready()
    await second.wait_ready()

    async def split() -> bool:
        a, b = first.assignments(), second.assignments()
        return bool(a and b) and len(a[-1]) == len(b[-1]) == 2 and not a[-1] & b[-1]

    await wait_until(split, "the 4 partitions split 2/2", services=[first, second])
    await produce(tansu.bootstrap, topics.input, posts)
    await wait_until(
        lambda: rows_at_least(migrated_db, MID_STREAM),
        "the first decisions",
        services=[first, second],
        interval_s=0.05,
    )
    first.kill()
    at_kill, _ = await decision_counts(migrated_db)
    assert at_kill < TOTAL, "the kill did not land mid-stream"

    async def took_over() -> bool:
        return _holds(second, {0, 1, 2, 3})

    await wait_until(took_over, "the survivor to take every partition", services=[second])
    await wait_until(lambda: rows_at_least(migrated_db, TOTAL), "every post decided", services=[second])
    duplicates = await _assert_every_post_decided_once(
        migrated_db, tansu.bootstrap, topics, {k.decode() for k, _ in posts}, f"1 of 2 killed at {at_kill}"
    )
    await _assert_republished_counts_the_duplicates(second, duplicates)


async def test_sigterm_finishes_and_commits_the_batch_in_flight(
    tansu: TansuBroker, migrated_db: str, spawn_service: SpawnService
) -> None:
    topics = Topics.fresh()
    service = spawn_service("service", bootstrap=tansu.bootstrap, database_url=migrated_db, topics=topics)
    await service.wait_ready()
    await produce(tansu.bootstrap, topics.input, valid_posts("term", TOTAL))
    await wait_until(
        lambda: rows_at_least(migrated_db, MID_STREAM),
        "the first decisions",
        services=[service],
        interval_s=0.05,
    )
    code, seconds = await service.terminate(timeout_s=10)
    assert code == 0, f"exit code {code} after {seconds:.1f} s\n{service.log_tail()}"
    assert seconds < 10

    rows, distinct = await decision_counts(migrated_db)
    assert rows == distinct and rows < TOTAL
    committed = await committed_offsets(tansu.bootstrap, topics.group, topics.input)
    # Every decided post is committed: nothing was stored and left uncommitted (which a restart
    # would redeliver), and nothing was committed without being stored (which would be lost).
    assert sum(max(offset, 0) for offset in committed.values()) == rows, committed
    events = await read_topic(tansu.bootstrap, topics.output, expected=rows)
    assert len(events) == rows, "a graceful stop must not leave duplicates behind"
    logs = service.logs()
    assert "stop requested; finishing the batch in flight" in logs
    assert "postguard stopped" in logs
    print(f"\n[SIGTERM] exit 0 after {seconds:.2f} s; {rows} decided = {rows} committed")
