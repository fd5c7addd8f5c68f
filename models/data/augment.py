"""Training-text augmentation: behaviours the public datasets do not teach on their own.

HateXplain, Davidson and ToxiGen teach what hate looks like in their sources. A platform's posts
also carry the same hate misspelt on purpose, people quoting hate to condemn it, ordinary
sentences about any group, and captions of one or two words. Each function here turns training
texts into labelled examples of one such behaviour:

- :func:`obfuscated`: a harmful or benign text with its most telling word disguised (letters
  swapped, dropped or doubled, spaces removed or added, leetspeak, look-alike letters). The label
  stays; benign texts are disguised too, so disguise itself is no signal.
- :func:`counter_speech`: a harmful text quoted inside a frame that rejects or reports it: benign.
- :func:`identity_swaps`: a benign text that names a group, with the group replaced by another:
  still benign, so no group name is a harm signal by itself.
- :func:`bland_reactions`: short reactions people caption pictures with: benign.
- :func:`strayed`: a harmful or benign text with one or two stray words beside it (a made-up
  brand, a number, a code, a handle: what an OCR read of a photo holds besides the meme's words,
  ``models/data/stray_words.py``). The label stays: a stray neither adds nor removes harm.
- :func:`typoed`: a harmful or benign text with one or two accidental slips (a neighbouring key,
  swapped, dropped or doubled letters; ``models/data/typos.py``) in any of its words. The label
  stays: a typo is no sign of harm, and no sign of its absence.

The wording (frames, groups, reactions) is written for training only; the functional test suite
(``models/suite``) has its own, and :func:`drop_suite_texts` removes any training text that
happens to equal a suite case, so no case is ever trained on.
"""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace

from .obfuscation import KINDS as OBFUSCATION_KINDS
from .obfuscation import obfuscate
from .sources import (
    BENIGN,
    FULL_MASK,
    OBFUSCATED_SOURCE_PREFIX,
    STRAY_SOURCE_PREFIX,
    TYPO_SOURCE_PREFIX,
    TextExample,
    text_key,
)
from .stray_words import with_strays
from .typos import with_typos

#: Frames that reject, report or question a quoted harmful text ({} = the quote).
COUNTER_FRAMES: tuple[str, ...] = (
    'Someone left this under my video: "{}". Reported and blocked.',
    'Imagine thinking "{}" is an acceptable thing to post. It is not.',
    'My uncle said "{}" at dinner and the whole table told him he was wrong.',
    'Posts like "{}" are exactly why this site needs better moderation.',
    'Screenshotting this so people see what we deal with: "{}"',
    '"{}" is hateful garbage and whoever wrote it should be ashamed.',
    'A reminder that "{}" is a lie spread to make people afraid of their neighbours.',
    'Teaching my students why a sentence like "{}" hurts real people.',
    'Not okay. "{}" has no place here, please report it.',
    'People really wrote "{}" in the comments. Sending love to everyone it targets.',
    'The account that posted "{}" has been suspended, good.',
    'I used to believe "{}" until I actually met people. I was wrong.',
)

#: Group names for swaps in benign texts (plural forms; lower case matched case-insensitively).
SWAP_GROUPS: tuple[str, ...] = (
    "muslims",
    "christians",
    "jews",
    "hindus",
    "sikhs",
    "buddhists",
    "atheists",
    "black people",
    "white people",
    "asians",
    "latinos",
    "mexicans",
    "arabs",
    "africans",
    "immigrants",
    "refugees",
    "women",
    "men",
    "gay people",
    "lesbians",
    "trans people",
    "bisexual people",
    "disabled people",
    "deaf people",
    "blind people",
    "autistic people",
    "native americans",
    "chinese people",
    "indians",
    "koreans",
    "irish people",
    "polish people",
    "roma",
    "old people",
    "teenagers",
)
_SWAP_PATTERN = re.compile(r"\b(" + "|".join(re.escape(g) for g in SWAP_GROUPS) + r")\b", re.IGNORECASE)

