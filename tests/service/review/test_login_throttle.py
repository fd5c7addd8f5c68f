"""Failed-login throttling: per user name and per client address, inside a sliding window."""

from __future__ import annotations

import pytest

from service.review.login_throttle import LoginThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_name_is_locked_after_its_failures_until_the_oldest_leaves_the_window(clock: Clock) -> None:
    throttle = LoginThrottle(per_user=3, per_client=100, window_s=60, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("alice", "10.0.0.1") == 0
        throttle.failed("alice", "10.0.0.1")
        clock.now += 1
    assert throttle.retry_after("alice", "10.0.0.9") == pytest.approx(57)  # from any address
    assert throttle.retry_after("ALICE", "10.0.0.9") > 0  # names compare case-insensitively
    assert throttle.retry_after("bob", "10.0.0.1") == 0
    clock.now += 57
    assert throttle.retry_after("alice", "10.0.0.1") == 0


def test_an_address_is_locked_after_failures_across_names(clock: Clock) -> None:
    throttle = LoginThrottle(per_user=100, per_client=4, window_s=60, clock=clock)
    for name in ("a", "b", "c", "d"):
        throttle.failed(name, "203.0.113.5")
    assert throttle.retry_after("e", "203.0.113.5") == pytest.approx(60)
    assert throttle.retry_after("e", "203.0.113.6") == 0


def test_a_success_clears_the_names_failures(clock: Clock) -> None:
    throttle = LoginThrottle(per_user=2, per_client=100, window_s=60, clock=clock)
    throttle.failed("alice", "c")
    throttle.succeeded("Alice")
    throttle.failed("alice", "c")
    assert throttle.retry_after("alice", "c") == 0


def test_memory_is_bounded_by_forgetting_the_oldest_keys(clock: Clock) -> None:
    throttle = LoginThrottle(per_user=1, per_client=1000, window_s=60, max_keys=10, clock=clock)
    for i in range(100):
        throttle.failed(f"name-{i}", "c")
    assert len(throttle._failures) <= 10
    assert throttle.retry_after("name-99", "other") > 0
    assert throttle.retry_after("name-0", "other") == 0  # forgotten
