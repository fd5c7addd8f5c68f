"""Sentence embeddings for example-defined categories, from the pretrained text tower.

The checkpoint's own text tower is fine-tuned for hate and offence; that narrows what its
embeddings keep. Measured on spam (SMS + YouTube, learning curve in models/eval/categories.json),
a head on the *pretrained* all-MiniLM-L6-v2 embeddings learns a new category from 20 examples
far better than one on the fine-tuned tower. So categories read the pretrained, frozen tower,
which also means a retrained checkpoint does not invalidate them.

The embedding is the mean-pooled output of the tower's last three layers, each normalised, side by
side: the top layer alone keeps mostly the topic ("hurt", "starve"), lower layers keep more of
the wording that separates intent from its report. Among the pools compared (top layer; top
mean + max; top + [CLS]; last three; all of those), the last three raised cross-validated AUROC
on every category's training examples and on spam, and held-out AUROC (record in
docs/categories.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

from ..architecture import ModerationModel, mean_pool
from ..config import TextEncoderConfig
from ..encoders import build_text_encoder
from ..preprocessing import ModerationProcessor

Tokenize = Callable[[Sequence[str]], dict[str, torch.Tensor]]

#: Texts embedded per forward pass.
EMBED_BATCH = 32
#: Layers whose mean-pooled outputs make the embedding (negative: counted from the top).
POOLED_LAYERS: tuple[int, ...] = (-3, -2, -1)


class _PooledLayers(torch.nn.Module):
    """The embedding of :class:`CategoryEmbedder` as one module (what the ONNX export traces)."""

    def __init__(self, encoder: PreTrainedModel) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        # hidden_states: the embeddings' output, then one (batch, seq, hidden) per layer
        layers = self.encoder(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
        pooled = [
            torch.nn.functional.normalize(mean_pool(layers.hidden_states[i], attention_mask), dim=1)
            for i in POOLED_LAYERS
        ]
        return torch.cat(pooled, dim=1) / len(pooled) ** 0.5  # (batch, dim), unit length


class CategoryEmbedder:
    """Frozen text tower, mean pooling of :data:`POOLED_LAYERS`, each L2-normalised, concatenated
    and scaled: (n, dim) float32 rows of unit length."""

    def __init__(self, encoder: PreTrainedModel, tokenize: Tokenize, *, runtime: str = "torch") -> None:
        """``runtime``: ``torch``, or ``onnxruntime`` to run the tower as an ONNX graph exported
        at load (in memory; the same embeddings to ~1e-6, about twice as fast on short posts)."""
        self.encoder = encoder.eval()
        for parameter in self.encoder.parameters():
            parameter.requires_grad_(False)
        self.tokenize = tokenize
        self.dim = int(encoder.config.hidden_size) * len(POOLED_LAYERS)
        self._fingerprint: str | None = None
        self._tower: Callable[..., torch.Tensor] = _PooledLayers(self.encoder)
        if runtime == "onnxruntime":
            from ..text_onnx import OnnxTokenTower

            self._tower = OnnxTokenTower(
                _PooledLayers(self.encoder), threads=torch.get_num_threads(), name="category tower"
            )
        elif runtime != "torch":
            raise ValueError(f"runtime must be 'torch' or 'onnxruntime', not {runtime!r}")

    @classmethod
    def for_checkpoint(
        cls, model: ModerationModel, processor: ModerationProcessor, *, runtime: str = "torch"
    ) -> CategoryEmbedder:
        """The pretrained tower the checkpoint was fine-tuned from, with the checkpoint's tokenizer
        (and its folding of disguised spellings). A checkpoint with a random tower (tests) reuses
        all-MiniLM-L6-v2's tokenizer: its categories read the packaged all-MiniLM-L6-v2."""
        config = model.config.text_encoder
        encoder = build_text_encoder(TextEncoderConfig() if config.source == "random" else config)
        _share_frozen_modules(encoder, model)
        return cls(encoder, processor.tokenize, runtime=runtime)

    @property
    def fingerprint(self) -> str:
        """sha256 over the tower's weights: a category head is only valid on the tower it was fit on."""
        if self._fingerprint is None:
            digest = hashlib.sha256()
            for name, tensor in sorted(self.encoder.state_dict().items()):
                digest.update(name.encode())
                digest.update(tensor.detach().to(torch.float32).contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()
        return self._fingerprint

    @torch.inference_mode()
    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """(len(texts), dim) unit vectors; ``progress`` is called with the count done after each batch."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Shortest first: a batch is padded to its longest text, and attention costs grow with it.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(texts), EMBED_BATCH):
            rows = order[start : start + EMBED_BATCH]
            tokens = self.tokenize([texts[i] for i in rows])
            out[rows] = self._tower(tokens["input_ids"], tokens["attention_mask"]).numpy()
            if progress is not None:
                progress(min(start + EMBED_BATCH, len(texts)))
        return out


def _share_frozen_modules(encoder: PreTrainedModel, model: ModerationModel) -> None:
    """Point ``encoder``'s embeddings and bottom layers at the checkpoint's own where these are the
    same weights (the checkpoint's frozen part is the pretrained tower's): one copy in memory
    instead of two (~60 MB). Weights that differ (fine-tuned layers, another tower) are kept."""
    own: Any = model.text_encoder  # transformers' BertModel: untyped submodules
    target: Any = encoder

    def same(a: torch.nn.Module, b: torch.nn.Module) -> bool:
        first, second = a.state_dict(), b.state_dict()
        return first.keys() == second.keys() and all(
            first[k].shape == second[k].shape and torch.equal(first[k], second[k]) for k in first
        )

    if type(own.embeddings) is type(target.embeddings) and same(own.embeddings, target.embeddings):
        target.embeddings = own.embeddings
    for index in range(min(len(own.encoder.layer), len(target.encoder.layer))):
        if not same(own.encoder.layer[index], target.encoder.layer[index]):
            break
        target.encoder.layer[index] = own.encoder.layer[index]
