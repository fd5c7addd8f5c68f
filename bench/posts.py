"""The benchmark's post mix: 70 % text-only, 30 % with an inline image, reproducible from a seed.

Texts are HateXplain posts when the shared data folder is present (short social-media texts, the
service's real diet), else sentences built from the demo samples. Image posts carry a caption and
either a plain photo (COCO, no rendered text) or a meme (a text rendered by
:mod:`models.data.memes`); ``repost_fraction`` of image posts re-send an image already seen
(reposts) and ``spam_fraction`` of text posts copy an earlier text (copy-paste waves).
"""

from __future__ import annotations

import base64
import io
import json
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from models.data.memes import random_spec, render_meme
from models.data.sources import default_data_dir, load_coco, load_hatexplain

KINDS = ("text", "photo", "meme")


@dataclass(frozen=True)
class MixSpec:
    """Proportions of the mix (fractions of all posts, of image posts, of text posts)."""

    image_fraction: float = 0.30
    meme_fraction: float = 0.40  # of image posts; the rest are plain photos
    repost_fraction: float = 0.25  # of image posts: an image sent before, byte for byte
    spam_fraction: float = 0.05  # of text-only posts: a text sent before


@dataclass(frozen=True)
class BenchPost:
    post_id: str
    kind: str  # text | photo | meme
    text: str
    image: bytes | None  # encoded image bytes (JPEG/PNG) as sent inline
    has_rendered_text: bool  # a meme: the image holds text

    def message(self) -> bytes:
        post: dict[str, object] = {
            "post_id": self.post_id,
            "author_id": f"bench-author-{hash(self.post_id) % 500}",
            "created_at": "2026-11-27T10:15:00Z",
            "lang": "en",
            "text": self.text,
        }
        if self.image is not None:
            post["image"] = {"data": base64.b64encode(self.image).decode()}
        return json.dumps(post).encode()


def mix_source() -> str:
    """Where the mix's texts and photos come from. Runs are comparable only when it is the same:
    the shared data's HateXplain posts and COCO photos make a heavier mix (longer texts, larger
    images, fewer repeats) than the demo samples and synthetic photos."""
    data = default_data_dir()
    if data is not None:
        return f"HateXplain texts and COCO photos from {data}"
    return "demo sample texts and synthetic photos (no shared data folder next to the repository)"


def _fallback_texts() -> list[str]:
    samples = Path(__file__).resolve().parents[1] / "devtools" / "samples" / "posts.jsonl"
    lines = [json.loads(line)["text"] for line in samples.read_text(encoding="utf-8").splitlines() if line]
    rng = random.Random(0)
    return [f"{rng.choice(lines)} {rng.choice(lines)} #{i}" for i in range(5000)]


def load_texts() -> list[str]:
    data = default_data_dir()
    if data is not None:
        texts = [" ".join(e.text.split()) for e in load_hatexplain(data)]
        return [t for t in texts if len(t.split()) >= 3]
    return _fallback_texts()


def load_photos() -> list[bytes]:
    """JPEG bytes of plain photos (COCO when present, else synthetic shapes and noise)."""
    data = default_data_dir()
    if data is not None:
        return [image.path.read_bytes() for image in load_coco(data)]
    rng = np.random.default_rng(0)
    photos = []
    for _ in range(40):
        image = Image.new("RGB", (640, 480), tuple(int(v) for v in rng.integers(0, 255, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(12):
            x, y = int(rng.integers(0, 600)), int(rng.integers(0, 440))
            draw.ellipse((x, y, x + 120, y + 90), fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        pixels = np.asarray(image, dtype=np.float32) + rng.normal(0, 6, (480, 640, 3))
        buffer = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "JPEG", quality=85)
        photos.append(buffer.getvalue())
    return photos


def _encode(image: Image.Image, rng: random.Random) -> bytes:
    buffer = io.BytesIO()
    if rng.random() < 0.3:
        image.save(buffer, "PNG")
    else:
        image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def build_mix(
    count: int,
    *,
    seed: int,
    prefix: str,
    texts: Sequence[str],
    photos: Sequence[bytes],
    spec: MixSpec = MixSpec(),
) -> list[BenchPost]:
    """``count`` posts in publishing order; each image is rendered and encoded once."""
    rng = random.Random(seed)
    np_rng = np.random.default_rng(seed)
    photo_paths = [Path(p) for p in _photo_files()]
    posts: list[BenchPost] = []
    sent_images: list[tuple[str, bytes]] = []
    sent_texts: list[str] = []
    for index in range(count):
        post_id = f"{prefix}-{index:06d}"
        caption = rng.choice(texts)
        if rng.random() >= spec.image_fraction:
            if sent_texts and rng.random() < spec.spam_fraction:
                caption = rng.choice(sent_texts)
            sent_texts.append(caption)
            posts.append(BenchPost(post_id, "text", caption, None, False))
            continue
        if sent_images and rng.random() < spec.repost_fraction:
            kind, data = rng.choice(sent_images)
        elif rng.random() < spec.meme_fraction:
            kind = "meme"
            data = _encode(render_meme(random_spec(rng.choice(texts), np_rng, photo_paths)), rng)
        else:
            kind, data = "photo", _variant(rng.choice(photos), rng)
        sent_images.append((kind, data))
        posts.append(BenchPost(post_id, kind, caption, data, kind == "meme"))
    return posts


def _variant(photo: bytes, rng: random.Random) -> bytes:
    """A distinct photo from a source photo: a random crop (75-100 %), re-encoded as JPEG."""
    with Image.open(io.BytesIO(photo)) as source:
        image = source.convert("RGB")
    width, height = image.size
    scale = rng.uniform(0.75, 1.0)
    w, h = int(width * scale), int(height * scale)
    left, top = rng.randint(0, width - w), rng.randint(0, height - h)
    buffer = io.BytesIO()
    image.crop((left, top, left + w, top + h)).save(buffer, "JPEG", quality=rng.choice([80, 85, 90]))
    return buffer.getvalue()


def _photo_files() -> list[str]:
    data = default_data_dir()
    return [str(image.path) for image in load_coco(data)] if data is not None else []


def summary(posts: Sequence[BenchPost]) -> dict[str, object]:
    images = [p for p in posts if p.image is not None]
    distinct = {p.image for p in images}
    return {
        "posts": len(posts),
        "text_only": sum(p.kind == "text" for p in posts),
        "photos": sum(p.kind == "photo" for p in posts),
        "memes": sum(p.kind == "meme" for p in posts),
        "distinct_images": len(distinct),
        "distinct_texts": len({p.text for p in posts}),
        "mean_message_kb": round(sum(len(p.message()) for p in posts) / max(1, len(posts)) / 1024, 1),
    }
