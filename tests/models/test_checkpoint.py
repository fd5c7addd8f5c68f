"""Saving and loading checkpoints: round trip, checksums, refusal of damaged checkpoints, determinism."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch

from devtools.testing import build_tiny_model
from models.architecture import ModerationModel
from models.checkpoint import (
    CONFIG_FILE,
    MANIFEST_FILE,
    WEIGHTS_FILE,
    load_checkpoint,
    save_checkpoint,
    verify_checkpoint,
)
from models.errors import CheckpointError
from models.preprocessing import ModerationProcessor

TEXTS = ["you people are the worst", "a quiet morning by the lake"]


def score(model: ModerationModel, processor: ModerationProcessor) -> torch.Tensor:
    captions = processor.tokenize(TEXTS)
    size = processor.config.image_encoder.image_size
    pixels = torch.linspace(-1, 1, 2 * 3 * size * size).reshape(2, 3, size, size)
    with torch.no_grad():
        return model(
            caption_input_ids=captions["input_ids"],
            caption_attention_mask=captions["attention_mask"],
            pixel_values=pixels,
            present=torch.tensor([[True, True, False], [True, False, False]]),
        ).logits


def resign(directory: Path) -> None:
    """Recompute the manifest's checksums, as someone editing a checkpoint by hand might."""
    manifest = json.loads((directory / MANIFEST_FILE).read_text())
    for name in manifest["files"]:
        manifest["files"][name] = hashlib.sha256((directory / name).read_bytes()).hexdigest()
    (directory / MANIFEST_FILE).write_text(json.dumps(manifest))


@pytest.fixture
def checkpoint_copy(tiny_checkpoint: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_checkpoint, tmp_path / "checkpoint"))


def test_round_trip_gives_the_same_scores(tmp_path: Path) -> None:
    model, processor = build_tiny_model(fusion="attention", seed=3)
    expected = score(model, processor)
    sha = save_checkpoint(model, processor, tmp_path / "ckpt")
    loaded, loaded_processor, loaded_sha = load_checkpoint(tmp_path / "ckpt")
    assert loaded_sha == sha
    assert not loaded.training
    assert loaded.config == model.config
    # text-tower weights are stored in float16; everything else is exact
    torch.testing.assert_close(score(loaded, loaded_processor), expected, atol=2e-3, rtol=1e-3)
    original = model.state_dict()
    for name, tensor in loaded.state_dict().items():
        if not name.startswith("text_encoder."):
            assert torch.equal(tensor, original[name]), name
    assert (
        loaded_processor.tokenize(TEXTS)["input_ids"].tolist()
        == processor.tokenize(TEXTS)["input_ids"].tolist()
    )


def test_text_weights_are_stored_in_half_precision(tiny_checkpoint: Path) -> None:
    from safetensors.torch import load_file

    weights = load_file(str(tiny_checkpoint / WEIGHTS_FILE))
    assert weights["text_encoder.encoder.layer.1.output.dense.weight"].dtype == torch.float16
    assert weights["heads.0.head.4.weight"].dtype == torch.float32


