"""Posts in languages other than English (``other_languages.txt``), for the language check.

Written by one writer for postguard (no corpus, no translation service): ordinary posts, hostile
posts (hate and abuse the English-only classifier should not be trusted to judge), short posts
(below the check's letter count), romanised Hindi and Spanish-English code-switching. Nothing
trains on them; ``python -m models.language_check`` measures with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

POSTS_FILE = Path(__file__).resolve().parent / "other_languages.txt"
KINDS = ("everyday", "hostile", "short", "romanized", "mixed")


@dataclass(frozen=True)
class OtherLanguagePost:
    language: str
    kind: str
    text: str


def other_language_posts(path: Path = POSTS_FILE) -> list[OtherLanguagePost]:
    """Every post of the file (``#`` lines are comments; columns: language, kind, text)."""
    posts = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 3 or fields[1] not in KINDS or not fields[2].strip():
            raise ValueError(f"{path}:{number}: expected language<TAB>kind<TAB>text with kind in {KINDS}")
        posts.append(OtherLanguagePost(fields[0], fields[1], fields[2].strip()))
    return posts
