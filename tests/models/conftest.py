"""Fixtures for the classifier tests: tiny random checkpoints and tiny dataset files built in tmp_path.

Nothing here reads ``../shared/data``: a user's clone (and CI) has no such folder, so every
dataset loader is exercised on a few hand-written lines in the real files' layout.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from devtools.testing import build_tiny_checkpoint
from models.inference import Moderator


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Tiny models on one thread: on a loaded machine, intra-op threads fight and cost ~50x."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random-weight checkpoint shared by the session. Tests must not modify it (copy it first)."""
    return build_tiny_checkpoint(tmp_path_factory.mktemp("tiny_checkpoint"))


@pytest.fixture(scope="session")
def tiny_moderator(tiny_checkpoint: Path) -> Moderator:
    return Moderator.load(tiny_checkpoint)


@pytest.fixture
def photo() -> Image.Image:
    """A small non-uniform RGB picture (a gradient with a square), distinct from any plain colour."""
    image = Image.new("RGB", (48, 40), (30, 120, 200))
    for x in range(48):
        for y in range(0, 40, 3):
            image.putpixel((x, y), (x * 5, y * 6, 90))
    image.paste((250, 250, 0), (10, 10, 20, 20))
    return image


# ----- tiny dataset files in the shared-data layout ----------------------------------------------

HATEXPLAIN_ROWS = [
    {"text": "those people are vermin and should be gone", "label": "hatespeech", "split": "train"},
    {"text": "shut up you stupid clown nobody asked", "label": "offensive", "split": "train"},
    {"text": "lovely weather for a walk in the park", "label": "normal", "split": "val"},
    {"text": "i am not sure what to think about this", "label": "undecided", "split": "train"},
    {"text": "the shared sentence that appears in two splits", "label": "normal", "split": "train"},
    {"text": "The shared sentence, that appears in two splits!", "label": "normal", "split": "test"},
]

DAVIDSON_ROWS = [
    # the unnamed first column is the tweet id, as in the original labeled_data.csv
    {
        "": "0",
        "count": "3",
        "hate_speech": "2",
        "offensive_language": "1",
        "neither": "0",
        "class": "0",
        "tweet": "RT @bob: those people are animals http://t.co/abc",
    },
    {
        "": "1",
        "count": "3",
        "hate_speech": "0",
        "offensive_language": "3",
        "neither": "0",
        "class": "1",
        "tweet": "@alice you are a stupid idiot &amp; a fool",
    },
    {
        "": "2",
        "count": "3",
        "hate_speech": "0",
        "offensive_language": "0",
        "neither": "3",
        "class": "2",
        "tweet": "just had a great coffee with friends",
    },
    {
        "": "3",
        "count": "3",
        "hate_speech": "0",
        "offensive_language": "0",
        "neither": "3",
        "class": "2",
        "tweet": "RT: ",
    },  # nothing left after cleaning: dropped
]
DAVIDSON_SPLITS = {"0": "train", "1": "val", "2": "test", "3": "train"}

