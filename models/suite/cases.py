"""Expand the templates into the suite's cases, deterministically.

``build_suite(seed)`` fills every template with every combination of its fillers (all protected
groups, all slurs, ...), drops texts already produced, and keeps at most the functionality's
cap, drawn round-robin across its templates so that each template is represented about equally
(a functionality's score should not be one template's score). The obfuscated functionalities
then perturb the keyword of cases drawn from the hateful ones. Randomness comes only from
``random.Random`` seeded with strings built from ``seed`` (string seeds hash with SHA-512, so
neither ``PYTHONHASHSEED`` nor the order functionalities are built in changes a draw).
"""

from __future__ import annotations

import itertools
import random
import re
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ..data.obfuscation import KINDS, obfuscate
from .identities import (
    INDIVIDUALS,
    NON_PROTECTED_GROUPS,
    OBJECTS,
    PROFANITIES,
    PROTECTED_GROUPS,
    ROLES,
    SLURS,
)
from .templates import BLAND_CAPTIONS, FUNCTIONALITIES, LABELS, TEMPLATES, Template

OBFUSCATED_PREFIX = "obf_"

_GROUP_FIELDS = {"group", "group_singular", "group_article", "group_adj", "group_people"}
_SLUR_FIELDS = {"slur", "slurs"}
_SIMPLE_FIELDS: dict[str, tuple[str, ...]] = {
    "profanity": PROFANITIES,
    "person": INDIVIDUALS,
    "object": OBJECTS,
    "target": NON_PROTECTED_GROUPS,
    "role": ROLES,
}
#: Reclaimed terms -> the group they were (and elsewhere still are) aimed at, for ``target``.
_RECLAIMED_TARGETS: dict[str, str] = {
    "nigga": "black_people",
    "dyke": "lesbians",
    "bitch": "women",
    "queer": "gay_people",
}


@dataclass(frozen=True)
class FunctionalCase:
    """One test sentence and what the classifier must do with it.

    ``label`` is the functionality's label (``hateful`` / ``non_hateful_offensive`` / ``benign``;
    see :func:`passes`). ``template`` is the id of the template it came from, the unit to split
    on (an obfuscated case's id is ``obf_<kind>:<source template>``; :attr:`split_group` maps it
    back so the clean and disguised versions of a sentence land on the same side). ``target`` is
    the protected group's key, or ``None``. ``case_id`` is unique and stable across builds.
    """

    text: str
    functionality: str
    label: str
    template: str
    target: str | None
    case_id: str

    @property
    def split_group(self) -> str:
        """The template id to split train/test on: obfuscated cases go with their source template."""
        if self.functionality.startswith(OBFUSCATED_PREFIX):
            return self.template.split(":", 1)[1]
        return self.template


def passes(case: FunctionalCase, fired: Iterable[str]) -> bool:
    """Whether a prediction passes: ``fired`` is the set of categories the model flagged.

    ``hateful``: ``hate`` fired. ``non_hateful_offensive``: ``hate`` did not fire (``offensive`` or
    ``toxic`` may). ``benign``: nothing fired.
    """
    flagged = set(fired)
    if case.label == "hateful":
        return "hate" in flagged
    if case.label == "non_hateful_offensive":
        return "hate" not in flagged
    return not flagged


@dataclass(frozen=True)
class _Draft:
    """A case before selection, with the formatted keyword that obfuscation will target."""

    case: FunctionalCase
    keyword: str | None


def _fields(text: str) -> set[str]:
    """The placeholder names in a template text."""
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


def _slug(value: str) -> str:
    """An id-safe form of a filler ("my boss" -> "my_boss")."""
    return re.sub(r"[^a-z0-9]+", "_", value.lower()).strip("_")


def _fillings(template: Template) -> Iterator[tuple[dict[str, str], list[str], str | None]]:
    """Every ``(values, id parts, target)`` combination for a template's placeholders."""
    fields = _fields(template.text) | (_fields(template.keyword) if template.keyword else set())
    unknown = fields - _GROUP_FIELDS - _SLUR_FIELDS - set(_SIMPLE_FIELDS)
    if unknown:
        raise ValueError(f"template {template.id} has unknown placeholders {sorted(unknown)}")
    axes: list[list[tuple[dict[str, str], str, str | None]]] = []
    if fields & _GROUP_FIELDS:
        axes.append(
            [
                (
                    {
                        "group": g.plural,
                        "group_singular": g.singular,
                        "group_article": g.article,
                        "group_adj": g.adjective or "",
                        "group_people": g.people,
                    },
                    g.key,
                    g.key,
                )
                for g in PROTECTED_GROUPS
                if g.adjective is not None or "group_adj" not in fields
            ]
        )
    if fields & _SLUR_FIELDS:
        axes.append([({"slur": s.word, "slurs": s.plural}, _slug(s.word), s.group) for s in SLURS])
    for name, fillers in _SIMPLE_FIELDS.items():
        if name in fields:
            axes.append([({name: filler}, _slug(filler), None) for filler in fillers])
    for combo in itertools.product(*axes):
        values: dict[str, str] = {}
        parts: list[str] = []
        target: str | None = None
        for part_values, part_id, part_target in combo:
            values.update(part_values)
            parts.append(part_id)
            target = target or part_target
        yield values, parts, target


