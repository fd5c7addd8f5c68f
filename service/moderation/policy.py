"""The moderation policy: from category scores and texts to allow / review / block.

A policy is a versioned TOML file (the packaged default is ``service/moderation/default_policy.toml``)::

    version = "2026-11-27.1"
    [categories.hate]
    review = 0.5
    block = 0.9
    [terms]
    deny = ["..."]
    allow = ["..."]
    [languages]
    supported = ["en"]
    other = "review"

Rules, in order:

1. A deny term in any text, or a category score at or above its ``block`` threshold, blocks.
2. An allow term turns a block that came *only* from category scores into review (news, education).
3. Otherwise a score at or above its ``review`` threshold sends the post to review.
4. Otherwise, with a ``[languages]`` table, a post with a text (the caption or the text read from
   its image) clearly written in a language outside ``supported`` gets the ``other`` action
   (``review``, or ``allow`` to only record it): the classifier reads English only, and its
   scores on other languages say little (models/language.py). Without the table, no language
   rule applies.

Terms match whole words, case-insensitively, after Unicode NFKC normalisation (so full-width or
ligature spellings match too); the words of a multi-word term match across any whitespace.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from models.language import language_identifier
from service.errors import ConfigError
from service.moderation.contract import Action, TriggeredRule

logger = logging.getLogger(__name__)

_TOP_LEVEL_KEYS = frozenset({"version", "categories", "terms", "languages"})
_THRESHOLD_KEYS = frozenset({"review", "block"})
_TERM_KEYS = frozenset({"deny", "allow"})
_LANGUAGE_KEYS = frozenset({"supported", "other"})
_OTHER_LANGUAGE_ACTIONS: tuple[Action, ...] = ("review", "allow")
#: Review priority of a post sent to review only for its language: the bottom of the review band
#: (its scores, which say little about it, may raise it).
LANGUAGE_REVIEW_PRIORITY = 50


@dataclass(frozen=True)
class Thresholds:
    """Score thresholds of one category, ``0 <= review <= block <= 1``."""

    review: float
    block: float


@dataclass(frozen=True)
class LanguageRule:
    """The ``[languages]`` table: the languages the classifier's scores are trusted for, and the
    action for a post clearly written in another one (when nothing else sent it to review or
    blocked it)."""

    supported: tuple[str, ...]
    other: Action


@dataclass(frozen=True)
class PolicyOutcome:
    """What the policy decided for one post."""

    action: Action
    triggered: list[TriggeredRule]
    #: Review-queue priority, 0 (least urgent) to 100; see :meth:`Policy.priority`.
    priority: int


class Policy:
    """A loaded, validated policy. Immutable; safe to share between tasks."""

    def __init__(
        self,
        *,
        version: str,
        categories: Mapping[str, Thresholds],
        deny_terms: Sequence[str] = (),
        allow_terms: Sequence[str] = (),
        languages: LanguageRule | None = None,
        source: str = "<memory>",
    ) -> None:
        self.version = version
        self.categories: Mapping[str, Thresholds] = dict(categories)
        self.deny_terms: tuple[str, ...] = tuple(deny_terms)
        self.allow_terms: tuple[str, ...] = tuple(allow_terms)
        self.source = source
        self._deny = [(term, _term_pattern(term)) for term in self.deny_terms]
        self._allow = [(term, _term_pattern(term)) for term in self.allow_terms]
        self.languages = languages
        # Loaded with the policy (~0.7 s, once per process), not on the first post.
        self._identifier = language_identifier() if languages is not None else None

    def restricted_to(self, labels: Iterable[str]) -> Policy:
        """This policy without the categories the model does not score (logged), same version:
        thresholds of a category that is never scored decide nothing, so decisions are the same."""
        produced = set(labels)
        dropped = sorted(set(self.categories) - produced)
        if not dropped:
            return self
        logger.info("policy %s: categories not scored by this model left out: %s", self.version, dropped)
        return Policy(
            version=self.version,
            categories={name: t for name, t in self.categories.items() if name in produced},
            deny_terms=self.deny_terms,
            allow_terms=self.allow_terms,
            languages=self.languages,
            source=self.source,
        )

    def check_labels(self, labels: Iterable[str]) -> None:
        """Raise :class:`ConfigError` if the policy names a category the model does not score."""
        produced = set(labels)
        missing = [name for name in self.categories if name not in produced]
        if missing:
            raise ConfigError(
                f"policy {self.source} (version {self.version}) has categories the model does not score: "
                f"{', '.join(missing)}; the model scores: {', '.join(sorted(produced)) or '(nothing)'}"
            )
        unmoderated = sorted(produced - set(self.categories))
        if unmoderated:
            logger.warning("model categories without a policy threshold are not moderated: %s", unmoderated)

    def decide(self, *, scores: Mapping[str, float], texts: Sequence[str]) -> PolicyOutcome:
        """Apply the policy to one post's scores and texts (the caption, the text read from the image)."""
        triggered: list[TriggeredRule] = []
        category_block = category_review = False
        for name, thresholds in self.categories.items():
            score = _valid_score(name, scores)
            if score >= thresholds.block:
                category_block = True
                triggered.append(_category_rule(name, "block", score, thresholds.block))
            elif score >= thresholds.review:
                category_review = True
                triggered.append(_category_rule(name, "review", score, thresholds.review))
        normalised = [_normalise(text) for text in texts if text]
        denied = [term for term, pattern in self._deny if any(pattern.search(text) for text in normalised)]
        triggered.extend(TriggeredRule(kind="deny_term", name=term, action="block") for term in denied)

        action: Action
        if denied:
            action = "block"
        elif category_block:
            excusing = [
                term for term, pattern in self._allow if any(pattern.search(text) for text in normalised)
            ]
            triggered.extend(
                TriggeredRule(kind="allow_term", name=term, action="review") for term in excusing
            )
            action = "review" if excusing else "block"
        elif category_review:
            action = "review"
        else:
            action = "allow"
        priority = 100 if denied else self.priority(scores)
        other = self._other_language(texts)
        if other is not None:
            triggered.append(other)
            if action == "allow" and other.action == "review":
                action = "review"
                priority = max(priority, LANGUAGE_REVIEW_PRIORITY)
        return PolicyOutcome(action=action, triggered=triggered, priority=priority)

    def _other_language(self, texts: Sequence[str]) -> TriggeredRule | None:
        """The language rule, when one of ``texts`` is clearly in an unsupported language."""
        if self.languages is None or self._identifier is None:
            return None
        reading = self._identifier.first_other(texts, self.languages.supported)
        if reading is None:
            return None
        return TriggeredRule(
            kind="language", name=reading.language, action=self.languages.other, score=reading.confidence
        )

    def priority(self, scores: Mapping[str, float]) -> int:
        """Review-queue priority: ``round(100 * max over categories of severity)``, where

        - ``severity = 0.5 * score / review`` below the review threshold (0 to 0.5),
        - ``severity = 0.5 + 0.5 * (score - review) / (block - review)`` between the thresholds (0.5 to 1),
        - ``severity = 1`` at or above the block threshold.

        So every post in review has priority 50 to 100, growing as its worst score nears blocking;
        posts an allow term moved from block to review, and deny-term blocks, get 100.
        """
        worst = 0.0
        for name, thresholds in self.categories.items():
            score = _valid_score(name, scores)
            if score >= thresholds.block:
                severity = 1.0
            elif score >= thresholds.review:
                severity = 0.5 + 0.5 * (score - thresholds.review) / (thresholds.block - thresholds.review)
            else:
                severity = 0.5 * score / thresholds.review  # review > score >= 0, so review > 0
            worst = max(worst, severity)
        return max(0, min(100, round(100 * worst)))


