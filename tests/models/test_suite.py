"""The functional suite (models/suite) and the obfuscation helpers: structure only, no model.

The suite is a benchmark whose numbers are only meaningful if it is stable (same cases every
build), honest about its labels (each case carries its functionality's label), balanced, and
free of template mistakes (a stray ``{group}``); these tests pin exactly that.
"""

from __future__ import annotations

import random
import re
from collections import Counter

import numpy as np
import pytest

from models.data.obfuscation import (
    KINDS,
    add_char,
    add_spaces,
    delete_char,
    homoglyphs,
    leetspeak,
    obfuscate,
    obfuscate_random,
    remove_spaces,
    swap_adjacent,
)
from models.suite import (
    BLAND_CAPTIONS,
    FUNCTIONALITIES,
    LABELS,
    TEMPLATES,
    FunctionalCase,
    build_suite,
    passes,
)
from models.suite.strays import STRAYS, with_stray

SAMPLE = "Those people are vermin and parasites, honestly."


@pytest.fixture(scope="module")
def suite() -> list[FunctionalCase]:
    return build_suite()


def test_suite_is_large_enough(suite: list[FunctionalCase]) -> None:
    assert len(suite) >= 2500


def test_suite_is_deterministic_and_uses_the_seed(suite: list[FunctionalCase]) -> None:
    assert build_suite() == suite
    assert build_suite(seed=1) == build_suite(seed=1)
    assert build_suite(seed=1) != suite


def test_case_ids_and_texts_are_unique(suite: list[FunctionalCase]) -> None:
    assert len({case.case_id for case in suite}) == len(suite)
    assert len({case.text for case in suite}) == len(suite)


def test_every_functionality_has_enough_cases(suite: list[FunctionalCase]) -> None:
    counts = Counter(case.functionality for case in suite)
    assert set(counts) == set(FUNCTIONALITIES)
    small = {name: n for name, n in counts.items() if n < 40}
    assert not small
    assert max(counts.values()) <= 250


def test_labels_follow_the_functionality(suite: list[FunctionalCase]) -> None:
    assert {f.label for f in FUNCTIONALITIES.values()} == set(LABELS)
    for case in suite:
        assert case.label == FUNCTIONALITIES[case.functionality].label, case.case_id
    for template in TEMPLATES:
        assert template.label == FUNCTIONALITIES[template.functionality].label, template.id


def test_each_template_belongs_to_one_functionality(suite: list[FunctionalCase]) -> None:
    assert len({t.id for t in TEMPLATES}) == len(TEMPLATES)
    owners: dict[str, set[str]] = {}
    for case in suite:
        owners.setdefault(case.template, set()).add(case.functionality)
    assert all(len(functionalities) == 1 for functionalities in owners.values())


def test_obfuscated_cases_split_with_their_source_template(suite: list[FunctionalCase]) -> None:
    templates = {t.id: t for t in TEMPLATES}
    by_id = {case.case_id: case for case in suite}
    obfuscated = [case for case in suite if case.functionality.startswith("obf_")]
    assert {case.functionality for case in obfuscated} == {f"obf_{kind}" for kind in KINDS}
    for case in obfuscated:
        source = by_id[case.case_id.split(":", 1)[1]]
        assert templates[case.split_group].label == "hateful"
        assert source.template == case.split_group
        assert case.text != source.text


def test_hateful_templates_name_a_keyword() -> None:
    for template in TEMPLATES:
        assert (template.keyword is not None) == (template.label == "hateful"), template.id


def test_no_placeholder_is_left(suite: list[FunctionalCase]) -> None:
    for case in suite:
        assert not re.search(r"[{}]", case.text), case.case_id


def test_texts_are_post_sized(suite: list[FunctionalCase]) -> None:
    for case in suite:
        if case.functionality in ("bland_caption", "obf_add_space"):
            continue
        assert 3 <= len(case.text.split()) <= 25, case.text


def test_bland_captions_are_all_in(suite: list[FunctionalCase]) -> None:
    assert len(BLAND_CAPTIONS) >= 40
    assert len(set(BLAND_CAPTIONS)) == len(BLAND_CAPTIONS)
    assert {case.text for case in suite if case.functionality == "bland_caption"} == set(BLAND_CAPTIONS)


