"""The Moderator on a tiny random checkpoint: plumbing, attribution, input errors, the OCR path."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from PIL import Image

from models.errors import CheckpointError, EmptyPostError, InputError, TextTooLongError
from models.inference import InferenceOptions, Moderator
from models.ocr import OcrEngine
from models.preprocessing import ModerationProcessor
from models.segmentation import WordSegmenter
from models.types import MODALITIES, ModerationResult, PostContent

LABELS = ("hate", "offensive", "toxic")


def check_result(result: ModerationResult, present: tuple[str, ...]) -> None:
    assert set(result.scores) == set(LABELS)
    assert all(0.0 <= value <= 1.0 and math.isfinite(value) for value in result.scores.values())
    assert result.modalities_present == present
    assert set(result.attribution) == set(LABELS)
    for label, shares in result.attribution.items():
        assert set(shares) == set(MODALITIES)
        assert all(value >= 0.0 for value in shares.values()), label
        total = sum(shares.values())
        assert total == pytest.approx(1.0, abs=1e-3) or total == 0.0, (label, shares)
        absent = set(MODALITIES) - set(present)
        assert all(shares[name] == 0.0 for name in absent), (
            f"{label}: share given to an absent modality {shares}"
        )


def test_scores_text_only_image_only_and_both(tiny_moderator: Moderator, photo: Image.Image) -> None:
    text, image, both = tiny_moderator.score(
        [
            PostContent(text="have a nice day"),
            PostContent(image=photo),
            PostContent(text="have a nice day", image=photo),
        ]
    )
    check_result(text, ("caption",))
    check_result(image, ("image_pixels",))  # the tiny checkpoint has OCR off
    check_result(both, ("caption", "image_pixels"))
    assert text.ocr_text is None
    assert image.ocr_text == ""
    assert text.scores != both.scores  # the image changes the score


def test_a_single_modality_gets_all_of_the_credit_or_none(tiny_moderator: Moderator) -> None:
    (result,) = tiny_moderator.score([PostContent(text="stay away from us")])
    for shares in result.attribution.values():
        assert shares["caption"] in (0.0, 1.0)


def test_batch_scores_match_single_scores(tiny_moderator: Moderator, photo: Image.Image) -> None:
    posts = [
        PostContent(text="first post"),
        PostContent(image=photo, ocr_text="meme words"),
        PostContent(text="third", image=photo),
    ]
    batch = tiny_moderator.score(posts)
    for post, result in zip(posts, batch, strict=True):
        (alone,) = tiny_moderator.score([post])
        assert alone.scores == pytest.approx(result.scores, abs=1e-5)


def test_scores_are_deterministic(
    tiny_moderator: Moderator, tiny_checkpoint: Path, photo: Image.Image
) -> None:
    post = PostContent(text="same post twice", image=photo)
    first = tiny_moderator.score([post])[0]
    assert tiny_moderator.score([post])[0] == first
    assert Moderator.load(tiny_checkpoint).score([post])[0] == first


def test_metadata(tiny_moderator: Moderator, tiny_checkpoint: Path) -> None:
    assert tiny_moderator.labels == LABELS
    assert tiny_moderator.version == "tiny-random-0"
    assert tiny_moderator.review_thresholds == {"hate": 0.5, "offensive": 0.5, "toxic": 0.5}
    assert len(tiny_moderator.sha256) == 64
    assert tiny_moderator.score([]) == []


def test_empty_post_is_refused(tiny_moderator: Moderator) -> None:
    for post in (PostContent(), PostContent(text=""), PostContent(text="  \n\t ")):
        with pytest.raises(EmptyPostError, match="neither text nor image") as info:
            tiny_moderator.score([PostContent(text="fine"), post])
        assert info.value.code == "empty_post"
        assert isinstance(info.value, InputError)


def test_text_longer_than_the_limit_is_refused(tiny_moderator: Moderator) -> None:
    limit = tiny_moderator.model.config.max_text_chars
    tiny_moderator.score([PostContent(text="a" * limit)])  # exactly at the limit is fine
    with pytest.raises(TextTooLongError, match=rf"{limit + 1:,} characters.*limit of {limit:,}") as info:
        tiny_moderator.score([PostContent(text="a" * (limit + 1))])
    assert info.value.code == "text_too_long"


def test_given_ocr_text_is_used(tiny_moderator: Moderator, photo: Image.Image) -> None:
    with_text, without = tiny_moderator.score(
        [PostContent(image=photo, ocr_text="  go   back home  "), PostContent(image=photo, ocr_text="")]
    )
    check_result(with_text, ("image_pixels", "image_text"))
    check_result(without, ("image_pixels",))
    assert with_text.ocr_text == "go back home"
    assert with_text.scores != without.scores


class FakeOcr(OcrEngine):
    """Stands in for RapidOCR: returns a fixed, badly spaced reading and counts its calls."""

    def __init__(self, reading: str) -> None:
        super().__init__()
        self.reading = reading
        self.calls = 0

    def read(self, image: Image.Image, spare: object = None) -> str:
        self.calls += 1
        return self.reading


@pytest.fixture
def spacing_moderator(tiny_moderator: Moderator) -> tuple[Moderator, FakeOcr]:
    segmenter = WordSegmenter(["you", "people", "are", "not", "welcome", "here", "go", "home"])
    ocr = FakeOcr("YOUPEOPLE are notwelcome  here")
    processor = ModerationProcessor(
        tiny_moderator.model.config, tiny_moderator.processor.tokenizer, ocr=ocr, segmenter=segmenter
    )
    return Moderator(tiny_moderator.model, processor, sha256=tiny_moderator.sha256), ocr


def test_ocr_runs_only_when_no_text_is_given_and_spacing_is_repaired(
    spacing_moderator: tuple[Moderator, FakeOcr], photo: Image.Image
) -> None:
    moderator, ocr = spacing_moderator
    (read,) = moderator.score([PostContent(image=photo)])
    assert ocr.calls == 1
    assert read.ocr_text == "you people are not welcome here"
    assert "image_text" in read.modalities_present
    (given,) = moderator.score([PostContent(image=photo, ocr_text="gohome  now")])
    assert ocr.calls == 1, "OCR must not run when the text inside the image is already known"
    assert given.ocr_text == "go home now"  # a given text is repaired the same way
    (text_only,) = moderator.score([PostContent(text="no image here")])
    assert ocr.calls == 1 and text_only.ocr_text is None


@pytest.mark.parametrize(
    "options", [InferenceOptions(), InferenceOptions(cache_entries=8)], ids=["plain", "fast"]
)
def test_the_moderators_own_read_handed_back_is_not_repaired_again(
    spacing_moderator: tuple[Moderator, FakeOcr], photo: Image.Image, options: InferenceOptions
) -> None:
    # the service's OCR lane reads with read_image_text and hands the text back with the post: it
    # must be scored as scoring the image directly would, not repaired a second time
    plain, _ = spacing_moderator
    moderator = Moderator(plain.model, plain.processor, sha256=plain.sha256, options=options)
    assert moderator.options.plain == (options.cache_entries == 0)
    read = moderator.read_image_text(photo)
    (direct,) = moderator.score([PostContent(image=photo)])
    (handed_back,) = moderator.score([PostContent(image=photo, ocr_text=read, ocr_text_repaired=True)])
    assert handed_back.ocr_text == direct.ocr_text == read
    assert handed_back.scores == direct.scores
    (marked,) = moderator.score([PostContent(image=photo, ocr_text="gohome now", ocr_text_repaired=True)])
    assert marked.ocr_text == "gohome now"  # marked as repaired: used as it is


def test_missing_bundled_checkpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("models.inference.DEFAULT_CHECKPOINT", tmp_path / "default_checkpoint")
    with pytest.raises(CheckpointError, match="bundled checkpoint is missing"):
        Moderator.load()


# ----- long texts: read whole, window by window --------------------------------------------------

LONG_CAPTION = " ".join(f"plain word{i} here" for i in range(40)) + " and then stay away from us forever"


def reading(moderator: Moderator, *, whole: bool) -> Moderator:
    """The same model and processor, reading long texts whole or cut at the tower's length."""
    return Moderator(
        moderator.model,
        moderator.processor,
        sha256=moderator.sha256,
        options=InferenceOptions(read_whole_texts=whole),
    )


