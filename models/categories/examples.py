"""Example posts that define a category: reading and checking a user's JSONL file.

One JSON object per line::

    {"text": "dm me for the full set 🔥", "label": 1}
    {"text": "the full set of patio chairs is on sale", "label": 0}

``label`` is 1 (the post belongs to the category) or 0 (it does not: the closer to the category
it looks, the more the negative teaches). Any other field is kept as metadata and ignored.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from ..errors import ModelError

#: Fewer positives than this cannot define a category (the learning curve in the model card shows why).
MIN_POSITIVES = 20
#: Longest text kept, in characters (the text tower reads 64 tokens; the rest is noise).
MAX_TEXT_CHARS = 2000


class _HasText(Protocol):
    @property
    def text(self) -> str: ...


T = TypeVar("T", bound=_HasText)


def first_of_each_text(items: Iterable[T]) -> list[T]:
    """The first item of each text, compared case-insensitively (datasets repeat messages; a
    repeat would count twice)."""
    seen: set[str] = set()
    kept = []
    for item in items:
        if item.text.casefold() not in seen:
            seen.add(item.text.casefold())
            kept.append(item)
    return kept


class ExamplesError(ModelError):
    """An examples file is missing, malformed, or holds too few examples to define a category."""

    code = "examples_invalid"


@dataclass(frozen=True)
class CategoryExample:
    """One labelled post: ``label`` 1 is in the category, 0 is not."""

    text: str
    label: int
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"text": self.text, "label": self.label, **self.meta}


def json_lines(lines: Iterable[str], *, source: str) -> Iterator[tuple[str, Any]]:
    """Each non-blank JSONL line parsed, with where it is ("<source>, line <n>") for messages;
    raises :class:`ExamplesError` on a line that is not JSON."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{source}, line {number}"
        try:
            yield where, json.loads(line)
        except json.JSONDecodeError as exc:
            raise ExamplesError(f"{where}: not JSON ({exc.msg})") from exc


def parse_examples(lines: Iterable[str], *, source: str) -> list[CategoryExample]:
    """Parse JSONL lines; raises :class:`ExamplesError` naming the file and line of the first problem."""
    examples: list[CategoryExample] = []
    for where, row in json_lines(lines, source=source):
        if not isinstance(row, dict):
            raise ExamplesError(f"{where}: expected an object with 'text' and 'label'")
        text, label = row.pop("text", None), row.pop("label", None)
        if not isinstance(text, str) or not text.strip():
            raise ExamplesError(f"{where}: 'text' must be a non-empty string")
        if len(text) > MAX_TEXT_CHARS:
            raise ExamplesError(f"{where}: 'text' has {len(text)} characters, at most {MAX_TEXT_CHARS}")
        if isinstance(label, bool) or label not in (0, 1):
            raise ExamplesError(f"{where}: 'label' must be 1 (in the category) or 0 (not), got {label!r}")
        examples.append(CategoryExample(" ".join(text.split()), int(label), row))
    return examples


def read_examples(path: Path) -> list[CategoryExample]:
    """Read an examples file (see the module docstring)."""
    if not path.is_file():
        raise ExamplesError(f"examples file not found: {path}")
    with path.open(encoding="utf-8") as handle:
        return parse_examples(handle, source=str(path))


def check_examples(examples: Sequence[CategoryExample], *, source: str) -> None:
    """Refuse a set that cannot define a category: too few positives, a text labelled both ways."""
    positives = sum(e.label for e in examples)
    if positives < MIN_POSITIVES:
        raise ExamplesError(
            f"{source}: {positives} positive examples (label 1); a category needs at least {MIN_POSITIVES}"
        )
    labels: dict[str, int] = {}
    for example in examples:
        key = example.text.casefold()
        if labels.setdefault(key, example.label) != example.label:
            raise ExamplesError(f"{source}: the text {example.text[:60]!r} is labelled both 1 and 0")


def write_examples(path: Path, examples: Iterable[CategoryExample]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for example in examples:
            handle.write(json.dumps(example.to_json(), ensure_ascii=False) + "\n")
