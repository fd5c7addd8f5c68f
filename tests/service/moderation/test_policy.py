"""The moderation policy: loading and validating policy files, and the decision rules."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import models
from service.errors import ConfigError
from service.moderation.policy import (
    LANGUAGE_REVIEW_PRIORITY,
    LanguageRule,
    Policy,
    Thresholds,
    load_policy,
)

LABELS = ("hate", "offensive", "toxic")


_HATE = 'version = "v"\n[categories.hate]\nreview = 0.5\nblock = 0.9\n'


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(text, encoding="utf-8")
    return path


def make_policy(
    deny: tuple[str, ...] = ("badword", "two words"), allow: tuple[str, ...] = ("news report",)
) -> Policy:
    return Policy(
        version="test.1",
        categories={"hate": Thresholds(review=0.5, block=0.9), "toxic": Thresholds(review=0.6, block=0.8)},
        deny_terms=deny,
        allow_terms=allow,
    )


def low(**scores: float) -> dict[str, float]:
    return {"hate": 0.1, "toxic": 0.1} | scores


# --- loading ------------------------------------------------------------------------------------


def _bundled_cards() -> dict[str, dict[str, float]]:
    folder = Path(models.__file__).parent / "default_categories"
    return {card.parent.name: json.loads(card.read_text()) for card in sorted(folder.glob("*/card.json"))}


def test_packaged_default_policy() -> None:
    policy = load_policy()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", policy.version)
    bundled = set(_bundled_cards())
    assert bundled == {"self_harm", "violence", "sexual", "spam"}
    assert set(policy.categories) == set(LABELS) | bundled
    for thresholds in policy.categories.values():
        assert 0 <= thresholds.review <= thresholds.block <= 1
    assert policy.deny_terms and policy.allow_terms
    policy.check_labels([*LABELS, *bundled])


def test_packaged_review_thresholds_are_the_bundled_checkpoints_tuned_ones() -> None:
    """The default policy's thresholds come from the checkpoint's validation tuning and from the
    bundled categories' cards (``python -m models.categories.build``)."""
    config = json.loads((Path(models.__file__).parent / "default_checkpoint" / "config.json").read_text())
    cards = _bundled_cards()
    expected = config["review_thresholds"] | {name: card["review"] for name, card in cards.items()}
    policy = load_policy()
    assert {name: t.review for name, t in policy.categories.items()} == pytest.approx(expected)
    assert {name: policy.categories[name].block for name in cards} == pytest.approx(
        {name: card["block"] for name, card in cards.items()}
    )


