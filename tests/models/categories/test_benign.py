from __future__ import annotations

import json
from pathlib import Path

from models.categories.benign import BenignPost, load_sample, write_sample
from models.suite.templates import BLAND_CAPTIONS


def test_the_sample_and_the_short_posts_load_without_the_suites_bland_captions(tmp_path: Path) -> None:
    write_sample(
        [BenignPost("a normal post", "hatexplain"), BenignPost("two dogs", "coco")], tmp_path / "s.jsonl"
    )
    short = tmp_path / "short.jsonl"
    lines = [{"text": "cat tax 🐈", "kind": "pet"}, {"text": BLAND_CAPTIONS[0].upper(), "kind": "reaction"}]
    short.write_text(
        "\n".join(json.dumps(line, ensure_ascii=False) for line in lines) + "\n", encoding="utf-8"
    )
    posts = load_sample(tmp_path / "s.jsonl", short)
    assert posts == [
        BenignPost("a normal post", "hatexplain"),
        BenignPost("two dogs", "coco"),
        BenignPost("cat tax 🐈", "team_short"),
    ]
    assert load_sample(tmp_path / "s.jsonl", tmp_path / "absent.jsonl") == posts[:2]


def test_the_shipped_sample_loads() -> None:
    posts = load_sample()
    assert len(posts) > 2000 and {p.source for p in posts} >= {"hatexplain", "convabuse", "coco"}
