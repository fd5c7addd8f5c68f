"""Feature extraction for training and evaluation: encode each modality once, train heads many times.

The towers are frozen while heads are trained, so captions, images and image texts are encoded
once into tensors (a :class:`FeatureSet`) and every fusion variant is trained on the same tensors.
OCR is slow (~0.3 s an image on 2 cores), so its results are cached on disk by image key.
"""

from __future__ import annotations

import json
import logging
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .architecture import ModerationModel
from .data.memes import render_meme
from .data.multimodal import MultimodalExample
from .data.sources import TextExample
from .ocr import READ_VERSION
from .preprocessing import ModerationProcessor, normalise_text

logger = logging.getLogger(__name__)

#: Rendered images kept for reuse while encoding (a few batches' worth; repeats are close together).
RENDERED_KEPT = 64


@dataclass
class FeatureSet:
    """Encoded posts: caption/image_text (n, text_dim), image_pixels (n, image_dim), present (n, 3)."""

    caption: torch.Tensor
    image_pixels: torch.Tensor
    image_text: torch.Tensor
    present: torch.Tensor
    targets: torch.Tensor  # (n, num_labels)
    mask: torch.Tensor  # (n, num_labels)
    kinds: list[str]

    def __len__(self) -> int:
        return int(self.present.shape[0])

    def subset(self, index: torch.Tensor | Sequence[int]) -> FeatureSet:
        idx = torch.as_tensor(index, dtype=torch.long)
        return FeatureSet(
            self.caption[idx],
            self.image_pixels[idx],
            self.image_text[idx],
            self.present[idx],
            self.targets[idx],
            self.mask[idx],
            [self.kinds[i] for i in idx.tolist()],
        )

    def restrict(self, allowed: tuple[bool, bool, bool]) -> FeatureSet:
        """The same posts with some modalities hidden (for the unimodal baselines)."""
        keep = torch.tensor(allowed, dtype=torch.bool).unsqueeze(0)
        return FeatureSet(
            self.caption,
            self.image_pixels,
            self.image_text,
            self.present & keep,
            self.targets,
            self.mask,
            self.kinds,
        )

    @staticmethod
    def concat(sets: Sequence[FeatureSet]) -> FeatureSet:
        def cat(name: str) -> torch.Tensor:
            return torch.cat([getattr(s, name) for s in sets])

        return FeatureSet(
            cat("caption"),
            cat("image_pixels"),
            cat("image_text"),
            cat("present"),
            cat("targets"),
            cat("mask"),
            kinds=[k for s in sets for k in s.kinds],
        )


