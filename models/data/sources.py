"""Loaders for the licensed datasets in the data directory, mapped into postguard's taxonomy.

Label mapping (categories ``hate``, ``offensive``, ``toxic``; ``toxic`` = any harm):

| dataset    | source label                       | hate | offensive | toxic |
|------------|------------------------------------|------|-----------|-------|
| HateXplain | hatespeech                         | 1    | 0         | 1     |
| HateXplain | offensive                          | 0    | 1         | 1     |
| HateXplain | normal                             | 0    | 0         | 0     |
| HateXplain | undecided                          | (dropped)                |
| Davidson   | 0 hate_speech                      | 1    | 0         | 1     |
| Davidson   | 1 offensive_language               | 0    | 1         | 1     |
| Davidson   | 2 neither                          | 0    | 0         | 0     |
| HarMeme    | somewhat / very harmful            | ?    | ?         | 1     |
| HarMeme    | not harmful                        | 0    | 0         | 0     |
| COCO       | any caption                        | 0    | 0         | 0     |

``?`` = not annotated: the label mask is 0 there, so the loss ignores it. No text appears in two
splits: :func:`deduplicate_splits` keeps a text in test over val over train.
"""

from __future__ import annotations

import csv
import html
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

LABELS: tuple[str, ...] = ("hate", "offensive", "toxic")
SPLITS: tuple[str, ...] = ("train", "val", "test")


@dataclass(frozen=True)
class TextExample:
    """One labelled text. ``targets``/``mask`` follow the order of ``LABELS``."""

    text: str
    targets: tuple[float, ...]
    mask: tuple[float, ...]
    source: str
    split: str
    #: The source's own class (``hatespeech``, ``offensive``, ``normal``, ``harmful`` ...).
    source_label: str


HATE = (1.0, 0.0, 1.0)
OFFENSIVE = (0.0, 1.0, 1.0)
BENIGN = (0.0, 0.0, 0.0)
FULL_MASK = (1.0, 1.0, 1.0)
TOXIC_ONLY_MASK = (0.0, 0.0, 1.0)


def default_data_dir() -> Path | None:
    """``../shared/data`` next to the repository, when it exists (our workspace), else ``None``."""
    candidate = Path(__file__).resolve().parents[3] / "shared" / "data"
    return candidate if candidate.is_dir() else None


def text_key(text: str) -> str:
    """The identity of a text for split hygiene: lower case, letters and digits only."""
    return re.sub(r"[^0-9a-z]+", " ", text.lower()).strip()


def _require(path: Path) -> Path:
    if not path.exists():
        raise FileNotFoundError(
            f"dataset file not found: {path} (is --data-dir pointing at the shared data?)"
        )
    return path


def load_hatexplain(data_dir: Path) -> list[TextExample]:
    mapping = {"hatespeech": HATE, "offensive": OFFENSIVE, "normal": BENIGN}
    examples = []
    with _require(data_dir / "hatexplain" / "hatexplain.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            if row["split"] not in SPLITS or row["label"] not in mapping:
                continue  # the 919 'undecided' posts belong to no split
            examples.append(
                TextExample(
                    row["text"], mapping[row["label"]], FULL_MASK, "hatexplain", row["split"], row["label"]
                )
            )
    return examples


_MENTION = re.compile(r"@\w+")
_URL = re.compile(r"https?://\S+")


def clean_tweet(text: str) -> str:
    """Davidson tweets: unescape HTML, replace mentions and URLs with HateXplain-style placeholders."""
    text = html.unescape(text)
    text = _URL.sub("<url>", text)
    text = _MENTION.sub("<user>", text)
    text = re.sub(r"\bRT\b:?", " ", text)
    return " ".join(text.split())


def load_davidson(data_dir: Path) -> list[TextExample]:
    folder = data_dir / "davidson_hate_offensive"
    with _require(folder / "split_suggested.csv").open(encoding="utf-8") as handle:
        split_of = {row["id"]: row["split"] for row in csv.DictReader(handle)}
    mapping = {"0": (HATE, "hatespeech"), "1": (OFFENSIVE, "offensive"), "2": (BENIGN, "normal")}
    examples = []
    with _require(folder / "labeled_data.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            targets, name = mapping[row["class"]]
            text = clean_tweet(row["tweet"])
            if text:
                examples.append(TextExample(text, targets, FULL_MASK, "davidson", split_of[row[""]], name))
    return examples


def load_harmeme(data_dir: Path) -> list[TextExample]:
    folder = data_dir / "harmeme_annotations_textonly"
    files = {
        "train": ["Harm-C/train.jsonl", "Harm-P/train_v1.jsonl"],
        "val": ["Harm-C/val.jsonl", "Harm-P/val_v1.jsonl"],
        "test": ["Harm-C/test.jsonl", "Harm-P/test_v1.jsonl"],
    }
    examples = []
    for split, names in files.items():
        for name in names:
            with _require(folder / name).open(encoding="utf-8") as handle:
                for line in handle:
                    row = json.loads(line)
                    harm = row["labels"][0] if row["labels"] else ""
                    text = " ".join(row["text"].split())
                    if not text or harm not in ("not harmful", "somewhat harmful", "very harmful"):
                        continue  # one record has an empty harmfulness label
                    if harm == "not harmful":
                        examples.append(TextExample(text, BENIGN, FULL_MASK, "harmeme", split, "not harmful"))
                    else:
                        examples.append(
                            TextExample(text, (0.0, 0.0, 1.0), TOXIC_ONLY_MASK, "harmeme", split, "harmful")
                        )
    return examples


@dataclass(frozen=True)
class CocoImage:
    path: Path
    captions: tuple[str, ...]
    coco_split: str
    flickr_url: str
    license_name: str


def load_coco(data_dir: Path) -> list[CocoImage]:
    folder = data_dir / "coco_captions_mini_permissive"
    images = []
    with _require(folder / "captions.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            images.append(
                CocoImage(
                    folder / row["image"],
                    tuple(row["captions"]),
                    row["coco_split"],
                    row["flickr_url"],
                    row["license_name"],
                )
            )
    return images


def deduplicate_splits(examples: Iterable[TextExample]) -> list[TextExample]:
    """Drop repeated texts so that none appears in two splits (test wins over val, val over train)."""
    rank = {"test": 0, "val": 1, "train": 2}
    best: dict[str, str] = {}
    materialised = list(examples)
    for example in materialised:
        key = text_key(example.text)
        if key and (key not in best or rank[example.split] < rank[best[key]]):
            best[key] = example.split
    kept, seen = [], set()
    for example in materialised:
        key = text_key(example.text)
        if not key or best[key] != example.split or (key, example.source) in seen:
            continue
        seen.add((key, example.source))
        kept.append(example)
    return kept


def load_text_corpus(
    data_dir: Path, sources: Sequence[str] = ("hatexplain", "davidson", "harmeme")
) -> list[TextExample]:
    loaders = {"hatexplain": load_hatexplain, "davidson": load_davidson, "harmeme": load_harmeme}
    examples: list[TextExample] = []
    for source in sources:
        examples.extend(loaders[source](data_dir))
    return deduplicate_splits(examples)
