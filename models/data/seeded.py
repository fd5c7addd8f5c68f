"""Pictures drawn from a seed and named by a background string ``PREFIX:NAME:SEED``.

The procedural art (``art:FAMILY:SEED``, models/data/art.py) and the charts
(``chart:KIND:SEED``, models/data/charts.py) are both catalogues of drawing functions; a
:class:`~models.data.memes.MemeSpec` names one picture by such a string, so the picture is a pure
function of the spec and caches keyed by the spec stay valid.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from PIL import Image

Drawing = Callable[[np.random.Generator, int, int], Image.Image]


@dataclass(frozen=True)
class SeededDrawings:
    """A catalogue of drawings under one background prefix (``noun`` names an entry in errors)."""

    prefix: str
    noun: str
    drawings: Mapping[str, Drawing]

    def background(self, name: str, seed: int) -> str:
        """The background string of drawing ``name`` with ``seed``."""
        if name not in self.drawings:
            raise ValueError(f"unknown {self.noun} {name!r}; known: {sorted(self.drawings)}")
        return f"{self.prefix}:{name}:{seed}"

    def render(self, background: str, width: int, height: int) -> Image.Image:
        """Draw ``PREFIX:NAME:SEED`` at the given size (deterministic)."""
        try:
            prefix, name, seed = background.split(":")
            if prefix != self.prefix:
                raise ValueError(prefix)
            draw = self.drawings[name]
            rng = np.random.default_rng(int(seed))
        except (ValueError, KeyError) as error:
            article = "an" if self.prefix[0] in "aeiou" else "a"
            placeholder = self.noun.split()[-1].upper()
            raise ValueError(
                f"not {article} {self.prefix} background: {background!r} "
                f"(expected {self.prefix}:{placeholder}:SEED)"
            ) from error
        return draw(rng, width, height)
