"""Giving a checkpoint the sure correction of typed words: saved with it, read back, used when
scoring captions on both scoring paths, removable; the weights never change."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from devtools.testing import build_tiny_model
from models.add_typed_spelling import main
from models.categories.embedding import CategoryEmbedder
from models.checkpoint import load_checkpoint, save_checkpoint, verify_checkpoint
from models.inference import InferenceOptions, Moderator
from models.segmentation import WordSegmenter
from models.typed_spelling import RANKED_WORDS_FILE
from models.types import PostContent


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A tiny checkpoint whose OCR vocabulary holds a slang spelling of its training texts."""
    model, processor = build_tiny_model(seed=5)
    processor.segmenter = WordSegmenter(["people", "wypipo", "the"])
    directory = tmp_path / "checkpoint"
    save_checkpoint(model, processor, directory)
    return directory


def add(checkpoint: Path, output: Path, *extra: str) -> int:
    return main(["--checkpoint", str(checkpoint), "--output", str(output), *extra])


def test_the_copy_corrects_sure_typos_in_captions_and_keeps_the_weights(
    checkpoint: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "typed"
    assert add(checkpoint, output, "--version", "tiny-typed") == 0

    verify_checkpoint(output)
    facts = json.loads((output / "preprocessor.json").read_text(encoding="utf-8"))
    assert facts["typed_text_spelling"] == RANKED_WORDS_FILE
    model, processor, _ = load_checkpoint(output)
    assert model.config.version == "tiny-typed" and processor.caption_reading == "corrected"
    assert processor.read_caption("  it  should be Cellebrated ") == "it should be Celebrated"
    assert processor.read_caption("wypipo peepel") == "wypipo peepel"  # its own word; two edits away
    assert processor.read_caption(None) == ""
    # disguises are undone before anything is corrected: "bаnned" (a Cyrillic а) is "banned", not a typo
    assert processor.read_caption("be bаnned, bannned") == "be banned, banned"
    before = json.loads((checkpoint / "manifest.json").read_text())["files"]
    after = json.loads((output / "manifest.json").read_text())["files"]
    assert after["weights.safetensors"] == before["weights.safetensors"]
    assert "-> 'america is a melting pot and it should be celebrated'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "options", [InferenceOptions(), InferenceOptions(cache_entries=64)], ids=["plain", "fast"]
)
def test_the_scorer_reads_a_caption_corrected_only_with_the_correction(
    checkpoint: Path, tmp_path: Path, options: InferenceOptions
) -> None:
    add(checkpoint, tmp_path / "typed", "--version", "tiny-typed")
    posts = [PostContent(text="it should be cellebrated"), PostContent(text="it should be celebrated")]
    typo, right = Moderator.load(tmp_path / "typed", options=options).score(posts)
    assert typo.scores == pytest.approx(right.scores, abs=1e-6)
    typo, right = Moderator.load(checkpoint, options=options).score(posts)
    assert typo.scores != pytest.approx(right.scores, abs=1e-6)  # as typed: the typo is seen


def test_categories_are_fit_on_example_posts_read_as_the_service_reads_captions(
    checkpoint: Path, tmp_path: Path
) -> None:
    add(checkpoint, tmp_path / "typed", "--version", "tiny-typed")
    model, processor, _ = load_checkpoint(tmp_path / "typed")
    embedder = CategoryEmbedder.for_checkpoint(model, processor)
    typo, right = embedder.embed_posts(["it should be cellebrated", "it should be celebrated"])
    np.testing.assert_allclose(typo, right, atol=1e-6)
    # embed() takes texts already read (the service's captions and image text): nothing corrected
    typo, right = embedder.embed(["it should be cellebrated", "it should be celebrated"])
    assert not np.allclose(typo, right, atol=1e-6)


def test_remove_writes_a_copy_that_reads_captions_as_typed(checkpoint: Path, tmp_path: Path) -> None:
    output = tmp_path / "typed"
    add(checkpoint, output, "--version", "tiny-typed")
    assert add(output, output, "--version", "tiny-as-typed", "--remove") == 0

    verify_checkpoint(output)
    assert not (output / RANKED_WORDS_FILE).exists()  # not left behind by the copy written over it
    _, processor, _ = load_checkpoint(output)
    assert processor.typed_spelling is None and processor.caption_reading == "as typed"
    assert processor.read_caption("it should be cellebrated") == "it should be cellebrated"


def test_a_checkpoint_without_a_vocabulary_or_with_the_same_version_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model, processor = build_tiny_model(seed=5)
    save_checkpoint(model, processor, tmp_path / "bare")
    with pytest.raises(SystemExit):
        add(tmp_path / "bare", tmp_path / "x", "--version", "tiny-typed")
    assert "no OCR vocabulary" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        add(tmp_path / "bare", tmp_path / "x", "--version", model.config.version)
    assert not (tmp_path / "x").exists()
