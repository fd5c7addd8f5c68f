"""Out-of-distribution benign images: pictures from sources training never uses.

The false-positive check on COCO photos measures photos like the training photos. Platforms
also carry sample photographs of every kind, icons and clip-art, generated art and screenshots
of documents. This set is built from:

- the sample photographs bundled in scikit-image (``skimage/data``: astronaut, coffee, rocket,
  coins, a cat, a horse silhouette, microscopy, a page of text...; public domain or CC0/CC BY per
  skimage's README) and matplotlib's sample images (``mpl-data/sample_data``),
- icons from the Adwaita icon theme (Debian's ``adwaita-icon-theme``, CC BY-SA 3.0 / LGPL-3),
  every PNG of its two largest sizes, where installed (``/usr/share/icons/Adwaita/512x512`` and
  ``256x256``),
- procedural art of the families training never draws (``models.data.art.HELD_OUT_FAMILIES``),
- charts (bar, line, pie, scatter) with benign titles, labels and numbers
  (``models/data/charts.py``), a kind of picture training never draws,
- screenshots of documents holding benign prose in fonts training never renders: everyday
  notices written for this set (``models/suite/benign_documents.py``) and the first paragraphs of
  two standard-library docstrings.

Each image is posted with two bland captions from the functional suite (``BLAND_CAPTIONS``) and
once with no caption; a post passes when no category reaches its review threshold.

Size: the target is at most 1 % of bland-caption posts flagged, and 0 flagged of n posts only
shows a rate below 1 % (the 95 % Wilson interval's upper end) once n ≥ 381. The set holds over 480
bland-caption posts without the icon theme and over 630 with it (tests/models/test_suite.py).
"""

from __future__ import annotations

import importlib.util
import random
from dataclasses import dataclass
from pathlib import Path

from ..data.art import HELD_OUT_FAMILIES, art_background
from ..data.charts import KINDS as CHART_KINDS
from ..data.charts import chart_background
from ..data.memes import FONT_CHOICES, MemeSpec
from ..data.multimodal import MultimodalExample
from ..data.sources import BENIGN, FULL_MASK
from .benign_documents import DOCUMENT_TEXTS

ICON_DIRS = (Path("/usr/share/icons/Adwaita/512x512"), Path("/usr/share/icons/Adwaita/256x256"))
_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")


@dataclass(frozen=True)
class BenignImage:
    """One out-of-distribution benign image and where it came from."""

    spec: MemeSpec
    source: str  # skimage, matplotlib, icon, art:<family>, chart:<kind>, document


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


def _picture_spec(
    background: str, rng: random.Random, *, widths: tuple[int, ...], heights: tuple[int, ...]
) -> MemeSpec:
    """A drawn picture with no text on it, lossless or JPEG-compressed, at a drawn size."""
    return MemeSpec(
        text="",
        background=background,
        style="card",
        font=0,
        font_size=30,
        noise=0.0,
        jpeg_quality=rng.choice([0, 85]),
        width=rng.choice(widths),
        height=rng.choice(heights),
    )


def _document_texts() -> list[str]:
    """The prose written for this set, then the first paragraph of two standard-library docstrings
    (kept from the set's first version; their wording can differ between Python versions)."""
    import csv
    import json

    texts = list(DOCUMENT_TEXTS)
    for module in (json, csv):
        doc = (module.__doc__ or "").strip()
        paragraph = " ".join(doc.split("\n\n")[0].split())
        if len(paragraph.split()) >= 6:
            texts.append(" ".join(paragraph.split()[:60]))
    return texts


def ood_benign_images(
    *, seed: int = 0, icons: int | None = None, art_per_family: int = 28, charts_per_kind: int = 16
) -> list[BenignImage]:
    """The image set (deterministic for a seed; icons only where the theme is installed, all of
    them unless ``icons`` caps the count; one screenshot per document text)."""
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
    for kind in CHART_KINDS:
        for _ in range(charts_per_kind):
            background = chart_background(kind, rng.randrange(2**31))
            spec = _picture_spec(background, rng, widths=(448, 512, 576), heights=(320, 384, 448))
            images.append(BenignImage(spec, f"chart:{kind}"))
    for family in HELD_OUT_FAMILIES:
        for _ in range(art_per_family):
            background = art_background(family, rng.randrange(2**31))
            spec = _picture_spec(background, rng, widths=(384, 448, 512), heights=(320, 448))
            images.append(BenignImage(spec, f"art:{family}"))
    texts = _document_texts()
    fonts = FONT_CHOICES["held_out"]
    for index, text in enumerate(texts):
        spec = MemeSpec(
            text=text,
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