def test_hateful_share_is_balanced(suite: list[FunctionalCase]) -> None:
    share = sum(case.label == "hateful" for case in suite) / len(suite)
    assert 0.4 <= share <= 0.6


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_changes_the_text_deterministically(kind: str) -> None:
    for seed in range(5):
        first = obfuscate(SAMPLE, kind, random.Random(seed), targets=["vermin"])
        assert first != SAMPLE
        assert obfuscate(SAMPLE, kind, random.Random(seed), targets=["vermin"]) == first
        # Without targets the longest word is the salient one.
        assert obfuscate(SAMPLE, kind, random.Random(seed)) != SAMPLE


def test_only_the_target_word_changes() -> None:
    out = obfuscate(SAMPLE, "leet", random.Random(0), targets=["VERMIN"])
    assert out.startswith("Those people are ") and out.endswith(" and parasites, honestly.")
    assert obfuscate(SAMPLE, "add_space", random.Random(0), targets=["vermin"]) == SAMPLE.replace(
        "vermin", "v e r m i n"
    )
    assert obfuscate(SAMPLE, "no_space", random.Random(0), targets=["vermin"]) == SAMPLE.replace(
        "are vermin", "arevermin"
    )
    with pytest.raises(ValueError):
        obfuscate(SAMPLE, "rot13", random.Random(0))


def test_word_level_helpers() -> None:
    rng = random.Random(3)
    assert swap_adjacent("hate", rng) != "hate" and sorted(swap_adjacent("hate", rng)) == sorted("hate")
    assert swap_adjacent("aa", rng) == "aa"  # nothing to swap: unchanged rather than wrong
    assert len(delete_char("hate", rng)) == 3
    assert add_char("hate", rng).startswith("h") and len(add_char("hate", rng)) > 4
    assert add_spaces("hate") == "h a t e"
    assert remove_spaces("you are scum") == "youarescum"
    assert remove_spaces("you are scum", random.Random(0)).count(" ") < 2
    leet = leetspeak("toaster", rng)
    assert leet != "toaster" and set(leet) & set("4@3105$7")
    assert leetspeak("lynx", rng) == "lynx"  # no substitutable letter


def test_homoglyphs_look_alike_but_are_not_ascii() -> None:
    for seed in range(5):
        out = homoglyphs("Scope", random.Random(seed))
        assert out != "Scope" and len(out) == len("Scope")
        assert any(ord(ch) > 127 and ch.isalpha() for ch in out)
    out = obfuscate(SAMPLE, "homoglyph", random.Random(0), targets=["vermin"])
    assert any(ord(ch) > 127 and ch.isalpha() for ch in out)


def test_obfuscate_random_reports_its_kind() -> None:
    kind, text = obfuscate_random(SAMPLE, random.Random(7), targets=["parasites"])
    assert kind in KINDS and text != SAMPLE
    assert obfuscate_random(SAMPLE, random.Random(7), targets=["parasites"]) == (kind, text)


def test_pass_rule_per_label() -> None:
    def case(label: str) -> FunctionalCase:
        return FunctionalCase("x y z", "f", label, "t", None, "id")

    assert passes(case("hateful"), {"hate", "toxic"}) and not passes(case("hateful"), {"offensive"})
    assert passes(case("non_hateful_offensive"), {"offensive", "toxic"})
    assert not passes(case("non_hateful_offensive"), {"hate"})
    assert passes(case("benign"), set()) and not passes(case("benign"), {"toxic"})


def test_a_stray_word_goes_beside_the_text_never_into_it() -> None:
    rng = np.random.default_rng(0)
    text = "They are all liars."
    seen = set()
    for _ in range(200):
        out = with_stray(text, rng)
        assert text in out
        stray = out.replace(text, "").strip()
        assert stray in STRAYS
        seen.add((stray, out.startswith(text)))
    assert {after for _, after in seen} == {True, False}  # after the text and before it
    assert len({s for s, _ in seen}) > len(STRAYS) // 2
