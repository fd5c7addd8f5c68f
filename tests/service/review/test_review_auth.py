"""Password hashing of moderator accounts (no database)."""

from __future__ import annotations

import asyncio
import threading

from service.review.auth import HashingBusy, PasswordHashing, hash_password, needs_rehash, verify_password


def test_hashes_are_salted_scrypt_and_verify() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")

    assert first != second  # a fresh salt each time
    scheme, n, r, p, salt, key = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "131072", "8", "1")  # OWASP: N = 2**17, r = 8, p = 1
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct horsf", first)
    assert not verify_password("", first)


def test_malformed_hashes_never_verify() -> None:
    for stored in (
        "",
        "plain",
        "bcrypt$1$2$3$4$5",
        "scrypt$16384$8$1$not base64!$xx",
        "scrypt$x$8$1$AA==$AA==",
    ):
        assert not verify_password("anything", stored)


def test_hashes_weaker_than_todays_need_a_rehash() -> None:
    assert not needs_rehash(hash_password("correct horse"))
    assert needs_rehash("scrypt$16384$8$1$AAAA$AAAA")
    assert needs_rehash("scrypt$131072$4$1$AAAA$AAAA")
    assert needs_rehash("garbage")


async def test_password_hashing_runs_a_bounded_number_at_once_and_refuses_a_long_queue() -> None:
    hashing = PasswordHashing(concurrency=2, queue=3)
    running, peak, release = 0, 0, threading.Event()

    def slow() -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        release.wait(5)
        running -= 1
        return 1

    tasks = [asyncio.create_task(hashing.run(slow)) for _ in range(8)]
    await asyncio.sleep(0.2)
    release.set()
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 2
    assert outcomes.count(1) == 5  # two running and three waiting
    assert all(isinstance(o, HashingBusy) for o in outcomes if o != 1)
