"""Template statements for training (models/data/statements.py): labels, splits, hygiene."""

from __future__ import annotations

import re
from collections import Counter

from models.data import statements
from models.data.augment import drop_suite_texts
from models.data.sources import BENIGN, FULL_MASK, HATE, OFFENSIVE, is_obfuscated, text_key
from models.suite import build_suite
from models.suite.identities import PROTECTED_GROUPS
from models.suite.templates import TEMPLATES


def test_every_label_and_both_splits_are_written() -> None:
    out = statements.statement_examples(seed=13)
    kinds = Counter((e.split, e.targets, e.mask) for e in out)
    for split in ("train", "val"):
        assert kinds[(split, HATE, FULL_MASK)] > 200
        assert kinds[(split, OFFENSIVE, FULL_MASK)] > 50
        assert kinds[(split, BENIGN, FULL_MASK)] > 100
        assert kinds[(split, BENIGN, statements.HATE_ONLY_MASK)] > 0
    # obfuscated copies carry their own source (their spellings stay out of the OCR vocabulary)
    assert {e.source for e in out} == {statements.SOURCE, statements.OBFUSCATED_SOURCE}
    assert all(is_obfuscated(e) == (e.source == statements.OBFUSCATED_SOURCE) for e in out)


def test_no_template_is_in_both_splits() -> None:
    """Templates are split, never rows: a val statement's template never wrote a train statement."""
    for functionality, templates in statements.HATEFUL.items():
        for index, template in enumerate(templates):
            expected = "val" if index % 5 == 4 else "train"
            assert statements._split_of(index) == expected, (functionality, template)
    out = statements.statement_examples(seed=13, obfuscated_share=0.0)
    # A hateful val template's fixed words appear only in val texts.
    template = statements.HATEFUL["dehumanise"][4]  # "{G} are *worms* crawling through our cities."
    tail = "crawling through our cities"
    assert template.endswith("cities.") and statements._split_of(4) == "val"
    assert {e.split for e in out if tail in e.text.lower()} == {"val"}


def test_the_same_wording_aimed_at_a_non_protected_target_is_offensive_not_hate() -> None:
    out = statements.statement_examples(seed=13, obfuscated_share=0.0)
    non_protected = [g.plural.lower() for g in statements.NON_PROTECTED]
    aimed = [e for e in out if any(re.search(rf"\b{re.escape(t)}\b", e.text.lower()) for t in non_protected)]
    assert aimed
    assert all(e.targets in (OFFENSIVE, BENIGN) for e in aimed)
    assert any(e.targets == OFFENSIVE for e in aimed)


def _keyword_disguises(out: list) -> int:
    """Hateful (clean, disguised) neighbours: the disguised copy follows its source and lacks one
    or two of its words, among them the template's keyword, without adding any keyword."""
    keywords = {
        m.lower() for ts in statements.HATEFUL.values() for t in ts for m in re.findall(r"\*([^*]+)\*", t)
    }

    def words(text: str) -> set[str]:
        return set(re.findall(r"[^\W\d_]+", text.lower()))

    count = 0
    for clean, disguised in zip(out, out[1:], strict=False):
        if clean.targets == disguised.targets == HATE and clean.split == disguised.split:
            gone, new = words(clean.text) - words(disguised.text), words(disguised.text) - words(clean.text)
            count += bool(1 <= len(gone) <= 2 and gone & keywords and not new & keywords)
    return count


def test_hateful_statements_are_obfuscated_on_their_keyword() -> None:
    disguised = _keyword_disguises(statements.statement_examples(seed=13, obfuscated_share=1.0))
    # Without obfuscation the same measure finds only chance neighbours (~150 of ~1,700).
    chance = _keyword_disguises(statements.statement_examples(seed=13, obfuscated_share=0.0))
    assert chance < 300 < 1000 < disguised


def test_the_draw_is_deterministic_and_seeded() -> None:
    assert statements.statement_examples(seed=1) == statements.statement_examples(seed=1)
    assert statements.statement_examples(seed=1) != statements.statement_examples(seed=2)


def test_no_statement_equals_a_suite_case_after_hygiene() -> None:
    out = statements.statement_examples(seed=13)
    suite = build_suite()
    kept = drop_suite_texts(out, [case.text for case in suite])
    # Different wording: (almost) nothing is dropped, and what is kept shares no text with the suite.
    assert len(kept) >= 0.99 * len(out)
    assert not {text_key(e.text) for e in kept} & {text_key(c.text) for c in suite}


def test_no_template_is_a_suite_template() -> None:
    """Training wording is written separately: no template's fixed words equal a suite template's."""

    def skeleton(text: str) -> str:
        return text_key(re.sub(r"\{[^}]*\}", " ", text.replace("*", "")))

    suite = {skeleton(t.text) for t in TEMPLATES}
    ours = [t for ts in (*statements.HATEFUL.values(), *statements.BENIGN_CONTRASTS.values()) for t in ts]
    ours += statements.SUPPORTIVE
    assert not {skeleton(t) for t in ours} & suite


def test_the_held_out_toxigen_group_is_never_named() -> None:
    """Evaluation's ToxiGen group (Latino/Mexican people) must stay a group training never saw."""
    out = statements.statement_examples(seed=13)
    held = re.compile(r"latin|mexic|hispanic", re.IGNORECASE)
    assert not [e.text for e in out if held.search(e.text)]
    assert any(g.key == "mexicans" for g in PROTECTED_GROUPS)  # the suite still tests that group


def test_supportive_statements_are_opt_in_benign_and_split_by_template() -> None:
    default = statements.statement_examples(seed=13, obfuscated_share=0.0)
    more = statements.statement_examples(seed=13, obfuscated_share=0.0, supportive_groups=24)
    fewer = statements.statement_examples(seed=13, obfuscated_share=0.0, supportive_groups=6)
    # each template about that many groups; the styling draws shift, so a repeat elsewhere may
    # collapse differently
    for groups, examples in ((24, more), (6, fewer)):
        added = len(examples) - len(default)
        assert (
            0.95 * groups * len(statements.SUPPORTIVE) <= added <= 1.02 * groups * len(statements.SUPPORTIVE)
        )
    tails = {"val": "love and work as they choose", "train": "speak for themselves"}
    assert statements.SUPPORTIVE[4].endswith("as they choose.") and statements._split_of(4) == "val"
    assert statements.SUPPORTIVE[8].endswith("for themselves.") and statements._split_of(8) == "train"
    for split, tail in tails.items():
        rows = [e for e in more if tail in e.text.lower()]
        assert rows and {e.split for e in rows} == {split}
        assert all(e.targets == BENIGN and e.mask == FULL_MASK and e.source_label == "normal" for e in rows)
    assert not [e for e in default if tails["train"] in e.text.lower()]
