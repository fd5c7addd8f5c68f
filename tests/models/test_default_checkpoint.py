"""The checkpoint bundled in ``models/default_checkpoint/`` (slow: real towers, real OCR).

Skipped while the checkpoint has not been trained yet (``python -m models.train``).
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from models.data.memes import MemeSpec, render_meme
from models.inference import DEFAULT_CHECKPOINT, InferenceOptions, Moderator
from models.types import PostContent

CHECKPOINT: Path = DEFAULT_CHECKPOINT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (CHECKPOINT / "manifest.json").is_file(),
        reason=f"no bundled checkpoint in {CHECKPOINT}: train one with `python -m models.train`",
    ),
]

HATEFUL = "go back to your country you filthy subhuman animals, nobody wants your kind here"
BENIGN = "what a lovely sunny afternoon at the beach with my family"


@pytest.fixture(scope="module")
def moderator() -> Moderator:
    return Moderator.load()


def meme(text: str, *, caption: str | None = None, **layout: Any) -> PostContent:
    """``text`` rendered as a meme (a plain outlined one unless ``layout`` overrides a
    :class:`MemeSpec` field), posted with ``caption``."""
    spec: dict[str, Any] = {
        "background": "color:40,90,200",
        "style": "outlined_center",
        "font": 0,
        "font_size": 40,
        "noise": 0.0,
        "jpeg_quality": 0,
        "width": 640,
        "height": 480,
    }
    return PostContent(text=caption, image=render_meme(MemeSpec(text=text, **(spec | layout))))


def test_loads_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("loading the checkpoint tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    assert Moderator.load(CHECKPOINT).labels == ("hate", "offensive", "toxic")


def test_metadata(moderator: Moderator) -> None:
    manifest = json.loads((CHECKPOINT / "manifest.json").read_text())
    assert moderator.labels == ("hate", "offensive", "toxic")
    assert moderator.version and moderator.version != "untrained"
    assert manifest["version"] == moderator.version
    assert re.fullmatch(r"[0-9a-f]{64}", moderator.sha256)
    assert moderator.sha256 == manifest["sha256"]
    assert set(moderator.review_thresholds) == set(moderator.labels)
    assert all(0.0 < value < 1.0 for value in moderator.review_thresholds.values())
    assert moderator.model.config.ocr_enabled and moderator.processor.segmenter is not None


def test_the_committed_checkpoint_is_small() -> None:
    total = sum(path.stat().st_size for path in CHECKPOINT.rglob("*") if path.is_file())
    assert total <= 20_000_000, f"the bundled checkpoint holds {total:,} bytes, over 20 MB"


def test_hateful_text_scores_higher_than_benign(moderator: Moderator) -> None:
    hateful, benign = moderator.score([PostContent(text=HATEFUL), PostContent(text=BENIGN)])
    assert hateful.scores["toxic"] > benign.scores["toxic"] + 0.2, (hateful.scores, benign.scores)
    assert hateful.attribution["toxic"]["caption"] == 1.0


HOLIDAY = (
    "We spent the weekend at the lake with the kids. The weather was mild, the water was calm and "
    "we rented a small boat for the afternoon. In the evening we grilled vegetables and fish, played "
    "cards on the porch and watched the sun go down behind the hills. Next year we want to stay a week."
)


def test_hate_after_the_first_64_tokens_of_a_caption_is_read(moderator: Moderator) -> None:
    """57 benign words first: the tower alone would cut the post before its last sentence."""
    post = PostContent(text=f"{HOLIDAY} {HATEFUL}")
    first, second = moderator.processor.text_windows(post.text or "")
    assert HATEFUL in second and "filthy" not in first
    (result,) = moderator.score([post])
    assert result.scores["hate"] >= moderator.review_thresholds["hate"], result.scores
    cut = Moderator.load(options=InferenceOptions(read_whole_texts=False))
    post_cut, holiday_cut = cut.score([post, PostContent(text=HOLIDAY)])
    assert post_cut.scores == holiday_cut.scores  # cut at 64 tokens, inside the benign part
    assert post_cut.scores["hate"] < moderator.review_thresholds["hate"]


def test_hate_at_the_bottom_of_a_screenshot_of_a_long_post_is_read(moderator: Moderator) -> None:
    """The same post as a screenshot under a bland caption: OCR reads it all, the windows read it all."""
    post = meme(
        f"{HOLIDAY} {HATEFUL}",
        caption="lol",
        background="color:255,255,255",
        style="document",
        font_size=18,
        width=576,
        height=448,
    )
    (result,) = moderator.score([post])
    assert "filthy subhuman" in (result.ocr_text or "")
    assert result.scores["hate"] >= moderator.review_thresholds["hate"], result.scores
    assert result.attribution["hate"]["image_text"] > 0.9
    cut = Moderator.load(options=InferenceOptions(read_whole_texts=False)).score([post])[0]
    assert cut.scores["hate"] < moderator.review_thresholds["hate"], cut.scores


def test_a_sure_typo_in_a_caption_is_read_as_its_word(moderator: Moderator) -> None:
    """One slip turned this sentence into hate (0.99) for the checkpoint that read captions as typed."""
    typo, spelt = moderator.score(
        [
            PostContent(text="america is a melting pot and it should be cellebrated"),
            PostContent(text="america is a melting pot and it should be celebrated"),
        ]
    )
    assert typo.scores == pytest.approx(spelt.scores, abs=1e-6)
    assert typo.scores["hate"] < moderator.review_thresholds["hate"]


def test_leetspeak_in_a_caption_is_read_as_the_word_it_spells(moderator: Moderator) -> None:
    """ "I h4te jews" scored hate 0.16 while the stand-ins were read as typed."""
    disguised, spelt, benign = moderator.score(
        [
            PostContent(text="I h4te jews"),
            PostContent(text="I hate jews"),
            PostContent(text="my ph0ne died lol"),
        ]
    )
    assert disguised.scores == pytest.approx(spelt.scores, abs=1e-6)
    assert disguised.scores["hate"] >= moderator.review_thresholds["hate"]
    assert all(benign.scores[label] < moderator.review_thresholds[label] for label in moderator.labels)


def test_hateful_meme_without_caption_scores_higher_than_benign_meme(moderator: Moderator) -> None:
    """The harm is only in the pixels: the OCR path must find it."""
    hateful, benign = moderator.score([meme(HATEFUL), meme(BENIGN)])
    assert hateful.ocr_text and "country" in hateful.ocr_text.lower(), hateful.ocr_text
    assert hateful.modalities_present == ("image_pixels", "image_text")
    assert hateful.scores["toxic"] > benign.scores["toxic"] + 0.2, (hateful.scores, benign.scores)
    assert hateful.attribution["toxic"]["caption"] == 0.0


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        ("Muslims are bloody p ar a s it e s.", "muslims are bloody parasites."),
        (
            "Women arenotcapable of beingd3cen7human beings.",
            "women are not capable of being decent human beings.",
        ),
        ("I'mgoingto hurtthenext Asian personlsee.", "i'm going to hurt the next asian person i see."),
        ("they are vermiin", "they are vermin"),
        ("A man riding a wave on top of a surfboard.", "A man riding a wave on top of a surfboard."),
    ],
)
def test_the_bundled_vocabulary_reads_damaged_image_text_back(
    moderator: Moderator, read: str, meant: str
) -> None:
    assert moderator.processor.clean_image_text(read).lower() == meant.lower()  # the text tower is uncased


def test_the_bundled_vocabulary_holds_no_obfuscated_spelling() -> None:
    # spellings that only the obfuscated training texts use ("bicth", "arevermin") are not words
    words = set((CHECKPOINT / "ocr_vocabulary.txt").read_text(encoding="utf-8").split())
    assert {"bitch", "vermin", "roma"} <= words
    assert not {"bicth", "arevermin", "nigegr", "btch"} & words
