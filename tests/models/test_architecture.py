"""The fused architecture on tiny random configs: shapes, missing modalities, loss, dropout, persistence."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from devtools.testing import build_tiny_model, tiny_config
from models.architecture import ModerationModel, ensemble_of
from models.config import FUSION_MODES, ModerationConfig, TextEncoderConfig
from models.encoders import HFVisionFeatures
from models.preprocessing import ModerationProcessor

BATCH = 4
TEXTS = ["you are all wonderful people", "a cat on a mat", "what a day", "nothing to see here at all"]


def inputs(processor: ModerationProcessor, present: list[list[bool]]) -> dict[str, torch.Tensor]:
    """End-to-end model inputs for ``len(present)`` rows; every modality is given for every row."""
    rows = len(present)
    captions = processor.tokenize(TEXTS[:rows])
    image_texts = processor.tokenize(list(reversed(TEXTS))[:rows])
    size = processor.config.image_encoder.image_size
    generator = torch.Generator().manual_seed(1)
    return {
        "caption_input_ids": captions["input_ids"],
        "caption_attention_mask": captions["attention_mask"],
        "image_text_input_ids": image_texts["input_ids"],
        "image_text_attention_mask": image_texts["attention_mask"],
        "pixel_values": torch.randn(rows, 3, size, size, generator=generator),
        "present": torch.tensor(present, dtype=torch.bool),
    }


ALL = [[True, True, True]] * BATCH
NONE = [[False, False, False]] * BATCH


@pytest.fixture(scope="module", params=FUSION_MODES)
def tiny(request: pytest.FixtureRequest) -> tuple[ModerationModel, ModerationProcessor]:
    return build_tiny_model(fusion=request.param)


# ----- shapes -------------------------------------------------------------------------------------


def test_output_shapes_and_gates(tiny: tuple[ModerationModel, ModerationProcessor]) -> None:
    model, processor = tiny
    with torch.no_grad():
        out = model(**inputs(processor, ALL))
    assert out.logits.shape == (BATCH, 3)
    assert torch.isfinite(out.logits).all()
    if model.config.fusion == "gated":
        assert out.gates is not None
        assert out.gates.shape == (BATCH, 3)
        assert ((out.gates >= 0) & (out.gates <= 1)).all()
    else:
        assert out.gates is None


# ----- missing modalities -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "present",
    [
        [[True, False, False]] * BATCH,  # caption only
        [[False, True, False]] * BATCH,  # image pixels only
        [[False, False, True]] * BATCH,  # text inside the image only
        [[False, True, True]] * BATCH,  # a meme without caption
        [[True, False, False], [False, True, False], [False, True, True], [True, True, True]],  # mixed rows
    ],
    ids=["caption", "image", "image_text", "meme", "mixed"],
)
def test_missing_modalities_score_and_differ_from_all_null(
    tiny: tuple[ModerationModel, ModerationProcessor], present: list[list[bool]]
) -> None:
    model, processor = tiny
    with torch.no_grad():
        logits = model(**inputs(processor, present)).logits
        null = model(**inputs(processor, NONE)).logits
    assert logits.shape == (BATCH, 3)
    assert torch.isfinite(logits).all()
    # every row has something, so no row may be scored like an empty post
    assert not torch.isclose(logits, null, atol=1e-5).all(dim=1).any()


def test_inputs_of_absent_modalities_are_ignored(tiny: tuple[ModerationModel, ModerationProcessor]) -> None:
    model, _ = tiny
    text_dim, image_dim = 32, 32
    present = torch.tensor([[True, False, False]] * 2)
    caption = torch.randn(2, text_dim)
    with torch.no_grad():
        a = model.fuse_features(
            caption=caption,
            image_pixels=torch.zeros(2, image_dim),
            image_text=torch.zeros(2, text_dim),
            present=present,
        ).logits
        b = model.fuse_features(
            caption=caption,
            image_pixels=torch.randn(2, image_dim) * 50,
            image_text=torch.randn(2, text_dim) * 50,
            present=present,
        ).logits
    torch.testing.assert_close(a, b)


def test_missing_modality_uses_the_learned_null_token(
    tiny: tuple[ModerationModel, ModerationProcessor],
) -> None:
    """A missing side is the null token, not a zero feature: changing the token changes the score."""
    model, _ = tiny
    features = {
        "caption": torch.randn(2, 32),
        "image_pixels": torch.zeros(2, 32),
        "image_text": torch.zeros(2, 32),
    }
    caption_only = torch.tensor([[True, False, False]] * 2)
    everything = torch.ones(2, 3, dtype=torch.bool)
    with torch.no_grad():
        before = model.fuse_features(**features, present=caption_only).logits
        full_before = model.fuse_features(**features, present=everything).logits
        saved = model.fusion_heads[0].null_tokens.detach().clone()
        try:
            # not a constant shift: LayerNorm (sum, attention) is blind to those
            model.fusion_heads[0].null_tokens[1:] += torch.randn(
                2, 32, generator=torch.Generator().manual_seed(3)
            )
            after = model.fuse_features(**features, present=caption_only).logits
            full_after = model.fuse_features(**features, present=everything).logits
        finally:
            model.fusion_heads[0].null_tokens.copy_(saved)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(full_before, full_after)  # all present: the null tokens are unused


def test_rows_of_a_mixed_batch_are_scored_independently(
    tiny: tuple[ModerationModel, ModerationProcessor],
) -> None:
    model, processor = tiny
    present = [[True, False, False], [False, True, False], [False, True, True], [True, True, True]]
    batch = inputs(processor, present)
    with torch.no_grad():
        together = model(**batch).logits
        for row in range(BATCH):
            single = {name: value[row : row + 1] for name, value in batch.items()}
            # padding differs when a row is tokenized alone; drop the padded columns of this row
            for prefix in ("caption", "image_text"):
                length = int(single[f"{prefix}_attention_mask"].sum())
                single[f"{prefix}_input_ids"] = single[f"{prefix}_input_ids"][:, :length]
                single[f"{prefix}_attention_mask"] = single[f"{prefix}_attention_mask"][:, :length]
            alone = model(**single).logits
            torch.testing.assert_close(alone[0], together[row], atol=1e-5, rtol=1e-4)


def test_present_shape_mismatch_names_both_shapes(tiny: tuple[ModerationModel, ModerationProcessor]) -> None:
    model, _ = tiny
    features = {
        "caption": torch.zeros(4, 32),
        "image_pixels": torch.zeros(4, 32),
        "image_text": torch.zeros(4, 32),
    }
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(4, 2\)"):
        model.fuse_features(**features, present=torch.ones(4, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3, 3\)"):
        model.fuse_features(**features, present=torch.ones(3, 3, dtype=torch.bool))


# ----- loss --------------------------------------------------------------------------------------


def test_loss_only_when_labels_are_given(tiny: tuple[ModerationModel, ModerationProcessor]) -> None:
    model, processor = tiny
    batch = inputs(processor, ALL)
    with torch.no_grad():
        without = model(**batch)
        labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
        with_labels = model(**batch, labels=labels)
    assert without.loss is None
    assert with_labels.loss is not None and with_labels.loss.ndim == 0
    expected = torch.nn.functional.binary_cross_entropy_with_logits(with_labels.logits, labels)
    torch.testing.assert_close(with_labels.loss, expected)


def test_label_mask_excludes_labels_from_the_loss() -> None:
    logits = torch.tensor([[0.3, -1.2, 2.0], [1.5, 0.1, -0.4]])
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]])
    labels = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    base = ModerationModel.loss(logits, labels, mask)
    flipped_masked = labels.clone()
    flipped_masked[0, 2], flipped_masked[1, 0] = 1.0, 1.0  # both masked out
    torch.testing.assert_close(ModerationModel.loss(logits, flipped_masked, mask), base)
    flipped_known = labels.clone()
    flipped_known[0, 0] = 0.0  # annotated
    assert not torch.isclose(ModerationModel.loss(logits, flipped_known, mask), base)
    per_label = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    torch.testing.assert_close(base, per_label[mask.bool()].mean())


def test_loss_rejects_labels_of_the_wrong_shape() -> None:
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(2, 2\)"):
        ModerationModel.loss(torch.zeros(2, 3), torch.zeros(2, 2), None)


# ----- modality dropout ----------------------------------------------------------------------------


def test_modality_dropout_never_removes_every_modality_of_a_row() -> None:
    config = tiny_config()
    config.modality_dropout = 0.9
    model = ModerationModel(config).train()
    torch.manual_seed(0)
    present = torch.tensor(
        [[True, True, True], [True, False, False], [False, True, True], [False, False, False]] * 64
    )
    dropped_any = False
    for _ in range(20):
        kept = model._drop_modalities(present)
        assert not (kept & ~present).any(), "dropout must never add a modality"
        assert kept[present.any(dim=1)].any(dim=1).all(), "a row with content lost all of it"
        dropped_any |= bool((kept != present).any())
    assert dropped_any, "with p=0.9 some modality must have been hidden"


def test_train_mode_keeps_a_rows_only_modality() -> None:
    """End to end: a caption-only row scores the same in train and eval mode when dropout cannot drop it."""
    config = tiny_config()
    config.modality_dropout, config.dropout = 0.9, 0.0
    torch.manual_seed(0)
    model = ModerationModel(config)
    features = {
        "caption": torch.randn(8, 32),
        "image_pixels": torch.randn(8, 32),
        "image_text": torch.randn(8, 32),
    }
    present = torch.tensor([[True, False, False]] * 8)
    with torch.no_grad():
        expected = model.eval().fuse_features(**features, present=present).logits
        trained = model.train().fuse_features(**features, present=present).logits
        full = model.train().fuse_features(**features, present=torch.ones(8, 3, dtype=torch.bool)).logits
        full_eval = model.eval().fuse_features(**features, present=torch.ones(8, 3, dtype=torch.bool)).logits
    torch.testing.assert_close(trained, expected)
    assert not torch.allclose(full, full_eval), "p=0.9 on three present modalities must change some row"


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="modality_dropout"):
        dataclasses.replace(tiny_config(), modality_dropout=1.0)
    with pytest.raises(ValueError, match="fusion"):
        dataclasses.replace(tiny_config(), fusion="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="divisible"):
        dataclasses.replace(tiny_config(), hidden_dim=30)
    with pytest.raises(ValueError, match="unique"):
        dataclasses.replace(tiny_config(), labels=("hate", "hate"))
    with pytest.raises(ValueError, match="ensemble modes"):
        dataclasses.replace(tiny_config(), ensemble=("sum", "max"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least two heads"):
        dataclasses.replace(tiny_config(), ensemble=("sum",))


def test_config_json_round_trip(tmp_path: Path) -> None:
    for config in (
        tiny_config(fusion="attention"),
        dataclasses.replace(tiny_config(), ensemble=FUSION_MODES),
    ):
        path = tmp_path / "config.json"
        config.save(path)
        assert ModerationConfig.load(path) == config


# ----- ensembles of fusion heads ------------------------------------------------------------------


def heads_on_one_tower(seed: int) -> list[ModerationModel]:
    """One model per fusion mode sharing one pair of towers, as the recipe's heads do."""
    base, _ = build_tiny_model(fusion="concat", seed=seed)
    members = []
    for index, mode in enumerate(FUSION_MODES):
        torch.manual_seed(seed + 1 + index)
        config = dataclasses.replace(tiny_config(), fusion=mode)
        members.append(
            ModerationModel(config, text_encoder=base.text_encoder, image_encoder=base.image_encoder).eval()
        )
    return members


