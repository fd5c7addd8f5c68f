"""Image-text repair: disguised and misread words back to their word, glued words apart, the rest untouched."""

from __future__ import annotations

import itertools

import pytest

from models.ocr_spelling import OcrSpelling
from models.segmentation import WordSegmenter

# Most frequent first, as a checkpoint's vocabulary is ranked; a real one has ~20,000 words, so
# rare words sit behind 2,000 fillers no test text is near. "ver" and "mi" (rare) and "in" let the
# spacing repair read "vermiin" as three words, as it does with the real vocabulary.
FILLERS = ["xq" + "".join(letters) for letters in itertools.product("abcdefghijklm", repeat=3)][:2000]
VOCABULARY = (
    (
        "the in you a i to are people them all hate idiots is not go back they disgusting vermin "
        "filthy scum scumbags subhuman hat here kill process idiot beautiful day love my grandma there "
        "being decent human person see next hurt be at beat trash rash parasites it repulsive spell "
        "like therapist rapist stupid by walking will home if turnout out turn"
    ).split()
    + FILLERS
    + ["ver", "mi", "share", "honestly", "can", "leave"]
)


@pytest.fixture
def spelling() -> OcrSpelling:
    return OcrSpelling(WordSegmenter(VOCABULARY))


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        # 1. digits and symbols standing in for letters
        ("I h4te them", "I hate them"),
        ("those 1d10ts", "those idiots"),
        ("$cum", "scum"),
        # 2. letters repeated three or more times
        ("haaate them all", "hate them all"),
        ("scuuumbags", "scumbags"),
        # 3. one edit: dropped (a look-alike letter OCR cannot read), doubled, swapped, changed
        ("they are subhumn", "they are subhuman"),
        ("filty", "filthy"),
        ("dsigusting", "disgusting"),
        ("scumbagz", "scumbags"),
        ("beautifull day", "beautiful day"),  # a doubled l, not "beautiful i"
    ],
)
def test_disguised_and_misread_words_are_read_as_meant(spelling: OcrSpelling, read: str, meant: str) -> None:
    assert spelling.repair(read) == meant


def test_a_misread_word_is_corrected_rather_than_split_into_rare_pieces(spelling: OcrSpelling) -> None:
    # every piece of "ver mi in" is a word here, but one doubled letter is the cheaper explanation
    assert all(piece in spelling.segmenter for piece in ("ver", "mi", "in"))
    assert spelling.repair("vermiin") == "vermin"


def test_glued_words_are_still_split(spelling: OcrSpelling) -> None:
    assert spelling.repair("youpeopleare vermin") == "you people are vermin"
    assert spelling.repair("gobackthere") == "go back there"


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        # a letter-spaced word that OCR read as fragments, some of them words on their own
        ("they are r e pulsive", "they are repulsive"),
        ("they are walking t rash.", "they are walking trash."),
        ("they are p ar a s it e s.", "they are parasites."),
        # stand-ins inside glued words, and OCR's "l" for the word "I"
        ("beingd3cen7human", "being decent human"),
        ("lh4tethem", "i hate them"),
        ("hurtthenext personlsee", "hurt the next person i see"),
        ("theyarestupidby", "they are stupid by"),
        ("turn outtobe", "turn out to be"),  # a word joins only whole tokens: not "turnout to be"
        # the space OCR drops after a sentence's punctuation
        ("they are vermin.hate them", "they are vermin. hate them"),
    ],
)
def test_damage_across_words_is_read_back(spelling: OcrSpelling, read: str, meant: str) -> None:
    assert spelling.repair(read) == meant


@pytest.mark.parametrize(
    "text",
    [
        "kill the process",  # words are never touched, whatever they mean
        "2020 at 10am",  # numbers, and a number with too few letters to be a disguised word
        "b4 the game",  # one letter and a stand-in: too little to read as a word
        "wow!! love it",  # a trailing "!" is punctuation, not an "i"
        "hte",  # three letters: too many one-edit neighbours ("the", "hate") to choose
        "Zanzibar",  # no word near it: left as it is
        "he is a therapist",  # a word is never cut into words ("the rapist")
        "will be at home",  # words are never joined into a word ("beat")
        "if u spell it",  # a letter alone stays a letter ("u spell" is not "spell")
        "@the_daily_laugh",  # a handle, not "athe"
        "it!!promotion",  # "!!" is punctuation, not "ii"
        "10am and b4",  # a time; one letter and a stand-in
        # a misread word is corrected only as a whole token as OCR read it: a glued word with a
        # misread letter is left as read (fragments are never edited into a word)
        "alldisgustng people",
    ],
)
def test_what_cannot_be_explained_is_left_alone(spelling: OcrSpelling, text: str) -> None:
    assert spelling.repair(text) == text