def test_manifest_lists_every_file_and_the_sha256_is_stable(tmp_path: Path) -> None:
    model, processor = build_tiny_model(seed=1)
    first = save_checkpoint(model, processor, tmp_path / "a")
    second = save_checkpoint(model, processor, tmp_path / "b")
    assert first == second
    assert len(first) == 64
    manifest = json.loads((tmp_path / "a" / MANIFEST_FILE).read_text())
    assert manifest["sha256"] == first
    assert manifest["labels"] == ["hate", "offensive", "toxic"]
    assert manifest["version"] == "tiny-random-0"
    on_disk = {str(p.relative_to(tmp_path / "a")) for p in (tmp_path / "a").rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {MANIFEST_FILE}
    assert {CONFIG_FILE, WEIGHTS_FILE, "preprocessor.json"} <= set(manifest["files"])
    # a different model gives a different checksum
    other, other_processor = build_tiny_model(seed=2)
    assert save_checkpoint(other, other_processor, tmp_path / "c") != first


def test_checkpoint_files_are_world_readable(tiny_checkpoint: Path) -> None:
    assert (tiny_checkpoint / WEIGHTS_FILE).stat().st_mode & 0o044 == 0o044


def test_two_loads_score_identically(tiny_checkpoint: Path) -> None:
    first, first_processor, _ = load_checkpoint(tiny_checkpoint)
    second, second_processor, _ = load_checkpoint(tiny_checkpoint)
    a = score(first, first_processor)
    assert torch.equal(a, score(first, first_processor))  # same input twice
    assert torch.equal(a, score(second, second_processor))


@pytest.mark.parametrize("name", [WEIGHTS_FILE, CONFIG_FILE, "tokenizer/tokenizer_config.json"])
def test_a_changed_file_is_refused_naming_it(checkpoint_copy: Path, name: str) -> None:
    path = checkpoint_copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{name}.*damaged"):
        load_checkpoint(checkpoint_copy)


def test_edited_config_is_refused(checkpoint_copy: Path) -> None:
    config = json.loads((checkpoint_copy / CONFIG_FILE).read_text())
    config["review_thresholds"]["hate"] = 0.01
    (checkpoint_copy / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=CONFIG_FILE):
        verify_checkpoint(checkpoint_copy)


def test_missing_manifest_is_refused(checkpoint_copy: Path) -> None:
    (checkpoint_copy / MANIFEST_FILE).unlink()
    with pytest.raises(CheckpointError, match=MANIFEST_FILE):
        load_checkpoint(checkpoint_copy)


def test_missing_listed_file_is_refused(checkpoint_copy: Path) -> None:
    (checkpoint_copy / WEIGHTS_FILE).unlink()
    with pytest.raises(CheckpointError, match=f"missing.*{WEIGHTS_FILE}"):
        load_checkpoint(checkpoint_copy)


def test_missing_directory_and_unknown_format_are_refused(checkpoint_copy: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nowhere")
    manifest = json.loads((checkpoint_copy / MANIFEST_FILE).read_text())
    manifest["format"] = 99
    (checkpoint_copy / MANIFEST_FILE).write_text(json.dumps(manifest))
    with pytest.raises(CheckpointError, match="format 99"):
        load_checkpoint(checkpoint_copy)


def test_weights_of_another_architecture_are_refused(checkpoint_copy: Path) -> None:
    """Even with valid checksums, weights must fit the config's architecture."""
    config = json.loads((checkpoint_copy / CONFIG_FILE).read_text())
    config["hidden_dim"] = 64
    (checkpoint_copy / CONFIG_FILE).write_text(json.dumps(config))
    resign(checkpoint_copy)
    with pytest.raises(CheckpointError, match="has shape"):
        load_checkpoint(checkpoint_copy)


def test_checkpoints_that_named_their_one_head_at_the_top_level_still_load(checkpoint_copy: Path) -> None:
    from safetensors.torch import load_file, save_file

    expected = score(*load_checkpoint(checkpoint_copy)[:2])
    weights = load_file(str(checkpoint_copy / WEIGHTS_FILE))
    renamed = {name.removeprefix("heads.0."): tensor for name, tensor in weights.items()}
    assert "head.4.weight" in renamed and "null_tokens" in renamed  # as checkpoints before ensembles
    save_file(renamed, str(checkpoint_copy / WEIGHTS_FILE))
    resign(checkpoint_copy)
    assert torch.equal(score(*load_checkpoint(checkpoint_copy)[:2]), expected)


def test_weights_missing_from_the_file_are_refused(checkpoint_copy: Path) -> None:
    from safetensors.torch import load_file, save_file

    weights = load_file(str(checkpoint_copy / WEIGHTS_FILE))
    del weights["heads.0.head.4.bias"]
    save_file(weights, str(checkpoint_copy / WEIGHTS_FILE))
    resign(checkpoint_copy)
    with pytest.raises(CheckpointError, match="lacks 1 weights"):
        load_checkpoint(checkpoint_copy)