HARMEME_FILES = {
    "Harm-C/train.jsonl": [
        {
            "id": "c1",
            "text": "the virus was made by   them to kill us",
            "labels": ["very harmful", "society"],
        },
        {"id": "c2", "text": "wash your hands and stay safe", "labels": ["not harmful"]},
        {"id": "c3", "text": "a record with an empty label", "labels": []},
    ],
    "Harm-P/train_v1.jsonl": [
        {
            "id": "p1",
            "text": "this politician should be locked up forever",
            "labels": ["somewhat harmful", "individual"],
        },
    ],
    "Harm-C/val.jsonl": [{"id": "c4", "text": "masks work, science says so", "labels": ["not harmful"]}],
    "Harm-P/val_v1.jsonl": [],
    "Harm-C/test.jsonl": [],
    "Harm-P/test_v1.jsonl": [
        {"id": "p2", "text": "vote for the party of liars", "labels": ["very harmful", "organization"]}
    ],
}


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A folder shaped like ``../shared/data`` holding a handful of rows of every dataset."""
    root = tmp_path / "data"
    _write_jsonl(root / "hatexplain" / "hatexplain.jsonl", HATEXPLAIN_ROWS)  # type: ignore[arg-type]

    davidson = root / "davidson_hate_offensive"
    davidson.mkdir(parents=True)
    with (davidson / "labeled_data.csv").open("w", newline="", encoding="utf-8") as handle:
        table = csv.DictWriter(handle, fieldnames=list(DAVIDSON_ROWS[0]))
        table.writeheader()
        table.writerows(DAVIDSON_ROWS)
    with (davidson / "split_suggested.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "split"])
        writer.writerows(DAVIDSON_SPLITS.items())

    for name, rows in HARMEME_FILES.items():
        _write_jsonl(root / "harmeme_annotations_textonly" / name, rows)  # type: ignore[arg-type]

    coco = root / "coco_captions_mini_permissive"
    (coco / "images").mkdir(parents=True)
    Image.new("RGB", (40, 30), (200, 30, 30)).save(coco / "images" / "a.jpg")
    Image.new("RGB", (30, 40), (30, 200, 30)).save(coco / "images" / "b.jpg")
    _write_jsonl(
        coco / "captions.jsonl",
        [
            {
                "image": "images/a.jpg",
                "captions": ["a red square", "something red"],
                "coco_split": "train2017",
                "flickr_url": "http://farm.example/a.jpg",
                "license_name": "CC BY 2.0",
            },
            {
                "image": "images/b.jpg",
                "captions": ["a green rectangle"],
                "coco_split": "val2017",
                "flickr_url": "http://farm.example/b.jpg",
                "license_name": "CC BY-SA 2.0",
            },
        ],
    )
    _write_jsonl(root / "toxigen_annotated_train" / "data.jsonl", TOXIGEN_ROWS)
    _write_jsonl(root / "convabuse" / "data.jsonl", CONVABUSE_ROWS)
    return root


def _toxigen(text: str, toxicity_human: float, group: str) -> dict[str, object]:
    return {
        "text": text,
        "labels": {"target_group": group, "toxicity_human": toxicity_human, "label": "hate"},
        "split": "train",
        "meta": {},
    }


TOXIGEN_ROWS = [
    _toxigen("they are all secretly plotting against the rest of us", 4.7, "jewish"),
    _toxigen("my grandmother taught me to cook her village's dishes", 1.0, "chinese"),
    _toxigen("not sure what to make of the new neighbours yet", 3.0, "mexican"),  # in between: dropped
    _toxigen("people from that region are lazy and only want handouts", 4.3, "latino"),  # test group
]


def _convabuse(text: str, split: str, votes: dict[str, list[str]]) -> dict[str, object]:
    labels: dict[str, object] = {}
    annotators = len(next(iter(votes.values())))
    for field, cells in votes.items():
        for index, cell in enumerate(cells):
            labels[f"Annotator{index + 1}_{field}"] = cell
    abusive = sum(
        1
        for i in range(annotators)
        if any(labels.get(f"Annotator{i + 1}_is_abuse.{k}") == "1" for k in ("-1", "-2", "-3"))
    )
    labels["derived_n_annotators"] = annotators
    labels["derived_abusive_majority"] = int(2 * abusive > annotators)
    return {"text": text, "labels": labels, "split": split, "meta": {}}


CONVABUSE_ROWS = [
    _convabuse(
        "you are a useless pile of junk",
        "train",
        {"is_abuse.-2": ["1", "1", "0"], "is_abuse.1": ["0", "0", "1"]},
    ),
    _convabuse(
        "shut up woman, get back in the kitchen",
        "val",
        {"is_abuse.-3": ["1", "1", "1"], "sexist": ["1", "1", "0"], "is_abuse.1": ["0", "0", "0"]},
    ),
    _convabuse("what is the weather like today", "test", {"is_abuse.1": ["1", "1", "1"]}),
    _convabuse("maybe", "train", {"is_abuse.0": ["1", "1", "0"], "is_abuse.1": ["0", "0", "1"]}),  # ambiguous
]


@pytest.fixture
def write_jsonl(tmp_path: Path) -> Callable[[list[object]], Path]:
    """Write rows (dicts, or raw strings written verbatim) to ``tmp_path/posts.jsonl``."""

    def write(rows: list[object]) -> Path:
        path = tmp_path / "posts.jsonl"
        lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write
