"""Repairing image text: disguised and misread words back to the word they stand for, glued words apart.

OCR damages words in a few recurring ways: it drops the spaces between words ("youpeopleare"),
drops or misreads a letter it does not recognise (a smudged or stylised one), reads a doubled
letter once or thrice, reads a capital I as a small l ("l hate"), breaks a letter-spaced word
into fragments ("r e pulsive", "p ar a s it e s"), and reads digits and symbols used as letters
as printed ("h4te", "$cum"). The text tower then sees word pieces instead of the word. People
disguise words in memes the same ways, and after OCR the result looks the same.

:meth:`OcrSpelling.repair` reads the text back with the classic noisy-channel recipe and the
checkpoint's frequency-ranked vocabulary (``ocr_vocabulary.txt``, built from the training
texts; the Zipf costs of :class:`~models.segmentation.WordSegmenter`):

0. **Noise rows** (:meth:`OcrSpelling.without_noise_rows`, which the processor runs before
   :meth:`~OcrSpelling.repair`), when OCR's read comes in rows (one per line): a row that is
   a number or a code ("N23456", "-150."), or one short token with capitals that nothing reads as
   words (a sign or a sticker read as letters: "ZULIA", "srwynA" off a mirrored photo), is left
   out when another row holds the message (two tokens or more, or a whole line glued into one
   token longer than that). Photo text and stickers are read as rows of their own as large as
   the meme's text, so only what they say tells them apart; beside a hateful sentence such a
   token can take its hate score from 0.99 to under 0.1
   (docs/training/stray_text_experiment.md). A token reads as words if it is one, if its
   stand-ins spell words, if the repair reads it as glued words, or if it is a few frequent words
   glued; no edits. Lowercase tokens and tokens of more than :data:`NOISE_MAX_LETTERS` letters are
   always kept: they are pieces of the message ("igge" of "n i g g e r s", a whole line glued).
1. **Stand-ins and repeats**, per token: digits and symbols read as the letters they stand for,
   and letters repeated three or more times read once or twice, when that spells a word or glued
   words ("h4te" -> "hate", "beingd3cen7human" -> "being decent human", "haaate" -> "hate").
2. **Stretches**, per run of alphabetic tokens that holds a token which is not a word: the
   cheapest reading of its letters as a sequence of words, by dynamic programming. A piece costs
   its word's Zipf cost; or that plus :data:`EDIT_COST` for a word one edit away (a letter
   dropped, added, changed, or two neighbours swapped), only for a whole token as OCR read it, of
   :data:`MIN_EDIT_LENGTH` letters or more, and not a capitalised name inside the stretch; "i"'s
   cost plus :data:`L_FOR_I_COST` for a lone "l"; :data:`LONE_LETTER_COST` for another letter
   read alone. Pieces may join tokens ("t rash" -> "trash") only across a token that is not a
   word, and a word only whole to whole tokens; they never cut inside a word. So text that reads
   correctly is never re-read ("therapist" stays, "be at" is not "beat"). A token nothing
   explains is kept as OCR read it, and the rest of its stretch is still read. A capital I glued
   to the front of a word is read as the word "I" at a discount (:data:`GLUED_I_BONUS`).

Captions are not repaired: a checkpoint corrects only the typed words whose correction is sure
(models/typed_spelling.py).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from .segmentation import WordSegmenter

#: Digits and symbols that stand for letters, in OCR output and in leetspeak.
LETTER_STAND_INS: dict[str, tuple[str, ...]] = {
    "0": ("o",),
    "1": ("i", "l"),
    "3": ("e",),
    "4": ("a",),
    "5": ("s",),
    "7": ("t",),
    "8": ("b",),
    "9": ("g",),
    "@": ("a",),
    "$": ("s",),
    "!": ("i",),
    "|": ("l", "i"),
}
#: Tokens shorter than this (in letters) are never edited: too many one-edit neighbours ("isit" is
#: one edit from "isis", "jess" from "jews").
MIN_EDIT_LENGTH = 5
#: A stand-in token needs this many real letters: "4" and "10" are numbers, not disguised words.
MIN_LETTERS_WITH_STAND_INS = 2
#: At most this many stand-ins in one token (each may have two readings; the product stays small).
MAX_STAND_INS = 4
#: The cost of one misread letter, in the segmenter's Zipf units (natural log of a frequency
#: ratio): a misread is taken to be about e^7 ~ 1,100 times rarer than a correct read.
EDIT_COST = 7.0
#: A lone "l" is OCR's commonest misread of the word "I": with "i"'s own cost (~3) a little less
#: than an edit, so "personlsee" is "person i see", not "person see". Never after another "l".
L_FOR_I_COST = 3.0
#: A letter read alone, as a token of its own ("u", "r", "x"), stays a letter at a little less
#: than an edit: cheaper than deleting it into a neighbour ("u spell" is not "spell"), dearer than
#: joining it to make a word ("t rash" -> "trash", "p ar a s it e s" -> "parasites").
LONE_LETTER_COST = 6.0
#: A token nothing explains is kept as OCR read it, at this cost per letter: dearer than any
#: reading as words (a word costs at most ~12, for two letters or more), so it is the last resort,
#: and the rest of its stretch is still read ("umwhydoesshe xqzt" -> "um why does she xqzt").
UNREAD_LETTER_COST = 12.0
#: A token is cut into glued words only from this many letters: in fewer, two glued words can not be
#: told from one unknown word (a shorter one is read whole, or joined to a neighbour).
MIN_RUN_LENGTH = 6
#: OCR glues the narrow capital "I" to the next word more often than any other letter ("Iswear",
#: "Iknow", "Isee"), and in meme text a sentence starting "I" + verb is common. A token that is not
#: a word and starts with a capital I and a lowercase letter may therefore be cut after the I
#: whatever its length, and reading that I as the word "I" costs this much less than "i"
#: elsewhere: "Iswear" is "I swear", not "is wear" (the two differ by under 1 by word frequency
#: alone), and "Iknow" is "I know", not "know" with a letter dropped; a reading that is better by
#: more still wins ("Isthere" is "is there").
GLUED_I_BONUS = 2.0
#: A noise row is at most this many letters long (signs and stickers read as a word: "ZULIA").
NOISE_MAX_LETTERS = 8
#: Short glued words count as words in a noise check only if each is this frequent (about the
#: vocabulary's 2,000 commonest): the vocabulary holds rare two- and three-letter tokens from
#: tweets, and a sticker read as "ZULIA" splits into two of them.
FREQUENT_WORD_COST = 10.0
#: Longest piece the stretch reading considers (longer words are rare and cost time).
MAX_PIECE_LENGTH = 20

# A token: letters with digits/symbols that may stand for letters, and a contraction's apostrophe.
# It may not end in "!" (a trailing "!" is punctuation far more often than a disguised "i").
# Not part of a longer identifier ("@the_daily_laugh" is a handle, not "athe").
_TOKEN = re.compile(r"(?<![\w@$!|])[A-Za-z0-9@$!|]*[A-Za-z0-9@$|](?:'[A-Za-z]+)?(?![\w@$|])")
# A run of letters (a contraction's apostrophe inside), captured so that re.split keeps it.
_RUN = re.compile(r"([A-Za-z]+(?:'[A-Za-z]+)*)")
_REPEATS = re.compile(r"(.)\1{2,}")
_LETTERS = re.compile(r"[A-Za-z]+")
# Punctuation around a token ("tes.", "'quoted'") that says nothing about whether it is a word.
_EDGE_PUNCTUATION = re.compile(r"^[^\w@$!|]+|[^\w@$!|]+$")
_STAND_IN_RUN = re.compile("[" + re.escape("".join(LETTER_STAND_INS)) + "]+")
# OCR drops the space after a sentence's punctuation: "today.They", "gger,pathetic".
# ("!" is left alone: inside a word it is more often a disguised "i", as in "h!te".)
_GLUED_PUNCTUATION = re.compile(r"(?<=[a-z])([.,;:?]+)(?=[A-Za-z]{2})")


class OcrSpelling:
    """Repairs OCR'd text with a frequency-ranked vocabulary (see the module doc)."""

    def __init__(self, segmenter: WordSegmenter) -> None:
        self.segmenter = segmenter
        # built here, not on first use: ~0.2 s that would otherwise land on the first meme scored
        self._deletions = _deletion_index(segmenter.words)

    # ----- step 0: noise rows ------------------------------------------------------------------

    def without_noise_rows(self, text: str) -> str:
        """``text`` (OCR's rows, one per line) less its noise rows (step 0), rows joined by a space."""
        rows = [row for row in (" ".join(line.split()) for line in text.split("\n")) if row]
        if len(rows) < 2:
            return " ".join(rows)
        noise = [self.noise_row(row) for row in rows]
        if not any(not n and _holds_a_message(row) for row, n in zip(rows, noise, strict=True)):
            return " ".join(rows)  # no other row holds a message: keep everything
        return " ".join(row for row, n in zip(rows, noise, strict=True) if not n)

    def noise_row(self, row: str) -> bool:
        """Whether a row of image text is one token that nothing reads as words (step 0)."""
        tokens = row.split()
        if len(tokens) > 1:
            return False
        token = _EDGE_PUNCTUATION.sub("", tokens[0]) if tokens else ""
        letters = _LETTERS.findall(token)
        if not any(len(run) > 1 for run in letters):
            return True  # a number, a code, a lone letter
        # Signs and stickers are read in capitals and short; a lowercase fragment ("igge" of a
        # letter-spaced word) or a long token (a whole line glued, a disguised word inside:
        # "Blackpeoplearegrreedy,sneaky") is the message, and the repair reads what it can of it.
        if token.islower() or sum(map(len, letters)) > NOISE_MAX_LETTERS:
            return False
        if all(word.lower() in self.segmenter for word in self.undisguise(token).split()):
            return False
        # as the repair reads it (a contraction is one run), or apart at every apostrophe
        # ("Immigrants'arenothing": a quote glued to its neighbours)
        return not any(
            all(self._readable(run) for run in runs if len(run) > 1)
            for runs in (_RUN.findall(token), letters)
        )

    def _readable(self, run: str) -> bool:
        """A run of letters is a word, glued words as the repair reads them, or a few frequent
        words glued ("ByMe"); no edits (a sign read in capitals is read as written: "ZULIA" is
        not "julia")."""
        lower = run.lower()
        if lower in self.segmenter or self.read_stretch([run], edits=False) is not None:
            return True
        return _splits_into(lower, self.segmenter, max_cost=FREQUENT_WORD_COST)

    # ----- step 1: stand-ins and repeated letters ----------------------------------------------

    def undisguise(self, token: str) -> str:
        """Step 1 for one token: the word(s) its stand-ins or repeated letters spell, or the token.
        A reading may be several glued words only when every stand-in sits between two letters
        ("beingd3cen7human"): "10am", "@funnypage" and "it!!promotion" are not "lo am", "a funny
        page" and "it i i promotion"."""
        lower = token.lower()
        letters = sum(ch.isalpha() for ch in lower)
        if lower in self.segmenter or letters == 0:
            return token
        stand_ins = sum(ch in LETTER_STAND_INS for ch in lower)
        if stand_ins:
            if letters < MIN_LETTERS_WITH_STAND_INS or stand_ins > MAX_STAND_INS:
                return token
            readings: Iterable[str] = stand_in_readings(lower)
        else:
            readings = _fewer_repeats(lower)
        may_glue = _stand_ins_between_letters(lower)
        found = []
        for reading in readings:
            cost = self.segmenter.cost(reading)
            if cost is not None:
                found.append((cost, reading))
            elif may_glue and reading.isalpha():
                read = self.read_stretch([reading], edits=False)  # one correction per word
                if read is not None:
                    found.append((read[0], " ".join(read[1])))
        return min(found)[1] if found else token

    # ----- step 2: stretches -------------------------------------------------------------------

    def nearest_word(self, piece: str) -> tuple[float, str] | None:
        """The cheapest vocabulary word exactly one edit from ``piece``, with its cost."""
        index = self._deletions
        candidates: set[str] = set(index.get(piece, ()))  # a letter missing from the piece
        for i in range(len(piece)):
            deleted = piece[:i] + piece[i + 1 :]
            if deleted in self.segmenter:
                candidates.add(deleted)  # an extra letter in the piece
            candidates.update(w for w in index.get(deleted, ()) if len(w) == len(piece))  # changed/swapped
        best: tuple[float, str] | None = None
        for word in candidates:
            cost = self.segmenter.cost(word)
            if cost is not None and word != piece and _one_edit_apart(piece, word):
                if best is None or (cost, word) < best:
                    best = (cost, word)
        return best

    def _piece(
        self, piece: str, *, after: str, whole_token: bool, may_edit: bool, may_keep: bool
    ) -> tuple[float, str] | None:
        """A piece's cheapest reading; ``after`` is the letter before it ("" at the start),
        ``whole_token`` whether the piece is one token exactly as OCR read it, ``may_edit``
        whether that token may be corrected, ``may_keep`` whether it may stay unexplained."""
        cost = self.segmenter.cost(piece)
        if cost is not None:
            return cost, piece
        if piece == "l" and after != "l":  # "beautifull" is a doubled l, not "beautiful i"
            i_cost = self.segmenter.cost("i")
            return (i_cost + L_FOR_I_COST, "i") if i_cost is not None else None
        if len(piece) == 1 and whole_token:
            return LONE_LETTER_COST, piece
        # Only a token exactly as OCR read it is corrected: a piece cut out of a token or joined
        # from fragments must be a word as it stands. Otherwise fragments of innocent words get
        # "corrected" into the vocabulary's frequent words, and in a corpus of hate speech those
        # are slurs ("una polo get ic una bashed" read as "... i cunt bashed").
        if may_edit and whole_token and len(piece) >= MIN_EDIT_LENGTH:
            near = self.nearest_word(piece)
            if near is not None:
                return near[0] + EDIT_COST, near[1]
        if may_keep and whole_token:
            return UNREAD_LETTER_COST * len(piece), piece  # nothing explains it: kept as OCR read it
        return None

    def read_stretch(self, cores: list[str], *, edits: bool = True) -> tuple[float, list[str]] | None:
        """The cheapest reading of consecutive alphabetic tokens as words, with its cost (see the
        module doc), or None when some of it cannot be explained. ``edits=False``: words and
        glued words only, no misread letters."""
        known = [c.lower() in self.segmenter for c in cores]
        # A capitalised word inside a stretch is a name ("Honestly Jess can ..."): never corrected,
        # or names would become the vocabulary's frequent words ("jess" is one edit from "jews").
        proper = [i > 0 and c[:1].isupper() and c[1:].islower() for i, c in enumerate(cores)]
        letters = "".join(cores).lower()
        # where each token starts and ends in ``letters``; cuts only at token edges and inside non-words
        starts, position = [], 0
        for core in cores:
            starts.append(position)
            position += len(core)
        token_starts = set(starts)
        token_ends = {start + len(core) for start, core in zip(starts, cores, strict=True)}
        edges = token_starts | {len(letters)}
        owner = [i for i, core in enumerate(cores) for _ in core]
        # a token is cut only where it is not a word and long enough to be glued words
        # (MIN_RUN_LENGTH letters; shorter ones are read whole or joined to a neighbour), or,
        # whatever its length, where it starts with a capital I glued to a lowercase word
        # (GLUED_I_BONUS: "Isaw" is "I saw", and "Isit" may still be "is it")
        glued_i = [
            not k and len(core) > 2 and core[0] == "I" and core[1].islower()
            for k, core in zip(known, cores, strict=True)
        ]
        splittable = [
            not k and (len(core) >= MIN_RUN_LENGTH or g)
            for k, g, core in zip(known, glued_i, cores, strict=True)
        ]
        can_cut = [True] + [k in edges or splittable[owner[k]] for k in range(1, len(letters))] + [True]
        n = len(letters)
        best: list[tuple[float, int, str]] = [(0.0, 0, "")] + [(math.inf, 0, "")] * n
        for end in range(1, n + 1):
            if not can_cut[end]:
                continue
            for start in range(max(0, end - MAX_PIECE_LENGTH), end):
                if not can_cut[start] or best[start][0] == math.inf:
                    continue
                spanned = range(owner[start], owner[end - 1] + 1)
                at_token_edges = start in token_starts and end in token_ends
                if len(spanned) > 1:
                    # A piece that joins tokens takes in a token that is not a word, and joins a word
                    # only whole to whole tokens: "t rash" is "trash", but "turn outtobe" is not
                    # "turnout to be".
                    if all(known[t] for t in spanned):
                        continue
                    if not at_token_edges and any(known[t] for t in spanned):
                        continue
                whole_token = at_token_edges and len(spanned) == 1
                # a short token cut only for its glued I: its other pieces are words of two letters
                # or more ("Isit" is "is it", but "Isaac" is not "is a ac")
                if (
                    end - start == 1
                    and start not in token_starts
                    and glued_i[owner[start]]
                    and len(cores[owner[start]]) < MIN_RUN_LENGTH
                ):
                    continue
                reading = self._piece(
                    letters[start:end],
                    after=letters[start - 1 : start],
                    whole_token=whole_token,
                    may_edit=edits and not proper[owner[start]],
                    may_keep=edits,
                )
                if (
                    reading is not None
                    and end == start + 1
                    and start in token_starts
                    and glued_i[owner[start]]
                ):
                    reading = (reading[0] - GLUED_I_BONUS, reading[1])
                if reading is not None and best[start][0] + reading[0] < best[end][0]:
                    word = reading[1]
                    if word == letters[start:end] and whole_token:
                        word = cores[owner[start]]  # a token read as it is keeps its case
                    best[end] = (best[start][0] + reading[0], start, word)
        if best[n][0] == math.inf:
            return None
        words, end = [], n
        while end > 0:
            words.append(best[end][2])
            end = best[end][1]
        return best[n][0], words[::-1]

    def repair(self, text: str) -> str:
        """``text`` read back as words (steps 1 and 2); punctuation, numbers and words stay as they were."""
        text = _GLUED_PUNCTUATION.sub(r"\1 ", text)  # "today.They" -> "today. They"
        text = " ".join(_TOKEN.sub(lambda m: self.undisguise(m.group(0)), text).split())
        parts = _RUN.split(text)  # separator, run, separator, run, ..., separator
        out = [parts[0]]
        index = 1
        while index < len(parts):
            # a stretch: runs of letters with nothing but a space between them
            last = index
            while last + 2 < len(parts) and parts[last + 1] == " ":
                last += 2
            runs = parts[index : last + 1 : 2]
            out.append(" ".join(self._read(runs)))
            out.append(parts[last + 1])
            index = last + 2
        return "".join(out)

    def _read(self, runs: list[str]) -> list[str]:
        if all(run.lower() in self.segmenter for run in runs):
            return runs
        read = self.read_stretch(runs)
        return read[1] if read is not None else runs


