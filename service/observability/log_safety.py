"""Log lines that cannot be forged or disguised by the data they mention.

Post ids, URLs, file names and error messages from producers reach log messages. A carriage
return or newline in one would start a fake log line, an ESC sequence would rewrite the
operator's terminal, and bidirectional-override characters would make a line read differently
from what it holds. Every log message is escaped here: control characters (C0, C1), format
characters (bidi controls, zero-width characters) and line/paragraph separators are written as
``\\xNN`` / ``\\uNNNN``. Tracebacks appended to a record keep their line breaks; they come from
our code, and the exception messages inside them are escaped where we raise them with data.
"""

from __future__ import annotations

import logging
import sys
import unicodedata

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def escape_for_log(text: str) -> str:
    """``text`` with every control, format and separator character escaped (others unchanged)."""
    if text.isprintable():  # the common case, in C
        return text
    return "".join(_escape(ch) if unicodedata.category(ch) in _ESCAPED_CATEGORIES else ch for ch in text)


def _escape(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


class EscapingFormatter(logging.Formatter):
    """A formatter whose messages (with their arguments filled in) are escaped."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_for_log(record.message)
        return super().formatMessage(record)


def configure_logging(level: str | int = "INFO", *, datefmt: str | None = "%H:%M:%S") -> None:
    """Log to stderr at ``level`` through an :class:`EscapingFormatter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt))
    logging.basicConfig(level=level, handlers=[handler])
    # aiokafka is chatty at INFO (every coordinator step); its warnings still show.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
