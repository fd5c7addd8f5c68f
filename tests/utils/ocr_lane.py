"""Helpers for tests of the OCR lane: a reader that waits to be released, and a polling wait."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

from PIL import Image


class BlockingReader:
    """read_image_text that waits until released, and notes the thread it ran on."""

    def __init__(self, text: str = "text read in the lane", fail: bool = False) -> None:
        self.release = threading.Event()
        self.threads: list[str] = []
        self.text = text
        self.fail = fail

    def __call__(self, image: Image.Image) -> str:
        self.threads.append(threading.current_thread().name)
        if not self.release.wait(timeout=30):
            raise TimeoutError("the test never released the reader")
        if self.fail:
            raise RuntimeError("OCR blew up")
        return self.text


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (polling) until ``condition()`` holds; fail the test after ``timeout_s``."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
