"""A platform's own labelled posts (JSONL) for fine-tuning: parsing, derived labels, line-numbered errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from models.userdata import UserDataError, load_user_posts

Write = Callable[[list[object]], Path]


@pytest.fixture
def images(tmp_path: Path) -> Path:
    folder = tmp_path / "img"
    folder.mkdir()
    Image.new("RGB", (64, 48), (10, 200, 10)).save(folder / "small.png")
    Image.new("RGB", (2048, 512), (10, 10, 200)).save(folder / "wide.jpg")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_valid_file(write_jsonl: Write, images: Path) -> None:
    path = write_jsonl(
        [
            {"text": "you are all vermin", "labels": {"hate": 1}},
            "",  # blank lines are skipped
            {"text": "nice photo", "labels": {"hate": 0, "offensive": 0}, "split": "val"},
            {"text": "shut up", "labels": {"offensive": 1, "toxic": 1}, "split": "test"},
            {"text": "only hate is known", "labels": {"hate": 0}},
            {"text": "look at this", "image": "img/small.png", "labels": {"offensive": 1}, "split": "val"},
            {"image": str(images / "wide.jpg"), "labels": {"hate": 0, "offensive": 0, "toxic": 0}},
            {"text": "boolean labels", "labels": {"hate": True, "offensive": False}},
        ]
    )
    texts, posts = load_user_posts(path)
    assert [t.text for t in texts] == [
        "you are all vermin",
        "nice photo",
        "shut up",
        "only hate is known",
        "boolean labels",
    ]
    assert [t.split for t in texts] == ["train", "val", "test", "train", "train"]
    assert all(t.source == "user" for t in texts)
    # toxic is derived: 1 when any named label is 1; 0 only when every other label is named and 0
    assert (texts[0].targets, texts[0].mask) == ((1.0, 0.0, 1.0), (1.0, 0.0, 1.0))
    assert (texts[1].targets, texts[1].mask) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert (texts[2].targets, texts[2].mask) == ((0.0, 1.0, 1.0), (0.0, 1.0, 1.0))
    assert (texts[3].targets, texts[3].mask) == ((0.0, 0.0, 0.0), (1.0, 0.0, 0.0))  # toxic unknown
    assert (texts[4].targets, texts[4].mask) == ((1.0, 0.0, 1.0), (1.0, 1.0, 1.0))

    meme, photo = posts
    assert meme.caption == "look at this" and meme.split == "val" and meme.kind == "user"
    assert (meme.targets, meme.mask) == ((0.0, 1.0, 1.0), (0.0, 1.0, 1.0))
    assert meme.needs_real_ocr and meme.image is not None
    assert Path(meme.image.background) == (images / "small.png").resolve()  # relative to the JSONL's folder
    assert (meme.image.width, meme.image.height, meme.image.text) == (64, 48, "")
    assert photo.caption is None and photo.split == "train"
    assert photo.image is not None and (photo.image.width, photo.image.height) == (
        1024,
        256,
    )  # capped at 1024
    assert (photo.targets, photo.mask) == ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def test_custom_label_set(write_jsonl: Write) -> None:
    texts, _ = load_user_posts(
        write_jsonl([{"text": "spam spam", "labels": {"spam": 1}}]), labels=("spam", "scam")
    )
    assert (texts[0].targets, texts[0].mask) == ((1.0, 0.0), (1.0, 0.0))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"text": "unterminated', "not valid JSON"),
        ('["a", "list"]', "must be a JSON object"),
        ({"text": 5, "labels": {"hate": 1}}, "'text' must be a string"),
        ({"text": "   ", "labels": {"hate": 1}}, "needs 'text' or 'image'"),
        ({"labels": {"hate": 1}}, "needs 'text' or 'image'"),
        ({"text": "a", "labels": {"hate": 1}, "split": "dev"}, "'split' must be one of"),
        ({"text": "a"}, "'labels' must be an object"),
        ({"text": "a", "labels": {}}, "'labels' must be an object"),
        ({"text": "a", "labels": ["hate"]}, "'labels' must be an object"),
        ({"text": "a", "labels": {"spam": 1}}, r"unknown label\(s\) \['spam'\]"),
        ({"text": "a", "labels": {"hate": 2}}, "'hate' must be 0 or 1, got 2"),
        ({"text": "a", "labels": {"hate": "1"}}, "'hate' must be 0 or 1, got '1'"),
        ({"image": "img/missing.png", "labels": {"hate": 1}}, "image file not found"),
        ({"image": "img/notes.txt", "labels": {"hate": 1}}, "cannot be read as an image"),
        ({"image": 7, "labels": {"hate": 1}}, "'image' must be a path"),
    ],
)
def test_bad_lines_name_file_and_line(write_jsonl: Write, images: Path, line: object, message: str) -> None:
    path = write_jsonl([{"text": "a good first line", "labels": {"hate": 0}}, "", line])
    with pytest.raises(UserDataError, match=message) as info:
        load_user_posts(path)
    assert str(info.value).startswith(f"{path}:3: ")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UserDataError, match="not found"):
        load_user_posts(tmp_path / "nope.jsonl")
