"""Sentence embeddings for example-defined categories, read from the checkpoint's own text tower.

A category head reads the mean-pooled outputs of the checkpoint's text layers from the top of its
frozen part up: the frozen layers' output (the pretrained all-MiniLM-L6-v2's: general meaning and
wording) and each fine-tuned layer's (what the checkpoint learned about harmful language), each
L2-normalised, side by side (:func:`pooled_layers`). These are hidden states the checkpoint
computes anyway for its own categories, so the service gets them from the same pass
(:class:`TextAndCategoryTower`; the text tower's ONNX graph returns both): a category costs a dot
product, not a second pass over the text.

Measured against the design it replaced (a second, pristine all-MiniLM-L6-v2 pass, the mean of its
last three layers; docs/categories.md has the table): held-out AUROC equal or higher on every
bundled category, the spam learning curve as good, and the service's category cost per text from
a ~9 ms second pass to the heads' dot products (text posts 7 % slower at batch 32 with the
categories than without, docs/performance.md). The price: a head is valid for one checkpoint's tower only (the fingerprint covers its
weights and the layers pooled), so a retrained checkpoint needs its categories refit —
``postguard categories refit`` does that from the examples each bundle keeps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np
import torch

from ..architecture import ModerationModel
from ..preprocessing import ModerationProcessor

Tokenize = Callable[[Sequence[str]], dict[str, torch.Tensor]]

#: Texts embedded per forward pass.
EMBED_BATCH = 32


def pooled_layers(model: ModerationModel) -> tuple[int, ...]:
    """Hidden states a category reads (0: the embeddings' output, i: text layer i's): the frozen
    part's output, then every fine-tuned layer's."""
    return tuple(range(model.first_trainable_layer, model.num_text_layers + 1))


class TextAndCategoryTower(torch.nn.Module):
    """One pass over the text tower: the checkpoint's sentence embedding (as ``encode_text``) and
    the category embedding (:func:`pooled_layers`, each normalised, concatenated, scaled to unit
    length). What the service runs (in torch, or exported to ONNX: models/text_onnx.py)."""

    def __init__(self, model: ModerationModel) -> None:
        super().__init__()
        self.model = model
        self.layers = pooled_layers(model)

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        text, pooled = self.model.encode_text_and_layers(input_ids, attention_mask, self.layers)
        normalised = [torch.nn.functional.normalize(p, dim=1) for p in pooled]
        return text, torch.cat(normalised, dim=1) / len(normalised) ** 0.5


class CategoryEmbedder:
    """The category embedding of texts on their own (fitting, ``categories add``, the reference
    scoring path): (n, dim) float32 rows of unit length."""

    def __init__(
        self, model: ModerationModel, tokenize: Tokenize, read_post: Callable[[str], str] | None = None
    ) -> None:
        self.model = model.eval()
        self.tokenize = tokenize
        # How the service reads a post's text before the tower sees it (the checkpoint's caption
        # reading: typed words it is sure of corrected). Examples are fit and measured read so.
        self.read_post = read_post or (lambda text: text)
        self.tower = TextAndCategoryTower(self.model)
        self.dim = int(model.text_encoder.config.hidden_size) * len(self.tower.layers)
        self._fingerprint: str | None = None

    @classmethod
    def for_checkpoint(cls, model: ModerationModel, processor: ModerationProcessor) -> CategoryEmbedder:
        """The checkpoint's tower with its tokenizer (and its folding of disguised spellings),
        reading posts as the checkpoint reads captions."""
        return cls(model, processor.tokenize, processor.read_caption)

    @property
    def fingerprint(self) -> str:
        """sha256 over the layers pooled and the tower's weights: a category head is only valid on
        the embedding it was fit on. Taken when first asked (Moderator.load asks before any
        speed option changes the tower's weights)."""
        if self._fingerprint is None:
            digest = hashlib.sha256(f"pooled layers {self.tower.layers}".encode())
            for name, tensor in sorted(self.model.text_encoder.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    def embed_posts(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """:meth:`embed` of posts' texts read as the service reads a caption: what fitting and
        measuring a category use, so a head learns and is judged on the text the service scores."""
        return self.embed([self.read_post(text) for text in texts], progress)

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(len(texts), dim) unit vectors of texts already read (as the service's caption or image
        text); ``progress`` is called with the count done after each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Shortest first: a batch is padded to its longest text, and attention costs grow with it.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), EMBED_BATCH):
            rows = order[start : start + EMBED_BATCH]
            tokens = self.tokenize([texts[i] for i in rows])
            _, categories = self.tower(tokens["input_ids"], tokens["attention_mask"])
            out[rows] = categories.numpy()
            if progress is not None:
                progress(min(start + EMBED_BATCH, len(texts)))
        return out