def test_the_most_frequent_explanation_wins(spelling: OcrSpelling) -> None:
    # "thare" is one edit from "there" and from "share"; "there" ranks far higher here
    assert spelling.repair("thare") == "there"


def test_short_words_and_names_are_never_edited(spelling: OcrSpelling) -> None:
    assert spelling.repair("they htae") == "they htae"  # 5 letters or more only
    assert spelling.repair("they are scumbagz") == "they are scumbags"
    # a capitalised word inside the text is a name: names are not corrected into frequent words
    assert spelling.repair("Honestly Scumbagz can leave") == "Honestly Scumbagz can leave"
    assert spelling.repair("SCUMBAGZ can leave") == "scumbags can leave"


# --- glued words split back (the spacing repair), with a vocabulary of its own -----------------

SPACING_VOCABULARY = (
    "the you a i to people are not welcome here go back where came from therapist rapist is "
    "i'm going hurt there's reason shouldn't be m mg oi ng ngto"
).split()


@pytest.fixture
def spacing() -> OcrSpelling:
    return OcrSpelling(WordSegmenter(SPACING_VOCABULARY))


@pytest.mark.parametrize(
    ("glued", "repaired"),
    [
        ("youpeopleare vermin", "you people are vermin"),
        ("gobackto where youcamefrom", "go back to where you came from"),
        ("notwelcomehere", "not welcome here"),
        # A contraction is one word: "mgoingto" split alone, after the apostrophe, gave
        # "I'mg oi ngto" (every piece of that is in this vocabulary, as in the real one).
        ("I'mgoingto hurt", "i'm going to hurt"),
        ("There'sa reason", "there's a reason"),
        ("shouldn'tbe here", "shouldn't be here"),
    ],
)
def test_glued_words_are_split_back(spacing: OcrSpelling, glued: str, repaired: str) -> None:
    assert spacing.repair(glued) == repaired


def test_known_words_are_left_alone(spacing: OcrSpelling) -> None:
    # "therapist" could be read as "the rapist"; a word in the vocabulary is never split
    assert spacing.repair("the therapist is here") == "the therapist is here"
    assert spacing.repair("People") == "People"


def test_unknown_and_short_runs_are_left_alone(spacing: OcrSpelling) -> None:
    assert spacing.repair("xyzqwerty") == "xyzqwerty"  # no split into known words
    assert spacing.repair("notwelcomezz") == "notwelcomezz"  # a split would leave an unknown piece
    assert spacing.repair("goback") == "go back"  # six letters: the shortest repaired run
    assert spacing.repair("gohim") == "gohim"  # five letters: left alone


def test_punctuation_placeholders_and_digits_are_preserved(spacing: OcrSpelling) -> None:
    assert spacing.repair("<user> youpeople... <url>") == "<user> you people... <url>"
    assert spacing.repair("notwelcome! (gobackhere) 2024") == "not welcome! (go back here) 2024"
    assert spacing.repair("#notwelcome @youpeople") == "#not welcome @you people"


def test_whitespace_is_normalised(spacing: OcrSpelling) -> None:
    assert spacing.repair("  you\n\tpeople  ") == "you people"
    assert spacing.repair("") == ""


def test_known_contractions_and_possessives_are_left_alone(spacing: OcrSpelling) -> None:
    assert spacing.repair("There's people's") == "There's people's"
    assert spacing.repair("'quoted' rock'n'roll") == "'quoted' rock'n'roll"


# --- a capital I glued to the next word --------------------------------------------------------

