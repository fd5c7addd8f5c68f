"""Composing multimodal posts: labels per kind, split hygiene, image-only memes, COCO pairs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from models.data.multimodal import (
    HARMFUL_LOOKING,
    KINDS,
    MultimodalExample,
    benign_photo_posts,
    coco_benign_pairs,
    compose,
    image_only_memes,
)
from models.data.sources import BENIGN, FULL_MASK, HATE, OFFENSIVE, TOXIC_ONLY_MASK, CocoImage, TextExample


def pool(split: str) -> list[TextExample]:
    """A split's texts; every text carries the split's name so crossings are easy to see."""

    def t(text: str, targets: tuple[float, ...], mask: tuple[float, ...] = FULL_MASK) -> TextExample:
        return TextExample(f"{text} {split}word", targets, mask, "test", split, "x")

    return [
        t("those people are vermin and must go away now", HATE),
        t("shut your stupid mouth you worthless clown", OFFENSIVE),
        t("the virus was made by them on purpose", (0.0, 0.0, 1.0), TOXIC_ONLY_MASK),  # HarMeme-like
        t("what a lovely day at the beach", BENIGN),
        t("my grandmother bakes the best bread", BENIGN),
        t("i could kill for a coffee right now", BENIGN),  # harmful-looking, benign
        t("this traffic is driving me crazy again", BENIGN),
        t("ok", HATE),  # fewer than 3 words: never used
    ]


def photos(split: str) -> list[Path]:
    return [Path(f"/photos/{split}/{i}.jpg") for i in range(3)]


def captions(split: str) -> list[str]:
    return [f"a dog on a sofa {split}word", f"two people riding bikes {split}word"]


@pytest.fixture(scope="module")
def train_posts() -> list[MultimodalExample]:
    return compose(pool("train"), photos("train"), captions("train"), count=300, split="train", seed=5)


def texts_of(post: MultimodalExample) -> list[str]:
    return [text for text in (post.caption, post.image_text) if text]


def test_every_kind_appears_with_its_labels(train_posts: list[MultimodalExample]) -> None:
    harmful = {t.text: t for t in pool("train") if t.targets[-1] == 1.0}
    benign = {t.text for t in pool("train") if t.targets[-1] == 0.0} | set(captions("train"))
    assert set(Counter(p.kind for p in train_posts)) == set(KINDS)
    for post in train_posts:
        assert post.split == "train"
        assert len(post.targets) == 3 and len(post.mask) == 3
        if post.kind == "image_harm":
            assert post.image is not None and post.image.text in harmful
            assert post.caption is None or post.caption in benign
            assert post.targets[-1] == 1.0 and post.mask[-1] == 1.0
            source = harmful[post.image.text]
            assert post.targets == source.targets
        elif post.kind == "caption_harm":
            assert post.caption in harmful and post.targets[-1] == 1.0
            assert post.image is not None and (post.image.text == "" or post.image.text in benign)
        elif post.kind == "split_harm":
            assert post.caption and post.image is not None and post.image.text
            assert f"{post.caption} {post.image.text}" in harmful
            assert post.targets[-1] == 1.0
        elif post.kind == "benign":
            assert post.targets == BENIGN and post.mask == FULL_MASK
            assert all(text in benign for text in texts_of(post))
        else:
            assert post.kind == "confounder"
            assert post.targets == BENIGN and post.mask == FULL_MASK
            assert any(HARMFUL_LOOKING.search(text.lower()) for text in texts_of(post))


def test_harmeme_harm_leaves_hate_and_offensive_unknown(train_posts: list[MultimodalExample]) -> None:
    virus = [
        p
        for p in train_posts
        if any(t.startswith("the virus") for t in texts_of(p)) and p.kind != "confounder"
    ]
    assert virus
    for post in virus:
        assert post.targets == (0.0, 0.0, 1.0)
        assert post.mask == (0.0, 0.0, 1.0)


def test_no_text_or_photo_crosses_splits(train_posts: list[MultimodalExample]) -> None:
    val_posts = compose(pool("val"), photos("val"), captions("val"), count=200, split="val", seed=6)
    for split, posts in (("train", train_posts), ("val", val_posts)):
        other = "val" if split == "train" else "train"
        own_texts = [t.text for t in pool(split)] + captions(split)
        for post in posts:
            for text in texts_of(post):
                assert f"{other}word" not in text
                assert any(text in source for source in own_texts), text  # halves of split_harm included
            if post.image is not None and not post.image.background.startswith("color:"):
                assert Path(post.image.background) in photos(split)
    assert any(p.image is not None and p.image.background.startswith("/photos/") for p in val_posts)


def test_compose_is_reproducible() -> None:
    a = compose(pool("train"), photos("train"), captions("train"), count=50, split="train", seed=1)
    assert a == compose(pool("train"), photos("train"), captions("train"), count=50, split="train", seed=1)
    assert a != compose(pool("train"), photos("train"), captions("train"), count=50, split="train", seed=2)


def test_compose_honours_kinds_and_needs_both_classes() -> None:
    only = compose(pool("train"), [], [], count=30, split="train", seed=0, kinds=("image_harm",))
    assert {p.kind for p in only} == {"image_harm"}
    assert all(p.image is not None and p.image.background.startswith("color:") for p in only)
    with pytest.raises(ValueError, match="'val' needs harmful and benign"):
        compose([t for t in pool("val") if t.targets == BENIGN], [], [], count=5, split="val", seed=0)


def test_image_only_memes_have_no_caption() -> None:
    texts = pool("test")
    memes = image_only_memes(texts, photos("test"), count=6, seed=3)
    assert len(memes) == 6
    by_text = {t.text: t for t in texts}
    for meme in memes:
        assert meme.caption is None and meme.kind == "image_only" and meme.split == "test"
        assert meme.image is not None and meme.image.text in by_text
        assert (meme.targets, meme.mask) == (by_text[meme.image.text].targets, by_text[meme.image.text].mask)
        assert meme.mask == FULL_MASK  # HarMeme-like toxic-only texts are not used
    assert (
        sum(m.targets[-1] for m in memes) == 2
    )  # only two full-mask harmful texts exist: the rest is benign


def test_coco_benign_pairs(tmp_path: Path) -> None:
    images = [
        CocoImage(tmp_path / "a.jpg", ("one", "two"), "val2017", "", ""),
        CocoImage(tmp_path / "b.jpg", ("three",), "val2017", "", ""),
    ]
    pairs = coco_benign_pairs(images)
    assert [(p.caption, Path(p.image.background).name) for p in pairs] == [  # type: ignore[union-attr]
        ("one", "a.jpg"),
        ("two", "a.jpg"),
        ("three", "b.jpg"),
    ]
    assert all(p.targets == BENIGN and p.image is not None and p.image.text == "" for p in pairs)


def test_benign_photo_posts_add_views_with_and_without_captions(tmp_path: Path) -> None:
    images = [
        CocoImage(tmp_path / "a.jpg", ("one", "two"), "train2017", "", ""),
        CocoImage(tmp_path / "b.jpg", ("three",), "train2017", "", ""),
    ]
    posts = benign_photo_posts(images, views=3, split="val", seed=5)
    # per photo: each caption with the whole photo, then per view the photo alone and with a caption
    assert len(posts) == (2 + 2 * 3) + (1 + 2 * 3)
    assert all(p.targets == BENIGN and p.mask == FULL_MASK and p.split == "val" for p in posts)
    assert all(p.image is not None and p.image.text == "" for p in posts)
    views = [p.image for p in posts if p.image is not None and p.image.crop != (0.0, 0.0, 1.0, 1.0)]
    assert len(views) == 2 * 3 * 2
    assert sum(p.caption is None for p in posts) == 2 * 3
    assert posts == benign_photo_posts(images, views=3, split="val", seed=5)


def test_benign_photo_posts_can_pair_views_with_any_caption_of_a_pool(tmp_path: Path) -> None:
    images = [CocoImage(tmp_path / "a.jpg", ("one",), "train2017", "", "")]
    pool = ["a dog on a sofa", "two trains at a station", "a bowl of soup"]
    posts = benign_photo_posts(images, views=4, split="val", seed=1, captions_per_view=3, caption_pool=pool)
    assert len(posts) == 1 + 4 * (1 + 3)
    assert {p.caption for p in posts[1:] if p.caption} <= set(pool)
    assert len({p.caption for p in posts if p.caption in pool}) >= 2
