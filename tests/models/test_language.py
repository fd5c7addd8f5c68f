"""Telling posts in languages the classifier cannot judge (models/language.py)."""

from __future__ import annotations

import pytest

from models.language import (
    MIN_LETTERS,
    LanguageIdentifier,
    language_identifier,
    letters_of,
    strip_non_language,
)

ENGLISH = ("en",)


@pytest.fixture(scope="module")
def identifier() -> LanguageIdentifier:
    return language_identifier()


def test_one_identifier_per_process(identifier: LanguageIdentifier) -> None:
    assert language_identifier() is identifier
    assert "en" in identifier.languages and "es" in identifier.languages and len(identifier.languages) > 100


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Los inmigrantes son basura y deberían volver a su país", "es"),
        ("Heute war ich mit dem Fahrrad am See und das Wasser war kalt", "de"),
        ("Сегодня мы всей семьёй гуляли в парке", "ru"),
        ("今天和朋友一起去公园散步", "zh"),
    ],
)
def test_other_languages_are_told(identifier: LanguageIdentifier, text: str, language: str) -> None:
    reading = identifier.read(text, ENGLISH)
    assert reading.other, reading
    assert reading.language == language
    assert reading.supported_share <= 0.01 < reading.confidence


@pytest.mark.parametrize(
    "text",
    [
        "Immigrants are a burden and should go back where they came from",  # hateful, but English
        "honestly this is the best pizza place in town, go try it",
        "lol",  # too short to tell
        "jajaja qué risa",  # Spanish, but too short to tell
        "ddh jddj djdj",  # not a language: no language is likely enough
        "",
    ],
)
def test_english_short_and_unknown_texts_are_not_another_language(
    identifier: LanguageIdentifier, text: str
) -> None:
    assert not identifier.read(text, ENGLISH).other


def test_a_supported_language_is_not_other(identifier: LanguageIdentifier) -> None:
    spanish = "Hoy fuimos a la playa con mis primos y comimos paella"
    assert identifier.read(spanish, ENGLISH).other
    reading = identifier.read(spanish, ("en", "es"))
    assert not reading.other and reading.language == "es" and reading.supported_share > 0.5


def test_links_mentions_and_placeholders_are_not_language() -> None:
    assert strip_non_language("@maria mira https://x.example/a #playa <user> 2026 hola") == "mira hola"
    assert letters_of(strip_non_language("<user> <user> <number> lol")) == 3


def test_ideographs_count_double() -> None:
    assert letters_of("今天很好") == 8
    assert letters_of("ab c!") == 3
    # A ten-character Chinese sentence is long enough; ten Latin letters are not.
    assert letters_of("今天和朋友一起去公园") >= MIN_LETTERS > letters_of("abcdefghij")


def test_first_other_reads_every_text(identifier: LanguageIdentifier) -> None:
    caption, image_text = "found this", "Los inmigrantes son basura y deberían volver a su país"
    reading = identifier.first_other([caption, image_text], ENGLISH)
    assert reading is not None and reading.language == "es"
    assert identifier.first_other([caption, "a perfectly ordinary English sentence here"], ENGLISH) is None
