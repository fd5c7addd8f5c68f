"""Long texts read whole: overlapping windows the text tower can read, and a post scored on all of them.

The text tower reads at most ``max_length`` tokens (64: about 45 words) and cuts the rest. A post
may hold up to 10,000 characters, so without windows a harmful sentence after the first 45 words
of a caption, or low on a screenshot of a long post, is never read at all. Here a text longer
than one window is cut into overlapping windows of whole sentences, or of whole words where a
sentence does not fit or the text has no sentence ends (so a sentence is read whole in one of
them); the post is scored once per window ("view"), and each label takes the view that scores it
highest: harm anywhere in the post is harm in the post. Texts that fit one window, nearly every
post, are left exactly as they were.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

#: Tokens a window shares with the one before it: its last whole sentences up to this many (or,
#: inside a sentence too long for one window, its last words), so that what straddles a cut is
#: read together in one window too.
OVERLAP_TOKENS = 20

#: A word that ends a sentence: ., ! or ? (or an ellipsis), then perhaps closing quotes or brackets.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’)\]]*$")


def split_into_windows(
    text: str,
    count_tokens: Callable[[list[str]], list[int]],
    *,
    max_tokens: int,
    overlap: int = OVERLAP_TOKENS,
) -> list[str]:
    """``text`` as windows of whole sentences where it has them, each at most ``max_tokens``
    tokens and sharing up to ``overlap`` tokens with the one before: every sentence that fits a
    window is read whole in one. A longer sentence, or a text without sentence ends (many posts
    have none), is cut into windows of whole words the same way; a single word longer than a
    window is a window of its own, which the tokenizer then cuts. ``count_tokens``: the
    tokenizer's token count of each word, without special tokens. A text that fits one window
    comes back as it is (``[text]``); the empty text as ``[]``."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be at least 1, got {max_tokens}")
    if not 0 <= overlap < max_tokens:
        raise ValueError(f"overlap must be in [0, max_tokens), got {overlap} with max_tokens {max_tokens}")
    if not text.strip():
        return []
    if len(text) <= max_tokens:
        return [text]  # every token covers at least one character: it fits, no need to count
    words = text.split()
    counts = count_tokens(words)
    if sum(counts) <= max_tokens:
        return [text]
    # Units to pack: sentences that fit a window, and the word windows of those that do not.
    units: list[str] = []
    unit_counts: list[int] = []
    for first, last in _sentences(words):
        sentence = counts[first:last]
        pieces = [(0, len(sentence))] if sum(sentence) <= max_tokens else _pack(sentence, max_tokens, overlap)
        for start, end in pieces:
            units.append(" ".join(words[first + start : first + end]))
            unit_counts.append(sum(sentence[start:end]))
    return [" ".join(units[start:end]) for start, end in _pack(unit_counts, max_tokens, overlap)]


def _sentences(words: Sequence[str]) -> list[tuple[int, int]]:
    """[first, last) word ranges of the sentences, in order; a text without sentence ends is one."""
    ranges, first = [], 0
    for index, word in enumerate(words):
        if _SENTENCE_END.search(word):
            ranges.append((first, index + 1))
            first = index + 1
    if first < len(words):
        ranges.append((first, len(words)))
    return ranges


def _pack(counts: Sequence[int], max_tokens: int, overlap: int) -> list[tuple[int, int]]:
    """[start, end) ranges of consecutive units (of ``counts`` tokens each) that cover them all:
    each range as long as fits ``max_tokens`` (at least one unit), each next one starting as far
    back as ``overlap`` tokens allow, always forward."""
    ranges: list[tuple[int, int]] = []
    start = 0
    while True:
        end, used = start, 0
        while end < len(counts) and (end == start or used + counts[end] <= max_tokens):
            used += counts[end]
            end += 1
        ranges.append((start, end))
        if end == len(counts):
            return ranges
        next_start, shared = end, 0
        while next_start - 1 > start and shared + counts[next_start - 1] <= overlap:
            next_start -= 1
            shared += counts[next_start]
        start = next_start


@dataclass(frozen=True)
class PostViews:
    """The rows a batch of posts is scored as: one per window of its longest text (a post whose
    texts fit one window has one view). View ``k`` of a post reads window ``k`` of each of its
    texts, or that text's last window when it has fewer (so every window of every text is read,
    beside the post's other inputs)."""

    post_of_view: tuple[int, ...]
    captions: tuple[str, ...]  # "" = no caption
    image_texts: tuple[str, ...]  # "" = no image text

    @classmethod
    def of(
        cls, caption_windows: Sequence[Sequence[str]], image_text_windows: Sequence[Sequence[str]]
    ) -> PostViews:
        if len(caption_windows) != len(image_text_windows):
            raise ValueError(
                f"one list of windows per post for each text: {len(caption_windows)} captions, "
                f"{len(image_text_windows)} image texts"
            )
        posts: list[int] = []
        captions: list[str] = []
        image_texts: list[str] = []
        for post, (caption, image_text) in enumerate(zip(caption_windows, image_text_windows, strict=True)):
            for k in range(max(len(caption), len(image_text), 1)):
                posts.append(post)
                captions.append(caption[min(k, len(caption) - 1)] if caption else "")
                image_texts.append(image_text[min(k, len(image_text) - 1)] if image_text else "")
        return cls(tuple(posts), tuple(captions), tuple(image_texts))

    @property
    def one_per_post(self) -> bool:
        return len(set(self.post_of_view)) == len(self.post_of_view)

    def best(
        self, probs: torch.Tensor, deltas: torch.Tensor, posts: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Per post and label, the view that scores the label highest: (probs (posts, labels),
        deltas (posts, modalities, labels)) taken from that view, so a label's attribution is the
        one of the window that decided it."""
        if self.one_per_post:
            return probs, deltas
        post_of_view = torch.tensor(self.post_of_view)
        labels = probs.shape[1]
        best_probs = torch.full((posts, labels), -1.0, dtype=probs.dtype)
        best_probs = best_probs.scatter_reduce(
            0, post_of_view[:, None].expand(-1, labels), probs, reduce="amax", include_self=True
        )
        best_deltas = torch.zeros(posts, deltas.shape[1], labels, dtype=deltas.dtype)
        # the first view (in window order) that reaches the post's best score gives its deltas
        for view in reversed(range(len(self.post_of_view))):
            post = self.post_of_view[view]
            hits = probs[view] >= best_probs[post]  # (labels,)
            best_deltas[post][:, hits] = deltas[view][:, hits]
        return best_probs, best_deltas
