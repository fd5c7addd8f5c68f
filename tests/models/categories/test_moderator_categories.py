"""The Moderator scores a category bundle beside the checkpoint's own categories."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.categories.bundle import BundleError, save_category
from models.categories.embedding import CategoryEmbedder
from models.categories.examples import CategoryExample
from models.categories.head import CategoryHead
from models.inference import InferenceOptions, Moderator
from models.nsfw import BLOCK_AT, REVIEW_AT, as_category_score
from models.types import PostContent


@pytest.fixture
def bundle(tmp_path: Path, tiny_embedder: CategoryEmbedder) -> Path:
    """Two heads: ``alarm`` follows one embedding direction, ``calm`` the opposite one."""
    direction = tiny_embedder.embed(["ALARM ALARM ALARM"])[0]
    for name, sign in (("alarm", 8.0), ("calm", -8.0)):
        head = CategoryHead(name, (direction * sign).astype(np.float32), 0.0, 0.5, 0.9)
        save_category(
            tmp_path, head, [CategoryExample("x", 1)], encoder_fingerprint=tiny_embedder.fingerprint
        )
    return tmp_path


def _expected(embedder: CategoryEmbedder, text: str, sign: float = 8.0) -> float:
    direction = embedder.embed(["ALARM ALARM ALARM"])[0]
    logit = float(embedder.embed([text])[0] @ (direction * sign))
    return 1 / (1 + np.exp(-logit))


def test_labels_version_and_thresholds_include_the_bundle(tiny_checkpoint: Path, bundle: Path) -> None:
    plain = Moderator.load(tiny_checkpoint)
    moderator = Moderator.load(tiny_checkpoint, categories=bundle)
    assert moderator.labels == (*plain.labels, "alarm", "calm")
    assert moderator.version.startswith(plain.version + "+categories-")
    assert moderator.review_thresholds["alarm"] == 0.5


@pytest.mark.parametrize("options", [InferenceOptions(), InferenceOptions(cache_entries=16)])
def test_a_text_post_gets_its_caption_score(
    tiny_checkpoint: Path, bundle: Path, tiny_embedder: CategoryEmbedder, options: InferenceOptions
) -> None:
    moderator = Moderator.load(tiny_checkpoint, categories=bundle, options=options)
    plain = Moderator.load(tiny_checkpoint, options=options)
    post = PostContent(text="ALARM ALARM ALARM")
    result = moderator.score([post, PostContent(text="a quiet afternoon")])
    assert result[0].scores["alarm"] == pytest.approx(_expected(tiny_embedder, post.text or ""), abs=1e-5)
    assert result[0].scores["alarm"] > result[1].scores["alarm"]
    assert result[0].attribution["alarm"] == {"caption": 1.0, "image_pixels": 0.0, "image_text": 0.0}
    # the checkpoint's own categories are untouched
    own = plain.score([post])[0]
    assert {k: result[0].scores[k] for k in own.scores} == own.scores


def test_a_post_takes_the_higher_of_caption_and_image_text(
    tiny_checkpoint: Path, bundle: Path, tiny_embedder: CategoryEmbedder, photo: Image.Image
) -> None:
    moderator = Moderator.load(tiny_checkpoint, categories=bundle)
    post = PostContent(text="a quiet afternoon", image=photo, ocr_text="ALARM ALARM ALARM")
    result = moderator.score([post])[0]
    caption = _expected(tiny_embedder, "a quiet afternoon")
    image_text = _expected(tiny_embedder, "ALARM ALARM ALARM")
    assert result.scores["alarm"] == pytest.approx(max(caption, image_text), abs=1e-5)
    # only the image text holds the score up: it gets the whole share; the pixels never do
    assert result.attribution["alarm"] == {"caption": 0.0, "image_pixels": 0.0, "image_text": 1.0}
    image_only = moderator.score([PostContent(image=photo, ocr_text="")])[0]
    assert image_only.scores["alarm"] == 0.0
    assert image_only.attribution["alarm"] == {"caption": 0.0, "image_pixels": 0.0, "image_text": 0.0}


def test_a_bundle_fit_on_another_tower_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    head = CategoryHead("alarm", np.zeros(4, dtype=np.float32), 0.0, 0.5, 0.9)
    save_category(tmp_path, head, [CategoryExample("x", 1)], encoder_fingerprint="another tower")
    with pytest.raises(BundleError, match="fit on another text tower"):
        Moderator.load(tiny_checkpoint, categories=tmp_path)


def test_an_optional_bundle_fit_on_another_tower_is_skipped_with_a_warning(
    tiny_checkpoint: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    head = CategoryHead("alarm", np.zeros(4, dtype=np.float32), 0.0, 0.5, 0.9)
    save_category(tmp_path, head, [CategoryExample("x", 1)], encoder_fingerprint="another tower")
    moderator = Moderator.load(tiny_checkpoint, categories=tmp_path, categories_required=False)
    assert moderator.categories is None and "alarm" not in moderator.labels
    assert "example-defined categories are not scored" in caplog.text
    (tmp_path / "alarm" / "card.json").write_text("{}")
    with pytest.raises(BundleError, match="damaged"):  # a damaged bundle is never skipped
        Moderator.load(tiny_checkpoint, categories=tmp_path, categories_required=False)


class _FixedNsfw:
    """Stands in for the open_nsfw detector: one fixed probability per image, calls counted."""

    def __init__(self, probability: float) -> None:
        self.probability = probability
        self.calls = 0
        self.sizes: list[int] = []

    def score(self, images: list[Image.Image]) -> np.ndarray:
        self.calls += 1
        self.sizes.append(len(images))
        return np.full(len(images), self.probability, dtype=np.float32)


def _with_sexual_head(
    tiny_checkpoint: Path,
    tmp_path: Path,
    embedder: CategoryEmbedder,
    nsfw: _FixedNsfw,
    options: InferenceOptions | None = None,
) -> Moderator:
    head = CategoryHead("sexual", np.zeros(embedder.dim, dtype=np.float32), -4.0, 0.4, 0.9)
    save_category(tmp_path, head, [CategoryExample("x", 1)], encoder_fingerprint=embedder.fingerprint)
    loaded = Moderator.load(
        tiny_checkpoint, categories=tmp_path, options=options or InferenceOptions(cache_entries=8)
    )
    return Moderator(
        loaded.model,
        loaded.processor,
        sha256=loaded.sha256,
        options=loaded.options,
        categories=loaded.categories,
        category_embedder=loaded.category_embedder,
        nsfw=nsfw,  # type: ignore[arg-type]
    )


def test_open_nsfw_is_the_sexual_categorys_image_evidence(
    tiny_checkpoint: Path, tmp_path: Path, tiny_embedder: CategoryEmbedder, photo: Image.Image
) -> None:
    nsfw = _FixedNsfw(REVIEW_AT)
    moderator = _with_sexual_head(tiny_checkpoint, tmp_path, tiny_embedder, nsfw)
    text_score = 1 / (1 + np.exp(4.0))  # the zero-weight head's score for any text
    result = moderator.score([PostContent(text="hello", image=photo), PostContent(text="hello")])
    # open_nsfw at its review point lands exactly on the category's review threshold, and wins
    assert result[0].scores["sexual"] == pytest.approx(0.4, abs=1e-5)
    assert result[0].attribution["sexual"] == {"caption": 0.0, "image_pixels": 1.0, "image_text": 0.0}
    assert result[1].scores["sexual"] == pytest.approx(text_score, abs=1e-5)
    assert result[1].attribution["sexual"]["image_pixels"] == 0.0
    moderator.score([PostContent(image=photo)])
    assert nsfw.calls == 1  # the second sight of the same image comes from the cache


def test_open_nsfw_runs_image_chunk_images_at_a_time(
    tiny_checkpoint: Path, tmp_path: Path, tiny_embedder: CategoryEmbedder, photo: Image.Image
) -> None:
    nsfw = _FixedNsfw(0.1)
    options = InferenceOptions(cache_entries=8, image_chunk=2)
    moderator = _with_sexual_head(tiny_checkpoint, tmp_path, tiny_embedder, nsfw, options)
    images = [photo.rotate(angle) for angle in (0, 90, 180, 270, 45)]  # five distinct images
    results = moderator.score([PostContent(image=image) for image in images])
    assert nsfw.sizes == [2, 2, 1]
    expected = as_category_score(0.1, review=0.4, block=0.9)
    assert [r.scores["sexual"] for r in results] == pytest.approx([expected] * 5, abs=1e-5)


def test_without_a_sexual_category_open_nsfw_is_not_run(tiny_checkpoint: Path, bundle: Path) -> None:
    loaded = Moderator.load(tiny_checkpoint, categories=bundle)
    nsfw = _FixedNsfw(0.99)
    moderator = Moderator(
        loaded.model,
        loaded.processor,
        sha256=loaded.sha256,
        categories=loaded.categories,
        category_embedder=loaded.category_embedder,
        nsfw=nsfw,  # type: ignore[arg-type]
    )
    assert moderator.nsfw is None


@pytest.mark.parametrize(
    ("probability", "expected"),
    [(0.0, 0.0), (REVIEW_AT / 2, 0.2), (REVIEW_AT, 0.4), (BLOCK_AT, 0.9), (1.0, 1.0)],
)
def test_open_nsfw_probabilities_map_onto_the_category_thresholds(
    probability: float, expected: float
) -> None:
    assert as_category_score(probability, review=0.4, block=0.9) == pytest.approx(expected)


@pytest.mark.parametrize(
    "options",
    [
        InferenceOptions(cache_entries=16, text_chunk=2),
        InferenceOptions(cache_entries=16, text_runtime="onnxruntime", text_chunk=3),
        InferenceOptions(text_runtime="onnxruntime"),
    ],
)
def test_category_scores_from_the_text_towers_pass_equal_the_reference_path(
    tiny_checkpoint: Path, bundle: Path, options: InferenceOptions
) -> None:
    """The fast path takes the category embeddings from the text tower's own pass (chunked,
    shortest first, on onnxruntime); the plain path embeds each text on its own."""
    texts = [
        "ALARM ALARM ALARM",
        "a quiet afternoon by the river with friends and a long walk",
        "hi",
        "ok then",
        " ".join(f"a quiet word{i}" for i in range(30)) + " ALARM ALARM ALARM",  # read in windows
    ]
    posts = [PostContent(text=t) for t in texts] + [PostContent(text=texts[0])]  # a repeat in the batch
    reference = Moderator.load(tiny_checkpoint, categories=bundle).score(posts)
    fast = Moderator.load(tiny_checkpoint, categories=bundle, options=options)
    assert not fast.options.plain
    for _ in range(2):  # the second time from the caches
        for expected, got in zip(reference, fast.score(posts), strict=True):
            assert got.scores == pytest.approx(expected.scores, abs=1e-5)


@pytest.mark.parametrize("options", [InferenceOptions(), InferenceOptions(cache_entries=16)])
def test_a_long_caption_takes_its_highest_windows_category_score(
    tiny_checkpoint: Path, bundle: Path, tiny_embedder: CategoryEmbedder, options: InferenceOptions
) -> None:
    text = " ".join(f"a quiet word{i}" for i in range(30)) + " ALARM ALARM ALARM"
    moderator = Moderator.load(tiny_checkpoint, categories=bundle, options=options)
    windows = moderator.processor.text_windows(text)
    assert len(windows) > 1 and "ALARM" not in windows[0]
    (result,) = moderator.score([PostContent(text=text)])
    assert result.scores["alarm"] == pytest.approx(
        max(_expected(tiny_embedder, w) for w in windows), abs=1e-5
    )
    assert result.scores["alarm"] > _expected(tiny_embedder, windows[0]) + 1e-4  # not the first window's
    cut = Moderator.load(
        tiny_checkpoint, categories=bundle, options=InferenceOptions(read_whole_texts=False)
    ).score([PostContent(text=text)])[0]
    assert cut.scores["alarm"] == pytest.approx(_expected(tiny_embedder, text), abs=1e-5)
