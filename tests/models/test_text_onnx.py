"""The text tower on ONNX Runtime and length-sorted chunks give the embeddings torch gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from devtools.testing import build_tiny_model
from models.categories.embedding import TextAndCategoryTower
from models.inference import DEFAULT_CHECKPOINT, InferenceOptions, Moderator
from models.text_onnx import OnnxTextTower
from models.types import PostContent

# Lengths from one word to a paragraph, so batches are padded (and chunks cut) in every way.
TEXTS = [
    "hi",
    "good morning everyone, how are you all doing today",
    "you people are not welcome here go back where you came from",
    "a much longer post that rambles on about the weather, the football, the neighbours and the "
    "price of bread, then ends with a question nobody will answer: why?",
    "ok",
    "the second shortest sentence here",
    "",
]


def test_the_onnx_tower_gives_torch_embeddings_for_any_batch_and_padding() -> None:
    model, processor = build_tiny_model()
    tower = OnnxTextTower(model, threads=1)
    texts = [t for t in TEXTS if t]
    for batch in (texts, texts[:1], texts[1:3], list(reversed(texts))):
        tokens = processor.tokenize(batch)
        with torch.inference_mode():
            expected = model.encode_text(**tokens)
        (got,) = tower(tokens["input_ids"], tokens["attention_mask"])
        assert got.shape == expected.shape == (len(batch), model.text_dim)
        assert torch.allclose(got, expected, atol=1e-5), float((got - expected).abs().max())


def test_the_onnx_tower_with_categories_gives_both_torch_embeddings_from_one_pass() -> None:
    model, processor = build_tiny_model()
    tower = OnnxTextTower(model, threads=1, categories=True)
    reference = TextAndCategoryTower(model)
    texts = [t for t in TEXTS if t]
    for batch in (texts, texts[:1], list(reversed(texts))):
        tokens = processor.tokenize(batch)
        with torch.inference_mode():
            text, categories = reference(tokens["input_ids"], tokens["attention_mask"])
            own = model.encode_text(**tokens)
        got_text, got_categories = tower(tokens["input_ids"], tokens["attention_mask"])
        assert torch.equal(text, own)  # the torch pass is encode_text's, operation for operation
        assert torch.allclose(got_text, text, atol=1e-5)
        assert (
            got_categories.shape == categories.shape == (len(batch), len(reference.layers) * model.text_dim)
        )
        assert torch.allclose(got_categories, categories, atol=1e-5)


@pytest.mark.parametrize("runtime", ["torch", "onnxruntime"])
@pytest.mark.parametrize("chunk", [None, 1, 3])
def test_chunked_text_scores_equal_one_call(tiny_checkpoint: Path, runtime: str, chunk: int | None) -> None:
    posts = [PostContent(text=t or "x") for t in TEXTS]
    reference = Moderator.load(tiny_checkpoint).score(posts)
    moderator = Moderator.load(
        tiny_checkpoint, options=InferenceOptions(cache_entries=16, text_runtime=runtime, text_chunk=chunk)
    )
    for expected, got in zip(reference, moderator.score(posts), strict=True):
        assert list(got.scores.values()) == pytest.approx(list(expected.scores.values()), abs=1e-5)


def test_options_refuse_what_cannot_run() -> None:
    with pytest.raises(ValueError, match="text_runtime must be one of torch, onnxruntime"):
        InferenceOptions(text_runtime="tensorrt")
    with pytest.raises(ValueError, match="quantize_text .* needs text_runtime 'torch'"):
        InferenceOptions(quantize_text=True, text_runtime="onnxruntime")
    with pytest.raises(ValueError, match="text_chunk must be at least 1"):
        InferenceOptions(text_chunk=0)
    assert InferenceOptions().plain
    assert not InferenceOptions(text_runtime="onnxruntime").plain
    assert not InferenceOptions(text_chunk=4).plain


@pytest.mark.slow
def test_the_bundled_checkpoint_scores_the_same_on_onnxruntime() -> None:
    posts = [PostContent(text=t or "x") for t in TEXTS * 3]
    plain = Moderator.load(DEFAULT_CHECKPOINT)
    fast = Moderator.load(
        DEFAULT_CHECKPOINT, options=InferenceOptions(text_runtime="onnxruntime", text_chunk=4)
    )
    for expected, got in zip(plain.score(posts), fast.score(posts), strict=True):
        assert list(got.scores.values()) == pytest.approx(list(expected.scores.values()), abs=1e-4)
