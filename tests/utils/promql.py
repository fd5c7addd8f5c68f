"""Which metrics a PromQL expression reads, and which series names the service exports."""

from __future__ import annotations

import re

from prometheus_client import CollectorRegistry

from service.api.metrics import build_api_metrics
from service.observability.metrics import build_metrics

_KEYWORDS = {
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
}
_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_MATCHERS = re.compile(r"\{[^}]*\}")
_RANGES = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """The metric names ``expr`` selects (function names, keywords, labels and numbers excluded)."""
    text = _STRINGS.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGES.sub("", text)
    text = _GROUPING.sub("", text)
    names = {match.group(1) for match in _IDENTIFIER.finditer(text)}
    # Exponents of numbers (1e-9) and durations are not names.
    return {
        name for name in names if name not in _KEYWORDS and not re.fullmatch(r"e\d*|inf|nan", name.lower())
    }


_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "unknown": ("",),
}


def exported_series_names() -> set[str]:
    """Every series name the service's and the API's registries can export (families with no series yet included)."""
    registry, api_registry = CollectorRegistry(), CollectorRegistry()
    build_metrics(registry)
    build_api_metrics(api_registry)  # postguard api exports its own on its port
    names: set[str] = set()
    for family in [*registry.collect(), *api_registry.collect()]:
        names.update(family.name + suffix for suffix in _SUFFIXES[family.type])
        names.update(sample.name for sample in family.samples)
    return names
