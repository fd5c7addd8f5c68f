"""Preprocessing that travels with the checkpoint: tokenizer, image transform, OCR and input limits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from .config import ModerationConfig
from .errors import EmptyPostError, TextTooLongError
from .ocr import OcrEngine, SpareThread
from .ocr_spelling import OcrSpelling
from .segmentation import WordSegmenter
from .text_folding import fold_disguises
from .text_windows import OVERLAP_TOKENS, split_into_windows
from .typed_spelling import RANKED_WORDS_FILE, SureSpelling
from .types import PostContent

PREPROCESSOR_FILE = "preprocessor.json"
SEGMENTATION_FILE = "ocr_vocabulary.txt"
TOKENIZER_DIR = "tokenizer"


@dataclass
class PreparedBatch:
    """A batch's inputs: the texts as the tower reads them (tokenized later, window by window:
    :meth:`ModerationProcessor.text_windows`) and the images' pixels, which cover only the rows
    that have an image."""

    present: torch.Tensor  # (batch, 3) bool: caption, image pixels, image text
    caption_rows: list[int]
    image_rows: list[int]
    pixel_values: torch.Tensor | None  # (n_image, 3, size, size)
    image_text_rows: list[int]
    captions: list[str]  # as read (:meth:`ModerationProcessor.read_caption`); "" = no caption
    ocr_texts: list[str | None]


def normalise_text(text: str | None) -> str:
    """Collapse whitespace; the empty string means 'no text'."""
    return " ".join(text.split()) if text else ""


class ModerationProcessor:
    """Turns :class:`PostContent` into model inputs; owns the tokenizer and the OCR engine."""

    def __init__(
        self,
        config: ModerationConfig,
        tokenizer: PreTrainedTokenizerBase,
        ocr: OcrEngine | None = None,
        segmenter: WordSegmenter | None = None,
        typed_spelling: SureSpelling | None = None,
    ) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.segmenter = segmenter
        self.spelling = OcrSpelling(segmenter) if segmenter is not None else None
        #: Sure corrections of typed words in captions (models/typed_spelling.py); None: as typed.
        self.typed_spelling = typed_spelling
        self.ocr = ocr if ocr is not None else (OcrEngine() if config.ocr_enabled else None)
        image = config.image_encoder
        self._mean = torch.tensor(image.mean).view(3, 1, 1)
        self._std = torch.tensor(image.std).view(3, 1, 1)

    # ----- pieces --------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        # look-alike letters and letter-spaced words are undone first (models/text_folding.py)
        encoded = self.tokenizer(
            [fold_disguises(t) for t in texts],
            padding=True,
            truncation=True,
            max_length=self.config.text_encoder.max_length,
            return_tensors="pt",
        )
        return {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"]}

    def text_windows(self, text: str) -> list[str]:
        """``text`` in pieces the tower reads whole (:func:`split_into_windows`): the text itself
        when it fits ``max_length`` tokens, else overlapping windows of whole sentences (of whole
        words where a sentence does not fit)."""
        max_tokens = self.config.text_encoder.max_length - self.tokenizer.num_special_tokens_to_add(
            pair=False
        )
        return split_into_windows(
            text, self._count_tokens, max_tokens=max_tokens, overlap=min(OVERLAP_TOKENS, max_tokens // 3)
        )

    def _count_tokens(self, words: list[str]) -> list[int]:
        # Counted before look-alike letters and letter-spaced words are folded (tokenize folds
        # them): folding mostly shortens a word's tokens; a window it lengthens past
        # ``max_length`` loses its last tokens to the tokenizer, as any text did before windows.
        ids = self.tokenizer(words, add_special_tokens=False)["input_ids"]
        return [len(piece) for piece in ids]

    def pixel_values(self, images: Sequence[Image.Image]) -> torch.Tensor:
        """(n, 3, size, size) normalised pixels. Images are squashed, not cropped: meme text sits at the edges."""
        size = self.config.image_encoder.image_size
        arrays = [
            np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR), dtype=np.float32)
            for image in images
        ]
        batch = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2) / 255.0  # (n, 3, size, size)
        return (batch - self._mean) / self._std

    def read_caption(self, text: str | None) -> str:
        """A caption as the text tower reads it: whitespace collapsed; with a typed-text spelling
        in the checkpoint, disguises undone (:func:`fold_disguises`, which the tokenizer applies
        anyway) and the words whose correction is sure corrected (the empty string: no caption)."""
        caption = normalise_text(text)
        if self.typed_spelling is None or not caption:
            return caption
        return self.typed_spelling.read(caption)

    @property
    def caption_reading(self) -> str:
        """How captions are read, for caches keyed by what the tower saw."""
        return "corrected" if self.typed_spelling is not None else "as typed"

    def read_image_text(self, image: Image.Image, spare: SpareThread | None = None) -> str:
        """OCR, then put back the spaces OCR tends to drop between words. ``spare``: a thread that
        may read some of the text lines while it is idle (:meth:`OcrEngine.read`)."""
        if self.ocr is None:
            return ""
        return self.clean_image_text(self.ocr.read(image, spare=spare))

    def clean_image_text(self, text: str) -> str:
        """OCR output (rows of text, one per line) as the text tower should read it: noise rows
        left out, disguised and misread words put back and glued words split
        (models/ocr_spelling.py, with the checkpoint's vocabulary)."""
        if self.spelling is None or not text:
            return normalise_text(text)
        text = self.spelling.without_noise_rows(text)
        return self.spelling.repair(text) if text else text

    def given_image_text(self, text: str, *, repaired: bool) -> str:
        """Image text a caller passed in with the post (:attr:`PostContent.ocr_text`): repaired as
        OCR output is, unless it already was (``repaired``: this processor's own read, handed back
        by the service's OCR lane; a second repair could change it)."""
        return text if repaired else self.clean_image_text(text)

    def validate(self, post: PostContent) -> None:
        if post.text is not None and len(post.text) > self.config.max_text_chars:
            raise TextTooLongError(
                f"text has {len(post.text):,} characters, more than the limit of {self.config.max_text_chars:,}"
            )
        if not normalise_text(post.text) and post.image is None:
            raise EmptyPostError("post has neither text nor image")

    # ----- a whole batch -------------------------------------------------------------------

    def prepare(self, posts: Sequence[PostContent]) -> PreparedBatch:
        """Validate, OCR where needed and transform a batch of posts."""
        for post in posts:
            self.validate(post)
        captions = [self.read_caption(post.text) for post in posts]
        ocr_texts: list[str | None] = []
        for post in posts:
            if post.image is None:
                ocr_texts.append(None)
            elif post.ocr_text is not None:
                ocr_texts.append(self.given_image_text(post.ocr_text, repaired=post.ocr_text_repaired))
            else:
                ocr_texts.append(self.read_image_text(post.image))
        caption_rows = [i for i, text in enumerate(captions) if text]
        image_rows = [i for i, post in enumerate(posts) if post.image is not None]
        image_text_rows = [i for i, text in enumerate(ocr_texts) if text]
        present = torch.zeros(len(posts), 3, dtype=torch.bool)
        present[caption_rows, 0] = True
        present[image_rows, 1] = True
        present[image_text_rows, 2] = True
        return PreparedBatch(
            present=present,
            caption_rows=caption_rows,
            image_rows=image_rows,
            pixel_values=self.pixel_values([posts[i].image for i in image_rows]) if image_rows else None,  # type: ignore[misc]
            image_text_rows=image_text_rows,
            captions=captions,
            ocr_texts=ocr_texts,
        )

    # ----- persistence ---------------------------------------------------------------------

    def save_pretrained(self, directory: Path) -> None:
        self.tokenizer.save_pretrained(directory / TOKENIZER_DIR)
        if self.segmenter is not None:
            self.segmenter.save(directory / SEGMENTATION_FILE)
        if self.typed_spelling is not None:
            self.typed_spelling.save(directory / RANKED_WORDS_FILE)
        else:  # a copy written over a checkpoint that had one must not keep it
            (directory / RANKED_WORDS_FILE).unlink(missing_ok=True)
        facts = {
            "tokenizer": TOKENIZER_DIR,
            "max_length": self.config.text_encoder.max_length,
            "image_size": self.config.image_encoder.image_size,
            "image_mean": list(self.config.image_encoder.mean),
            "image_std": list(self.config.image_encoder.std),
            "image_resize": "squash (no crop) with bilinear resampling",
            "ocr": "rapidocr-onnxruntime" if self.config.ocr_enabled else None,
            "ocr_spacing_vocabulary": SEGMENTATION_FILE if self.segmenter is not None else None,
            # captions: sure one-edit corrections with these ranked words (models/typed_spelling.py)
            "typed_text_spelling": RANKED_WORDS_FILE if self.typed_spelling is not None else None,
            "max_text_chars": self.config.max_text_chars,
        }
        (directory / PREPROCESSOR_FILE).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def from_pretrained(
        cls, directory: Path, config: ModerationConfig, *, ocr: OcrEngine | None = None
    ) -> ModerationProcessor:
        tokenizer = AutoTokenizer.from_pretrained(directory / TOKENIZER_DIR, local_files_only=True)
        vocabulary = directory / SEGMENTATION_FILE
        segmenter = WordSegmenter.load(vocabulary) if vocabulary.is_file() else None
        ranked = directory / RANKED_WORDS_FILE
        typed_spelling = (
            SureSpelling.load(ranked, segmenter.words if segmenter is not None else ())
            if ranked.is_file()
            else None
        )
        return cls(config, tokenizer, ocr=ocr, segmenter=segmenter, typed_spelling=typed_spelling)