def test_an_ensemble_scores_the_mean_of_its_heads_logits() -> None:
    members = heads_on_one_tower(seed=4)
    ensemble = ensemble_of(members)
    assert ensemble.config.head_fusions == FUSION_MODES and len(ensemble.heads) == 4
    assert ensemble.config.review_thresholds == {} and ensemble.config.training == {}
    generator = torch.Generator().manual_seed(5)
    features = {
        "caption": torch.randn(4, ensemble.text_dim, generator=generator),
        "image_pixels": torch.randn(4, ensemble.image_dim, generator=generator),
        "image_text": torch.randn(4, ensemble.text_dim, generator=generator),
        "present": torch.tensor(
            [[True, True, True], [True, False, False], [False, True, True], [False, False, True]]
        ),
    }
    with torch.no_grad():
        expected = torch.stack([m.fuse_features(**features).logits for m in members]).mean(dim=0)
        out = ensemble.fuse_features(**features)
    assert torch.allclose(out.logits, expected, atol=1e-6)
    assert out.gates is None  # one gated head among four: its gates are not the ensemble's
    # the heads are copies: training a member afterwards leaves the ensemble as it was
    with torch.no_grad():
        members[0].fusion_heads[0].null_tokens.add_(1.0)
        assert torch.equal(ensemble.fuse_features(**features).logits, out.logits)


