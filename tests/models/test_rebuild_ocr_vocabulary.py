"""Rebuilding a checkpoint's OCR vocabulary: the training texts' words, same weights, new version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devtools.testing import build_tiny_model
from models.checkpoint import load_checkpoint, save_checkpoint, verify_checkpoint
from models.rebuild_ocr_vocabulary import main, training_arguments
from models.segmentation import WordSegmenter
from models.typed_spelling import SureSpelling

TEXTS = [
    "you people are vermin and you know it",
    "vermin are everywhere, people say",
    "what a lovely day at the beach",
    "the beach was lovely, people were kind",
]


@pytest.fixture
def trained_checkpoint(tmp_path: Path) -> Path:
    """A tiny checkpoint whose training record names a user data file, with a vocabulary that
    holds an obfuscated spelling (as checkpoints built from augmented texts did)."""
    posts = tmp_path / "posts.jsonl"
    rows = [{"text": t, "labels": {"hate": int("vermin" in t)}, "split": "train"} for t in TEXTS]
    rows.append({"text": "a val text nobody trains on: zebra zebra", "labels": {"hate": 0}, "split": "val"})
    posts.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    model, processor = build_tiny_model(seed=4)
    model.config.training = {"seed": 7, "data_dir": None, "train_jsonl": str(posts)}
    processor.segmenter = WordSegmenter(["people", "vermin", "arevermin"])
    processor.typed_spelling = SureSpelling(processor.segmenter.words, ["celebrated", "beach"])
    directory = tmp_path / "checkpoint"
    save_checkpoint(model, processor, directory)
    return directory


def test_the_vocabulary_is_rebuilt_from_the_training_texts_and_nothing_else_changes(
    trained_checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "rebuilt"
    assert (
        main(["--checkpoint", str(trained_checkpoint), "--output", str(output), "--version", "tiny-2"]) == 0
    )

    verify_checkpoint(output)
    vocabulary = (output / "ocr_vocabulary.txt").read_text(encoding="utf-8").split()
    # words used twice or more in the train split, most frequent first; never the val text's
    assert vocabulary[0] == "people" and {"vermin", "are", "lovely", "beach", "you", "the"} <= set(vocabulary)
    assert "arevermin" not in vocabulary
    # the val text's word is there only as a general English word, ranked behind every training word
    training_words = ("people", "vermin", "are", "lovely", "beach", "you", "the")
    assert vocabulary.index("zebra") > max(map(vocabulary.index, training_words))
    assert len(vocabulary) > 80_000 and "strangle" in vocabulary
    model, processor, _ = load_checkpoint(output)
    assert model.config.version == "tiny-2" and processor.spelling is not None
    assert processor.clean_image_text("you PEOPLEarevermin vermiin") == "you people are vermin vermin"
    # the checkpoint's typed-text spelling is kept, and follows the new vocabulary
    assert processor.typed_spelling is not None and processor.typed_spelling.ranked == ["celebrated", "beach"]
    assert processor.read_caption("cellebrated beachh") == "celebrated beach"
    before = json.loads((trained_checkpoint / "manifest.json").read_text())["files"]
    after = json.loads((output / "manifest.json").read_text())["files"]
    assert after["weights.safetensors"] == before["weights.safetensors"]
    assert "3 -> " in capsys.readouterr().out  # how the vocabulary changed is printed


def test_the_same_version_string_is_refused(trained_checkpoint: Path, tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(
            [
                "--checkpoint",
                str(trained_checkpoint),
                "--output",
                str(tmp_path / "x"),
                "--version",
                "tiny-random-0",
            ]
        )
    assert not (tmp_path / "x").exists()


def test_training_arguments_follow_the_checkpoints_record(tmp_path: Path) -> None:
    assert training_arguments({"seed": 13, "data_dir": "/data"}, None) == [
        "--seed",
        "13",
        "--data-dir",
        "/data",
    ]
    assert training_arguments({"seed": 13, "data_dir": "/data"}, tmp_path) == [
        "--seed",
        "13",
        "--data-dir",
        str(tmp_path),
    ]
    assert training_arguments({"seed": 2, "data_dir": None, "train_jsonl": "u.jsonl"}, None) == [
        "--seed",
        "2",
        "--no-shared-data",
        "--train-jsonl",
        "u.jsonl",
    ]