class OcrCache:
    """OCR results on disk, keyed by the meme spec's key (a rendered image is a pure function of it).
    A file written by another version of :meth:`OcrEngine.read` (``READ_VERSION``) is not used:
    its texts are not what the reader returns now."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, str] = {}
        if path is not None and path.is_file():
            stored = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(stored, dict) and stored.get("read_version") == READ_VERSION:
                self.entries = stored["entries"]
            else:
                logger.info("%s: OCR reads of an older reader, starting afresh", path)

    def save(self) -> None:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            stored = {"read_version": READ_VERSION, "entries": self.entries}
            self.path.write_text(json.dumps(stored), encoding="utf-8")


@torch.inference_mode()
def encode_texts(
    model: ModerationModel,
    processor: ModerationProcessor,
    texts: Sequence[str],
    *,
    batch_size: int = 64,
    desc: str = "encode texts",
) -> torch.Tensor:
    """Sentence embeddings (n, text_dim); texts are length-sorted so batches carry little padding."""
    output = torch.zeros(len(texts), model.text_dim)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch", leave=False):
        rows = order[start : start + batch_size]
        inputs = processor.tokenize([texts[i] for i in rows])
        output[rows] = model.encode_text(**inputs)
    return output


@torch.inference_mode()
def encode_images(
    model: ModerationModel,
    processor: ModerationProcessor,
    examples: Sequence[MultimodalExample],
    *,
    ocr: str,
    ocr_cache: OcrCache | None = None,
    rng: np.random.Generator | None = None,
    batch_size: int = 32,
    desc: str = "render+encode images",
) -> tuple[torch.Tensor, list[str]]:
    """Image features (n, image_dim) and the image texts the model will see.

    ``ocr``: ``real`` runs OCR on the rendered image (as in production); ``simulated`` uses the
    rendered text with OCR's typical damage (words glued together) repaired the way production
    repairs it; ``truth`` uses the rendered text as is.

    Rendering is the slow part on 2 cores, so the next batch is rendered on a second thread while
    the image tower encodes the current one, and an image that appears again soon (the benign
    photo posts put one view of a photo under up to 7 captions, one after another) is rendered
    once. The batches the image tower sees are the same as rendering post by post: its outputs
    depend, in the last bits, on what else is in the batch, and the heads trained on them are
    sensitive enough to that to move the benign false-positive rate by several points.
    """
    if any(e.image is None for e in examples):
        raise ValueError("encode_images needs examples that all have an image")
    features = torch.zeros(len(examples), model.image_dim)
    texts: list[str] = [""] * len(examples)
    rng = rng or np.random.default_rng(0)
    starts = list(range(0, len(examples), batch_size))
    recent: OrderedDict[str, Image.Image] = OrderedDict()  # only touched by the render thread

    def render(start: int) -> list[Image.Image]:
        images = []
        for example in examples[start : start + batch_size]:
            assert example.image is not None
            key = example.image.key()
            image = recent.get(key)
            if image is None:
                image = render_meme(example.image)
                recent[key] = image
                if len(recent) > RENDERED_KEPT:
                    recent.popitem(last=False)
            images.append(image)
        return images

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="render") as renderer:
        upcoming = renderer.submit(render, starts[0]) if starts else None
        for index, start in enumerate(tqdm(starts, desc=desc, unit="batch", leave=False)):
            assert upcoming is not None
            images = upcoming.result()
            upcoming = renderer.submit(render, starts[index + 1]) if index + 1 < len(starts) else None
            chunk = examples[start : start + batch_size]
            features[start : start + len(chunk)] = model.encode_image(processor.pixel_values(images))
            for offset, (example, image) in enumerate(zip(chunk, images, strict=True)):
                assert example.image is not None
                truth = example.image.text
                if ocr == "real" or example.needs_real_ocr:
                    key = example.image.key()
                    if ocr_cache is not None and key in ocr_cache.entries:
                        raw = ocr_cache.entries[key]
                    else:
                        raw = processor.ocr.read(image) if processor.ocr is not None else ""
                        if ocr_cache is not None:
                            ocr_cache.entries[key] = raw
                    texts[start + offset] = processor.clean_image_text(raw)
                elif ocr == "simulated":
                    texts[start + offset] = (
                        processor.clean_image_text(glue_words(truth, rng)) if truth else ""
                    )
                else:
                    texts[start + offset] = normalise_text(truth)
    return features, texts


def glue_words(text: str, rng: np.random.Generator, probability: float = 0.3) -> str:
    """Drop some spaces between words, the most common OCR error on rendered English text."""
    words = text.split()
    if not words:
        return ""
    out = [words[0]]
    for word in words[1:]:
        out[-1:] = [out[-1] + word] if rng.random() < probability else [out[-1], word]
    return " ".join(out)


def as_caption_less_memes(texts: FeatureSet, memes: FeatureSet, *, fraction: float, seed: int) -> FeatureSet:
    """A share of text-only posts shown again as caption-less memes: each chosen text's embedding in
    the image-text slot (the slot shares the caption's projection, so this is what the text tower
    gives for the same words read from an image), no caption, and the pixel features of a random
    meme of ``memes`` (rendered text on a photo or a background: the look of a meme, whatever its
    words). Labels are the text's. Empty when ``fraction`` is 0 or ``memes`` has no meme with text."""
    donors = torch.nonzero(memes.present[:, 1] & memes.present[:, 2]).flatten()
    count = round(fraction * len(texts))
    if count == 0 or len(donors) == 0:
        return texts.subset([])
    generator = torch.Generator().manual_seed(seed)
    chosen = torch.randperm(len(texts), generator=generator)[:count]
    pixels = memes.image_pixels[donors[torch.randint(len(donors), (count,), generator=generator)]]
    present = torch.zeros(count, 3, dtype=torch.bool)
    present[:, 1:] = True
    return FeatureSet(
        caption=torch.zeros_like(texts.caption[chosen]),
        image_pixels=pixels,
        image_text=texts.caption[chosen],
        present=present,
        targets=texts.targets[chosen],
        mask=texts.mask[chosen],
        kinds=["caption_less"] * count,
    )


