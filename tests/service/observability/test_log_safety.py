"""Log lines cannot be forged or disguised by the data they mention."""

from __future__ import annotations

import io
import logging

import pytest

from service.observability.log_safety import EscapingFormatter, escape_for_log


@pytest.mark.parametrize(
    ("raw", "logged"),
    [
        ("p-1\r\nINFO forged", "p-1\\x0d\\x0aINFO forged"),
        ("p\x1b[2J", "p\\x1b[2J"),
        ("p-\u202eexe.jpg", "p-\\u202eexe.jpg"),
        ("a\u200bb\u2028c\x85", "a\\u200bb\\u2028c\\x85"),
        ("plain é 中文 😀 and spaces", "plain é 中文 😀 and spaces"),
    ],
)
def test_escape_for_log(raw: str, logged: str) -> None:
    assert escape_for_log(raw) == logged


def test_a_message_with_data_stays_one_line_and_the_traceback_keeps_its_lines() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("tests.log_safety")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("post %s cannot be scored", "p-1\nERROR the database was dropped")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("scoring failed for %s", "p-\u202e2")
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "WARNING post p-1\\x0aERROR the database was dropped cannot be scored"
    assert lines[1] == "ERROR scoring failed for p-\\u202e2"
    assert lines[2] == "Traceback (most recent call last):" and lines[-1] == "ValueError: boom"


def test_configure_logging_used_by_both_clis_installs_the_escaping_formatter() -> None:
    from service.observability.log_safety import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = []
    try:
        configure_logging("INFO")
        assert [type(h.formatter) for h in root.handlers] == [EscapingFormatter]
    finally:
        root.handlers = saved
