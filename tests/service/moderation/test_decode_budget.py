"""The image decode budget: holders never exceed the capacity together, waiters get in as soon as
bytes are released, and one request larger than the budget still runs (alone)."""

from __future__ import annotations

import asyncio

import pytest

from service.moderation.decode_budget import DecodeBudget


async def test_holders_never_exceed_the_capacity_and_all_finish() -> None:
    budget = DecodeBudget(100)
    peak = 0

    async def decode(nbytes: int) -> None:
        nonlocal peak
        async with budget.hold(nbytes):
            peak = max(peak, budget.held)
            await asyncio.sleep(0.01)

    await asyncio.gather(*(decode(n) for n in (60, 60, 30, 30, 90, 10, 45)))
    assert peak <= 100
    assert budget.held == 0


async def test_a_waiter_enters_when_bytes_are_released() -> None:
    budget = DecodeBudget(100)
    release = asyncio.Event()
    entered: list[str] = []

    async def first() -> None:
        async with budget.hold(80):
            entered.append("first")
            await release.wait()

    async def second() -> None:
        async with budget.hold(50):
            entered.append("second")

    tasks = [asyncio.create_task(first()), asyncio.create_task(second())]
    await asyncio.sleep(0.05)
    assert entered == ["first"]  # 80 + 50 > 100: the second waits
    release.set()
    await asyncio.gather(*tasks)
    assert entered == ["first", "second"]


async def test_a_request_larger_than_the_budget_runs_alone() -> None:
    budget = DecodeBudget(100)
    async with budget.hold(150):
        assert budget.held == 150
    assert budget.held == 0


async def test_an_error_inside_releases_the_bytes() -> None:
    budget = DecodeBudget(100)
    with pytest.raises(RuntimeError):
        async with budget.hold(70):
            raise RuntimeError("decode failed")
    assert budget.held == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        DecodeBudget(0)