def text_only_features(
    embeddings: torch.Tensor, examples: Sequence[TextExample], image_dim: int, kind: str = "text"
) -> FeatureSet:
    n = len(examples)
    present = torch.zeros(n, 3, dtype=torch.bool)
    present[:, 0] = True
    return FeatureSet(
        caption=embeddings,
        image_pixels=torch.zeros(n, image_dim),
        image_text=torch.zeros_like(embeddings),
        present=present,
        targets=torch.tensor([e.targets for e in examples], dtype=torch.float32),
        mask=torch.tensor([e.mask for e in examples], dtype=torch.float32),
        kinds=[kind] * n,
    )


def multimodal_features(
    model: ModerationModel,
    processor: ModerationProcessor,
    examples: Sequence[MultimodalExample],
    *,
    ocr: str,
    ocr_cache: OcrCache | None = None,
    seed: int = 0,
    desc: str = "posts",
    text_lookup: dict[str, torch.Tensor] | None = None,
) -> FeatureSet:
    """Encode multimodal posts. ``text_lookup`` reuses embeddings already computed for identical texts."""
    n = len(examples)
    text_dim = model.text_dim
    with_image = [i for i, e in enumerate(examples) if e.image is not None]
    image_feats, image_texts = encode_images(
        model,
        processor,
        [examples[i] for i in with_image],
        ocr=ocr,
        ocr_cache=ocr_cache,
        rng=np.random.default_rng(seed),
        desc=f"{desc}: images",
    )
    image_pixels = torch.zeros(n, model.image_dim)
    image_pixels[with_image] = image_feats
    all_image_text = [""] * n
    for i, text in zip(with_image, image_texts, strict=True):
        all_image_text[i] = text
    captions = [processor.read_caption(e.caption) for e in examples]
    lookup = text_lookup if text_lookup is not None else {}
    needed = sorted({t for t in captions + all_image_text if t and t not in lookup})
    if needed:
        encoded = encode_texts(model, processor, needed, desc=f"{desc}: texts")
        lookup = {**lookup, **{t: encoded[i] for i, t in enumerate(needed)}}
    zeros = torch.zeros(text_dim)
    present = torch.zeros(n, 3, dtype=torch.bool)
    present[:, 0] = torch.tensor([bool(c) for c in captions])
    present[with_image, 1] = True
    present[:, 2] = torch.tensor([bool(t) for t in all_image_text])
    return FeatureSet(
        caption=torch.stack([lookup[c] if c else zeros for c in captions]),
        image_pixels=image_pixels,
        image_text=torch.stack([lookup[t] if t else zeros for t in all_image_text]),
        present=present,
        targets=torch.tensor([e.targets for e in examples], dtype=torch.float32),
        mask=torch.tensor([e.mask for e in examples], dtype=torch.float32),
        kinds=[e.kind for e in examples],
    )


@torch.inference_mode()
def predict(model: ModerationModel, features: FeatureSet, batch_size: int = 1024) -> np.ndarray:
    """Probabilities (n, num_labels) from features (the model must be in eval mode)."""
    model.eval()
    out = []
    for start in range(0, len(features), batch_size):
        sl = slice(start, start + batch_size)
        logits = model.fuse_features(
            caption=features.caption[sl],
            image_pixels=features.image_pixels[sl],
            image_text=features.image_text[sl],
            present=features.present[sl],
        ).logits
        out.append(torch.sigmoid(logits))
    return torch.cat(out).numpy() if out else np.zeros((0, model.config.num_labels))
