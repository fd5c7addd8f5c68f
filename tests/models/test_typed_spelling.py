"""Sure corrections of typed words (models/typed_spelling.py), on a hand-made vocabulary."""

from __future__ import annotations

from pathlib import Path

from models.typed_spelling import RANKED_WORDS_FILE, SureSpelling, one_edit

# ranked by frequency: "the" commonest; "celebrated" far commoner than "cerebrated"
RANKED = (
    ["the", "people", "bad", "based", "everyone", "celebrated", "bead"]
    + [f"filler{i}" for i in range(200)]
    + ["cerebrated", "thee"]
)


def speller(known: tuple[str, ...] = ("wypipo",)) -> SureSpelling:
    return SureSpelling(known, RANKED)


def test_one_edit_covers_the_four_slips_and_not_the_word() -> None:
    edits = one_edit("cat")
    assert {"at", "act", "bat", "cart"} <= edits  # dropped, swapped, changed, added
    assert "cat" not in edits and "tac" not in edits  # itself; two edits away
    assert all(abs(len(e) - 3) <= 1 for e in edits)


def test_a_dominant_correction_is_made_in_the_tokens_case() -> None:
    spell = speller()
    assert spell.correct("it should be cellebrated") == "it should be celebrated"
    assert spell.correct("Cellebrated! THGE end") == "Celebrated! THE end"
    assert spell.correct("Eveyone agrees") == "Everyone agrees"


def test_nothing_changes_unless_the_correction_is_sure() -> None:
    spell = speller()
    assert spell.correct("baed") == "baed"  # bad, based, bead: none ten times commoner than the next
    assert spell.correct("peepel") == "peepel"  # two edits from "people"
    assert spell.correct("teh") == "teh"  # shorter than four letters
    assert spell.correct("wypipo") == "wypipo"  # the checkpoint's own vocabulary: slang stays
    assert spell.correct("people") == "people"
    assert spell.correct("f4ggots cellebrated2") == "f4ggots cellebrated2"  # digits: not a typed word


def test_the_close_runner_up_blocks_a_correction() -> None:
    spell = speller()
    assert spell.correction("cerebratedd") == "cerebrated"  # a rare word, but the only one in reach
    close = SureSpelling((), ["bads", "beds"])  # two about equally common neighbours of "bxds"
    assert close.correction("bxds") is None


def test_the_ranked_words_round_trip_through_a_file(tmp_path: Path) -> None:
    path = tmp_path / RANKED_WORDS_FILE
    speller().save(path)
    loaded = SureSpelling.load(path, ("wypipo",))
    assert loaded.ranked == RANKED
    assert loaded.correct("wypipo cellebrated baed") == "wypipo celebrated baed"


def test_a_word_beside_another_script_or_a_letter_symbol_is_not_a_typed_word() -> None:
    spell = speller()
    assert spell.correct("cellеbrated") == "cellеbrated"  # a Cyrillic е: not "c" + "llebrated"
    assert spell.correct("thgе") == "thgе"
    # symbols that stand for letters or mark names and tags
    for text in ("backw@rd", "@cellebrated", "#cellebrated", "cellebrated$", "f*cellebrated"):
        assert spell.correct(text) == text
    # punctuation is not such a symbol
    assert spell.correct('"cellebrated!" (thge)') == '"celebrated!" (the)'


def stand_in_speller() -> SureSpelling:
    return SureSpelling(
        ("hate", "kill", "scum", "loser", "ill", "lll"), [*RANKED, "phone", "loam", "sever", "mill"]
    )


def test_digits_and_symbols_standing_for_letters_are_read_as_the_word_they_spell() -> None:
    spell = stand_in_speller()
    assert spell.read("I h4te the people") == "I hate the people"
    assert spell.read("K1LL the $cum") == "KILL the scum"
    assert spell.read("L0ser! ph0ne?") == "Loser! phone?"
    assert spell.read("the p3ople") == "the people"


def test_stand_ins_are_left_alone_unless_they_spell_exactly_one_word() -> None:
    spell = stand_in_speller()
    assert spell.read("10am and 4th and 1st and 5ever") == "10am and 4th and 1st and 5ever"  # a digit first
    assert spell.read("gr8 b4 mp3 h8") == "gr8 b4 mp3 h8"  # no word, or too short
    assert spell.read("1ll") == "1ll"  # starts with a digit
    assert spell.read("w1ll") == "w1ll"  # neither "will" nor "wlll" is known
    assert spell.read("$100 covid19 year2020 @john") == "$100 covid19 year2020 @john"
    assert spell.read("h4te\u0436") == "h4te\u0436"  # beside a letter of another script
    # in capitals a code stays; in lower case it reads as leetspeak would (a known residual)
    assert SureSpelling(("hini",), RANKED).read("H1N1 and h1n1") == "H1N1 and hini"


def test_two_words_from_one_token_leave_it_as_typed() -> None:
    spell = SureSpelling(("ill", "lll"), RANKED)  # "1" reads as i or l: both spell a word
    assert spell.spelt_word("b1ll") is None
    assert SureSpelling(("bill",), RANKED).spelt_word("b1ll") == "bill"
