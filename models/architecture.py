"""The fused image+text moderation classifier (torch and transformers only).

Three modality tokens — the caption, the image pixels and the text inside the image (OCR) — are
projected to ``hidden_dim``; a missing modality is replaced by a learned null token, so a
text-only or image-only post is an ordinary input, never a crash or a silent zero. A fusion module
(``concat``, ``sum``, ``gated`` or ``attention``) turns the three tokens into one vector and a
multi-label head gives one logit per category. Projections, fusion and head together are a
:class:`FusionHead`; a model has one, or an ensemble of several whose logits are averaged.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from transformers import PreTrainedModel

from .config import FusionMode, ModerationConfig
from .encoders import build_image_encoder, build_text_encoder

#: Token order inside the model; matches ``models.types.MODALITIES``.
CAPTION, IMAGE_PIXELS, IMAGE_TEXT = 0, 1, 2
NUM_MODALITIES = 3


@dataclass
class ModerationOutput:
    """What the model returns: logits always, a loss only when labels were given."""

    logits: torch.Tensor  # (batch, num_labels)
    loss: torch.Tensor | None = None
    gates: torch.Tensor | None = None  # (batch, 3) for the gated fusion, else None


class ConcatFusion(nn.Module):
    def __init__(self, hidden: int, dropout: float) -> None:
        super().__init__()
        self.proj = nn.Sequential(nn.Linear(NUM_MODALITIES * hidden, hidden), nn.GELU(), nn.Dropout(dropout))

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.proj(tokens.flatten(1)), None  # (batch, 3 * hidden) -> (batch, hidden)


class SumFusion(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self.norm(tokens.sum(dim=1)), None  # element-wise sum over modalities


class GatedFusion(nn.Module):
    """Learned per-modality gates in [0, 1] computed from all three tokens; the gates are returned."""

    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(NUM_MODALITIES * hidden, NUM_MODALITIES)
        self.norm = nn.LayerNorm(hidden)

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        gates = torch.sigmoid(self.gate(tokens.flatten(1)))  # (batch, 3)
        return self.norm((gates.unsqueeze(-1) * tokens).sum(dim=1)), gates


class AttentionFusion(nn.Module):
    """A learned query token attends over the three modality tokens (one transformer layer)."""

    def __init__(self, hidden: int, heads: int, dropout: float) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.type_embeddings = nn.Parameter(torch.randn(1, NUM_MODALITIES, hidden) * 0.02)
        self.layer = nn.TransformerEncoderLayer(
            d_model=hidden,
            nhead=heads,
            dim_feedforward=2 * hidden,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
        )

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        batch = tokens.shape[0]
        sequence = torch.cat([self.query.expand(batch, -1, -1), tokens + self.type_embeddings], dim=1)
        return self.layer(sequence)[:, 0], None  # (batch, 1 + 3, hidden) -> (batch, hidden)


def build_fusion(mode: FusionMode, config: ModerationConfig) -> nn.Module:
    if mode == "concat":
        return ConcatFusion(config.hidden_dim, config.dropout)
    if mode == "sum":
        return SumFusion(config.hidden_dim)
    if mode == "gated":
        return GatedFusion(config.hidden_dim)
    return AttentionFusion(config.hidden_dim, config.attention_heads, config.dropout)


class FusionHead(nn.Module):
    """What a head learns on top of the towers: per-modality projections, the null tokens that
    stand in for absent modalities, one fusion module and the multi-label head."""

    def __init__(self, mode: FusionMode, config: ModerationConfig, *, text_dim: int, image_dim: int) -> None:
        super().__init__()
        hidden = config.hidden_dim
        self.share_text_projection = config.share_text_projection

        def projection(in_dim: int) -> nn.Module:
            return nn.Sequential(nn.Linear(in_dim, hidden), nn.LayerNorm(hidden))

        self.caption_proj = projection(text_dim)
        self.image_proj = projection(image_dim)
        if config.share_text_projection:
            # same projection as the caption; this offset tells the fusion it came from the image
            self.image_text_offset = nn.Parameter(torch.zeros(hidden))
        else:
            self.image_text_proj = projection(text_dim)
        self.null_tokens = nn.Parameter(torch.randn(NUM_MODALITIES, hidden) * 0.02)
        self.fusion = build_fusion(mode, config)
        self.head = nn.Sequential(
            nn.Dropout(config.dropout),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Dropout(config.dropout),
            nn.Linear(hidden, config.num_labels),
        )

    def forward(
        self,
        caption: torch.Tensor,
        image_pixels: torch.Tensor,
        image_text: torch.Tensor,
        present: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits (batch, num_labels) and the gated fusion's gates (batch, 3), else None."""
        tokens = torch.stack(
            [self.caption_proj(caption), self.image_proj(image_pixels), self._project_image_text(image_text)],
            dim=1,
        )  # (batch, 3, hidden)
        tokens = torch.where(present.unsqueeze(-1), tokens, self.null_tokens.unsqueeze(0).to(tokens.dtype))
        fused, gates = self.fusion(tokens)  # (batch, hidden)
        return self.head(fused), gates

    def _project_image_text(self, image_text: torch.Tensor) -> torch.Tensor:
        if self.share_text_projection:
            return self.caption_proj(image_text) + self.image_text_offset
        return self.image_text_proj(image_text)


