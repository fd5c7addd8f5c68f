"""Unit tests of the OCR lane on its own: a fake reader and decider, no pipeline, no model."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from PIL import Image

from service.moderation.ocr_lane import OcrLane
from tests.utils.ocr_lane import BlockingReader, until

_IMAGE = Image.new("RGB", (4, 4))


class _Decider:
    def __init__(self) -> None:
        self.groups: list[list[tuple[str, str | None]]] = []

    async def __call__(self, group: list[tuple[str, str | None]]) -> None:
        self.groups.append(group)

    @property
    def decided(self) -> list[str]:
        return [item for group in self.groups for item, _ in group]


def _lane(reader: BlockingReader, decider: _Decider, depths: list[int], **kwargs: Any) -> OcrLane[str]:
    return OcrLane(
        image_of=lambda item: _IMAGE,
        read_text=reader,
        decide=decider,
        on_depth=depths.append,
        **kwargs,
    )


async def test_every_post_is_read_on_the_lane_thread_and_decided_with_its_text() -> None:
    reader, decider, depths = BlockingReader(), _Decider(), list[int]()
    reader.release.set()
    lane = _lane(reader, decider, depths)
    try:
        await lane.put(["a", "b", "c"])
        await until(lambda: len(decider.decided) == 3)
        assert decider.decided == ["a", "b", "c"]
        assert all(text == reader.text for group in decider.groups for _, text in group)
        assert reader.threads and all(name.startswith("postguard-ocr") for name in reader.threads)
        assert lane.depth == 0 and depths[-1] == 0 and max(depths) >= 1
    finally:
        await lane.close()


async def test_a_drain_during_a_blocked_put_waits_for_the_whole_batch() -> None:
    reader, decider, depths = BlockingReader(), _Decider(), list[int]()
    lane = _lane(reader, decider, depths, max_pending=1)
    try:
        putting = asyncio.create_task(lane.put(["a", "b", "c"]))
        await until(lambda: len(reader.threads) == 1)  # 'a' is being read, 'b' fills the queue
        await asyncio.sleep(0.05)
        assert not putting.done(), "a full lane must hold the put back"
        # The whole batch counts from the start, so a drain cannot see an empty lane early.
        assert lane.depth == 3
        draining = asyncio.create_task(lane.drain(timeout_s=10))
        await asyncio.sleep(0.05)
        assert not draining.done()
        reader.release.set()
        assert await draining
        await putting
        assert decider.decided == ["a", "b", "c"] and lane.depth == 0
    finally:
        reader.release.set()
        await lane.close()


async def test_a_drain_that_times_out_says_so() -> None:
    reader, decider, depths = BlockingReader(), _Decider(), list[int]()
    lane = _lane(reader, decider, depths)
    try:
        await lane.put(["a"])
        assert await lane.drain(timeout_s=0.1) is False
        assert lane.closing and lane.depth == 1 and decider.decided == []
    finally:
        reader.release.set()
        await lane.close()


async def test_a_failed_read_hands_the_post_on_without_text() -> None:
    decider = _Decider()

    def broken(image: Image.Image) -> str:
        raise OSError("onnxruntime fell over")

    lane: OcrLane[str] = OcrLane(image_of=lambda item: _IMAGE, read_text=broken, decide=decider)
    try:
        await lane.put(["a"])
        await until(lambda: decider.decided == ["a"])
        assert decider.groups == [[("a", None)]]
    finally:
        await lane.close()


def test_limits_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        OcrLane(image_of=lambda item: _IMAGE, read_text=None, decide=_Decider(), max_pending=0)
    with pytest.raises(ValueError, match="at least 1"):
        OcrLane(image_of=lambda item: _IMAGE, read_text=None, decide=_Decider(), readers=0)


async def test_two_readers_read_two_images_at_a_time() -> None:
    decider = _Decider()
    both_in = threading.Barrier(2, timeout=10)

    def reader(image: Image.Image) -> str:
        both_in.wait()  # returns only when a second read runs at the same time
        return threading.current_thread().name

    lane: OcrLane[str] = OcrLane(image_of=lambda item: _IMAGE, read_text=reader, decide=decider, readers=2)
    try:
        await lane.put(["a", "b"])
        await until(lambda: len(decider.decided) == 2)
        threads = {text for group in decider.groups for _, text in group}
        assert len(threads) == 2 and all(str(t).startswith("postguard-ocr") for t in threads)
    finally:
        await lane.close()


async def test_a_stuck_decider_bounds_the_whole_lane_not_only_the_reading_queue() -> None:
    """Reading is fast, deciding hangs (the database or the broker stuck): before, posts piled
    up without bound between the two stages; now every put waits once the lane holds its limit."""
    reader = BlockingReader()
    reader.release.set()
    stuck = asyncio.Event()

    async def decide(group: list[tuple[str, str | None]]) -> None:
        await stuck.wait()

    lane = OcrLane(image_of=lambda item: _IMAGE, read_text=reader, decide=decide, max_pending=4)
    try:
        puts = [asyncio.create_task(lane.put([f"p-{i}"])) for i in range(20)]
        await asyncio.sleep(0.3)
        assert sum(task.done() for task in puts) == 4, "more posts than max_pending entered the lane"
        assert lane._to_decide.qsize() + lane._to_read.qsize() <= 4
        stuck.set()
        await asyncio.wait_for(asyncio.gather(*puts), 10)
        await until(lambda: lane.depth == 0)
    finally:
        stuck.set()
        await lane.close()


async def test_a_post_already_in_the_lane_is_not_queued_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A model outage: deciding fails again and again, and every rewound batch puts the same memes
    again. They must not pile up (or be read again) while the first copies wait to be decided."""
    monkeypatch.setattr("service.moderation.ocr_lane.RETRY_PAUSE_S", 0.01)
    monkeypatch.setattr("service.moderation.ocr_lane.RETRY_PAUSE_MAX_S", 0.04)
    reader = BlockingReader()
    reader.release.set()
    outage = {"failures": 0}
    retries: list[int] = []
    decided: list[str] = []

    async def decide(group: list[tuple[tuple[str, int], str | None]]) -> None:
        if outage["failures"] < 12:
            outage["failures"] += 1
            raise RuntimeError("the model is unavailable")
        decided.extend(f"{item[0]}@{item[1]}" for item, _ in group)

    lane: OcrLane[tuple[str, int]] = OcrLane(
        image_of=lambda item: _IMAGE,
        key_of=lambda item: item,
        read_text=reader,
        decide=decide,
        max_pending=8,
        on_retry=lambda: retries.append(1),
    )
    try:
        for _ in range(10):  # the batch rewound and fetched again ten times
            queued = await lane.put([("posts", 3), ("posts", 4)])
            assert lane.depth == 2
            await asyncio.sleep(0.02)
        assert queued == 0
        await until(lambda: lane.depth == 0, timeout_s=10)
        assert sorted(decided) == ["posts@3", "posts@4"]
        assert len(reader.threads) == 2  # each image read once
        assert len(retries) == 12
        assert await lane.put([("posts", 3)]) == 1  # decided: a later redelivery is queued again
    finally:
        await lane.close()


async def test_failed_groups_are_retried_with_a_pause_doubling_up_to_the_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pauses: list[float] = []
    real_sleep = asyncio.sleep

    async def record(seconds: float) -> None:
        if seconds >= 1:  # the lane's pauses (the test's own polling sleeps 0.01 s)
            pauses.append(seconds)
        await real_sleep(0)

    monkeypatch.setattr("service.moderation.ocr_lane.asyncio.sleep", record)
    attempts = {"n": 0}

    async def decide(group: list[tuple[str, str | None]]) -> None:
        attempts["n"] += 1
        if attempts["n"] <= 8:
            raise RuntimeError("the database is down")

    lane = OcrLane(image_of=lambda item: _IMAGE, read_text=None, decide=decide)
    try:
        await lane.put(["meme"])
        await until(lambda: lane.depth == 0)
        assert pauses == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    finally:
        await lane.close()
