"""The other-language posts file parses, and covers what the language check reports on."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from models.suite.other_languages import KINDS, other_language_posts


def test_every_kind_and_fifteen_languages() -> None:
    posts = other_language_posts()
    kinds = Counter(p.kind for p in posts)
    assert set(kinds) == set(KINDS)
    assert kinds["everyday"] >= 50 and kinds["hostile"] >= 30
    assert len({p.language for p in posts if p.kind in ("everyday", "hostile")}) >= 15
    assert len({p.text for p in posts}) == len(posts)


def test_a_malformed_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "posts.txt"
    path.write_text("# comment\nes\teveryday\tHola a todos\nfr\tangry\tQuoi\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"posts.txt:3"):
        other_language_posts(path)
