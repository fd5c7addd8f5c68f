"""Password hashing of moderator accounts (no database)."""

from __future__ import annotations

from service.review.auth import hash_password, verify_password


def test_hashes_are_salted_scrypt_and_verify() -> None:
    first, second = hash_password("correct horse"), hash_password("correct horse")

    assert first != second  # a fresh salt each time
    scheme, n, r, p, salt, key = first.split("$")
    assert (scheme, n, r, p) == ("scrypt", "16384", "8", "1")
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
