"""The inference thread runs the pipeline's own work and is lent out only while idle."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import pytest

from service.moderation.inference_thread import InferenceThread


async def test_own_work_runs_on_the_inference_thread() -> None:
    thread = InferenceThread()
    try:
        name = await thread.run(lambda: threading.current_thread().name)
        assert name.startswith("postguard-inference")
        assert await thread.run(sum, [1, 2, 3]) == 6
        assert not thread.busy
    finally:
        thread.shutdown()


async def test_an_idle_thread_is_lent_and_the_time_counted() -> None:
    lent: list[float] = []
    thread = InferenceThread(on_lent=lent.append)
    ran = threading.Event()
    try:
        assert thread.offer(lambda wanted_back: ran.set())
        assert await asyncio.to_thread(ran.wait, 5)
        await thread.run(lambda: None)  # after the loan: the thread is free again
        assert len(lent) == 1 and lent[0] >= 0
    finally:
        thread.shutdown()


async def test_a_busy_thread_is_not_lent() -> None:
    thread = InferenceThread()
    release = threading.Event()
    started = threading.Event()

    def score() -> None:
        started.set()
        release.wait(5)

    try:
        scoring = asyncio.ensure_future(thread.run(score))
        assert await asyncio.to_thread(started.wait, 5)
        assert thread.busy
        ran: list[str] = []
        assert not thread.offer(lambda wanted_back: ran.append("lent"))
        release.set()
        await scoring
        assert ran == []  # a refused job never runs
    finally:
        release.set()
        thread.shutdown()


async def test_a_loan_hands_the_thread_back_when_scoring_arrives() -> None:
    """The lent job sees wanted_back() turn True once own work is submitted, stops, and the own
    work runs next; only one loan at a time."""
    thread = InferenceThread()
    pieces: list[int] = []
    on_loan = threading.Event()
    may_go_on = threading.Event()

    def job(wanted_back: Callable[[], bool]) -> None:
        while not wanted_back() and len(pieces) < 1000:
            pieces.append(len(pieces))
            on_loan.set()
            may_go_on.wait(5)

    try:
        assert thread.offer(job)
        assert await asyncio.to_thread(on_loan.wait, 5)
        assert not thread.offer(lambda wanted_back: None)  # already lent
        scoring = asyncio.ensure_future(thread.run(lambda: len(pieces)))
        await asyncio.sleep(0.05)
        may_go_on.set()
        seen_by_scoring = await scoring
        assert seen_by_scoring == len(pieces) < 1000  # the job stopped before scoring ran
        assert seen_by_scoring <= 2  # after the piece it was on (and at most the one being checked)
    finally:
        may_go_on.set()
        thread.shutdown()


async def test_a_failing_loan_is_logged_and_the_thread_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    thread = InferenceThread()

    def broken(wanted_back: Callable[[], bool]) -> None:
        raise ValueError("borrower bug")

    try:
        with caplog.at_level(logging.ERROR, logger="service.moderation.inference_thread"):
            assert thread.offer(broken)
            assert await thread.run(lambda: "scored") == "scored"
        assert "work lent to the inference thread failed" in caplog.text
        assert thread.offer(lambda wanted_back: None)  # lendable again
    finally:
        thread.shutdown()


def test_nothing_is_lent_after_shutdown() -> None:
    thread = InferenceThread()
    thread.shutdown()
    assert not thread.offer(lambda wanted_back: None)