#: Short reactions people post with a picture, written for training.
REACTIONS: tuple[str, ...] = (
    "haha",
    "hahaha",
    "omg",
    "wow just wow",
    "so true",
    "ok",
    "okay then",
    "yes",
    "nope",
    "cute",
    "adorable",
    "beautiful",
    "gorgeous view",
    "love it",
    "love this",
    "obsessed",
    "goals",
    "big mood",
    "vibes",
    "good vibes only",
    "weekend",
    "friday!",
    "monday again",
    "throwback",
    "tbt",
    "new pic",
    "check this out",
    "look what I made",
    "my new wallpaper",
    "saw this today",
    "random pic",
    "just because",
    "no caption needed",
    "caption this",
    "thoughts?",
    "hmm",
    "interesting",
    "same energy",
    "relatable",
    "me every morning",
    "when the coffee kicks in",
    "current view",
    "home",
    "summer",
    "winter is here",
    "rainy day",
    "art",
    "sketch",
    "first try",
    "finally",
    "classic",
    "iconic",
    "legend",
    "bruh",
    "lmao",
    "lmfao",
    "rofl",
    "dead 😂",
    "😍",
    "🙌",
    "👀",
    "✨",
    "💯",
    "❤️",
    "😎",
    "🤣🤣",
    "☀️",
    "🌊",
    "🎉🎉🎉",
    "😭😭",
    "🙃",
    "xD",
    ":)",
    ":D",
    "<3",
    "...",
    "?",
    "!!!",
    "yep",
    "facts",
    "mood af",
    "aesthetic",
    "shared from my gallery",
    "via my phone",
    "screenshot",
    "repost",
    "for you",
    "happy birthday!",
    "congrats!",
    "nice one",
    "cool",
    "sweet",
    "neat",
    "fun",
    "tired",
    "hungry",
    "sunday",
    "road trip",
    "the view tho",
)


def word_harm_scores(examples: Iterable[TextExample], *, min_count: int = 20) -> dict[str, float]:
    """Smoothed log-odds of a word appearing in a toxic rather than a benign text: the words a
    classifier leans on most, which are the ones people disguise."""
    toxic: Counter[str] = Counter()
    benign: Counter[str] = Counter()
    for example in examples:
        if not example.mask[-1]:
            continue
        words = set(re.findall(r"[a-z]{3,}", example.text.lower()))
        (toxic if example.targets[-1] else benign).update(words)
    total_toxic, total_benign = sum(toxic.values()) + 1, sum(benign.values()) + 1
    scores = {}
    for word in toxic.keys() | benign.keys():
        if toxic[word] + benign[word] >= min_count:
            scores[word] = math.log((toxic[word] + 1) / total_toxic) - math.log(
                (benign[word] + 1) / total_benign
            )
    return scores


def _telling_word(text: str, scores: dict[str, float], *, harmful: bool) -> str | None:
    words = [w for w in re.findall(r"[A-Za-z]{3,}", text)]
    if not words:
        return None
    if harmful:
        return max(words, key=lambda w: scores.get(w.lower(), -99.0))
    return max(words, key=len)


def obfuscated(
    examples: Sequence[TextExample], *, count: int, seed: int, harm_scores: dict[str, float]
) -> list[TextExample]:
    """``count`` texts drawn from ``examples`` (two harmful for one benign) with their most telling
    word disguised by a random obfuscation kind; labels unchanged."""
    rng = random.Random(seed)
    harmful = [e for e in examples if e.targets[-1] == 1.0 and 3 <= len(e.text.split()) <= 40]
    benign = [
        e for e in examples if e.targets[-1] == 0.0 and e.mask == FULL_MASK and 3 <= len(e.text.split()) <= 40
    ]
    out = []
    for index in range(count):
        pool, is_harmful = (harmful, True) if index % 3 != 2 else (benign, False)
        if not pool:
            continue
        source = pool[rng.randrange(len(pool))]
        word = _telling_word(source.text, harm_scores, harmful=is_harmful)
        if word is None:
            continue
        kind = OBFUSCATION_KINDS[rng.randrange(len(OBFUSCATION_KINDS))]
        text = obfuscate(source.text, kind, rng, targets=[word])
        if text != source.text:
            out.append(replace(source, text=text, source=f"{OBFUSCATED_SOURCE_PREFIX}{source.source}"))
    return out


