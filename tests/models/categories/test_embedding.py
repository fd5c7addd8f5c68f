from __future__ import annotations

import numpy as np
import torch

from devtools.testing import build_tiny_model
from models.categories.embedding import CategoryEmbedder, TextAndCategoryTower, pooled_layers


def test_the_layers_read_are_the_frozen_output_and_every_fine_tuned_layer() -> None:
    model, _ = build_tiny_model()  # 2 text layers, the top one fine-tuned
    assert (model.num_text_layers, model.first_trainable_layer) == (2, 1)
    assert pooled_layers(model) == (1, 2)
    model.config.text_encoder.trainable_layers = 2  # everything fine-tuned: from the embeddings' output
    assert pooled_layers(model) == (0, 1, 2)


def test_rows_are_unit_vectors_of_the_pooled_layers(tiny_embedder: CategoryEmbedder) -> None:
    texts = ["a short post", "a somewhat longer post about something else entirely", "x"]
    rows = tiny_embedder.embed(texts)
    hidden = tiny_embedder.model.text_encoder.config.hidden_size
    assert rows.shape == (3, hidden * len(tiny_embedder.tower.layers)) == (3, tiny_embedder.dim)
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, rtol=1e-5)
    # a text's embedding does not depend on what it is batched with (padding is masked)
    np.testing.assert_allclose(tiny_embedder.embed(["x"])[0], rows[2], atol=1e-5)


def test_the_embedding_is_the_pooled_hidden_states_of_the_checkpoint(tiny_embedder: CategoryEmbedder) -> None:
    model = tiny_embedder.model
    tokens = tiny_embedder.tokenize(["one post to check by hand"])
    with torch.inference_mode():
        states = model.text_encoder(**tokens, output_hidden_states=True).hidden_states
        mask = tokens["attention_mask"].unsqueeze(-1).float()
        pooled = [(states[i] * mask).sum(1) / mask.sum(1) for i in pooled_layers(model)]
    expected = (
        torch.cat([torch.nn.functional.normalize(p, dim=1) for p in pooled], dim=1) / len(pooled) ** 0.5
    )
    np.testing.assert_allclose(
        tiny_embedder.embed(["one post to check by hand"]), expected.numpy(), atol=1e-5
    )


def test_one_pass_gives_the_checkpoints_text_embedding_too(tiny_embedder: CategoryEmbedder) -> None:
    tokens = tiny_embedder.tokenize(["short", "a longer post, padded differently from the first"])
    with torch.inference_mode():
        text, _ = TextAndCategoryTower(tiny_embedder.model)(tokens["input_ids"], tokens["attention_mask"])
        assert torch.equal(text, tiny_embedder.model.encode_text(**tokens))


def test_progress_is_reported_per_batch(tiny_embedder: CategoryEmbedder) -> None:
    done: list[int] = []
    tiny_embedder.embed([f"post {i}" for i in range(70)], progress=done.append)
    assert done == [32, 64, 70]


def test_the_fingerprint_names_the_weights_and_the_layers() -> None:
    model, processor = build_tiny_model()
    first = CategoryEmbedder.for_checkpoint(model, processor).fingerprint
    assert CategoryEmbedder.for_checkpoint(model, processor).fingerprint == first
    model.config.text_encoder.trainable_layers = 2  # same weights, another set of layers pooled
    assert CategoryEmbedder.for_checkpoint(model, processor).fingerprint != first
    model.config.text_encoder.trainable_layers = 1
    with torch.no_grad():
        model.text_encoder.encoder.layer[-1].output.dense.weight.add_(0.01)  # as a retrain would
    assert CategoryEmbedder.for_checkpoint(model, processor).fingerprint != first