def _reclaimed_target(text: str) -> str | None:
    """The group a reclaimed term in ``text`` historically targets, if any."""
    lowered = text.lower()
    return next((group for word, group in _RECLAIMED_TARGETS.items() if word in lowered), None)


def _contains_word(text: str, word: str) -> bool:
    """Whole-word, case-insensitive match, the same rule :func:`obfuscate` uses to find targets."""
    return re.search(r"(?<!\w)" + re.escape(word) + r"(?!\w)", text, flags=re.IGNORECASE) is not None


def _expand(template: Template) -> list[_Draft]:
    """All drafts of one template, in filler order."""
    drafts: list[_Draft] = []
    for values, parts, target in _fillings(template):
        text = template.text.format(**values)
        if template.text.startswith("{"):
            text = text[0].upper() + text[1:]
        keyword = template.keyword.format(**values) if template.keyword else None
        if keyword is not None and not _contains_word(text, keyword):
            raise ValueError(f"template {template.id}: keyword {keyword!r} is not a word of {text!r}")
        if template.functionality.startswith("reclaimed_"):
            target = _reclaimed_target(text)
        case_id = ":".join([template.id, *parts])
        drafts.append(
            _Draft(
                FunctionalCase(text, template.functionality, template.label, template.id, target, case_id),
                keyword,
            )
        )
    return drafts


def _select(per_template: list[list[_Draft]], cap: int, rng: random.Random) -> list[_Draft]:
    """At most ``cap`` drafts, round-robin over the templates' shuffled drafts, in template order."""
    queues = [rng.sample(drafts, len(drafts)) for drafts in per_template]
    chosen: set[str] = set()
    while len(chosen) < cap and any(queues):
        for queue in queues:
            if queue and len(chosen) < cap:
                chosen.add(queue.pop().case.case_id)
    return [draft for drafts in per_template for draft in drafts if draft.case.case_id in chosen]


def _interleave(drafts: list[_Draft], rng: random.Random) -> list[_Draft]:
    """Shuffle within each functionality, then alternate functionalities.

    Any prefix of the result (the obfuscated cases are the first ``cap`` that change) then holds
    every hateful functionality about equally, the slur one included, instead of whatever a
    plain shuffle happens to favour.
    """
    groups: dict[str, list[_Draft]] = {}
    for draft in drafts:
        groups.setdefault(draft.case.functionality, []).append(draft)
    shuffled = [rng.sample(group, len(group)) for group in groups.values()]
    return [draft for round_ in itertools.zip_longest(*shuffled) for draft in round_ if draft is not None]


def build_suite(seed: int = 0) -> list[FunctionalCase]:
    """Every case of the suite, in functionality then template order; the same ``seed``, the same list."""
    seen: set[str] = set()
    cases: list[FunctionalCase] = []
    hateful_drafts: list[_Draft] = []
    by_functionality: dict[str, list[Template]] = {}
    for template in TEMPLATES:
        if FUNCTIONALITIES[template.functionality].label != template.label:
            raise ValueError(
                f"template {template.id} is labelled {template.label!r}, its functionality is not"
            )
        by_functionality.setdefault(template.functionality, []).append(template)

    for name, functionality in FUNCTIONALITIES.items():
        if name not in by_functionality:
            continue
        per_template: list[list[_Draft]] = []
        for template in by_functionality[name]:
            fresh: list[_Draft] = []
            for draft in _expand(template):
                if draft.case.text not in seen:
                    seen.add(draft.case.text)
                    fresh.append(draft)
            per_template.append(fresh)
        selected = _select(per_template, functionality.cap, random.Random(f"{seed}:{name}"))
        # Texts drafted but not selected may reappear elsewhere: only selected texts stay "seen".
        kept = {draft.case.text for draft in selected}
        seen -= {d.case.text for drafts in per_template for d in drafts if d.case.text not in kept}
        cases.extend(draft.case for draft in selected)
        if functionality.label == "hateful":
            hateful_drafts.extend(selected)

    for kind in KINDS:
        name = f"{OBFUSCATED_PREFIX}{kind}"
        pool = _interleave(hateful_drafts, random.Random(f"{seed}:{name}"))
        made = 0
        for draft in pool:
            if made >= FUNCTIONALITIES[name].cap:
                break
            base = draft.case
            rng = random.Random(f"{seed}:{name}:{base.case_id}")
            targets = [draft.keyword] if draft.keyword else None
            text = obfuscate(base.text, kind, rng, targets)
            if text == base.text or text in seen:
                continue
            seen.add(text)
            made += 1
            cases.append(
                FunctionalCase(
                    text, name, "hateful", f"{name}:{base.template}", base.target, f"{name}:{base.case_id}"
                )
            )

    for i, caption in enumerate(BLAND_CAPTIONS, start=1):
        if caption not in seen:
            seen.add(caption)
            template_id = f"bland_caption_{i:02d}"
            cases.append(FunctionalCase(caption, "bland_caption", "benign", template_id, None, template_id))

    for case in cases:
        if case.label not in LABELS:
            raise ValueError(f"case {case.case_id} has unknown label {case.label!r}")
    return cases


__all__ = ["FunctionalCase", "LABELS", "OBFUSCATED_PREFIX", "build_suite", "passes"]