def policy_for(path: Path | None, labels: Iterable[str]) -> Policy:
    """The policy a deployment decides with: the file at ``path``, or the packaged one restricted
    to the categories the model scores (the packaged policy covers the bundled categories too;
    with those off, or a checkpoint they do not fit, it moderates what the model scores). A
    platform's own policy file stays strict: a category it names must be scored (ConfigError)."""
    labels = tuple(labels)
    policy = load_policy(path)
    if path is None:
        policy = policy.restricted_to(labels)
    policy.check_labels(labels)
    return policy


def load_policy(path: Path | None = None) -> Policy:
    """Load and validate a policy file; ``None`` loads the packaged default. Raises :class:`ConfigError`."""
    if path is None:
        resource = resources.files("service.moderation").joinpath("default_policy.toml")
        source, text = (
            "service/moderation/default_policy.toml (packaged)",
            resource.read_text(encoding="utf-8"),
        )
    else:
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"policy file {source} cannot be read: {exc}") from None
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"policy file {source} is not valid TOML: {exc}") from None
    return _build(document, source)


def _build(document: dict[str, Any], source: str) -> Policy:
    def fail(key: str, problem: str) -> ConfigError:
        return ConfigError(f"policy file {source}: {key} {problem}")

    unknown = sorted(set(document) - _TOP_LEVEL_KEYS)
    if unknown:
        raise fail(unknown[0], f"is not a policy key (expected: {', '.join(sorted(_TOP_LEVEL_KEYS))})")
    version = document.get("version")
    if not isinstance(version, str) or not version.strip():
        raise fail("version", "must be a non-empty string")

    raw_categories = document.get("categories")
    if not isinstance(raw_categories, dict) or not raw_categories:
        raise fail("categories", "must define at least one [categories.<name>] table")
    categories: dict[str, Thresholds] = {}
    for name, table in raw_categories.items():
        key = f"categories.{name}"
        if not isinstance(table, dict):
            raise fail(key, "must be a table with review and block thresholds")
        extra = sorted(set(table) - _THRESHOLD_KEYS)
        if extra:
            raise fail(f"{key}.{extra[0]}", "is not a threshold key (expected: review, block)")
        values = {}
        for threshold in ("review", "block"):
            value = table.get(threshold)
            # bool is an int in Python; a threshold of `true` is a typo, not 1.0.
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise fail(f"{key}.{threshold}", "must be a number between 0 and 1")
            if not 0.0 <= value <= 1.0:
                raise fail(f"{key}.{threshold}", f"is {value}, outside [0, 1]")
            values[threshold] = float(value)
        if values["review"] > values["block"]:
            raise fail(key, f"has review {values['review']} above block {values['block']}")
        categories[name] = Thresholds(**values)

    terms = document.get("terms", {})
    if not isinstance(terms, dict):
        raise fail("terms", "must be a table with deny and allow lists")
    extra_terms = sorted(set(terms) - _TERM_KEYS)
    if extra_terms:
        raise fail(f"terms.{extra_terms[0]}", "is not a term list (expected: deny, allow)")
    lists: dict[str, list[str]] = {}
    for kind in ("deny", "allow"):
        values_list = terms.get(kind, [])
        if not isinstance(values_list, list):
            raise fail(f"terms.{kind}", "must be a list of strings")
        for index, term in enumerate(values_list):
            if not isinstance(term, str) or not term.strip():
                raise fail(f"terms.{kind}[{index}]", "must be a non-empty string")
        lists[kind] = [term.strip() for term in values_list]
    return Policy(
        version=version.strip(),
        categories=categories,
        deny_terms=lists["deny"],
        allow_terms=lists["allow"],
        languages=_language_rule(document, fail),
        source=source,
    )


