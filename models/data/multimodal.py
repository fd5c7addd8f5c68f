"""Composing multimodal posts from labelled texts and rendered images.

Kinds of post (labels are the element-wise maximum of the harmful parts):

- ``caption_harm``: harmful caption; the image is a photo or a meme with a benign text.
- ``image_harm``: harmful text only inside the image; the caption is benign or absent.
- ``split_harm``: one harmful text split in two: the first half in the caption, the rest in the image.
- ``benign``: benign caption and/or benign image (photo or meme with a benign text).
- ``confounder``: benign texts that contain harmful-looking words (``kill``, ``hate``, ``stupid``...),
  in the caption or the image — the cases a keyword filter gets wrong.
- ``benign_twin``: for every post whose image carries harm, the same rendering (background, style,
  font, size, noise) and the same caption with a benign text of similar length in the image. Only
  the words differ, so the frozen image tower's view of layout and style cannot predict the label.

Each split draws only from that split's texts and from its own photos (COCO train2017 photos for
train/val, val2017 for test), so no text crosses splits.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .memes import MemeSpec, random_color, random_gradient, random_spec, random_view
from .sources import BENIGN, FULL_MASK, CocoImage, TextExample

KINDS: tuple[str, ...] = ("caption_harm", "image_harm", "split_harm", "benign", "confounder")
#: Posts generated alongside others (not drawn directly).
DERIVED_KINDS: tuple[str, ...] = ("benign_twin",)
HARMFUL_LOOKING = re.compile(
    r"\b(kill\w*|hate\w*|stupid|idiot\w*|die|dead|attack\w*|destroy\w*|war|crazy|damn|hell|sick|trash|fight\w*|shoot\w*)\b"
)


@dataclass(frozen=True)
class MultimodalExample:
    """A post made of an optional caption and an optional rendered image, with its labels."""

    caption: str | None
    image: MemeSpec | None
    targets: tuple[float, ...]
    mask: tuple[float, ...]
    kind: str
    split: str
    #: The image is a user's file, not rendered by us: its text is unknown and must be read by OCR.
    needs_real_ocr: bool = False

    @property
    def image_text(self) -> str | None:
        """The text rendered into the image ('' for a plain photo)."""
        return None if self.image is None else self.image.text


def _photo_spec(photo: Path, rng: np.random.Generator, *, augment: bool = False) -> MemeSpec:
    crop, flip = random_view(rng) if augment else ((0.0, 0.0, 1.0, 1.0), False)
    return MemeSpec(
        text="",
        background=str(photo),
        style="card",
        font=0,
        font_size=30,
        noise=0.0,
        jpeg_quality=int(rng.choice([0, 90])),
        width=int(rng.choice([448, 512])),
        height=448,
        crop=crop,
        flip=flip,
    )


def _combine(*parts: TextExample | None) -> tuple[tuple[float, ...], tuple[float, ...]]:
    present = [p for p in parts if p is not None]
    if not present:
        return BENIGN, FULL_MASK
    targets = tuple(max(values) for values in zip(*(p.targets for p in present), strict=True))
    # A label is known if every part annotates it, or if some part is positive for it.
    mask = tuple(
        1.0 if all(p.mask[i] for p in present) or targets[i] == 1.0 else 0.0 for i in range(len(targets))
    )
    return targets, mask


def is_harmful(example: TextExample) -> bool:
    return example.targets[-1] == 1.0  # toxic


def compose(
    texts: Sequence[TextExample],
    photos: Sequence[Path],
    coco_captions: Sequence[str],
    *,
    count: int,
    split: str,
    seed: int,
    kinds: Sequence[str] = KINDS,
    weights: Sequence[float] | None = None,
    twins: bool = False,
    augment: bool = False,
    gradients: bool = False,
    layouts: str = "classic",
    bland_captions: Sequence[str] = (),
) -> list[MultimodalExample]:
    """Draw ``count`` multimodal posts of the given kinds from one split's texts.

    ``augment`` crops and flips photos at random (training: more distinct views of few photos);
    ``gradients`` renders half of the plain-background memes on random gradients; ``layouts`` is
    the meme generator's catalogue (models/data/memes.py); ``bland_captions`` (short reactions
    like "haha") are a quarter of the benign captions when given: a one-word caption next to an
    image must not look like the first half of a split harmful message."""
    rng = np.random.default_rng(seed)
    harmful = [t for t in texts if is_harmful(t) and len(t.text.split()) >= 3]
    benign = [t for t in texts if not is_harmful(t) and t.mask == FULL_MASK and len(t.text.split()) >= 3]
    confounders = [t for t in benign if HARMFUL_LOOKING.search(t.text.lower())] or benign
    splittable = [t for t in harmful if len(t.text.split()) >= 6] or harmful
    if not harmful or not benign:
        raise ValueError(f"split {split!r} needs harmful and benign texts to compose posts")
    probabilities = np.asarray(weights if weights is not None else [1.0] * len(kinds), dtype=float)
    probabilities /= probabilities.sum()
    photo_list = list(photos)

    def pick(pool: Sequence[TextExample]) -> TextExample:
        return pool[int(rng.integers(len(pool)))]

    benign_by_length = sorted(benign, key=lambda t: len(t.text))
    benign_lengths = [len(t.text) for t in benign_by_length]

    def similar_length_benign(text: str) -> TextExample:
        import bisect

        centre = bisect.bisect_left(benign_lengths, len(text))
        low, high = max(0, centre - 20), min(len(benign_by_length), centre + 20)
        return benign_by_length[int(rng.integers(low, max(high, low + 1)))]

    def spec_of(text: str) -> MemeSpec:
        return random_spec(text, rng, photo_list, augment=augment, gradients=gradients, layouts=layouts)

    def benign_caption() -> tuple[str | None, TextExample | None]:
        if bland_captions and rng.random() < 0.25:
            return bland_captions[int(rng.integers(len(bland_captions)))], None
        roll = rng.random()
        if roll < 0.3:
            return None, None
        if roll < 0.6 and coco_captions:
            return coco_captions[int(rng.integers(len(coco_captions)))], None
        example = pick(benign)
        return example.text, example

    def benign_image() -> tuple[MemeSpec, TextExample | None]:
        if photo_list and rng.random() < 0.5:
            return _photo_spec(photo_list[int(rng.integers(len(photo_list)))], rng, augment=augment), None
        example = pick(benign)
        return spec_of(example.text), example

    examples = []
    for _ in range(count):
        kind = str(rng.choice(list(kinds), p=probabilities))
        caption: str | None
        image: MemeSpec | None
        if kind == "caption_harm":
            source = pick(harmful)
            image, image_part = benign_image()
            caption = source.text
            targets, mask = _combine(source, image_part)
        elif kind == "image_harm":
            source = pick(harmful)
            caption, caption_part = benign_caption()
            image = spec_of(source.text)
            targets, mask = _combine(source, caption_part)
        elif kind == "split_harm":
            source = pick(splittable)
            words = source.text.split()
            cut = len(words) // 2
            caption, image = (
                " ".join(words[:cut]),
                spec_of(" ".join(words[cut:])),
            )
            targets, mask = _combine(source)
        elif kind == "confounder":
            source = pick(confounders)
            if rng.random() < 0.5:
                caption, (image, image_part) = source.text, benign_image()
            else:
                (caption, image_part), image = (
                    benign_caption(),
                    spec_of(source.text),
                )
            targets, mask = _combine(source, image_part)
        else:  # benign
            caption, caption_part = benign_caption()
            image, image_part = benign_image()
            targets, mask = _combine(caption_part, image_part)
        examples.append(MultimodalExample(caption, image, targets, mask, kind, split))
        if twins and image is not None and image.text and kind in ("image_harm", "split_harm"):
            twin_image = replace(image, text=similar_length_benign(image.text).text)
            # image_harm keeps its benign caption; a split_harm twin drops its (harmful) first half.
            twin_caption = caption if kind == "image_harm" else None
            examples.append(
                MultimodalExample(twin_caption, twin_image, BENIGN, FULL_MASK, "benign_twin", split)
            )
    return examples


def image_only_memes(
    texts: Sequence[TextExample], photos: Sequence[Path], *, count: int, seed: int, layouts: str = "classic"
) -> list[MultimodalExample]:
    """Posts whose only content is a meme of the text (harm, if any, only inside the image); half
    harmful. ``layouts="held_out"`` renders with fonts and layouts training never uses."""
    rng = np.random.default_rng(seed)
    harmful = [t for t in texts if is_harmful(t) and t.mask == FULL_MASK and len(t.text.split()) >= 3]
    benign = [t for t in texts if not is_harmful(t) and t.mask == FULL_MASK and len(t.text.split()) >= 3]
    chosen = [harmful[i] for i in rng.permutation(len(harmful))[: count // 2]]
    chosen += [benign[i] for i in rng.permutation(len(benign))[: count - len(chosen)]]
    return [
        MultimodalExample(
            None,
            random_spec(t.text, rng, list(photos), layouts=layouts),
            t.targets,
            t.mask,
            "image_only",
            t.split,
        )
        for t in chosen
    ]


def benign_photo_posts(
    images: Sequence[CocoImage],
    *,
    views: int,
    split: str,
    seed: int,
    captions_per_view: int = 1,
    caption_pool: Sequence[str] | None = None,
) -> list[MultimodalExample]:
    """Benign posts built from photos: each photo with each of its captions, plus ``views`` random
    crops/flips of it, alone and with ``captions_per_view`` captions (its own, or any from
    ``caption_pool``: a benign caption on an unrelated benign photo is still benign). Used to
    train on many views of few photos, and to hold the review thresholds' false-positive rate
    down on photos the heads never saw."""
    rng = np.random.default_rng(seed)
    posts = []
    for image in images:
        pool = list(caption_pool) if caption_pool else list(image.captions)
        for caption in image.captions:
            posts.append(
                MultimodalExample(
                    caption, _photo_spec(image.path, rng), BENIGN, FULL_MASK, "benign_photo", split
                )
            )
        for _ in range(views):
            spec = _photo_spec(image.path, rng, augment=True)
            posts.append(MultimodalExample(None, spec, BENIGN, FULL_MASK, "benign_photo", split))
            for _ in range(captions_per_view if pool else 0):
                chosen = pool[int(rng.integers(len(pool)))]
                posts.append(MultimodalExample(chosen, spec, BENIGN, FULL_MASK, "benign_photo", split))
    return posts


def benign_plain_images(
    count: int, *, split: str, seed: int, caption_pool: Sequence[str] = ()
) -> list[MultimodalExample]:
    """Benign posts whose image is synthetic and holds no text: a flat colour or a random two-colour
    gradient (backgrounds, screenshots of nothing, generated art), half of them with a benign
    caption from ``caption_pool``. Without them, photos are the only benign images training sees,
    and the pixels of anything else push scores up."""
    rng = np.random.default_rng(seed)
    posts = []
    for _ in range(count):
        if rng.random() < 0.5:
            background = random_gradient(rng)
        else:
            background = random_color(rng)
        spec = MemeSpec(
            text="",
            background=background,
            style="outlined_center",  # no text is drawn: the style does not matter
            font=0,
            font_size=30,
            noise=float(rng.choice([0.0, 0.0, 4.0])),
            jpeg_quality=int(rng.choice([0, 95, 75])),
            width=int(rng.choice([256, 320, 448, 512])),
            height=int(rng.choice([192, 240, 448, 512])),
        )
        caption = (
            caption_pool[int(rng.integers(len(caption_pool)))]
            if caption_pool and rng.random() < 0.5
            else None
        )
        posts.append(MultimodalExample(caption, spec, BENIGN, FULL_MASK, "benign_plain_image", split))
    return posts


def coco_benign_pairs(images: Sequence[CocoImage]) -> list[MultimodalExample]:
    """Every COCO photo with each of its own captions: benign pairs for the false-positive check."""
    rng = np.random.default_rng(0)
    pairs = []
    for image in images:
        spec = _photo_spec(image.path, rng)
        for caption in image.captions:
            pairs.append(MultimodalExample(caption, spec, BENIGN, FULL_MASK, "coco_benign", "test"))
    return pairs


def benign_varied_images(
    count: int,
    *,
    split: str,
    seed: int,
    families: Sequence[str],
    benign_texts: Sequence[str],
    captions: Sequence[str],
    photos: Sequence[Path] = (),
    layouts: str = "train",
) -> list[MultimodalExample]:
    """Benign posts whose image is unlike a photo: procedural art of ``families`` (a third), a
    screenshot of a document holding a benign text (a third), or a benign meme in ``layouts`` (a
    third); three in four carry a caption from ``captions`` (short reactions and ordinary
    captions). Whatever an image looks like, a benign image with a benign caption is benign."""
    from .art import art_background

    rng = np.random.default_rng(seed)
    posts = []
    for index in range(count):
        roll = index % 3
        if roll == 0 or not benign_texts:
            family = families[int(rng.integers(len(families)))]
            spec = MemeSpec(
                text="",
                background=art_background(family, int(rng.integers(2**31))),
                style="card",
                font=0,
                font_size=30,
                noise=float(rng.choice([0.0, 0.0, 4.0])),
                jpeg_quality=int(rng.choice([0, 95, 75])),
                width=int(rng.choice([320, 448, 512])),
                height=int(rng.choice([256, 448, 512])),
            )
        elif roll == 1:
            text = " ".join(
                benign_texts[int(rng.integers(len(benign_texts)))] for _ in range(int(rng.integers(1, 4)))
            )
            base = random_spec(text, rng, list(photos), layouts=layouts)
            spec = replace(base, style="document", background="color:255,255,255", watermark=-1, sticker=-1)
        else:
            spec = random_spec(
                benign_texts[int(rng.integers(len(benign_texts)))], rng, list(photos), layouts=layouts
            )
        caption = captions[int(rng.integers(len(captions)))] if captions and rng.random() < 0.75 else None
        posts.append(MultimodalExample(caption, spec, BENIGN, FULL_MASK, "benign_varied_image", split))
    return posts