#: A single head's weights, stored at the top level by checkpoints written before heads became a list.
_SINGLE_HEAD_PREFIXES = ("caption_proj.", "image_proj.", "image_text_proj.", "fusion.", "head.")
_SINGLE_HEAD_PARAMETERS = ("image_text_offset", "null_tokens")


def current_weight_name(name: str) -> str:
    """A checkpoint weight's name in this architecture: a single head's weights were once stored at
    the top level (``head.4.weight``); they are head 0's now (``heads.0.head.4.weight``)."""
    if name.startswith(_SINGLE_HEAD_PREFIXES) or name in _SINGLE_HEAD_PARAMETERS:
        return f"heads.0.{name}"
    return name


def mean_pool(hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the token vectors that are not padding: (batch, seq, dim) -> (batch, dim)."""
    mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)


class ModerationModel(nn.Module):
    """Text tower + image tower + a fusion head (projections, fusion, multi-label head), or an
    ensemble of fusion heads whose logits are averaged."""

    # Declared for the type checker: nn.Module's __getattr__ would otherwise type these as Tensor | Module.
    text_encoder: Any
    image_encoder: Any
    text_dim: int
    image_dim: int

    def __init__(
        self,
        config: ModerationConfig,
        *,
        text_encoder: PreTrainedModel | None = None,
        image_encoder: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.text_encoder = (
            text_encoder if text_encoder is not None else build_text_encoder(config.text_encoder)
        )
        self.image_encoder = (
            image_encoder if image_encoder is not None else build_image_encoder(config.image_encoder)
        )
        text_dim = int(self.text_encoder.config.hidden_size)
        image_dim = int(self.image_encoder.feature_dim)
        self.text_dim = text_dim
        self.image_dim = image_dim
        self.heads = nn.ModuleList(
            FusionHead(mode, config, text_dim=text_dim, image_dim=image_dim) for mode in config.head_fusions
        )
        self.freeze_encoders()

    @property
    def fusion_heads(self) -> tuple[FusionHead, ...]:
        """The heads, typed (``heads`` is the ModuleList that registers them)."""
        return tuple(cast(FusionHead, head) for head in self.heads)

    # ----- the towers -----------------------------------------------------------------------

    @property
    def text_layers(self) -> nn.ModuleList:
        return cast(nn.ModuleList, self.text_encoder.encoder.layer)

    @property
    def num_text_layers(self) -> int:
        return len(self.text_layers)

    @property
    def first_trainable_layer(self) -> int:
        trainable = min(max(self.config.text_encoder.trainable_layers, 0), self.num_text_layers)
        return self.num_text_layers - trainable

    def freeze_encoders(self) -> None:
        """Freeze the image tower and the text tower below its top ``trainable_layers`` layers."""
        for parameter in self.image_encoder.parameters():
            parameter.requires_grad_(False)
        for parameter in self.text_encoder.parameters():
            parameter.requires_grad_(False)
        for layer in self.text_layers[self.first_trainable_layer :]:
            for parameter in layer.parameters():
                parameter.requires_grad_(True)

    @staticmethod
    def _additive_mask(attention_mask: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        # (batch, seq) 1/0 -> (batch, 1, 1, seq) with 0 where attended, a large negative where padded
        return (1.0 - attention_mask[:, None, None, :].to(dtype)) * torch.finfo(dtype).min

    def text_hidden(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, *, stop: int
    ) -> torch.Tensor:
        """Hidden states after the embeddings and layers ``[0, stop)``: (batch, seq, dim)."""
        hidden = self.text_encoder.embeddings(input_ids=input_ids)
        mask = self._additive_mask(attention_mask, hidden.dtype)
        for layer in self.text_layers[:stop]:
            out = layer(hidden, attention_mask=mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return hidden

    def text_from_hidden(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor, *, start: int
    ) -> torch.Tensor:
        """Run layers ``[start, end)`` on cached hidden states and mean-pool: (batch, dim)."""
        mask = self._additive_mask(attention_mask, hidden.dtype)
        for layer in self.text_layers[start:]:
            out = layer(hidden, attention_mask=mask)
            hidden = out[0] if isinstance(out, tuple) else out
        return mean_pool(hidden, attention_mask)

    def encode_text_and_layers(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, layers: tuple[int, ...]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """:meth:`encode_text` (the same operations, so the same numbers) and, from the same pass,
        the mean-pooled hidden states ``layers`` (0: the embeddings' output, i: layer i's)."""
        hidden = self.text_encoder.embeddings(input_ids=input_ids)
        mask = self._additive_mask(attention_mask, hidden.dtype)
        pooled = [mean_pool(hidden, attention_mask)] if 0 in layers else []
        for index, layer in enumerate(self.text_layers, start=1):
            out = layer(hidden, attention_mask=mask)
            hidden = out[0] if isinstance(out, tuple) else out
            if index in layers:
                pooled.append(mean_pool(hidden, attention_mask))
        return mean_pool(hidden, attention_mask), pooled

    def encode_text(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Sentence embeddings (batch, dim); frozen layers run without autograd bookkeeping."""
        start = self.first_trainable_layer
        with torch.no_grad():
            hidden = self.text_hidden(input_ids, attention_mask, stop=start)
        return self.text_from_hidden(hidden, attention_mask, start=start)

    def encode_image(self, pixel_values: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.image_encoder(pixel_values)  # (batch, image_dim)

    # ----- fusion ---------------------------------------------------------------------------

    def fuse_features(
        self,
        *,
        caption: torch.Tensor,
        image_pixels: torch.Tensor,
        image_text: torch.Tensor,
        present: torch.Tensor,
        labels: torch.Tensor | None = None,
        label_mask: torch.Tensor | None = None,
    ) -> ModerationOutput:
        """Score from per-modality features.

        caption, image_text: (batch, text_dim); image_pixels: (batch, image_dim); rows of an absent
        modality may hold anything (zeros). present: (batch, 3) bool. labels / label_mask:
        (batch, num_labels); the mask says which labels a row's dataset actually annotates.
        """
        if present.shape != (caption.shape[0], NUM_MODALITIES):
            raise ValueError(f"present must have shape ({caption.shape[0]}, 3), got {tuple(present.shape)}")
        present = present.bool()
        if self.training and self.config.modality_dropout > 0:
            present = self._drop_modalities(present)
        per_head = [head(caption, image_pixels, image_text, present) for head in self.heads]
        # An ensemble scores with the mean of its heads' logits (the geometric mean of their odds).
        logits = torch.stack([head_logits for head_logits, _ in per_head]).mean(dim=0)  # (batch, num_labels)
        gates = per_head[0][1] if len(per_head) == 1 else None
        loss = None
        if labels is not None:
            loss = self.loss(logits, labels, label_mask)
        return ModerationOutput(logits=logits, loss=loss, gates=gates)

    def _drop_modalities(self, present: torch.Tensor) -> torch.Tensor:
        """Hide each present modality with probability ``modality_dropout`` (the pixels additionally
        with ``pixel_dropout``), keeping at least one modality per row."""
        keep = torch.rand(present.shape, device=present.device) >= self.config.modality_dropout
        keep[:, IMAGE_PIXELS] &= (
            torch.rand(present.shape[0], device=present.device) >= self.config.pixel_dropout
        )
        dropped = present & keep
        nothing_left = ~dropped.any(dim=1)
        return torch.where(nothing_left.unsqueeze(1), present, dropped)

    @staticmethod
    def loss(logits: torch.Tensor, labels: torch.Tensor, label_mask: torch.Tensor | None) -> torch.Tensor:
        """Binary cross-entropy per category, averaged over the labels that are annotated."""
        if labels.shape != logits.shape:
            raise ValueError(f"labels must have shape {tuple(logits.shape)}, got {tuple(labels.shape)}")
        per_label = F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), reduction="none")
        if label_mask is None:
            return per_label.mean()
        mask = label_mask.to(logits.dtype)
        return (per_label * mask).sum() / mask.sum().clamp(min=1.0)

    def forward(
        self,
        *,
        caption_input_ids: torch.Tensor | None = None,
        caption_attention_mask: torch.Tensor | None = None,
        image_text_input_ids: torch.Tensor | None = None,
        image_text_attention_mask: torch.Tensor | None = None,
        pixel_values: torch.Tensor | None = None,
        present: torch.Tensor,
        labels: torch.Tensor | None = None,
        label_mask: torch.Tensor | None = None,
    ) -> ModerationOutput:
        """Score a batch end to end. ``present`` (batch, 3) says which modalities each row has."""
        caption, image_pixels, image_text = self.encode_modalities(
            caption_input_ids=caption_input_ids,
            caption_attention_mask=caption_attention_mask,
            image_text_input_ids=image_text_input_ids,
            image_text_attention_mask=image_text_attention_mask,
            pixel_values=pixel_values,
            batch_size=present.shape[0],
        )
        return self.fuse_features(
            caption=caption,
            image_pixels=image_pixels,
            image_text=image_text,
            present=present,
            labels=labels,
            label_mask=label_mask,
        )

    def encode_modalities(
        self,
        *,
        caption_input_ids: torch.Tensor | None,
        caption_attention_mask: torch.Tensor | None,
        image_text_input_ids: torch.Tensor | None,
        image_text_attention_mask: torch.Tensor | None,
        pixel_values: torch.Tensor | None,
        batch_size: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Features of each modality; an input that is ``None`` gives zeros (masked out by ``present``)."""
        text_dim = self.text_dim
        device = next(self.heads.parameters()).device
        zeros_text = torch.zeros(batch_size, text_dim, device=device)
        caption = (
            self.encode_text(caption_input_ids, caption_attention_mask)
            if caption_input_ids is not None and caption_attention_mask is not None
            else zeros_text
        )
        image_text = (
            self.encode_text(image_text_input_ids, image_text_attention_mask)
            if image_text_input_ids is not None and image_text_attention_mask is not None
            else zeros_text
        )
        image_pixels = (
            self.encode_image(pixel_values)
            if pixel_values is not None
            else torch.zeros(batch_size, self.image_dim, device=device)
        )
        return caption, image_pixels, image_text

    @torch.no_grad()
    def leave_one_out(
        self,
        *,
        caption: torch.Tensor,
        image_pixels: torch.Tensor,
        image_text: torch.Tensor,
        present: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Probabilities and per-modality leave-one-out deltas.

        Returns ``probs`` (batch, num_labels) and ``deltas`` (batch, 3, num_labels): the drop in
        each probability when that modality is replaced by its null token (0 for absent modalities).
        """
        features = {"caption": caption, "image_pixels": image_pixels, "image_text": image_text}
        probs = torch.sigmoid(self.fuse_features(**features, present=present).logits)
        deltas = torch.zeros(present.shape[0], NUM_MODALITIES, probs.shape[1], device=probs.device)
        for modality in range(NUM_MODALITIES):
            if not bool(present[:, modality].any()):
                continue
            without = present.clone()
            without[:, modality] = False
            probs_without = torch.sigmoid(self.fuse_features(**features, present=without).logits)
            deltas[:, modality] = torch.where(
                present[:, modality].unsqueeze(1), probs - probs_without, torch.zeros_like(probs)
            )
        return probs, deltas

    def persisted_state_dict(self) -> dict[str, torch.Tensor]:
        """The weights a checkpoint must carry: everything except frozen tensors a package provides."""
        state = self.state_dict()
        keep: dict[str, torch.Tensor] = {}
        start = self.first_trainable_layer
        text_from_package = self.config.text_encoder.source != "random"
        image_from_package = self.config.image_encoder.source != "random"
        for name, tensor in state.items():
            if name.startswith("text_encoder.") and text_from_package:
                if not any(
                    name.startswith(f"text_encoder.encoder.layer.{i}.")
                    for i in range(start, self.num_text_layers)
                ):
                    continue
            if name.startswith("image_encoder.") and image_from_package:
                continue
            keep[name] = tensor.detach().contiguous()
        return keep


def ensemble_of(members: Sequence[ModerationModel]) -> ModerationModel:
    """A model whose heads are copies of ``members``' heads, their logits averaged.

    The members must share their towers (the same objects: heads trained on one run's features),
    since an ensemble has one text tower and one image tower; the copy gets no thresholds and no
    training facts of its own (tune them on validation, as for any head)."""
    if len(members) < 2:
        raise ValueError(f"an ensemble needs at least two members, got {len(members)}")
    first = members[0]
    if any(
        m.text_encoder is not first.text_encoder or m.image_encoder is not first.image_encoder
        for m in members
    ):
        raise ValueError("ensemble members must share their text and image towers (heads of one run)")
    config = copy.deepcopy(first.config)
    config.ensemble = tuple(mode for member in members for mode in member.config.head_fusions)
    config.review_thresholds = {}
    config.training = {}
    model = ModerationModel(config, text_encoder=first.text_encoder, image_encoder=first.image_encoder)
    sources = [head for member in members for head in member.heads]
    for head, source in zip(model.heads, sources, strict=True):
        head.load_state_dict(source.state_dict())
    return model.eval()
