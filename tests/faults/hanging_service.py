"""The real service (``service.app.run_service``, as ``postguard serve`` runs it) with a scorer
whose OCR read and inference call never return: run as its own process by
tests/faults/test_shutdown_bound.py, configured by the same ``POSTGUARD_*`` variables.

``python -m tests.faults.hanging_service MARKER``: each stuck call appends a line (``ocr`` or
``score``) to the file MARKER when it starts.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from models.types import ModerationResult, PostContent
from service.app import build_app, run_service
from service.moderation.policy import load_policy
from service.observability.log_safety import configure_logging
from service.settings import load_settings


class HangingScorer:
    """Stuck forever in whatever it is asked: a model wedged in a native call."""

    labels = tuple(load_policy().categories)  # every category the default policy moderates
    version = "hanging-1"

    def __init__(self, marker: Path) -> None:
        self._marker = marker
        self._never = threading.Event()

    def _stuck(self, what: str) -> None:
        with self._marker.open("a") as out:
            out.write(f"{what}\n")
        self._never.wait()

    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        self._stuck("score")
        raise AssertionError("unreachable")

    def read_image_text(self, image: Image.Image) -> str:
        self._stuck("ocr")
        raise AssertionError("unreachable")


def main() -> int:
    settings = load_settings()
    configure_logging(settings.log_level)
    return run_service(build_app(settings, scorer=HangingScorer(Path(sys.argv[1]))))


if __name__ == "__main__":
    sys.exit(main())
