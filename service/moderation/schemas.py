"""The JSON Schemas of the wire contract, generated from its models.

``python -m service.moderation.schemas docs/schemas`` rewrites the committed files.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from service.moderation.contract import Decision, Post


def post_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a post message."""
    schema = Post.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "postguard/post.schema.json",
        **schema,
    }


def decision_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a decision message."""
    schema = Decision.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "postguard/decision.schema.json",
        **schema,
    }


def render_json_schema(schema: dict[str, Any]) -> str:
    """The committed text of a schema file: stable key order, two-space indent, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_json_schemas(directory: Path) -> list[Path]:
    """Write ``post.schema.json`` and ``decision.schema.json`` into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in (("post", post_json_schema()), ("decision", decision_json_schema())):
        path = directory / f"{name}.schema.json"
        path.write_text(render_json_schema(schema), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    for written_path in write_json_schemas(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/schemas")):
        print(written_path)
