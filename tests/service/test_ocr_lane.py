"""Unit tests of the OCR lane on its own: a fake reader and decider, no pipeline, no model."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from PIL import Image

from service.ocr_lane import OcrLane
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