# Ranked so that by frequency alone "is wear" costs a little less than "i swear" (ranks 1+3 against
# 2+4), as in the real vocabulary, and "sit" is far rarer than "is" and "it"; "saac" is no word,
# "isa" and "ac" are, as in the real one.
GLUED_I_VOCABULARY = "the is i wear swear it was know them there saw to isa ac iran ran said".split()


@pytest.fixture
def glued_i() -> OcrSpelling:
    return OcrSpelling(WordSegmenter(GLUED_I_VOCABULARY + FILLERS + ["sit"]))


@pytest.mark.parametrize(
    ("read", "meant"),
    [
        ("Iswear to", "i swear to"),  # not "is wear": the tie goes to the pronoun
        ("Iknow them", "i know them"),  # not "know them" with the I taken for a stray letter
        ("Isaw them", "i saw them"),  # shorter than a glued run, cut after its I all the same
        ("Isit there", "is it there"),  # a reading better by more than the discount still wins
        ("Itwas there", "it was there"),
        ("Isthere", "is there"),
    ],
)
def test_a_capital_i_glued_to_a_word_is_read_as_the_word_i(
    glued_i: OcrSpelling, read: str, meant: str
) -> None:
    assert glued_i.repair(read) == meant


def test_the_glued_i_rule_leaves_words_and_lowercase_alone(glued_i: OcrSpelling) -> None:
    assert glued_i.repair("Iran") == "Iran"  # a word: never re-read, though "ran" is one too
    assert glued_i.repair("iswear to") == "is wear to"  # no capital: frequency alone decides
    # a short token is cut for its I only into words of two letters or more: not "is a ac". (A
    # name like this one is misread all the same, "isa ac": the rule's known price.)
    assert glued_i.repair("Isaac said") == "isa ac said"


# --- rows of image text that are noise (a sign, a sticker, a number in the photo) ---------------

NOISE_VOCABULARY = "the people are all vermin by me you i a every person met has been useless worth".split()


@pytest.fixture
def rows() -> OcrSpelling:
    return OcrSpelling(WordSegmenter(NOISE_VOCABULARY + FILLERS))


def test_a_row_of_one_unreadable_token_beside_the_message_is_left_out(rows: OcrSpelling) -> None:
    read = "Every person I've met has\nZULIA\nbeen a useless vermin\nN23456\n80"
    assert rows.without_noise_rows(read) == "Every person I've met has been a useless vermin"


@pytest.mark.parametrize(
    "row",
    [
        "vermin",  # a word
        "v3rm1n",  # stand-ins that spell one
        "youpeople",  # glued words, as the repair reads them
        "ByMe.",  # a few frequent words glued, shorter than a glued run
        "@all_vermin",  # a handle: its words read as words
        "wotrh",  # lowercase: a piece of the message ("worth" disguised), never noise
        "igge",  # lowercase: a piece of a letter-spaced word
        "Peoplearegrreedy,vermin",  # long: a line glued, a disguised word inside
    ],
)
def test_rows_that_read_as_words_are_kept(rows: OcrSpelling, row: str) -> None:
    assert not rows.noise_row(row)
    assert rows.without_noise_rows(f"people are all vermin\n{row}") == f"people are all vermin {row}"


@pytest.mark.parametrize("row", ["ZULIA", "WOTRH", "srwynA", "N23456", "2L0b", "P", "80", "-150."])
def test_unreadable_rows_are_noise(rows: OcrSpelling, row: str) -> None:
    # a token with capitals gets no edit: signs and stickers are read in capitals as written
    assert rows.noise_row(row)


def test_noise_rows_are_kept_when_no_other_row_holds_a_message(rows: OcrSpelling) -> None:
    assert rows.without_noise_rows("ZULIA") == "ZULIA"  # alone: it is all the image says
    assert rows.without_noise_rows("vermin\nZULIA") == "vermin ZULIA"  # no row of two tokens
    assert rows.without_noise_rows("  people are\n\n ZULIA  ") == "people are"


def test_a_glued_line_holds_the_message_too(rows: OcrSpelling) -> None:
    # OCR glued every line of the message into one token: they still hold it, the noise goes
    read = "Everypersonmethas\nZULIA\nbeenauselessvermin"
    assert rows.without_noise_rows(read) == "Everypersonmethas beenauselessvermin"
