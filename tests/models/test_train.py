"""Training from a user's own JSONL only (no shared datasets): a smoke run of the whole recipe (slow)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from devtools.testing import build_tiny_model
from models.checkpoint import load_checkpoint, verify_checkpoint
from models.config import FUSION_MODES
from models.data import augment
from models.data.memes import MemeSpec, render_meme
from models.data.sources import TextExample
from models.features import FeatureSet, encode_texts
from models.inference import DEFAULT_CHECKPOINT, Moderator
from models.suite import BLAND_CAPTIONS, build_suite
from models.train import (
    BASELINES,
    ENSEMBLE,
    TrainArgs,
    cache_frozen_layers,
    has_training_slur,
    in_cached_order,
    ocr_vocabulary,
    parse_args,
    resolve_device,
    run,
    select_text_training,
    top_layers_embed,
    train_head,
    tune_three_class,
    weighted_sources,
)
from models.types import PostContent
from models.variant_selection import choose_variant, selection_score

HARMFUL = [
    "those people are vermin and should all go away",
    "you filthy animals do not belong in this country",
    "shut your stupid mouth you worthless clown",
    "nobody wants your disgusting kind around here",
    "go back to where you came from you parasites",
    "you are a pathetic idiot and everyone hates you",
    "people like you should be locked up and forgotten",
    "what a brainless moron you are honestly",
]
BENIGN = [
    "what a lovely day at the beach with family",
    "my grandmother bakes the best bread in town",
    "the new library opens next week downtown",
    "i could kill for a coffee right now honestly",
    "our team finally won the match last night",
    "this recipe needs two eggs and some flour",
    "the sunset over the lake was beautiful today",
    "thanks for helping me move the couch",
]


def rows() -> list[dict[str, object]]:
    """40 text rows (train and val both have harmful and benign texts) and 4 image rows."""
    out: list[dict[str, object]] = []
    for i in range(20):
        split = "val" if i % 4 == 3 else "train"
        harmful = HARMFUL[i % len(HARMFUL)] + (f" number {i}" if i >= len(HARMFUL) else "")
        benign = BENIGN[i % len(BENIGN)] + (f" number {i}" if i >= len(BENIGN) else "")
        labels = {"hate": 1} if i % 2 else {"offensive": 1}
        out.append({"text": harmful, "labels": labels, "split": split})
        out.append({"text": benign, "labels": {"hate": 0, "offensive": 0}, "split": split})
    out += [
        {"image": "img/hate.png", "labels": {"hate": 1}, "split": "train"},
        {
            "image": "img/nice.png",
            "text": "look at this",
            "labels": {"hate": 0, "offensive": 0},
            "split": "train",
        },
        {"image": "img/hate.png", "text": "so true", "labels": {"hate": 1}, "split": "val"},
        {"image": "img/nice.png", "labels": {"hate": 0, "offensive": 0}, "split": "val"},
    ]
    return out


@pytest.fixture
def user_jsonl(tmp_path: Path) -> Path:
    folder = tmp_path / "userdata"
    (folder / "img").mkdir(parents=True)
    for name, text in (("hate", HARMFUL[1]), ("nice", BENIGN[0])):
        spec = MemeSpec(
            text=text,
            background="color:40,90,200",
            style="outlined_center",
            font=0,
            font_size=36,
            noise=0.0,
            jpeg_quality=0,
            width=320,
            height=240,
        )
        render_meme(spec).save(folder / "img" / f"{name}.png")
    path = folder / "posts.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows()), encoding="utf-8")
    return path


@pytest.fixture
def restore_torch_state() -> Iterator[None]:
    """``run`` switches on deterministic algorithms and may change the thread count: undo both."""
    deterministic, warn_only = (
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    threads = torch.get_num_threads()
    yield
    torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)
    torch.set_num_threads(threads)


def test_parse_args_without_shared_data(tmp_path: Path) -> None:
    args = parse_args(
        [
            "--no-shared-data",
            "--train-jsonl",
            str(tmp_path / "x.jsonl"),
            "--quick",
            "--output",
            str(tmp_path / "out"),
            "--memes-train",
            "20",
        ]
    )
    assert args.data_dir is None and args.quick and args.memes_train == 20
    assert args.output == tmp_path / "out"
    assert args.typed_spelling  # on unless asked otherwise
    assert not parse_args(["--no-typed-spelling"]).typed_spelling


@pytest.mark.parametrize("share", ["-0.1", "1.5"])
def test_parse_args_refuses_a_caption_less_swap_outside_0_1(
    share: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        parse_args(["--no-shared-data", "--caption-less-swap", share])
    assert "--caption-less-swap must be in [0, 1]" in capsys.readouterr().err


def test_stray_texts_are_off_by_default_and_refused_below_zero(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--no-shared-data"]).stray_texts == 0
    assert parse_args(["--no-shared-data", "--stray-texts", "4000"]).stray_texts == 4000
    with pytest.raises(SystemExit):
        parse_args(["--no-shared-data", "--stray-texts", "-1"])
    assert "--stray-texts must be >= 0, got -1" in capsys.readouterr().err


def test_device_auto_is_the_gpu_when_torch_sees_one_else_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize(
    ("name", "message"),
    [("cuda", "torch sees no CUDA GPU here"), ("gpu0", "not a device name"), ("meta", "only cpu and cuda")],
)
def test_parse_args_refuses_a_device_this_machine_lacks(
    name: str, message: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(SystemExit):
        parse_args(["--no-shared-data", "--device", name])
    assert message in capsys.readouterr().err


def test_heads_trained_with_an_explicit_device_come_back_on_the_cpu_in_eval_mode() -> None:
    """train_head with ``device=`` trains and hands back an eval-mode model on the CPU. Only the CPU
    exists here: the GPU round trip itself is not exercised by this test (docs/model_card.md)."""
    tiny_model, _ = build_tiny_model()
    n = 8
    features = FeatureSet(
        caption=torch.randn(n, tiny_model.text_dim),
        image_pixels=torch.randn(n, tiny_model.image_dim),
        image_text=torch.randn(n, tiny_model.text_dim),
        present=torch.ones(n, 3, dtype=torch.bool),
        targets=torch.randint(0, 2, (n, 3)).float(),
        mask=torch.ones(n, 3),
        kinds=["text"] * n,
    )
    model = train_head(tiny_model, tiny_model.config, features, epochs=1, seed=0, device=torch.device("cpu"))
    assert {p.device.type for p in model.parameters()} == {"cpu"}
    assert not model.training


def test_the_three_class_cut_is_tuned_on_hatexplain_validation_texts_only_and_reported_by_class() -> None:
    tiny_model, _ = build_tiny_model()
    labels = ["normal", "hatespeech", "offensive", "normal", "offensive", "hatespeech"]
    texts = [
        TextExample(f"post {i}", (0.0,) * 3, (1.0,) * 3, "hatexplain", "val", c) for i, c in enumerate(labels)
    ]
    texts.append(TextExample("a tweet", (0.0,) * 3, (1.0,) * 3, "davidson", "val", "normal"))
    n = len(texts)
    val = FeatureSet(
        caption=torch.randn(n, tiny_model.text_dim, generator=torch.Generator().manual_seed(0)),
        image_pixels=torch.zeros(n, tiny_model.image_dim),
        image_text=torch.zeros(n, tiny_model.text_dim),
        present=torch.tensor([[True, False, False]] * n),
        targets=torch.zeros(n, 3),
        mask=torch.ones(n, 3),
        kinds=["text"] * n,
    )
    tuned = tune_three_class(tiny_model, val, texts)
    assert tuned is not None
    cut, report = tuned
    assert 0.05 <= cut <= 0.95
    assert set(report["three_class_f1_by_class"]) == {"normal", "hatespeech", "offensive"}
    by_class = list(report["three_class_f1_by_class"].values())
    assert report["three_class_macro_f1"] == pytest.approx(sum(by_class) / 3)
    # without HateXplain texts there is nothing to tune
    assert tune_three_class(tiny_model, val.subset([n - 1]), texts[-1:]) is None


def test_the_ocr_vocabulary_has_the_training_words_but_no_obfuscated_spelling_nor_stray() -> None:
    def example(text: str, source: str, split: str = "train") -> TextExample:
        return TextExample(text, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), source, split, "normal")

    corpus = [
        example("they are vermin, vermin I say", "hatexplain"),
        example("a lovely lovely day", "aug_reaction"),
        example("they are vermiin, vermiin I say", "aug_obfuscated_hatexplain"),
        example("zebra zebra", "hatexplain", split="val"),
        example("a lovely lovely day BRUNAIX brunaix", "aug_stray_hatexplain"),
    ]
    words = ocr_vocabulary(corpus, general_words=[]).words
    assert "vermin" in words and "lovely" in words  # source and (real-word) augmented texts
    assert "vermiin" not in words and "zebra" not in words  # obfuscated spellings, validation texts
    assert "brunaix" not in words  # made-up strays
    # The general English words follow the training words, and bring none of the spellings back.
    widened = ocr_vocabulary(corpus).words
    assert widened[: len(words)] == words and {"zebra", "strangle"} <= set(widened[len(words) :])
    assert "vermiin" not in widened and "brunaix" not in widened


def test_run_refuses_to_train_on_nothing(tmp_path: Path) -> None:
    args = parse_args(
        ["--no-shared-data", "--work-dir", str(tmp_path / "work"), "--output", str(tmp_path / "out")]
    )
    with pytest.raises(SystemExit, match="no training data"):
        run(args)


@pytest.mark.slow
def test_training_on_user_data_only(user_jsonl: Path, tmp_path: Path, restore_torch_state: None) -> None:
    output, work = tmp_path / "checkpoint", tmp_path / "work"
    args = TrainArgs(
        data_dir=None,
        output=output,
        work_dir=work,
        seed=3,
        text_epochs=1,
        head_epochs=1,
        trainable_layers=1,
        memes_train=24,
        memes_val=16,
        davidson_cap=10,
        train_jsonl=user_jsonl,
        quick=True,
        threads=None,
        version="smoke-test",
        # the text augmentations scale with the corpus; only the fixed reactions are kept here
        obfuscated_texts=0,
        counter_speech_texts=0,
        identity_swap_texts=0,
        stray_texts=0,
        # the consistency objective's wiring too (off by default)
        consistency_weight=1.0,
        consistency_fraction=0.5,
        # and the choice of the default head by damaged reads too (the default rule is the clean AUROC)
        select_by="with-damaged",
    )
    facts = run(args)

    assert output != DEFAULT_CHECKPOINT
    report = json.loads((work / "training_report.json").read_text())
    assert report["train_jsonl"] == str(user_jsonl) and report["data_dir"] is None
    assert report["davidson_offensive"] is None  # no Davidson tweet asked for
    assert report["consistency"] == {"weight": 1.0, "fraction": 0.5}
    assert report["text_tower"]["epochs"][0]["twin_cosine_distance"] >= 0.0
    # the reactions less those equal to a functional-suite case (never trained on)
    suite = [case.text for case in build_suite()] + list(BLAND_CAPTIONS)
    reactions = len(augment.drop_suite_texts(augment.bland_reactions("train"), suite))
    assert reactions < len(augment.bland_reactions("train"))
    assert report["train_texts"] == 30 + reactions and report["val_texts"] == 10
    assert "aug_reaction" in report["text_sources"] and "user" in report["text_sources"]
    # composed posts (24 / 16), plus a benign twin for each with harm in the image, plus the user's
    # image rows (2 / 2), plus the benign synthetic images (400 by default, 40 in a quick run) and
    # the varied benign images (900 by default, 90 in a quick run)
    assert 24 + 2 + 40 + 90 < report["train_multimodal_posts"] <= 2 * 24 + 2 + 40 + 90
    assert 16 + 2 < report["val_multimodal_posts"] <= 2 * 16 + 2
    assert set(report["variants"]) == {*FUSION_MODES, *BASELINES}
    assert report["default_variant"] in FUSION_MODES
    assert facts["default_variant"] == report["default_variant"]
    # the choice weighs each head's validation AUROC on damaged reads beside the clean one
    for metrics in report["variants"].values():
        assert 0.0 <= metrics["val_damaged_toxic_auroc"] <= 1.0
        assert metrics["selection_score"] == pytest.approx(selection_score(metrics, "with-damaged"))
    assert report["select_by"] == "with-damaged"
    assert report["default_variant"] == choose_variant(report["variants"], FUSION_MODES, "with-damaged")
    for name in report["variants"]:
        verify_checkpoint(work / "variants" / name)

    moderator = Moderator.load(output)
    assert moderator.version == "smoke-test"
    assert moderator.labels == ("hate", "offensive", "toxic")
    assert set(moderator.review_thresholds) == {"hate", "offensive", "toxic"}
    assert (output / "ocr_vocabulary.txt").is_file()  # the OCR repair's vocabulary, from the user's texts
    # captions are read with sure corrections of typed words (on by default), saved in every variant
    assert report["typed_text_spelling"] is True
    assert moderator.processor.read_caption("it should be cellebrated") == "it should be celebrated"
    meme = Image.open(user_jsonl.parent / "img" / "hate.png")
    text, image = moderator.score([PostContent(text=HARMFUL[0]), PostContent(image=meme, ocr_text="")])
    assert text.modalities_present == ("caption",)
    assert all(0.0 <= value <= 1.0 for value in text.scores.values())
    assert image.modalities_present == ("image_pixels",)

    # The heads alone again on this run's tower (--text-tower-from) with another head seed: the
    # tower is copied weight for weight, the heads are a new draw, and the report says both. This
    # run also averages its four fusion heads (--ensemble), a fifth candidate for the default.
    redrawn = replace(
        args,
        output=tmp_path / "redrawn",
        work_dir=tmp_path / "redrawn-work",
        text_tower_from=output,
        head_seed=4,
        consistency_weight=0.0,
        version="smoke-test-heads",
        ensemble=True,
    )
    run(redrawn)
    again = json.loads((redrawn.work_dir / "training_report.json").read_text())
    assert again["head_seed"] == 4 and report["head_seed"] is None
    assert again["ensemble"] is True and report["ensemble"] is False
    assert set(again["variants"]) == {*FUSION_MODES, *BASELINES, ENSEMBLE}
    assert again["default_variant"] == choose_variant(
        again["variants"], (*FUSION_MODES, ENSEMBLE), "with-damaged"
    )
    ensemble, _, _ = load_checkpoint(redrawn.work_dir / "variants" / ENSEMBLE)
    assert ensemble.config.head_fusions == FUSION_MODES and len(ensemble.heads) == len(FUSION_MODES)
    assert set(ensemble.config.review_thresholds) == {"hate", "offensive", "toxic"}
    features = {
        "caption": torch.randn(5, ensemble.text_dim, generator=torch.Generator().manual_seed(5)),
        "image_pixels": torch.randn(5, ensemble.image_dim, generator=torch.Generator().manual_seed(6)),
        "image_text": torch.randn(5, ensemble.text_dim, generator=torch.Generator().manual_seed(7)),
        "present": torch.tensor(
            [[True, True, True], [True, False, False], [False, True, True]] + [[True, True, False]] * 2
        ),
    }
    with torch.no_grad():
        members = [
            load_checkpoint(redrawn.work_dir / "variants" / mode)[0].fuse_features(**features).logits
            for mode in FUSION_MODES
        ]
        assert torch.allclose(
            ensemble.fuse_features(**features).logits, torch.stack(members).mean(dim=0), atol=1e-5
        )
    # and the service loads and scores it like any checkpoint
    served = Moderator.load(redrawn.work_dir / "variants" / ENSEMBLE).score([PostContent(text=HARMFUL[0])])[0]
    assert set(served.scores) == {"hate", "offensive", "toxic"}
    assert again["text_tower"]["reused_from"] == str(output)
    assert again["text_tower"]["source_version"] == "smoke-test"
    first, _, _ = load_checkpoint(work / "variants" / "concat")
    second, _, _ = load_checkpoint(redrawn.work_dir / "variants" / "concat")
    first_weights, second_weights = first.state_dict(), second.state_dict()
    tower = [name for name in first_weights if name.startswith("text_encoder.")]
    heads = [name for name in first_weights if name.startswith("heads.")]
    assert tower and heads
    assert all(torch.equal(first_weights[name], second_weights[name]) for name in tower)
    assert not all(torch.equal(first_weights[name], second_weights[name]) for name in heads)


def test_cached_embeddings_come_back_in_the_order_in_cached_order_gives() -> None:
    """The training texts are paired with their embeddings by position: top_layers_embed returns
    rows in cache order, which in_cached_order must reproduce (texts of varied lengths, shuffled)."""
    model, processor = build_tiny_model(seed=3)
    texts = ["a", "much longer text than the others here", "mid length text", "xy z", "two words"] * 3
    examples = [TextExample(t, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "test", "val", "") for t in texts[::-1]]
    cached = top_layers_embed(model, cache_frozen_layers(model, processor, examples, batch_size=4, desc="t"))
    ordered = in_cached_order(examples, 4)

    assert sorted(e.text for e in ordered) == sorted(texts)
    assert [len(e.text) for e in ordered] == sorted(len(t) for t in texts)
    direct = encode_texts(model, processor, [e.text for e in ordered])
    assert torch.allclose(cached, direct, atol=1e-2)  # the cache keeps the frozen layers in float16


def test_source_weights_scale_the_label_mask_of_that_source_only() -> None:
    hx = TextExample("a post", (1.0, 0.0, 1.0), (1.0, 1.0, 1.0), "hatexplain", "train", "hatespeech")
    other = TextExample("another", (0.0, 0.0, 0.0), (0.0, 1.0, 1.0), "toxigen", "train", "normal")
    weighted = weighted_sources([hx, other], {"hatexplain": 2.0})
    assert weighted[0].mask == (2.0, 2.0, 2.0) and weighted[0].targets == hx.targets
    assert weighted[1] == other
    assert weighted_sources([hx], {}) == [hx]
    with pytest.raises(SystemExit, match="not a source of the training texts"):
        weighted_sources([hx], {"hatexpain": 2.0})
    with pytest.raises(SystemExit, match="above 0"):
        weighted_sources([hx], {"hatexplain": 0.0})


def test_the_head_seed_is_the_seed_unless_given() -> None:
    assert parse_args(["--no-shared-data"]).head_seed is None
    assert parse_args(["--no-shared-data", "--seed", "13", "--head-seed", "14"]).head_seed == 14


def test_parse_args_reads_source_weights(capsys: pytest.CaptureFixture[str]) -> None:
    args = parse_args(
        ["--no-shared-data", "--source-weight", "hatexplain=2", "--source-weight", "toxigen=0.5"]
    )
    assert args.source_weights == {"hatexplain": 2.0, "toxigen": 0.5}
    assert parse_args(["--no-shared-data"]).source_weights == {}
    with pytest.raises(SystemExit):
        parse_args(["--no-shared-data", "--source-weight", "hatexplain"])
    assert "expected SOURCE=WEIGHT" in capsys.readouterr().err


def _davidson(label: str, i: int, split: str = "train") -> TextExample:
    targets = {"hatespeech": (1.0, 0.0, 1.0), "offensive": (0.0, 1.0, 1.0), "normal": (0.0, 0.0, 0.0)}
    return TextExample(f"{label} tweet {i}", targets[label], (1.0, 1.0, 1.0), "davidson", split, label)


def test_the_davidson_cap_keeps_hate_and_benign_tweets_first_and_offensive_ones_only_when_asked() -> None:
    tweets = (
        [_davidson("hatespeech", i) for i in range(3)]
        + [_davidson("normal", i) for i in range(4)]
        + [_davidson("offensive", i) for i in range(20)]
        + [_davidson("offensive", 99, split="val")]
    )
    other = TextExample("a post", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "hatexplain", "train", "normal")

    def labels(selected: list[TextExample]) -> list[str]:
        return sorted(e.source_label for e in selected if e.source == "davidson")

    # the cap fills with offensive tweets only after every hate and benign one ...
    assert labels(select_text_training([*tweets, other], davidson_cap=9, seed=1)).count("offensive") == 2
    # ... so a cap the rarer tweets fill alone keeps no offensive tweet (the default cap does this)
    capped = select_text_training([*tweets, other], davidson_cap=7, seed=1)
    assert labels(capped) == ["hatespeech"] * 3 + ["normal"] * 4 and other in capped
    # --davidson-offensive adds offensive train tweets beyond the cap, at random, the same for a seed
    added = select_text_training(tweets, davidson_cap=7, seed=1, davidson_offensive=5)
    offensive = [e for e in added if e.source_label == "offensive"]
    assert len(offensive) == 5 and all(e.split == "train" for e in offensive)
    assert offensive == [
        e
        for e in select_text_training(tweets, davidson_cap=7, seed=1, davidson_offensive=5)
        if e.source_label == "offensive"
    ]
    assert offensive != [e for e in tweets if e.source_label == "offensive"][:5]
    assert len(select_text_training(tweets, davidson_cap=7, seed=1, davidson_offensive=50)) == 27


def test_davidson_offensive_tweets_with_a_training_slur_are_left_out_unless_asked_for() -> None:
    assert has_training_slur("shut up you fags") and has_training_slur("that is so RETARDED")
    assert not has_training_slur("flights to Pakistan") and not has_training_slur("a coonhound puppy")
    tweets = [_davidson("normal", 0)] + [
        replace(_davidson("offensive", i), text=f"stfu {'faggot' if i % 2 else 'hoe'} {i}") for i in range(10)
    ]
    plain = select_text_training(tweets, davidson_cap=1, seed=2, davidson_offensive=4)
    assert [e.text.split()[1] for e in plain if e.source_label == "offensive"] == ["hoe"] * 4
    # only five tweets have no slur: asking for more gives those five
    assert len(select_text_training(tweets, davidson_cap=1, seed=2, davidson_offensive=8)) == 6
    with_slurs = select_text_training(
        tweets, davidson_cap=1, seed=2, davidson_offensive=8, davidson_offensive_slurs=True
    )
    assert sum(has_training_slur(e.text) for e in with_slurs) > 0 and len(with_slurs) == 9
    assert parse_args(["--no-shared-data", "--davidson-offensive-slurs"]).davidson_offensive_slurs
    # with --davidson-offensive-hate-unknown the added tweets teach offensive and toxic, not "not hate"
    unknown = select_text_training(
        tweets, davidson_cap=1, seed=2, davidson_offensive=4, davidson_offensive_hate_unknown=True
    )
    assert [e.mask for e in unknown if e.source_label == "offensive"] == [(0.0, 1.0, 1.0)] * 4
    assert [e.mask for e in unknown if e.source_label == "normal"] == [(1.0, 1.0, 1.0)]
    assert parse_args(
        ["--no-shared-data", "--davidson-offensive-hate-unknown"]
    ).davidson_offensive_hate_unknown


def test_parse_args_refuses_negative_davidson_offensive(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--no-shared-data"]).davidson_offensive == 0
    assert parse_args(["--no-shared-data", "--davidson-offensive", "3000"]).davidson_offensive == 3000
    with pytest.raises(SystemExit):
        parse_args(["--no-shared-data", "--davidson-offensive", "-1"])
    assert "--davidson-offensive must be 0 or more, got -1" in capsys.readouterr().err
