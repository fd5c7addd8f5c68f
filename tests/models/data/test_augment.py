"""Training-text augmentation (models/data/augment.py): labels, determinism, suite hygiene."""

from __future__ import annotations

from models.data import augment
from models.data.sources import BENIGN, FULL_MASK, HATE, OFFENSIVE, TextExample


def example(text: str, targets: tuple[float, ...], split: str = "train") -> TextExample:
    return TextExample(text, targets, FULL_MASK, "hatexplain", split, "x")


CORPUS = [
    example("those vermin should all be thrown out of here", HATE),
    example("go back home you filthy vermin nobody wants you", HATE),
    example("what a stupid idiot this referee is honestly", OFFENSIVE),
    example("muslims in my town opened a lovely bakery today", BENIGN),
    example("women at the market sold fresh bread and cheese", BENIGN),
    example("the weather is nice and the park is full of dogs", BENIGN),
] * 10


def test_harm_scores_rank_words_of_toxic_texts_higher() -> None:
    scores = augment.word_harm_scores(CORPUS, min_count=5)
    assert scores["vermin"] > 0 > scores["bread"]


def test_obfuscated_texts_keep_their_labels_and_change_the_telling_word() -> None:
    scores = augment.word_harm_scores(CORPUS, min_count=5)
    out = augment.obfuscated(CORPUS, count=60, seed=1, harm_scores=scores)
    assert len(out) >= 50
    originals = {e.text: e for e in CORPUS}
    assert all(e.text not in originals for e in out)
    harmful = [e for e in out if e.targets[-1] == 1.0]
    benign = [e for e in out if e.targets == BENIGN]
    assert harmful and benign  # disguise alone must not be a harm signal
    assert out == augment.obfuscated(CORPUS, count=60, seed=1, harm_scores=scores)
    assert out != augment.obfuscated(CORPUS, count=60, seed=2, harm_scores=scores)


def test_counter_speech_quotes_harm_and_is_benign() -> None:
    out = augment.counter_speech(CORPUS, count=20, seed=3)
    assert len(out) == 20
    assert all(e.targets == BENIGN and e.mask == FULL_MASK for e in out)
    harmful = [e.text for e in CORPUS if e.targets[-1] == 1.0]
    assert all(any(h in e.text for h in harmful) for e in out)


def test_identity_swaps_replace_the_group_and_stay_benign() -> None:
    out = augment.identity_swaps(CORPUS, count=30, seed=4)
    assert out and all(e.targets == BENIGN for e in out)
    assert all("muslims in my town" not in e.text.lower() or "women" in e.text.lower() for e in out)
    assert {e.text.split()[0].lower() for e in out} - {"muslims", "women"}


def test_reactions_are_benign_text_posts() -> None:
    out = augment.bland_reactions("train")
    assert len(out) >= 2 * len(augment.REACTIONS) - 20
    assert all(e.targets == BENIGN for e in out)


def test_suite_texts_are_dropped_even_when_only_emoji_or_case_differs() -> None:
    corpus = [
        example("LOL", BENIGN),
        example("😂", BENIGN),
        example("fine day", BENIGN),
        example("lol!", BENIGN),
    ]
    kept = augment.drop_suite_texts(corpus, ["lol", "😂"])
    assert [e.text for e in kept] == ["fine day"]


def test_strayed_texts_keep_their_labels_and_their_words() -> None:
    out = augment.strayed(CORPUS, count=40, seed=5)
    assert len(out) == 40
    by_text = {e.text: e for e in CORPUS}
    harmful = 0
    for made in out:
        source = next(s for s in by_text.values() if set(s.text.split()) <= set(made.text.split()))
        assert made.targets == source.targets and made.mask == source.mask and made.split == source.split
        assert made.source == "aug_stray_hatexplain" and made.text != source.text
        # every word of the source is kept; one or two strays, each one token or a few, are added
        assert 1 <= len(made.text.split()) - len(source.text.split()) <= 6
        harmful += made.targets[-1] == 1.0
    assert harmful == 20  # harmful and benign in equal numbers
    assert augment.strayed(CORPUS, count=40, seed=5) == out


def test_typoed_texts_keep_their_labels_and_differ_by_small_slips() -> None:
    out = augment.typoed(CORPUS, count=40, seed=6)
    assert len(out) == 40
    harmful = 0
    for made in out:
        words = made.text.split()
        same_length = [s for s in CORPUS if len(s.text.split()) == len(words)]
        source = min(
            same_length, key=lambda s: sum(a != b for a, b in zip(s.text.split(), words, strict=True))
        )
        assert made.targets == source.targets and made.mask == source.mask and made.split == source.split
        assert made.source == "aug_typo_hatexplain" and made.text != source.text
        # one or two words changed, word count and order kept
        changed = [(a, b) for a, b in zip(source.text.split(), made.text.split(), strict=True) if a != b]
        assert 1 <= len(changed) <= 2
        harmful += made.targets[-1] == 1.0
    assert harmful == 20  # harmful and benign in equal numbers: a typo is no sign either way
    assert augment.typoed(CORPUS, count=40, seed=6) == out


def test_typoed_texts_stay_out_of_the_ocr_vocabulary() -> None:
    from models.data.sources import has_made_up_words

    assert all(has_made_up_words(e) for e in augment.typoed(CORPUS, count=10, seed=7))
