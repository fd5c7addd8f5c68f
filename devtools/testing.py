"""Tiny random-weight checkpoints for tests: the real architecture and preprocessing, small and fast.

Scores from these are meaningless (random weights) — use them to test plumbing, never quality.
"""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoTokenizer

from models.architecture import ModerationModel
from models.checkpoint import save_checkpoint
from models.config import FusionMode, ImageEncoderConfig, ModerationConfig, TextEncoderConfig
from models.encoders import text_encoder_path
from models.preprocessing import ModerationProcessor


def tiny_config(
    *, fusion: FusionMode = "gated", labels: tuple[str, ...] = ("hate", "offensive", "toxic")
) -> ModerationConfig:
    """A config whose towers are a 2-layer BERT and a 1-layer ViT with random weights."""
    text = TextEncoderConfig(
        source="random",
        trainable_layers=1,
        max_length=32,
        random_config={
            "vocab_size": 30522,  # the real all-MiniLM-L6-v2 tokenizer is reused
            "hidden_size": 32,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "max_position_embeddings": 64,
        },
    )
    image = ImageEncoderConfig(
        kind="hf_vision",
        source="random",
        image_size=32,
        random_config={
            "image_size": 32,
            "patch_size": 8,
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
    )
    return ModerationConfig(
        labels=labels,
        text_encoder=text,
        image_encoder=image,
        fusion=fusion,
        hidden_dim=32,
        attention_heads=4,
        ocr_enabled=False,
        version="tiny-random-0",
        review_thresholds={label: 0.5 for label in labels},
    )


def build_tiny_model(
    *, fusion: FusionMode = "gated", seed: int = 0
) -> tuple[ModerationModel, ModerationProcessor]:
    torch.manual_seed(seed)
    config = tiny_config(fusion=fusion)
    model = ModerationModel(config).eval()
    tokenizer = AutoTokenizer.from_pretrained(text_encoder_path(TextEncoderConfig()), local_files_only=True)
    return model, ModerationProcessor(config, tokenizer)


def build_tiny_checkpoint(directory: Path, *, seed: int = 0, fusion: FusionMode = "gated") -> Path:
    """Write a tiny random-weight checkpoint to ``directory`` and return the directory."""
    model, processor = build_tiny_model(fusion=fusion, seed=seed)
    save_checkpoint(model, processor, directory)
    return directory
