"""Text drawing with glyph fallback: a character the chosen face lacks is drawn with a face that has it.

Every real text renderer does this (browsers, phones and meme apps fall back through a font
stack), so a meme made with a Latin-only face still shows a Cyrillic "а" or a Greek "ο" as the
letter it is. Pillow draws a missing glyph as the face's empty "notdef" box instead, which made
every look-alike letter in the Latin-only faces (Fjalla One, Lato, Fredoka One) a blank: an
image no platform would show and no reader could read.

:class:`FallbackFont` splits a text into runs of characters the primary face covers and runs it
does not; the second are drawn with the fallback face (DejaVu Sans Bold, which covers Latin,
Greek and Cyrillic) at the same size and baseline. Coverage comes from each face's character map.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from fontTools.ttLib import TTFont
from PIL import ImageDraw, ImageFont

PillowFont = ImageFont.FreeTypeFont | ImageFont.ImageFont


@cache
def covered_characters(path: str) -> frozenset[int]:
    """The code points a TrueType/OpenType file maps to a glyph."""
    with TTFont(path, lazy=True) as face:
        cmap = face.getBestCmap() or {}
    return frozenset(cmap)


def borrows_glyphs(primary_path: str, fallback_path: str, text: str) -> bool:
    """Whether drawing ``text`` takes any glyph from the fallback face: a character the primary
    face lacks and the fallback has (one neither has is the primary's empty box, as before)."""
    if not primary_path or not fallback_path or primary_path == fallback_path:
        return False
    return any(_borrowed(c, primary_path, fallback_path) for c in text)


def _borrowed(char: str, primary_path: str, fallback_path: str) -> bool:
    code = ord(char)
    return (
        not char.isspace()
        and code not in covered_characters(primary_path)
        and code in covered_characters(fallback_path)
    )


@dataclass(frozen=True)
class FallbackFont:
    """A face (``primary``, loaded from ``primary_path``) with a fallback face for what it lacks,
    loaded from ``fallback_path`` at ``size`` the first time a text needs it.

    A path is empty for Pillow's built-in font (no character map to consult: it draws everything)
    and for no fallback."""

    primary: PillowFont
    primary_path: str
    fallback_path: str = ""
    size: int = 0

    @cached_property
    def fallback(self) -> PillowFont:
        return ImageFont.truetype(self.fallback_path, self.size)

    def runs(self, text: str) -> list[tuple[str, PillowFont]]:
        """``text`` as consecutive runs, each with the face that draws it."""
        if not borrows_glyphs(self.primary_path, self.fallback_path, text):
            return [(text, self.primary)] if text else []
        runs: list[tuple[str, PillowFont]] = []
        for char in text:
            borrowed = _borrowed(char, self.primary_path, self.fallback_path)
            face = self.fallback if borrowed else self.primary
            if runs and runs[-1][1] is face:
                runs[-1] = (runs[-1][0] + char, face)
            else:
                runs.append((char, face))
        return runs

    def getlength(self, text: str) -> float:
        """The advance width of ``text`` in pixels (what Pillow's ``getlength`` returns)."""
        return sum(float(face.getlength(run)) for run, face in self.runs(text))


def draw_text(
    draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, font: FallbackFont, **options: Any
) -> None:
    """``draw.text`` with glyph fallback: each run is drawn with its face, left to right, on the
    primary face's baseline (``options`` go to every run: fill, stroke)."""
    x, y = xy
    runs = font.runs(text)
    if len(runs) == 1 and runs[0][1] is font.primary:  # the common case: exactly what draw.text does
        draw.text((x, y), text, font=font.primary, **options)
        return
    baseline = y + _ascent(font.primary)
    for run, face in runs:
        # anchor "ls": the left end of the baseline, so faces of different heights line up
        draw.text((x, baseline), run, font=face, anchor="ls", **options)
        x += float(face.getlength(run))


def _ascent(face: PillowFont) -> float:
    if isinstance(face, ImageFont.FreeTypeFont):
        return float(face.getmetrics()[0])
    left, top, right, bottom = face.getbbox("A")
    return float(bottom)
