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
| ToxiGen    | toxicity_human >= 4 (of 5)         | 1    | 0         | 1     |
| ToxiGen    | toxicity_human <= 2                | 0    | 0         | 0     |
| ToxiGen    | in between                         | (dropped)                |
| ConvAbuse  | abusive majority, no identity type | 0    | 1         | 1     |
| ConvAbuse  | abusive majority, identity type    | ?    | 1         | 1     |
| ConvAbuse  | not-abusive majority               | 0    | 0         | 0     |
| ConvAbuse  | neither (ambiguous)                | (dropped)                |

ToxiGen's annotated set has one split ("train"): its statements are split by target group
(``latino`` is the test group, never trained on), the rest 90/10 train/val by a hash of the
text. ConvAbuse keeps its own train/val/test.

``?`` = not annotated: the label mask is 0 there, so the loss ignores it. No text appears in two
splits: :func:`deduplicate_splits` keeps a text in test over val over train.
"""

from __future__ import annotations

import csv
import hashlib
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


#: The ``source`` of every text written with an obfuscated spelling starts with this
#: (``aug_obfuscated_hatexplain``, ``aug_obfuscated_statements``, ...).
OBFUSCATED_SOURCE_PREFIX = "aug_obfuscated_"


def is_obfuscated(example: TextExample) -> bool:
    return example.source.startswith(OBFUSCATED_SOURCE_PREFIX)


#: The ``source`` of every text with made-up stray words beside it (``aug_stray_hatexplain``).
STRAY_SOURCE_PREFIX = "aug_stray_"


#: The ``source`` of every text with accidental misspellings (``aug_typo_hatexplain``).
TYPO_SOURCE_PREFIX = "aug_typo_"


def has_made_up_words(example: TextExample) -> bool:
    """Obfuscated spellings, typos or made-up strays: words that must not enter the OCR vocabulary."""
    return is_obfuscated(example) or example.source.startswith((STRAY_SOURCE_PREFIX, TYPO_SOURCE_PREFIX))


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


#: ToxiGen statements about this group are kept for testing (a group the heads never saw).
TOXIGEN_TEST_GROUP = "latino"
#: ``toxicity_human`` is the mean of three annotators on 1-5: at least 4 is hate, at most 2 benign.
TOXIGEN_HATE_AT, TOXIGEN_BENIGN_AT = 4.0, 2.0


def stable_fraction(text: str) -> float:
    """A number in [0, 1) fixed by the text alone (for splits that must not depend on row order)."""
    digest = hashlib.sha256(text_key(text).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def load_toxigen(data_dir: Path) -> list[TextExample]:
    """ToxiGen's human-annotated statements about 13 groups, labelled by ``toxicity_human`` (the
    prompt label ``label`` says what the generator was asked for, not what people judged)."""
    examples = []
    with _require(data_dir / "toxigen_annotated_train" / "data.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            score = float(row["labels"]["toxicity_human"])
            text = " ".join(row["text"].split())
            if not text or TOXIGEN_BENIGN_AT < score < TOXIGEN_HATE_AT:
                continue
            hateful = score >= TOXIGEN_HATE_AT
            if row["labels"]["target_group"] == TOXIGEN_TEST_GROUP:
                split = "test"
            else:
                split = "val" if stable_fraction(text) < 0.1 else "train"
            examples.append(
                TextExample(
                    text,
                    HATE if hateful else BENIGN,
                    FULL_MASK,
                    "toxigen",
                    split,
                    "hatespeech" if hateful else "normal",
                )
            )
    return examples


#: ConvAbuse abuse types that make an abusive utterance possibly hate (then ``hate`` is unknown).
_IDENTITY_ABUSE = ("ableist", "homophobic", "racist", "sexist", "transphobic")


def _convabuse_votes(labels: dict[str, object], field: str) -> int:
    """How many annotators ticked ``field`` (a cell counts when it starts with "1", as in SOURCE.md)."""
    return sum(1 for key, value in labels.items() if key.endswith(f"_{field}") and str(value).startswith("1"))


def load_convabuse(data_dir: Path) -> list[TextExample]:
    """ConvAbuse utterances to chat bots: abuse aimed at a person (the bot), mostly not hate."""
    examples = []
    with _require(data_dir / "convabuse" / "data.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            labels = row["labels"]
            text = " ".join(row["text"].split())
            annotators = int(labels["derived_n_annotators"])
            if not text or annotators == 0 or row["split"] not in SPLITS:
                continue
            if int(labels["derived_abusive_majority"]):
                identity = any(2 * _convabuse_votes(labels, t) > annotators for t in _IDENTITY_ABUSE)
                mask = (0.0, 1.0, 1.0) if identity else FULL_MASK
                examples.append(TextExample(text, OFFENSIVE, mask, "convabuse", row["split"], "offensive"))
            elif 2 * _convabuse_votes(labels, "is_abuse.1") > annotators:
                examples.append(TextExample(text, BENIGN, FULL_MASK, "convabuse", row["split"], "normal"))
    return examples


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


#: Every text source :func:`load_text_corpus` knows.
TEXT_SOURCES: tuple[str, ...] = ("hatexplain", "davidson", "harmeme", "toxigen", "convabuse")


def load_text_corpus(data_dir: Path, sources: Sequence[str] = TEXT_SOURCES) -> list[TextExample]:
    loaders = {
        "hatexplain": load_hatexplain,
        "davidson": load_davidson,
        "harmeme": load_harmeme,
        "toxigen": load_toxigen,
        "convabuse": load_convabuse,
    }
    unknown = sorted(set(sources) - set(loaders))
    if unknown:
        raise ValueError(f"unknown text sources {unknown}; known: {sorted(loaders)}")
    examples: list[TextExample] = []
    for source in sources:
        examples.extend(loaders[source](data_dir))
    return deduplicate_splits(examples)
