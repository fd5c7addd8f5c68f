"""Out-of-distribution benign images: pictures from sources training never uses.

The false-positive check on COCO photos measures photos like the training photos. Platforms
also carry sample photographs of every kind, icons and clip-art, generated art and screenshots
of documents. This set is built from:

- the sample photographs bundled in scikit-image (``skimage/data``: astronaut, coffee, rocket,
  coins, a cat, a horse silhouette, microscopy, a page of text...; public domain or CC0/CC BY per
  skimage's README) and matplotlib's sample images (``mpl-data/sample_data``),
- icons from the Adwaita icon theme (Debian's ``adwaita-icon-theme``, CC BY-SA 3.0 / LGPL-3),
  where installed (``/usr/share/icons/Adwaita/512x512`` and ``256x256``),
- procedural art of the families training never draws (``models.data.art.HELD_OUT_FAMILIES``),
- screenshots of documents holding benign text (Python standard-library docstrings, not a
  training text) in fonts training never renders.

Each image is posted with two bland captions from the functional suite (``BLAND_CAPTIONS``) and
once with no caption; a post passes when no category reaches its review threshold.
"""

from __future__ import annotations

import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path

from ..data.art import HELD_OUT_FAMILIES, art_background
from ..data.memes import FONT_CHOICES, MemeSpec
from ..data.multimodal import MultimodalExample
from ..data.sources import BENIGN, FULL_MASK

ICON_DIRS = (Path("/usr/share/icons/Adwaita/512x512"), Path("/usr/share/icons/Adwaita/256x256"))
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


@dataclass(frozen=True)
class BenignImage:
    """One out-of-distribution benign image and where it came from."""

    spec: MemeSpec
    source: str  # skimage, matplotlib, icon, art:<family>, document


def _package_files(package: str, relative: str) -> list[Path]:
    found = importlib.util.find_spec(package)
    if found is None or not found.submodule_search_locations:
        return []
    folder = Path(next(iter(found.submodule_search_locations))) / relative
    return (
        sorted(p for p in folder.glob("*") if p.suffix.lower() in _IMAGE_SUFFIXES) if folder.is_dir() else []
    )


def _file_spec(path: Path) -> MemeSpec:
    return MemeSpec(
        text="",
        background=str(path),
        style="card",
        font=0,
        font_size=30,
        noise=0.0,
        jpeg_quality=0,
        width=448,
        height=448,
    )


def _document_texts() -> list[str]:
    """Benign prose no training set holds: the first paragraph of standard-library docstrings."""
    import collections
    import csv
    import json
    import pathlib
    import textwrap
    import zipfile

    texts = []
    for module in (json, csv, textwrap, zipfile, collections, pathlib):
        doc = (module.__doc__ or "").strip()
        paragraph = " ".join(doc.split("\n\n")[0].split())
        if len(paragraph.split()) >= 6:
            texts.append(" ".join(paragraph.split()[:60]))
    return texts


def ood_benign_images(
    *, seed: int = 0, icons: int = 40, art_per_family: int = 12, documents: int = 24
) -> list[BenignImage]:
    """The image set (deterministic for a seed; icons only where the theme is installed)."""
    rng = random.Random(seed)
    images = [
        BenignImage(_file_spec(p), "skimage")
        for p in _package_files("skimage", "data")
        if "GRAY" not in p.name and p.stat().st_size > 2000
    ]
    images += [
        BenignImage(_file_spec(p), "matplotlib") for p in _package_files("matplotlib", "mpl-data/sample_data")
    ]
    icon_files = sorted(p for folder in ICON_DIRS if folder.is_dir() for p in folder.rglob("*.png"))
    rng.shuffle(icon_files)
    images += [BenignImage(_file_spec(p), "icon") for p in icon_files[:icons]]
    for family in HELD_OUT_FAMILIES:
        for _ in range(art_per_family):
            spec = MemeSpec(
                text="",
                background=art_background(family, rng.randrange(2**31)),
                style="card",
                font=0,
                font_size=30,
                noise=0.0,
                jpeg_quality=rng.choice([0, 85]),
                width=rng.choice([384, 448, 512]),
                height=rng.choice([320, 448]),
            )
            images.append(BenignImage(spec, f"art:{family}"))
    texts = _document_texts()
    fonts = FONT_CHOICES["held_out"]
    for index in range(documents if texts else 0):
        spec = MemeSpec(
            text=texts[index % len(texts)],
            background="color:255,255,255",
            style="document",
            font=fonts[index % len(fonts)],
            font_size=rng.choice([16, 18, 20]),
            noise=0.0,
            jpeg_quality=rng.choice([0, 90]),
            width=rng.choice([512, 576]),
            height=rng.choice([384, 448]),
        )
        images.append(BenignImage(spec, "document"))
    return images


def ood_benign_posts(bland_captions: tuple[str, ...], *, seed: int = 0) -> list[MultimodalExample]:
    """Every image once alone and with two bland captions; ``kind`` is ``ood_<source>``."""
    rng = random.Random(seed + 1)
    posts = []
    for image in ood_benign_images(seed=seed):
        kind = "ood_" + image.source.split(":")[0]
        captions: list[str | None] = [None, *rng.sample(list(bland_captions), 2)]
        for caption in captions:
            posts.append(MultimodalExample(caption, image.spec, BENIGN, FULL_MASK, kind, "test"))
    return posts