def counter_speech(examples: Sequence[TextExample], *, count: int, seed: int) -> list[TextExample]:
    """Harmful texts (3-20 words) quoted inside a frame that rejects them: benign posts."""
    rng = random.Random(seed)
    harmful = [e for e in examples if e.targets[-1] == 1.0 and 3 <= len(e.text.split()) <= 20]
    out = []
    for _ in range(count if harmful else 0):
        source = harmful[rng.randrange(len(harmful))]
        frame = COUNTER_FRAMES[rng.randrange(len(COUNTER_FRAMES))]
        quote = source.text.strip().strip('"').rstrip(".")
        out.append(
            TextExample(frame.format(quote), BENIGN, FULL_MASK, "aug_counter_speech", source.split, "normal")
        )
    return out


def identity_swaps(examples: Sequence[TextExample], *, count: int, seed: int) -> list[TextExample]:
    """Benign texts that name a group, with every group name replaced by another group: benign."""
    rng = random.Random(seed)
    naming = [
        e for e in examples if e.targets[-1] == 0.0 and e.mask == FULL_MASK and _SWAP_PATTERN.search(e.text)
    ]
    out = []
    for _ in range(count if naming else 0):
        source = naming[rng.randrange(len(naming))]
        replacement = SWAP_GROUPS[rng.randrange(len(SWAP_GROUPS))]
        text = _SWAP_PATTERN.sub(replacement, source.text)
        if text.lower() != source.text.lower():
            out.append(TextExample(text, BENIGN, FULL_MASK, "aug_identity_swap", source.split, "normal"))
    return out


def _balanced_draws(
    examples: Sequence[TextExample], *, count: int, rng: random.Random, min_words: int
) -> Iterator[TextExample]:
    """``count`` texts of ``min_words``-40 words with a known toxic label, drawn with replacement,
    harmful and benign by turns (a side with no text is skipped)."""
    usable = [e for e in examples if e.mask[-1] and min_words <= len(e.text.split()) <= 40]
    harmful = [e for e in usable if e.targets[-1] == 1.0]
    benign = [e for e in usable if e.targets[-1] == 0.0]
    for index in range(count):
        pool = harmful if index % 2 == 0 else benign
        if pool:
            yield pool[rng.randrange(len(pool))]


def strayed(examples: Sequence[TextExample], *, count: int, seed: int) -> list[TextExample]:
    """``count`` texts (2-40 words) drawn from ``examples``, harmful and benign in equal numbers,
    each with one or two stray words added; labels and masks unchanged."""
    rng = random.Random(seed)
    return [
        replace(source, text=with_strays(source.text, rng), source=f"{STRAY_SOURCE_PREFIX}{source.source}")
        for source in _balanced_draws(examples, count=count, rng=rng, min_words=2)
    ]


def typoed(examples: Sequence[TextExample], *, count: int, seed: int) -> list[TextExample]:
    """``count`` texts (3-40 words) drawn from ``examples``, harmful and benign in equal numbers,
    each with one slip (two in one text of three); labels and masks unchanged."""
    rng = random.Random(seed)
    out = []
    for source in _balanced_draws(examples, count=count, rng=rng, min_words=3):
        text = with_typos(source.text, rng, words=2 if rng.random() < 1 / 3 else 1)
        if text != source.text:
            out.append(replace(source, text=text, source=f"{TYPO_SOURCE_PREFIX}{source.source}"))
    return out


def bland_reactions(split: str) -> list[TextExample]:
    """Every training reaction as a benign text post (lower, title and upper case variants)."""
    texts = {r for reaction in REACTIONS for r in (reaction, reaction.capitalize(), reaction.upper())}
    return [TextExample(t, BENIGN, FULL_MASK, "aug_reaction", split, "normal") for t in sorted(texts)]


def _suite_keys(text: str) -> set[str]:
    # text_key drops emoji and punctuation ("😂" has an empty key), so the plain lower-cased text
    # is compared as well.
    keys = {" ".join(text.lower().split())}
    if text_key(text):
        keys.add(text_key(text))
    return keys


def drop_suite_texts(examples: Sequence[TextExample], suite_texts: Iterable[str]) -> list[TextExample]:
    """``examples`` less any text equal (lower-cased, or letters and digits only) to a suite case."""
    banned = set().union(*(_suite_keys(t) for t in suite_texts))
    return [e for e in examples if not (_suite_keys(e.text) & banned)]