def test_load_from_path_with_extra_category(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'version = "x.2"\n[categories.hate]\nreview = 0.4\nblock = 1\n[categories.spam]\nreview = 0\nblock = 0.5\n',
    )
    policy = load_policy(path)
    assert policy.categories["hate"] == Thresholds(review=0.4, block=1.0)
    assert policy.categories["spam"] == Thresholds(review=0.0, block=0.5)
    assert policy.deny_terms == () and policy.allow_terms == ()
    assert policy.source == str(path)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("version = [", "not valid TOML"),
        ("[categories.hate]\nreview = 0.5\nblock = 0.9\n", "version"),
        ('version = ""\n[categories.hate]\nreview = 0.5\nblock = 0.9\n', "version"),
        ('version = "v"\n', "categories"),
        ('version = "v"\ncategores = 1\n[categories.hate]\nreview = 0.5\nblock = 0.9\n', "categores"),
        ('version = "v"\n[categories.hate]\nreview = 0.5\n', "categories.hate.block"),
        ('version = "v"\n[categories.hate]\nreview = 0.5\nblock = 1.5\n', "categories.hate.block"),
        ('version = "v"\n[categories.hate]\nreview = -0.1\nblock = 0.5\n', "categories.hate.review"),
        ('version = "v"\n[categories.hate]\nreview = "high"\nblock = 0.9\n', "categories.hate.review"),
        ('version = "v"\n[categories.hate]\nreview = true\nblock = 0.9\n', "categories.hate.review"),
        ('version = "v"\n[categories.hate]\nreview = 0.9\nblock = 0.5\n', "categories.hate"),
        ('version = "v"\n[categories.hate]\nreview = 0.5\nblock = 0.9\nwarn = 0.2\n', "categories.hate.warn"),
        ('version = "v"\ncategories = { hate = 3 }\n', "categories.hate"),
        ('version = "v"\n[categories.hate]\nreview = 0.5\nblock = 0.9\n[terms]\ndeny = "x"\n', "terms.deny"),
        (
            'version = "v"\n[categories.hate]\nreview = 0.5\nblock = 0.9\n[terms]\nallow = ["ok", ""]\n',
            "terms.allow[1]",
        ),
        ('version = "v"\n[categories.hate]\nreview = 0.5\nblock = 0.9\n[terms]\nmaybe = []\n', "terms.maybe"),
        ('version = "v"\nlanguages = "en"\n[categories.hate]\nreview = 0.5\nblock = 0.9\n', "languages"),
        (_HATE + "[languages]\nsupported = []\n", "languages.supported"),
        (_HATE + '[languages]\nsupported = "en"\n', "languages.supported"),
        (_HATE + '[languages]\nsupported = ["en", "english"]\n', "'english', not a language"),
        (_HATE + '[languages]\nsupported = ["en"]\nother = "block"\n', "languages.other"),
        (_HATE + '[languages]\nsupported = ["en"]\nmin_letters = 3\n', "languages.min_letters"),
    ],
)
def test_invalid_policy_files_name_the_file_and_key(tmp_path: Path, text: str, key: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_policy(path)
    assert str(path) in str(caught.value)
    assert key in str(caught.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot be read"):
        load_policy(tmp_path / "absent.toml")


def test_check_labels() -> None:
    make_policy().check_labels(["hate", "toxic", "offensive"])  # extra model labels are fine
    with pytest.raises(ConfigError, match="toxic"):
        make_policy().check_labels(["hate", "offensive"])


# --- decisions ----------------------------------------------------------------------------------


def test_allow_when_everything_is_low() -> None:
    outcome = make_policy().decide(scores=low(), texts=["a friendly post"])
    assert outcome.action == "allow"
    assert outcome.triggered == []
    assert outcome.priority < 50


def test_review_at_the_review_threshold() -> None:
    outcome = make_policy().decide(scores=low(hate=0.5), texts=[])
    assert outcome.action == "review"
    [rule] = outcome.triggered
    assert (rule.kind, rule.name, rule.action, rule.score, rule.threshold) == (
        "category",
        "hate",
        "review",
        0.5,
        0.5,
    )
    assert outcome.priority == 50


def test_block_at_the_block_threshold_names_every_rule() -> None:
    outcome = make_policy().decide(scores=low(hate=0.9, toxic=0.7), texts=[])
    assert outcome.action == "block"
    assert [(r.name, r.action, r.threshold) for r in outcome.triggered] == [
        ("hate", "block", 0.9),
        ("toxic", "review", 0.6),
    ]
    assert outcome.priority == 100


def test_scores_of_categories_outside_the_policy_are_ignored() -> None:
    assert make_policy().decide(scores=low(spam=1.0), texts=[]).action == "allow"


@pytest.mark.parametrize(
    "text",
    [
        "this has BadWord in it",
        "badword",
        "(badword)",
        "two   words\ttogether",
        "ｂａｄｗｏｒｄ full width",
        "TWO\nWORDS",
    ],
)
def test_deny_terms_block_whole_words_case_insensitively(text: str) -> None:
    outcome = make_policy().decide(scores=low(), texts=["clean caption", text])
    assert outcome.action == "block"
    assert [rule.kind for rule in outcome.triggered] == ["deny_term"]
    assert outcome.priority == 100


@pytest.mark.parametrize("text", ["badwords", "notbadword", "bad word", "twowords", "badword_x"])
def test_deny_terms_do_not_match_inside_words(text: str) -> None:
    assert make_policy().decide(scores=low(), texts=[text]).action == "allow"


def test_allow_term_downgrades_a_category_block_to_review() -> None:
    outcome = make_policy().decide(scores=low(hate=0.95), texts=["A News Report about an attack"])
    assert outcome.action == "review"
    assert [(r.kind, r.action) for r in outcome.triggered] == [
        ("category", "block"),
        ("allow_term", "review"),
    ]
    assert outcome.priority == 100


def test_allow_term_never_excuses_a_deny_term() -> None:
    outcome = make_policy().decide(scores=low(hate=0.95), texts=["news report with badword"])
    assert outcome.action == "block"
    assert "allow_term" not in [rule.kind for rule in outcome.triggered]


def test_allow_term_does_not_turn_review_into_allow() -> None:
    outcome = make_policy().decide(scores=low(hate=0.6), texts=["news report"])
    assert outcome.action == "review"
    assert [rule.kind for rule in outcome.triggered] == ["category"]


def test_priority_grows_through_the_review_band() -> None:
    policy = make_policy()
    # hate: review 0.5, block 0.9 -> half-way through the band is severity 0.75.
    assert policy.decide(scores=low(hate=0.7), texts=[]).priority == 75
    assert policy.decide(scores=low(hate=0.25, toxic=0.0), texts=[]).priority == 25


@given(st.dictionaries(st.sampled_from(["hate", "toxic"]), st.floats(0, 1), min_size=2, max_size=2))
def test_priority_is_bounded_and_consistent_with_the_action(scores: dict[str, float]) -> None:
    outcome = make_policy(deny=(), allow=()).decide(scores=scores, texts=[])
    assert 0 <= outcome.priority <= 100
    if outcome.action == "allow":
        assert outcome.priority <= 50
    else:
        assert outcome.priority >= 50


@pytest.mark.parametrize(
    "scores", [{"hate": float("nan"), "toxic": 0.1}, {"hate": 1.2, "toxic": 0.1}, {"hate": 0.1}]
)
def test_invalid_or_missing_scores_fail_loudly(scores: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        make_policy().decide(scores=scores, texts=[])


def test_restricted_to_drops_unscored_categories_and_keeps_the_rest(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="service.moderation.policy")
    full = load_policy()
    restricted = full.restricted_to(LABELS)
    assert set(restricted.categories) == set(LABELS)
    assert restricted.version == full.version and restricted.deny_terms == full.deny_terms
    assert restricted.categories["hate"] == full.categories["hate"]
    assert "categories not scored by this model left out" in caplog.text
    restricted.check_labels(LABELS)
    assert full.restricted_to(full.categories) is full


# --- posts in languages the classifier does not read ---------------------------------------------

SPANISH_HATE = "Los inmigrantes son basura y deberían volver a su país"
ENGLISH_POST = "We went to the beach with my cousins and had a great lunch"


def language_policy(other: str = "review") -> Policy:
    return Policy(
        version="test.1",
        categories={"hate": Thresholds(review=0.5, block=0.9), "toxic": Thresholds(review=0.6, block=0.8)},
        deny_terms=("badword",),
        languages=LanguageRule(supported=("en",), other=other),  # type: ignore[arg-type]
    )


def test_packaged_policy_reviews_posts_in_other_languages() -> None:
    policy = load_policy()
    assert policy.languages == LanguageRule(supported=("en",), other="review")
    assert policy.restricted_to(LABELS).languages == policy.languages


def test_a_post_in_another_language_goes_to_review_with_its_language_named() -> None:
    outcome = language_policy().decide(scores=low(), texts=[SPANISH_HATE])
    assert outcome.action == "review"
    (rule,) = outcome.triggered
    assert (rule.kind, rule.name, rule.action) == ("language", "es", "review")
    assert rule.score is not None and rule.score > 0.5 and rule.threshold is None
    assert outcome.priority == LANGUAGE_REVIEW_PRIORITY


def test_the_text_read_from_the_image_counts_too() -> None:
    outcome = language_policy().decide(scores=low(), texts=["found this", SPANISH_HATE])
    assert outcome.action == "review" and [r.kind for r in outcome.triggered] == ["language"]


def test_english_and_short_posts_are_decided_by_their_scores_alone() -> None:
    policy = language_policy()
    for texts in ([ENGLISH_POST], ["jajaja qué risa"], ["lol"], []):
        outcome = policy.decide(scores=low(), texts=texts)
        assert (outcome.action, outcome.triggered) == ("allow", []), texts


def test_the_language_rule_never_lowers_a_decision_and_is_recorded_beside_it() -> None:
    policy = language_policy()
    blocked = policy.decide(scores=low(hate=0.95), texts=[SPANISH_HATE])
    assert blocked.action == "block"
    assert [r.kind for r in blocked.triggered] == ["category", "language"]
    reviewed = policy.decide(scores=low(hate=0.89), texts=[SPANISH_HATE])
    assert reviewed.action == "review" and reviewed.priority > LANGUAGE_REVIEW_PRIORITY
    denied = policy.decide(scores=low(), texts=[SPANISH_HATE + " badword"])
    assert denied.action == "block" and denied.priority == 100


def test_other_allow_only_records_the_language() -> None:
    outcome = language_policy("allow").decide(scores=low(), texts=[SPANISH_HATE])
    assert outcome.action == "allow"
    assert [(r.kind, r.name, r.action) for r in outcome.triggered] == [("language", "es", "allow")]


def test_a_supported_language_is_scored_as_usual(tmp_path: Path) -> None:
    path = write(tmp_path, _HATE + '[languages]\nsupported = ["en", " ES "]\n')
    policy = load_policy(path)
    assert policy.languages == LanguageRule(supported=("en", "es"), other="review")
    assert policy.decide(scores=low(), texts=[SPANISH_HATE]).action == "allow"


def test_without_a_languages_table_no_language_rule_applies(tmp_path: Path) -> None:
    policy = load_policy(write(tmp_path, _HATE))
    assert policy.languages is None
    assert policy.decide(scores={"hate": 0.1}, texts=[SPANISH_HATE]).action == "allow"