def test_an_ensemble_saves_and_loads_like_any_checkpoint(tmp_path: Path) -> None:
    from models.checkpoint import load_checkpoint, save_checkpoint

    ensemble = ensemble_of(heads_on_one_tower(seed=6))
    _, processor = build_tiny_model()
    save_checkpoint(ensemble, processor, tmp_path / "ensemble")
    loaded, _, _ = load_checkpoint(tmp_path / "ensemble")
    assert loaded.config.ensemble == FUSION_MODES
    present = torch.tensor([[True, True, True], [True, False, True]])
    features = {
        "caption": torch.randn(2, ensemble.text_dim),
        "image_pixels": torch.randn(2, ensemble.image_dim),
        "image_text": torch.randn(2, ensemble.text_dim),
    }
    with torch.no_grad():
        assert torch.allclose(
            loaded.fuse_features(**features, present=present).logits,
            ensemble.fuse_features(**features, present=present).logits,
            atol=1e-6,
        )


def test_ensemble_members_must_share_their_towers() -> None:
    first, _ = build_tiny_model(fusion="sum", seed=1)
    second, _ = build_tiny_model(fusion="gated", seed=2)
    with pytest.raises(ValueError, match="share their text and image towers"):
        ensemble_of([first, second])
    with pytest.raises(ValueError, match="at least two members"):
        ensemble_of([first])


