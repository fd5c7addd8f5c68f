"""Ordinary benign posts: the negatives every category head learns from, and the FPR check.

A head learns what its category is *not* from the user's hard negatives and from ordinary
traffic. The package ships a fixed sample of benign posts (``benign_posts.jsonl``, built from the
training splits of HateXplain's normal posts, ConvAbuse's non-abusive turns and COCO captions;
see ``benign_posts.SOURCE.md``), so that ``postguard categories add`` works the same on every
machine without the datasets. The test splits of the same sources never enter a head: they
measure how much benign traffic a head flags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..data.sources import load_coco, load_convabuse, load_hatexplain, stable_fraction
from ..suite.templates import BLAND_CAPTIONS
from .examples import first_of_each_text

SAMPLE_FILE = Path(__file__).resolve().parent / "benign_posts.jsonl"
#: Short everyday captions and comments the team wrote ("cat tax 🐈", "killing it today"): the
#: datasets' benign posts are tweets, chat turns and photo descriptions, and without this shape a
#: head learns that a short caption about a cat is nearer a threat than a tweet is.
SHORT_POSTS_FILE = Path(__file__).resolve().parent / "benign_short_posts.jsonl"
#: Posts per source in the shipped sample (all COCO training captions are kept: there are few).
SAMPLE_SIZES = {"hatexplain": 2000, "convabuse": 600}


@dataclass(frozen=True)
class BenignPost:
    text: str
    source: str


def _pick(posts: list[BenignPost], count: int) -> list[BenignPost]:
    """``count`` posts chosen by text hash: the same sample from the same data, on any machine."""
    return sorted(posts, key=lambda p: stable_fraction(p.text))[:count]


def benign_posts(data_dir: Path, split: str) -> list[BenignPost]:
    """Benign posts of one split (``train`` or ``test``) of the three sources, de-duplicated."""
    texts: list[BenignPost] = []
    for loader, source in ((load_hatexplain, "hatexplain"), (load_convabuse, "convabuse")):
        texts += [
            BenignPost(e.text, source)
            for e in loader(data_dir)
            if e.split == split and e.source_label == "normal"
        ]
    coco_split = "train2017" if split == "train" else "val2017"
    texts += [
        BenignPost(c, "coco")
        for image in load_coco(data_dir)
        if image.coco_split == coco_split
        for c in image.captions
    ]
    return first_of_each_text(texts)


def build_sample(data_dir: Path) -> list[BenignPost]:
    posts = benign_posts(data_dir, "train")
    sample: list[BenignPost] = []
    for source in ("hatexplain", "convabuse", "coco"):
        mine = [p for p in posts if p.source == source]
        sample += _pick(mine, SAMPLE_SIZES.get(source, len(mine)))
    return sample


def write_sample(posts: list[BenignPost], path: Path = SAMPLE_FILE) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for post in posts:
            handle.write(json.dumps({"text": post.text, "source": post.source}, ensure_ascii=False) + "\n")


def load_sample(path: Path = SAMPLE_FILE, short_posts: Path | None = SHORT_POSTS_FILE) -> list[BenignPost]:
    """The shipped benign sample, then the team's short posts (when the file exists), less any
    bland caption of the evaluation's functional suite (those stay unseen)."""
    with path.open(encoding="utf-8") as handle:
        posts = [BenignPost(row["text"], row["source"]) for row in map(json.loads, handle)]
    if short_posts is not None and short_posts.is_file():
        reserved = {caption.casefold().strip() for caption in BLAND_CAPTIONS}
        with short_posts.open(encoding="utf-8") as handle:
            rows = [row["text"] for row in map(json.loads, handle)]
        posts += [BenignPost(text, "team_short") for text in rows if text.casefold().strip() not in reserved]
    return posts
