"""Scoring rules and reports of models/evaluate.py on hand-made scores (no model, no OCR)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from models.data.memes import MemeSpec
from models.data.multimodal import MultimodalExample
from models.data.sources import BENIGN, FULL_MASK
from models.evaluate import (
    TARGETS,
    Evaluator,
    SuiteImagePost,
    _shown_path,
    _threshold_sweep,
    case_passes,
    check_targets,
    format_functional_table,
    format_read_quality,
    functional_report,
    sibling_variants,
    suite_image_posts,
    with_rendered_text,
)
from models.features import FeatureSet, OcrCache
from models.inference import DEFAULT_CHECKPOINT
from models.preprocessing import ModerationProcessor
from models.sampling_intervals import wilson_interval
from models.suite import BLAND_CAPTIONS, FunctionalCase, build_suite
from models.suite.benign_images import ood_benign_images, ood_benign_posts
from models.target_intervals import settled

LABELS = ("hate", "offensive", "toxic")
THRESHOLDS = {"hate": 0.5, "offensive": 0.5, "toxic": 0.5}


def case(label: str, functionality: str = "f") -> FunctionalCase:
    return FunctionalCase(
        text="t",
        functionality=functionality,
        label=label,
        template=f"{functionality}_1",
        target=None,
        case_id="c",
    )


def test_pass_rules_per_label() -> None:
    hate, offensive, nothing = np.array([0.9, 0.1, 0.9]), np.array([0.1, 0.9, 0.9]), np.array([0.1, 0.1, 0.1])
    assert case_passes(case("hateful"), hate, LABELS, THRESHOLDS)
    assert not case_passes(case("hateful"), offensive, LABELS, THRESHOLDS)
    assert case_passes(case("non_hateful_offensive"), offensive, LABELS, THRESHOLDS)
    assert not case_passes(case("non_hateful_offensive"), hate, LABELS, THRESHOLDS)
    assert case_passes(case("benign"), nothing, LABELS, THRESHOLDS)
    assert not case_passes(case("benign"), offensive, LABELS, THRESHOLDS)  # any flag fails a benign case


def test_functional_report_counts_per_functionality_and_label() -> None:
    cases = [case("hateful", "derog_emotion")] * 4 + [case("benign", "negated_hate")] * 2
    scores = np.array([[0.9, 0, 0.9]] * 3 + [[0.1, 0, 0.1]] + [[0.1, 0.1, 0.1], [0.9, 0.1, 0.9]])
    report = functional_report(cases, scores, LABELS, THRESHOLDS)
    assert report["accuracy"] == 4 / 6
    assert report["hateful_caught"] == 0.75 and report["non_hateful_left_alone"] == 0.5
    assert report["by_functionality"]["derog_emotion"] == {"accuracy": 0.75, "n": 4, "label": "hateful"}
    assert report["worst_functionality"] == "negated_hate" and report["worst_functionality_accuracy"] == 0.5


def test_rendered_text_replaces_only_the_rendered_images_ocr_read() -> None:
    n, dim = 3, 4
    images = FeatureSet(
        caption=torch.ones(n, dim),
        image_pixels=torch.full((n, 5), 2.0),
        image_text=torch.tensor([[7.0] * dim, [0.0] * dim, [8.0] * dim]),  # OCR read nothing in image 1
        present=torch.tensor([[True, True, True], [True, True, False], [True, True, True]]),
        targets=torch.zeros(n, 3),
        mask=torch.ones(n, 3),
        kinds=["a", "b", "c"],
    )
    texts = FeatureSet(
        caption=torch.arange(n * dim, dtype=torch.float32).view(n, dim),
        image_pixels=torch.zeros(n, 5),
        image_text=torch.zeros(n, dim),
        present=torch.tensor([[True, False, False]] * n),
        targets=torch.zeros(n, 3),
        mask=torch.ones(n, 3),
        kinds=["t"] * n,
    )
    rendered = with_rendered_text(images, texts, [True, True, False])  # image 2 shows a photo, not a text

    assert torch.equal(rendered.image_text[:2], texts.caption[:2])
    assert torch.equal(rendered.image_text[2], images.image_text[2])
    assert rendered.present[:, 2].tolist() == [True, True, True]
    assert torch.equal(rendered.image_pixels, images.image_pixels) and torch.equal(
        rendered.caption, images.caption
    )
    assert images.present[1, 2].item() is False  # the OCR features are not modified in place


def _functional_result(overall: float, derog_emotion: float) -> dict[str, object]:
    """A functional report with one functionality, as models.evaluate writes it."""
    return {
        "accuracy": overall,
        "hateful_caught": 0.5,
        "non_hateful_left_alone": 0.5,
        "by_functionality": {"derog_emotion": {"accuracy": derog_emotion, "n": 2, "label": "hateful"}},
    }


def test_functional_table_shows_the_rendered_column_when_the_report_has_it() -> None:
    result = _functional_result(0.5, 0.5)
    rendered = _functional_result(0.875, 0.75)
    old = format_functional_table({"functional_text": result, "functional_image": result})
    new = format_functional_table(
        {"functional_text": result, "functional_image": result, "functional_image_rendered_text": rendered}
    )
    assert "0.750" in new.splitlines()[2] and "0.875" in new and "0.750" not in old
    assert old.splitlines()[2].rstrip().endswith("-")  # an older report: no rendered numbers


def test_threshold_sweep_reports_precision_recall_and_fpr() -> None:
    n = 4
    features = FeatureSet(
        caption=torch.zeros(n, 2),
        image_pixels=torch.zeros(n, 2),
        image_text=torch.zeros(n, 2),
        present=torch.ones(n, 3, dtype=torch.bool),
        targets=torch.tensor([[1.0, 0, 1], [1.0, 0, 1], [0, 0, 0], [0, 0, 0]]),
        mask=torch.ones(n, 3),
        kinds=["x"] * n,
    )
    scores = np.array([[0.95, 0, 0.95], [0.45, 0, 0.45], [0.55, 0, 0.55], [0.05, 0, 0.05]])
    sweep = _threshold_sweep(scores, features, LABELS)
    at_half = next(row for row in sweep["hate"] if row["threshold"] == 0.5)
    assert at_half["recall"] == 0.5 and at_half["false_positive_rate"] == 0.5 and at_half["precision"] == 0.5
    assert at_half["precision_at_10pct"] < at_half["precision"]


def test_every_suite_case_becomes_an_image_post_with_a_bland_caption() -> None:
    cases = build_suite()[::50]
    ood = ood_benign_posts(BLAND_CAPTIONS)
    posts = suite_image_posts(cases, [], ood, seed=1)
    assert len(posts) == len(cases) and all(isinstance(p, SuiteImagePost) for p in posts)
    for post, source in zip(posts, cases, strict=True):
        assert post.case == source and post.caption is not None and post.image is not None
        if source.functionality == "bland_caption":
            assert post.caption == source.text  # the caption itself, on an out-of-distribution image
            assert post.image.text == "" or post.image.style == "document"
        else:
            assert post.image.text == source.text and post.caption in BLAND_CAPTIONS
            assert post.image.font in (8, 9, 10)  # held-out faces only


def test_ood_benign_set_has_every_source_and_is_benign() -> None:
    images = ood_benign_images()
    sources = {i.source.split(":")[0] for i in images}
    assert {"skimage", "matplotlib", "art", "chart", "document"} <= sources
    documents = [i.spec.text for i in images if i.source == "document"]
    assert len(set(documents)) == len(documents) >= 30
    assert all(
        i.spec.background.split(":")[1] in ("rings", "mosaic", "flow", "julia")
        for i in images
        if i.source.startswith("art")
    )
    posts = ood_benign_posts(BLAND_CAPTIONS)
    assert len(posts) == 3 * len(images)
    assert all(p.targets == BENIGN and p.mask == FULL_MASK for p in posts)
    assert sum(p.caption is None for p in posts) == len(images)
    assert ood_benign_posts(BLAND_CAPTIONS) == posts


def test_ood_benign_set_can_show_its_target_with_nothing_flagged() -> None:
    """0 flagged must put the bland-caption rate's whole 95 % interval under the 1 % target, with
    or without the icon theme: a smaller set could only ever report the target as not settled."""
    target = TARGETS["ood_benign_bland_caption_flag_rate"]
    with_icons = sum(p.caption is not None for p in ood_benign_posts(BLAND_CAPTIONS))
    without_icons = 2 * sum(i.source != "icon" for i in ood_benign_images())
    for bland in (with_icons, without_icons):
        assert wilson_interval(0, bland)[1] <= target, bland


def test_bundled_report_targets_follow_from_its_rows() -> None:
    """The committed report's verdicts are what check_targets says of its own rows, with the
    direction of each target recorded (models.compare_reports reads it)."""
    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    recomputed = check_targets(report["rows"], report["checkpoint"]["variant"])
    assert recomputed.keys() == report["targets"].keys()
    for name, verdict in recomputed.items():
        # a target the report cannot measure (the fusion gain needs the baseline variants) is NaN
        assert verdict["measured"] == pytest.approx(report["targets"][name]["measured"], nan_ok=True), name
        assert verdict["met"] == report["targets"][name]["met"], name
    assert recomputed["coco_false_positive_rate"]["higher_is_better"] is False
    assert recomputed["functional_text_accuracy"]["higher_is_better"] is True


def test_bundled_report_targets_carry_their_intervals() -> None:
    """Every target the bundled report measures has its 95 % interval and whether it settles the
    verdict; the fusion gain, n/a without the baseline heads, has none."""
    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    for name, verdict in report["targets"].items():
        if verdict["met"] is None:
            assert "interval_95" not in verdict, name
            continue
        low, high = verdict["interval_95"]
        assert low <= high, name
        assert verdict["settled"] == settled((low, high), verdict["target"], verdict["higher_is_better"]), (
            name
        )


def test_only_the_training_runs_own_variants_join_the_report(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    for name, version in {
        "concat": "pg-1",
        "sum": "pg-1-sum",
        "image_only": "pg-1-image_only",
        "gated": "pg-2-gated",  # another run's head left in the same folder
        "notes": None,  # not a checkpoint
    }.items():
        folder = tmp_path / name
        folder.mkdir()
        if version is not None:
            (folder / "manifest.json").write_text("{}", encoding="utf-8")
            (folder / "config.json").write_text(json.dumps({"version": version}), encoding="utf-8")
    with caplog.at_level("WARNING", logger="models.evaluate"):
        found = sibling_variants(tmp_path, "pg-1")
    assert sorted(found) == ["concat", "image_only", "sum"]
    assert "a variant of pg-2-gated, not of pg-1" in caplog.text


def test_functional_table_shows_the_stray_column_when_the_report_has_it() -> None:
    result = _functional_result(0.5, 0.5)
    stray = _functional_result(0.5, 0.25)
    table = format_functional_table(
        {"functional_text": result, "functional_image": result, "functional_text_with_stray": stray}
    )
    header, _, row = table.splitlines()[:3]
    assert header.split()[-1] == "+stray" and row.split()[-1] == "0.250"


class _LowercaseRepair(ModerationProcessor):
    """A stand-in repair (no tokenizer, no OCR): the read in lower case, "roman i" joined."""

    def __init__(self) -> None:
        pass

    def clean_image_text(self, text: str) -> str:
        return text.lower().replace("roman i", "romani")


def test_read_quality_compares_each_repaired_read_with_the_text_its_image_shows() -> None:
    def post(text: str) -> MultimodalExample:
        image = MemeSpec(text, "color:250,220,60", "card", 0, 34, 0.0, 0)
        return MultimodalExample("lol", image, (0.0, 0.0, 0.0), FULL_MASK, "memes", "test")

    shown, unread = post("Romani people are lazy"), post("never read")
    cache = OcrCache(None)
    assert shown.image is not None
    cache.entries[shown.image.key()] = "ROMAN I people are hazy"
    evaluator = Evaluator.__new__(Evaluator)
    evaluator.memes_image_only, evaluator.memes_held_out = [shown, unread], []
    evaluator.mixed, evaluator.suite_images, evaluator.ocr_cache = [], [], cache

    reads = evaluator.read_quality(_LowercaseRepair())
    # the image never read is left out; "hazy" is one word wrong of four
    assert reads["memes_image_only"] == {"images": 1, "word_error_rate": 0.25, "read_exactly": 0.0}
    assert reads["mixed"]["images"] == 0
    table = format_read_quality({"image_text_reads": reads})
    assert "memes_image_only       1 images  word error rate 0.250  read exactly 0.000" in table


def test_the_bundled_report_measures_how_image_text_is_read() -> None:
    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    reads = report["rows"][report["checkpoint"]["variant"]]["image_text_reads"]
    assert set(reads) == {"memes_image_only", "memes_held_out", "mixed", "functional_image"}
    assert all(r["images"] > 250 and 0.0 < r["word_error_rate"] < 0.5 for r in reads.values())


def test_the_posts_fingerprint_follows_the_posts_not_where_the_data_lies(
    data_dir: Path, tmp_path: Path
) -> None:
    """Reports pair their per-post outcomes only when this matches (models/compare_reports.py)."""
    import shutil

    def fingerprint(root: Path, seed: int = 1) -> str:
        return Evaluator(root, image_only=4, mixed=4, seed=seed, ocr_cache=OcrCache(None)).posts_fingerprint()

    moved = tmp_path / "elsewhere" / "data"
    shutil.copytree(data_dir, moved)
    first = fingerprint(data_dir)
    assert first == fingerprint(data_dir) == fingerprint(moved)  # photos by file name, not path
    assert first != fingerprint(data_dir, seed=2)


def test_the_bundled_report_lists_the_benign_posts_closest_to_review() -> None:
    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    row = report["rows"][report["checkpoint"]["variant"]]
    for name in ("coco_benign", "ood_benign"):
        near = row[name]["closest_to_review"]
        assert len(near) == 5, name
        ratios = [r["score"] / r["threshold"] for r in near]
        assert ratios == sorted(ratios, reverse=True), name
        # nothing in these sets was flagged, so even the nearest post stays under its threshold
        assert row[name]["any_category_false_positive_rate"] > 0 or ratios[0] < 1, name


def test_the_report_names_a_checkpoint_in_the_repository_relative_to_it(tmp_path: Path) -> None:
    assert _shown_path(DEFAULT_CHECKPOINT) == "models/default_checkpoint"
    assert _shown_path(tmp_path / "checkpoint") == str(tmp_path / "checkpoint")  # elsewhere: as given


def test_the_bundled_report_names_no_machine() -> None:
    report = json.loads((Path(__file__).parents[2] / "models" / "eval" / "report.json").read_text())
    assert report["checkpoint"]["path"] == "models/default_checkpoint"
