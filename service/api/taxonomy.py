"""How postguard's categories answer OpenAI's 13 moderation keys and Perspective's attributes.

One table per API, the only place the mapping is written down (docs/api.md prints it, a test
keeps the two equal). A key is computed from our category scores by a :class:`Mapped` rule:

- ``any_of``: the highest score of the listed categories (flagged when any of them is);
- ``all_of``: the lowest (flagged only when every one is: "hate *and* a threat");
- ``None``: postguard has no model for it; the key answers ``false`` / ``0.0`` with no input types.

A category the loaded checkpoint does not score (e.g. no category bundle) counts as absent: a
rule with an absent category answers like ``None``. Perspective's scores are PROBABILITY values in
[0, 1]; how well each attribute is served is measured by ``python -m bench.api_mapping``.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "OPENAI_KEYS",
    "PERSPECTIVE_ATTRIBUTES",
    "Mapped",
    "openai_key_accepts_images",
    "openai_keys_reading",
]


@dataclass(frozen=True)
class Mapped:
    """One external key computed from our categories."""

    categories: tuple[str, ...]
    combine: Literal["any_of", "all_of"] = "any_of"
    #: How faithful the mapping is, in a few words (docs/api.md's table).
    note: str = ""

    def available(self, labels: Collection[str]) -> bool:
        """Whether every category it reads is scored by the loaded model."""
        return all(category in labels for category in self.categories)

    def score(self, scores: Mapping[str, float]) -> float:
        values = [scores[category] for category in self.categories]
        return max(values) if self.combine == "any_of" else min(values)

    def flagged(self, flagged_categories: Collection[str]) -> bool:
        hits = [category in flagged_categories for category in self.categories]
        return any(hits) if self.combine == "any_of" else all(hits)


#: OpenAI's keys in the order of its API reference, each with our rule (None: not modelled).
OPENAI_KEYS: dict[str, Mapped | None] = {
    "harassment": Mapped(("offensive",), note="insults and abuse aimed at someone"),
    "harassment/threatening": Mapped(("offensive", "violence"), "all_of", "abuse that is also a threat"),
    "hate": Mapped(("hate",), note="attacks on a protected group"),
    "hate/threatening": Mapped(("hate", "violence"), "all_of", "hate that is also a threat"),
    "illicit": None,
    "illicit/violent": None,
    "self-harm": Mapped(("self_harm",), note="one category covers intent, plans and encouragement"),
    "self-harm/intent": Mapped(("self_harm",), note="approximate: the same score as self-harm"),
    "self-harm/instructions": Mapped(("self_harm",), note="approximate: the same score as self-harm"),
    "sexual": Mapped(("sexual",), note="text, and images through open_nsfw"),
    "sexual/minors": None,
    "violence": Mapped(("violence",), note="threats, incitement, glorified attacks"),
    "violence/graphic": None,
}

#: OpenAI's keys whose ``category_applied_input_types`` may list ``image`` (its API reference
#: allows only ``text`` for the others; postguard reads the text inside images for every key).
_IMAGE_KEYS = frozenset(
    {"self-harm", "self-harm/intent", "self-harm/instructions", "sexual", "violence", "violence/graphic"}
)


def openai_key_accepts_images(key: str) -> bool:
    return key in _IMAGE_KEYS


#: Perspective's production attributes (the ones postguard answers), each with our rule.
PERSPECTIVE_ATTRIBUTES: dict[str, Mapped] = {
    "TOXICITY": Mapped(("toxic",), note="our umbrella harm score"),
    # Chosen on ConvAbuse's validation split (strong abuse vs the rest: AUROC 0.95; hate and
    # violence alone 0.51, as strong abuse of a person is rarely hate); measured on its test split.
    "SEVERE_TOXICITY": Mapped(
        ("offensive", "hate", "violence"),
        note="approximate: direct abuse, hate and threats, not profanity alone",
    ),
    "IDENTITY_ATTACK": Mapped(("hate",), note="attacks on a protected group"),
    "INSULT": Mapped(("offensive",), note="insults and abuse aimed at someone"),
    "PROFANITY": Mapped(("offensive",), note="approximate: profanity aimed at someone, not swearing alone"),
    "THREAT": Mapped(("violence",), note="threats of violence"),
    "SEXUALLY_EXPLICIT": Mapped(("sexual",), note="explicit sexual content"),
    "FLIRTATION": Mapped(("sexual",), note="approximate: propositions score, mild flirting does not"),
}


def openai_keys_reading(category: str) -> list[str]:
    """The OpenAI keys whose score reads ``category`` (``postguard categories`` shows them)."""
    return [key for key, rule in OPENAI_KEYS.items() if rule is not None and category in rule.categories]