# ----- what is frozen and what is persisted -------------------------------------------------------


def test_persisted_state_dict_keeps_everything_for_random_towers() -> None:
    model, _ = build_tiny_model()
    assert set(model.persisted_state_dict()) == set(model.state_dict())


def test_persisted_state_dict_for_packaged_towers_keeps_only_trained_weights(tmp_path: Path) -> None:
    config = tiny_config()
    config.text_encoder = TextEncoderConfig(source="package", trainable_layers=2, max_length=32)
    random_image = config.image_encoder
    # A frozen image tower "from a folder": its weights come from there, never from the checkpoint.
    config.image_encoder = dataclasses.replace(random_image, source="path", path=str(tmp_path))
    model = ModerationModel(config, image_encoder=HFVisionFeatures(random_image))
    assert model.num_text_layers == 6  # the real all-MiniLM-L6-v2
    kept = set(model.persisted_state_dict())
    text_kept = {name for name in kept if name.startswith("text_encoder.")}
    assert text_kept, "the fine-tuned text layers must be saved"
    assert all(
        name.startswith(("text_encoder.encoder.layer.4.", "text_encoder.encoder.layer.5."))
        for name in text_kept
    )
    all_top = {
        n
        for n in model.state_dict()
        if n.startswith(("text_encoder.encoder.layer.4.", "text_encoder.encoder.layer.5."))
    }
    assert text_kept == all_top
    assert not any(name.startswith("image_encoder.") for name in kept)
    own = {n for n in model.state_dict() if not n.startswith(("text_encoder.", "image_encoder."))}
    assert own <= kept  # projections, null tokens, fusion, head
    # what is saved is exactly what training may change
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert {n for n in trainable if n.startswith("text_encoder.")} == {
        n for n in text_kept if n in dict(model.named_parameters())
    }
    assert not any(n.startswith("image_encoder.") for n in trainable)


# ----- shared text projection ---------------------------------------------------------------------


def test_shared_projection_scores_a_text_alike_in_caption_or_image() -> None:
    # The caption and the image text share their projection, so the same words give the same
    # token up to the learned "came from the image" offset: with a zero offset, swapping the
    # slots of a text changes nothing for the symmetric sum fusion.
    model, _ = build_tiny_model(fusion="sum")
    assert model.config.share_text_projection and not hasattr(model.fusion_heads[0], "image_text_proj")
    model.eval()
    text = torch.randn(1, model.text_dim)
    pixels = torch.zeros(1, model.image_dim)
    with torch.no_grad():
        model.fusion_heads[0].image_text_offset.zero_()
        model.fusion_heads[0].null_tokens[2] = model.fusion_heads[0].null_tokens[0]
        as_caption = model.fuse_features(
            caption=text,
            image_pixels=pixels,
            image_text=torch.zeros_like(text),
            present=torch.tensor([[True, False, False]]),
        ).logits
        as_image_text = model.fuse_features(
            caption=torch.zeros_like(text),
            image_pixels=pixels,
            image_text=text,
            present=torch.tensor([[False, False, True]]),
        ).logits
    torch.testing.assert_close(as_caption, as_image_text)


def test_checkpoints_from_before_the_shared_projection_still_load() -> None:
    data = tiny_config().to_dict()
    del data["share_text_projection"]
    config = ModerationConfig.from_dict(data)
    assert config.share_text_projection is False
    model = ModerationModel(config)
    assert hasattr(model.fusion_heads[0], "image_text_proj") and not hasattr(
        model.fusion_heads[0], "image_text_offset"
    )
