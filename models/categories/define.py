"""From example posts to a fitted category head: the one procedure behind ``postguard categories
add`` and the bundled categories (``python -m models.categories.build``)."""

from __future__ import annotations

import datetime
from collections.abc import Callable, Sequence

import numpy as np

from .benign import BenignPost
from .embedding import CategoryEmbedder
from .examples import CategoryExample, check_examples
from .head import CategoryHead, FitReport, benign_holdout_mask, fit_head

Progress = Callable[[str], None]


def define_category(
    name: str,
    examples: Sequence[CategoryExample],
    *,
    embedder: CategoryEmbedder,
    benign: Sequence[BenignPost],
    description: str = "",
    source: str = "<examples>",
    progress: Progress | None = None,
) -> tuple[CategoryHead, FitReport]:
    """Fit ``name`` from ``examples`` (checked: ≥ 20 positives, no text labelled both ways).

    Benign posts that repeat one of the examples' texts are left out of the benign pool, so an
    example the user labelled 1 is never also taught as benign.
    """
    check_examples(examples, source=source)
    say = progress or (lambda _message: None)
    own = {e.text.casefold() for e in examples}
    pool = [p for p in benign if p.text.casefold() not in own]
    texts = [e.text for e in examples] + [p.text for p in pool]
    say(f"embedding {len(examples)} examples and {len(pool)} benign posts")
    features = embedder.embed_posts(texts)
    labels = np.array([e.label for e in examples])
    example_features, benign_features = features[: len(examples)], features[len(examples) :]
    held_back = benign_holdout_mask([p.text for p in pool])
    say(f"fitting (5-fold cross-validation over {len(examples) + int((~held_back).sum())} posts)")
    head, report = fit_head(
        name,
        positives=example_features[labels == 1],
        negatives=example_features[labels == 0],
        benign=benign_features[~held_back],
        benign_holdout=benign_features[held_back],
    )
    card = {
        "description": description,
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "fit": report.to_json(),
    }
    return CategoryHead(name, head.weight, head.bias, head.review, head.block, card), report
