"""Decisions and dead letters as Kafka messages: every dead-letter code is documented."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import models.errors
from service.moderation import messages
from service.moderation.parsing import _SPECIAL_CODES

ROOT = Path(__file__).resolve().parents[3]


def _post_rejected_codes() -> set[str]:
    """The literal first argument of every ``PostRejected(...)`` in the service."""
    codes = set()
    for path in (ROOT / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "PostRejected"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                codes.add(node.args[0].value)
    return codes


def _classifier_codes() -> set[str]:
    """Codes of the errors the classifier raises on a post (they become the dead letter's code)."""
    return {
        cls.code
        for _, cls in inspect.getmembers(models.errors, inspect.isclass)
        if issubclass(cls, models.errors.InputError) or cls is models.errors.ModelError
    }


def test_every_dead_letter_code_is_in_the_contract() -> None:
    table = (ROOT / "docs" / "contract.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", table, re.M))
    codes = (
        _post_rejected_codes()
        | _classifier_codes()
        | set(_SPECIAL_CODES)
        | {messages.MODEL_ERROR, messages.DATABASE_REJECTED, messages.MESSAGE_TOO_LARGE}
    )
    assert {"image_base64_invalid", "invalid_json", "image_corrupt", "model_error"} <= codes  # found at all
    assert codes - documented == set(), "dead-letter codes missing from docs/contract.md"
