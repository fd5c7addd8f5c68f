"""SQL only through bound parameters: no SQL text is ever built from values in service/ or migrations/.

An AST scan, so it does not depend on naming: every f-string, ``%`` format, ``str.format`` call
and string concatenation in the code is checked for SQL, and every ``text()`` / ``execute()``
call must get a literal string or a SQLAlchemy construct. The allowed exceptions are named
below with the reason each is safe. ``ruff``'s S608 rule checks the same from another angle.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCANNED = ["service", "migrations"]

_SQL = re.compile(
    r"(?i)\b(select\b[\s\S]*\bfrom\b|insert\s+into\b|update\s+\S+\s+set\b|delete\s+from\b"
    r"|(create|drop|alter)\s+(database|table|index|role|user|function|trigger)\b|grant\s+\w+\s+on\b)"
)
#: (file, function) -> why building SQL there is safe.
_IDENTIFIER_ONLY = "CREATE/DROP DATABASE take no bound parameters; the name is checked against a regex"
_GRANTS = (
    "GRANT/REVOKE take no bound parameters for a role: the role is checked against "
    "^[a-z_][a-z0-9_]{0,62}$ (and PostgreSQL's pg_roles) and quoted; table names come from our metadata"
)
ALLOWED = {
    ("devtools/embedded.py", "create_database"): _IDENTIFIER_ONLY,
    ("devtools/embedded.py", "drop_database"): _IDENTIFIER_ONLY,
    ("service/storage/migrate.py", "runtime_grants"): _GRANTS,
    ("service/storage/migrate.py", "grant"): _GRANTS,
}


def _literal_parts(node: ast.AST) -> str:
    """The constant text of a string-building expression (placeholders dropped)."""
    return " ".join(
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )


def _is_built_string(node: ast.AST) -> bool:
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(isinstance(side, ast.Constant | ast.JoinedStr) for side in (node.left, node.right))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and isinstance(node.func.value, ast.Constant)
    )


def find_string_built_sql(source: str, filename: str) -> list[str]:
    """``file:line (function)`` of every SQL text built from values, and of non-literal text() calls."""
    tree = ast.parse(source, filename)
    problems: list[str] = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if _is_built_string(node) and _SQL.search(_literal_parts(node)):
            if (filename, function) not in ALLOWED:
                problems.append(
                    f"{filename}:{getattr(node, 'lineno', '?')} ({function}): SQL built from values"
                )
            return
        if isinstance(node, ast.Call) and node.args:
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            if name == "text" and not isinstance(node.args[0], ast.Constant | ast.Name):
                problems.append(f"{filename}:{node.lineno} ({function}): text() of a computed string")
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return problems


def _sources() -> list[Path]:
    return sorted(p for directory in SCANNED for p in (ROOT / directory).rglob("*.py"))


def test_no_sql_is_built_from_values() -> None:
    problems = [
        problem
        for path in _sources()
        for problem in find_string_built_sql(path.read_text(), str(path.relative_to(ROOT)))
    ]
    assert not problems, "\n".join(problems)


def test_the_allowed_exceptions_still_exist() -> None:
    # A stale allowance would silently permit new code under the same name.
    for filename, function in ALLOWED:
        assert f"def {function}(" in (ROOT / filename).read_text(), (filename, function)


@pytest.mark.parametrize(
    "snippet",
    [
        "session.execute(text(f\"SELECT * FROM posts WHERE post_id = '{post_id}'\"))",
        'conn.execute("DELETE FROM decisions WHERE id = %s" % decision_id)',
        'query = "INSERT INTO posts (text) VALUES (\'" + text + "\')"',
        "sql = \"UPDATE review_items SET status = '{}'\".format(status)",
        "session.execute(text(build_query(user_input)))",
    ],
)
def test_the_scanner_catches_string_built_sql(snippet: str) -> None:
    assert find_string_built_sql(f"def handler():\n    {snippet}\n", "example.py")


@pytest.mark.parametrize(
    "snippet",
    [
        'session.execute(text("SELECT 1"))',
        "session.execute(select(PostRow).where(PostRow.post_id == post_id))",
        'logger.info(f"selected {n} posts from {topic}")',
        'message = f"could not insert {n} rows into the database"',
    ],
)
def test_the_scanner_leaves_safe_code_alone(snippet: str) -> None:
    assert not find_string_built_sql(f"def handler():\n    {snippet}\n", "example.py")