def _holds_a_message(row: str) -> bool:
    """Two tokens or more, or one longer than a noise row can be (a whole line glued by OCR)."""
    tokens = row.split()
    return len(tokens) > 1 or sum(map(len, _LETTERS.findall(row))) > NOISE_MAX_LETTERS


def _splits_into(letters: str, vocabulary: WordSegmenter, *, max_cost: float) -> bool:
    """Whether ``letters`` is a sequence of vocabulary words each costing at most ``max_cost``."""

    def frequent(piece: str) -> bool:
        cost = vocabulary.cost(piece)
        return cost is not None and cost <= max_cost

    reachable = [True] + [False] * len(letters)
    for end in range(1, len(letters) + 1):
        reachable[end] = any(
            reachable[start] and frequent(letters[start:end])
            for start in range(max(0, end - MAX_PIECE_LENGTH), end)
        )
    return reachable[-1]


def _deletion_index(words: Iterable[str]) -> dict[str, list[str]]:
    """Every word under each string one deletion away from it (symmetric-delete lookup: a piece's
    one-edit words are then found with a handful of dictionary reads). Only words of
    MIN_EDIT_LENGTH letters or more: a piece is that long, and the index only ever answers with
    words as long as the piece or one letter longer (a shorter word is looked up directly)."""
    index: dict[str, list[str]] = defaultdict(list)
    for word in words:
        if len(word) >= MIN_EDIT_LENGTH:
            for i in range(len(word)):
                index[word[:i] + word[i + 1 :]].append(word)
    return dict(index)


