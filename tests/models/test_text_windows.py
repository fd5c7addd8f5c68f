"""Windows over long texts, and a post's views merged label by label."""

from __future__ import annotations

import pytest
import torch

from models.text_windows import PostViews, split_into_windows


def one_token_per_letter(words: list[str]) -> list[int]:
    return [len(word) for word in words]


def one_token_per_word(words: list[str]) -> list[int]:
    return [1] * len(words)


def test_a_text_that_fits_one_window_comes_back_unchanged() -> None:
    text = "  a short  caption "
    assert split_into_windows(text, one_token_per_word, max_tokens=62) == [text]
    # longer than max_tokens characters, but fewer tokens: counted, still one window
    long_words = "internationalisation " * 10
    assert split_into_windows(long_words, one_token_per_word, max_tokens=62) == [long_words]


def test_the_empty_text_has_no_window() -> None:
    assert split_into_windows("", one_token_per_word, max_tokens=8, overlap=2) == []
    assert split_into_windows("   ", one_token_per_word, max_tokens=8, overlap=2) == []


def test_windows_cover_every_word_in_order_within_the_limit_and_overlap() -> None:
    words = [f"w{i}" for i in range(100)]
    windows = split_into_windows(" ".join(words), one_token_per_word, max_tokens=10, overlap=3)
    pieces = [window.split() for window in windows]
    assert all(len(piece) <= 10 for piece in pieces)
    assert pieces[0][0] == "w0" and pieces[-1][-1] == "w99"
    for before, after in zip(pieces, pieces[1:], strict=False):
        shared = [word for word in after if word in before]
        assert shared == after[: len(shared)]  # the overlap is the start of the next window
        assert len(shared) == 3
        assert words.index(after[0]) > words.index(before[0])  # always forward
    assert set(words) == {word for piece in pieces for word in piece}


def test_any_run_of_words_as_long_as_the_overlap_is_read_whole_somewhere() -> None:
    words = [f"w{i}" for i in range(57)]
    windows = [
        w.split() for w in split_into_windows(" ".join(words), one_token_per_word, max_tokens=9, overlap=4)
    ]
    for start in range(len(words) - 5 + 1):
        run = words[start : start + 5]  # overlap + 1 words
        assert any(" ".join(run) in " ".join(window) for window in windows), run


def test_token_counts_not_characters_decide_the_cut() -> None:
    text = "aaaa bb c dddd ee"  # 4 + 2 + 1 + 4 + 2 tokens, one per letter
    # "bb c" (3 tokens) is more than the overlap of 2, so the second window starts at "c"
    assert split_into_windows(text, one_token_per_letter, max_tokens=7, overlap=2) == [
        "aaaa bb c",
        "c dddd ee",
    ]


def test_a_word_longer_than_a_window_is_a_window_of_its_own() -> None:
    text = "short " + "x" * 30 + " tail words here"
    windows = split_into_windows(text, one_token_per_letter, max_tokens=12, overlap=3)
    assert "x" * 30 in windows
    assert windows[-1].endswith("here")


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (8, 8), (8, -1)])
def test_impossible_window_settings_are_refused(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        split_into_windows("some words", one_token_per_word, max_tokens=max_tokens, overlap=overlap)


def test_views_pair_each_window_with_the_posts_other_text() -> None:
    views = PostViews.of(
        [["c0"], ["a", "b", "c"], [], []],
        [[], ["x"], ["i", "j"], []],
    )
    assert views.post_of_view == (0, 1, 1, 1, 2, 2, 3)
    assert views.captions == ("c0", "a", "b", "c", "", "", "")
    assert views.image_texts == ("", "x", "x", "x", "i", "j", "")
    assert not views.one_per_post
    assert PostViews.of([["a"], []], [[], ["b"]]).one_per_post


def test_views_need_one_list_per_post_for_each_text() -> None:
    with pytest.raises(ValueError, match="one list of windows per post"):
        PostViews.of([["a"]], [])


def test_each_label_takes_the_view_that_scores_it_highest_with_that_views_attribution() -> None:
    views = PostViews.of([["only"], ["a", "b", "c"]], [[], []])
    probs = torch.tensor(
        [
            [0.1, 0.2],  # post 0
            [0.3, 0.9],  # post 1, window a
            [0.8, 0.1],  # window b
            [0.8, 0.4],  # window c: ties window b on label 0
        ]
    )
    deltas = torch.arange(4 * 3 * 2, dtype=torch.float32).reshape(4, 3, 2)  # (views, modalities, labels)
    best_probs, best_deltas = views.best(probs, deltas, posts=2)
    assert torch.equal(best_probs, torch.tensor([[0.1, 0.2], [0.8, 0.9]]))
    assert torch.equal(best_deltas[0], deltas[0])
    assert torch.equal(best_deltas[1][:, 0], deltas[2][:, 0])  # the first window that reaches the best
    assert torch.equal(best_deltas[1][:, 1], deltas[1][:, 1])


def test_one_view_per_post_passes_the_scores_through() -> None:
    views = PostViews.of([["a"], ["b"]], [["x"], []])
    probs, deltas = torch.rand(2, 3), torch.rand(2, 3, 3)
    best_probs, best_deltas = views.best(probs, deltas, posts=2)
    assert best_probs is probs and best_deltas is deltas


def test_sentences_that_fit_are_read_whole_and_windows_start_at_a_sentence() -> None:
    sentences = [f"sentence {i} has some words in it." for i in range(12)]  # 7 words each
    windows = split_into_windows(" ".join(sentences), one_token_per_word, max_tokens=20, overlap=7)
    for sentence in sentences:
        assert any(sentence in window for window in windows), sentence
    for window in windows:
        assert window.startswith("sentence ") and window.endswith("in it.")
        assert len(window.split()) <= 20
    # each window carries the last sentence of the one before (7 tokens fit the overlap)
    for before, after in zip(windows, windows[1:], strict=False):
        assert after.split(" sentence ")[0].replace("sentence ", "") in before


def test_a_sentence_longer_than_a_window_is_cut_into_word_windows_between_whole_ones() -> None:
    long_sentence = " ".join(f"w{i}" for i in range(30)) + "."
    text = f"Short one here. {long_sentence} And a short ending!"
    windows = split_into_windows(text, one_token_per_word, max_tokens=12, overlap=4)
    assert windows == [
        "Short one here.",  # the long sentence's first piece does not fit beside it
        "w0 w1 w2 w3 w4 w5 w6 w7 w8 w9 w10 w11",
        "w8 w9 w10 w11 w12 w13 w14 w15 w16 w17 w18 w19",
        "w16 w17 w18 w19 w20 w21 w22 w23 w24 w25 w26 w27",
        "w24 w25 w26 w27 w28 w29. And a short ending!",
    ]
