from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from transformers import AutoTokenizer

from models.architecture import ModerationModel
from models.categories.embedding import POOLED_LAYERS, CategoryEmbedder
from models.checkpoint import load_checkpoint
from models.config import ModerationConfig, TextEncoderConfig
from models.encoders import build_text_encoder, text_encoder_path
from models.preprocessing import ModerationProcessor


def build_tiny_model_with_pretrained_bottom() -> tuple[ModerationModel, ModerationProcessor]:
    """A classifier on the packaged MiniLM whose top text layer was changed (as fine-tuning does)."""
    config = ModerationConfig(ocr_enabled=False)
    model = ModerationModel(config)
    with torch.no_grad():
        model.text_encoder.encoder.layer[-1].output.dense.weight.add_(0.01)
    tokenizer = AutoTokenizer.from_pretrained(text_encoder_path(config.text_encoder), local_files_only=True)
    return model, ModerationProcessor(config, tokenizer)


def test_rows_are_unit_vectors_of_the_pooled_layers(tiny_embedder: CategoryEmbedder) -> None:
    texts = ["a short post", "a somewhat longer post about something else entirely", "x"]
    rows = tiny_embedder.embed(texts)
    hidden = tiny_embedder.encoder.config.hidden_size
    assert rows.shape == (3, hidden * len(POOLED_LAYERS)) == (3, tiny_embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    # a text's embedding does not depend on what it is batched with (padding is masked)
    np.testing.assert_allclose(tiny_embedder.embed(["x"])[0], rows[2], atol=1e-5)


def test_progress_is_reported_per_batch(tiny_embedder: CategoryEmbedder) -> None:
    done: list[int] = []
    tiny_embedder.embed([f"post {i}" for i in range(70)], progress=done.append)
    assert done == [32, 64, 70]


def test_the_fingerprint_names_the_weights(tiny_embedder: CategoryEmbedder) -> None:
    same = CategoryEmbedder(tiny_embedder.encoder, tiny_embedder.tokenize)
    assert same.fingerprint == tiny_embedder.fingerprint
    changed = type(tiny_embedder.encoder)(tiny_embedder.encoder.config)
    with torch.no_grad():
        for parameter in changed.parameters():
            parameter.add_(0.01)
    assert CategoryEmbedder(changed, tiny_embedder.tokenize).fingerprint != tiny_embedder.fingerprint


def test_onnxruntime_gives_the_torch_embeddings(
    tiny_checkpoint: Path, tiny_embedder: CategoryEmbedder
) -> None:
    model, processor, _ = load_checkpoint(tiny_checkpoint)
    onnx = CategoryEmbedder.for_checkpoint(model, processor, runtime="onnxruntime")
    texts = ["a short post", "a somewhat longer post about something else entirely, with more words", "x"]
    np.testing.assert_allclose(onnx.embed(texts), tiny_embedder.embed(texts), atol=1e-5)
    assert onnx.fingerprint == tiny_embedder.fingerprint


def test_frozen_modules_the_checkpoint_shares_are_one_copy() -> None:
    model, processor = build_tiny_model_with_pretrained_bottom()
    embedder = CategoryEmbedder.for_checkpoint(model, processor)
    assert embedder.encoder.embeddings is model.text_encoder.embeddings
    assert embedder.encoder.encoder.layer[0] is model.text_encoder.encoder.layer[0]
    # a layer the checkpoint changed is not shared
    assert embedder.encoder.encoder.layer[-1] is not model.text_encoder.encoder.layer[-1]
    reference = CategoryEmbedder(build_text_encoder(TextEncoderConfig()), processor.tokenize)
    assert embedder.fingerprint == reference.fingerprint
    np.testing.assert_allclose(
        embedder.embed(["shared weights"]), reference.embed(["shared weights"]), atol=1e-6
    )
