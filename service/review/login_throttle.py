"""Failed-login throttling for the review page (in memory, per process).

Each failed login counts against the user name tried and against the client address. A name
with ``per_user`` failures inside ``window_s`` (or an address with ``per_client``) is refused
until its oldest failure leaves the window: a refused attempt computes no password hash, so
guessing is slow and cannot burn the CPU. Any name is throttled alike, existing or not, so the
answer tells nothing about which names exist. A successful login clears the name's failures.

Behind a reverse proxy every client shares the proxy's address: run uvicorn with
``--forwarded-allow-ips`` (or raise ``per_client``), or one attacker locks everyone out for a
window. Counters live in this process; several review-page replicas each count their own.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable

#: Failures of one user name, and of one client address, allowed inside the window.
PER_USER = 5
PER_CLIENT = 30
WINDOW_S = 15 * 60.0
#: Keys tracked at most (oldest forgotten first): a flood of names cannot grow memory forever.
MAX_KEYS = 100_000


class LoginThrottle:
    """Counts failed logins per user name and per client; says how long a new attempt must wait."""

    def __init__(
        self,
        *,
        per_user: int = PER_USER,
        per_client: int = PER_CLIENT,
        window_s: float = WINDOW_S,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = {"user": per_user, "client": per_client}
        self._window_s = window_s
        self._max_keys = max_keys
        self._clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def retry_after(self, username: str, client: str) -> float:
        """Seconds until an attempt for ``username`` from ``client`` is allowed (0: now)."""
        now = self._clock()
        wait = 0.0
        for key in (("user", username.casefold()), ("client", client)):
            recent = self._recent(key, now)
            if recent is not None and len(recent) >= self._limits[key[0]]:
                wait = max(wait, recent[0] + self._window_s - now)
        return wait

    def failed(self, username: str, client: str) -> None:
        now = self._clock()
        for key in (("user", username.casefold()), ("client", client)):
            recent = self._recent(key, now)
            if recent is None:
                recent = self._failures[key] = deque(maxlen=self._limits[key[0]])
            recent.append(now)
            self._failures.move_to_end(key)
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, username: str) -> None:
        self._failures.pop(("user", username.casefold()), None)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float] | None:
        recent = self._failures.get(key)
        if recent is None:
            return None
        while recent and recent[0] <= now - self._window_s:
            recent.popleft()
        if not recent:
            del self._failures[key]
            return None
        return recent