def _language_rule(document: dict[str, Any], fail: Callable[[str, str], ConfigError]) -> LanguageRule | None:
    if "languages" not in document:
        return None
    table = document["languages"]
    if not isinstance(table, dict):
        raise fail("languages", "must be a table with supported and other")
    extra = sorted(set(table) - _LANGUAGE_KEYS)
    if extra:
        raise fail(f"languages.{extra[0]}", "is not a language key (expected: supported, other)")
    supported = table.get("supported")
    if not isinstance(supported, list) or not supported or not all(isinstance(c, str) for c in supported):
        raise fail("languages.supported", 'must be a non-empty list of language codes, e.g. ["en"]')
    known = language_identifier().languages
    codes = [code.strip().lower() for code in supported]
    unknown = [code for code in codes if code not in known]
    if unknown:
        raise fail(
            "languages.supported",
            f"has {', '.join(map(repr, unknown))}, not a language the identifier knows "
            f"(ISO 639-1 codes such as en, es, de; it knows {len(known)}: {', '.join(sorted(known))})",
        )
    other = table.get("other", "review")
    if other not in _OTHER_LANGUAGE_ACTIONS:
        raise fail("languages.other", f"is {other!r}; expected one of: {', '.join(_OTHER_LANGUAGE_ACTIONS)}")
    return LanguageRule(supported=tuple(dict.fromkeys(codes)), other=other)


def _normalise(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _term_pattern(term: str) -> re.Pattern[str]:
    words = _normalise(term).split()
    body = r"\s+".join(re.escape(word) for word in words)
    # \w-boundaries on both sides: "ass" must not match "class"; lookarounds also work for terms
    # that begin or end with punctuation, where \b would not.
    return re.compile(rf"(?<!\w){body}(?!\w)")


def _valid_score(name: str, scores: Mapping[str, float]) -> float:
    try:
        score = float(scores[name])
    except KeyError:
        raise ValueError(
            f"no score for policy category {name!r}; run Policy.check_labels at startup"
        ) from None
    # NaN compares false with every threshold and would silently allow: refuse it loudly.
    if math.isnan(score) or not 0.0 <= score <= 1.0:
        raise ValueError(f"score of {name!r} is {score}, expected a probability in [0, 1]")
    return score


def _category_rule(name: str, action: Action, score: float, threshold: float) -> TriggeredRule:
    return TriggeredRule(kind="category", name=name, action=action, score=score, threshold=threshold)
