"""A meme's text lines recognised on two threads when a spare one is lent: same text, both threads
used, the spare one given back on request, errors raised where the read was asked for."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from models.data.memes import MemeSpec, render_meme
from models.ocr import OcrEngine, _SharedRecognition

TEXT = "you people are not welcome here go back where you came from and take your friends"


class FakeRecogniser:
    """RapidOCR's recogniser interface: each 'line' is an array whose first pixel says its text
    number; notes which thread read which line."""

    def __init__(self, batch: int = 1, seconds: float = 0.01, fail_on: int | None = None) -> None:
        self.rec_batch_num = batch
        self.seconds = seconds
        self.fail_on = fail_on
        self.threads: dict[int, str] = {}
        self.calls: list[int] = []

    def __call__(
        self, img_list: list[np.ndarray], return_word_box: bool = False
    ) -> tuple[list[tuple[str, float]], float]:
        self.calls.append(len(img_list))
        out = []
        for line in img_list:
            number = int(line[0, 0, 0])
            if number == self.fail_on:
                raise RuntimeError(f"line {number} is unreadable")
            time.sleep(self.seconds)
            self.threads[number] = threading.current_thread().name
            out.append((f"line{number}", 0.9))
        return out, self.seconds * len(img_list)


def _lines(count: int) -> list[np.ndarray]:
    # different widths, so the widest-first order differs from the input order
    return [np.full((48, 100 + 37 * ((n * 5) % count), 3), n, dtype=np.uint8) for n in range(count)]


class PoolSpare:
    """A spare thread that is always idle (or never, with ``idle=False``)."""

    def __init__(self, idle: bool = True, wanted_back: Callable[[], bool] = lambda: False) -> None:
        self.idle = idle
        self.wanted_back = wanted_back
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="spare")
        self.offers = 0

    def offer(self, job: Callable[[Callable[[], bool]], None]) -> bool:
        self.offers += 1
        if not self.idle:
            return False
        self.pool.submit(job, self.wanted_back)
        return True


def _read(shared: _SharedRecognition, lines: list[np.ndarray], spare: PoolSpare | None):
    with shared.lent(spare):
        return shared(lines)


def test_lines_are_shared_with_an_idle_spare_thread_and_come_back_in_order() -> None:
    recogniser = FakeRecogniser(seconds=0.02)
    shared = _SharedRecognition(recogniser)
    spare = PoolSpare()
    texts, _ = _read(shared, _lines(8), spare)
    assert [t for t, _ in texts] == [f"line{n}" for n in range(8)]
    used = set(recogniser.threads.values())
    assert any(name.startswith("spare") for name in used) and len(used) == 2, recogniser.threads


def test_without_a_spare_or_while_it_is_busy_everything_is_read_here() -> None:
    for spare in (None, PoolSpare(idle=False)):
        recogniser = FakeRecogniser()
        shared = _SharedRecognition(recogniser)
        texts, _ = _read(shared, _lines(5), spare)
        assert [t for t, _ in texts] == [f"line{n}" for n in range(5)]
        assert set(recogniser.threads.values()) == {threading.current_thread().name}
    # and a read outside ``lent`` never offers work to a spare
    idle = PoolSpare()
    shared = _SharedRecognition(FakeRecogniser())
    with shared.lent(idle):
        pass
    shared(_lines(5))
    assert idle.offers == 0


def test_a_spare_thread_busy_at_first_is_asked_again_after_each_line() -> None:
    class BusyOnce(PoolSpare):
        def offer(self, job: Callable[[Callable[[], bool]], None]) -> bool:
            self.idle = self.offers >= 1  # refuses the first offer only
            return super().offer(job)

    recogniser = FakeRecogniser(seconds=0.03)
    shared = _SharedRecognition(recogniser)
    spare = BusyOnce()
    texts, _ = _read(shared, _lines(8), spare)
    assert [t for t, _ in texts] == [f"line{n}" for n in range(8)]
    assert spare.offers == 2  # refused, then taken after the first line
    assert any(name.startswith("spare") for name in recogniser.threads.values()), recogniser.threads


def test_a_spare_thread_that_is_wanted_back_takes_no_more_lines() -> None:
    recogniser = FakeRecogniser(seconds=0.02)
    shared = _SharedRecognition(recogniser)
    texts, _ = _read(shared, _lines(8), PoolSpare(wanted_back=lambda: True))
    assert [t for t, _ in texts] == [f"line{n}" for n in range(8)]
    assert set(recogniser.threads.values()) == {threading.current_thread().name}


def test_chunks_follow_the_recognition_batch() -> None:
    recogniser = FakeRecogniser(batch=3)
    shared = _SharedRecognition(recogniser)
    texts, _ = _read(shared, _lines(7), PoolSpare())
    assert [t for t, _ in texts] == [f"line{n}" for n in range(7)]
    assert sorted(recogniser.calls) == [1, 3, 3]
    # no more lines than one batch: one call, nothing offered
    spare = PoolSpare()
    _read(_SharedRecognition(FakeRecogniser(batch=3)), _lines(3), spare)
    assert spare.offers == 0


def test_an_error_on_either_thread_is_raised_to_the_reader() -> None:
    for line in range(6):
        shared = _SharedRecognition(FakeRecogniser(fail_on=line))
        with pytest.raises(RuntimeError, match=f"line {line} is unreadable"):
            _read(shared, _lines(6), PoolSpare())


@pytest.mark.slow
def test_a_real_meme_reads_the_same_with_a_spare_thread() -> None:
    memes = [
        render_meme(MemeSpec(TEXT, "color:40,90,200", "outlined_top_bottom", 0, 30, 4.0, 90, 512, 512)),
        render_meme(MemeSpec(TEXT, "color:250,220,60", "card", 1, 26, 0.0, 0, 640, 480)),
    ]
    engine = OcrEngine(detection_max_side=640, angle_classifier=False, threads=1, recognition_batch=1)
    alone = [engine.read(meme) for meme in memes]
    spare = PoolSpare()
    threads: set[str] = set()
    recogniser = engine._load().text_rec.recogniser
    original = recogniser.session

    class Spy:
        def __call__(self, inputs: np.ndarray) -> object:
            threads.add(threading.current_thread().name)
            return original(inputs)

    recogniser.session = Spy()
    shared = [engine.read(meme, spare=spare) for meme in memes]
    assert shared == alone
    assert any(name.startswith("spare") for name in threads), threads