def _one_edit_apart(a: str, b: str) -> bool:
    """One deletion, insertion, substitution or adjacent swap turns ``a`` into ``b``."""
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long = (a, b) if len(a) < len(b) else (b, a)
    return any(long[:i] + long[i + 1 :] == short for i in range(len(long)))


def _stand_ins_between_letters(token: str) -> bool:
    """Every run of stand-ins has a letter on both sides and no symbol twice ("ha73b", not "10am"
    or "it!!p")."""
    for match in _STAND_IN_RUN.finditer(token):
        run, start, end = match.group(0), match.start(), match.end()
        if start == 0 or end == len(token) or len(set(run)) < len(run):
            return False
    return True


def stand_in_readings(token: str) -> Iterator[str]:
    """Every way of reading the token's stand-ins as letters ("1d1ot" -> "idiot", "ldiot", ...)."""
    options = [LETTER_STAND_INS.get(ch, (ch,)) for ch in token]
    for letters in itertools.product(*options):
        yield "".join(letters)


def _fewer_repeats(token: str) -> Iterator[str]:
    """The token with each run of 3+ equal letters cut to two, and to one ("haaate": "haate", "hate")."""
    if _REPEATS.search(token):
        yield _REPEATS.sub(r"\1\1", token)
        yield _REPEATS.sub(r"\1", token)
