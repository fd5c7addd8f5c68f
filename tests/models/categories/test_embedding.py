from __future__ import annotations

import numpy as np
import torch

from models.categories.embedding import POOLED_LAYERS, CategoryEmbedder


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