def test_a_long_caption_takes_each_labels_best_window(tiny_moderator: Moderator) -> None:
    windows = tiny_moderator.processor.text_windows(LONG_CAPTION)
    assert len(windows) >= 3
    (post,) = tiny_moderator.score([PostContent(text=LONG_CAPTION)])
    alone = tiny_moderator.score([PostContent(text=window) for window in windows])
    check_result(post, ("caption",))
    for label in LABELS:
        assert post.scores[label] == pytest.approx(max(r.scores[label] for r in alone), abs=1e-5)
    # the maxima come from more than the first window, or the test would show nothing
    assert any(post.scores[label] > alone[0].scores[label] + 1e-4 for label in LABELS)


def test_a_short_caption_is_one_window_and_scores_as_before(tiny_moderator: Moderator) -> None:
    text = "stay away from us forever"
    assert tiny_moderator.processor.text_windows(text) == [text]
    whole, cut = (reading(tiny_moderator, whole=w).score([PostContent(text=text)])[0] for w in (True, False))
    assert whole == cut


def test_with_whole_texts_off_only_the_first_tokens_count(tiny_moderator: Moderator) -> None:
    cut = reading(tiny_moderator, whole=False)
    ending_a, ending_b = (LONG_CAPTION + " " + tail for tail in ("good night", "go away now you"))
    a, b = cut.score([PostContent(text=ending_a), PostContent(text=ending_b)])
    assert a.scores == b.scores  # the tokenizer cut both before their endings
    whole_a, whole_b = tiny_moderator.score([PostContent(text=ending_a), PostContent(text=ending_b)])
    assert whole_a.scores != whole_b.scores  # read whole, the endings are read


def test_a_long_image_text_beside_a_caption_is_read_whole(
    tiny_moderator: Moderator, photo: Image.Image
) -> None:
    post = PostContent(text="look at this", image=photo, ocr_text=LONG_CAPTION)
    (result,) = tiny_moderator.score([post])
    check_result(result, ("caption", "image_pixels", "image_text"))
    windows = tiny_moderator.processor.text_windows(LONG_CAPTION)
    alone = tiny_moderator.score([PostContent(text="look at this", image=photo, ocr_text=w) for w in windows])
    for label in LABELS:
        assert result.scores[label] == pytest.approx(max(r.scores[label] for r in alone), abs=1e-5)
        best = max(alone, key=lambda r: r.scores[label])
        assert result.attribution[label] == pytest.approx(best.attribution[label], abs=1e-3)
