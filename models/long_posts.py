"""Harm in long posts: ``python -m models.long_posts``.

The text tower reads 64 tokens (about 45 words); a post may hold 10,000 characters. This check
buries harmful test texts in long benign posts and asks whether the service, as it scores posts
(:class:`models.inference.Moderator`), still flags them — reading the whole text in windows
(:mod:`models.text_windows`, the default) and, for comparison, reading only the first 64 tokens
(what the tower alone does). Every text is from a test split (HateXplain, ToxiGen's held-out
group, ConvAbuse); nothing here is trained or tuned on.

- ``harmful kept``: of the harmful test texts the checkpoint flags on their own (any of its
  labels at the review thresholds), the share still flagged when the text sits at the start, in
  the middle or at the end of about 200 words of benign test texts that it leaves alone on their
  own (``quiet_mix``), or in the middle of everyday prose;
- ``benign ... flagged``: long posts of benign texts only: the ``quiet_mix`` (what reading a long
  text window by window adds by itself: a window holds pieces of several texts), every benign
  test text of one source, flagged alone or not (HateXplain's `normal` posts hold many rude ones),
  and the out-of-distribution set's everyday notices (models/suite/benign_documents.py).

Prints a table and writes ``models/eval/long_posts.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .data.sources import LABELS, TextExample, default_data_dir, load_text_corpus
from .inference import DEFAULT_CHECKPOINT, InferenceOptions, Moderator
from .sampling_intervals import wilson_interval
from .suite.benign_documents import DOCUMENT_TEXTS
from .types import PostContent

DEFAULT_REPORT = Path(__file__).resolve().parent / "eval" / "long_posts.json"
SOURCES = ("hatexplain", "toxigen", "convabuse")
POSITIONS = ("start", "middle", "end")
#: How the two readings are named in the report.
READINGS = {"whole": True, "cut": False}
SEED = 20261208


def join(texts: Sequence[str]) -> str:
    """Texts as one post: each one's whitespace collapsed, one space between them."""
    return " ".join(" ".join(text.split()) for text in texts)


def pad_around(harmful: str, padding: Sequence[str], position: str) -> str:
    """``harmful`` at ``position`` among the ``padding`` texts (in the middle: after the padding
    text that ends nearest half of the padding's words)."""
    if position == "start":
        pieces = [harmful, *padding]
    elif position == "end":
        pieces = [*padding, harmful]
    elif position == "middle":
        total = sum(len(text.split()) for text in padding)
        running, cut = 0, 0
        for cut, text in enumerate(padding, start=1):  # noqa: B007 - cut is used after the loop
            running += len(text.split())
            if running >= total / 2:
                break
        pieces = [*padding[:cut], harmful, *padding[cut:]]
    else:
        raise ValueError(f"position must be one of {', '.join(POSITIONS)}, got {position!r}")
    return join(pieces)


def draw_padding(pool: Sequence[str], rng: np.random.Generator, *, words: int) -> list[str]:
    """Distinct texts from ``pool`` in random order until they hold at least ``words`` words."""
    padding: list[str] = []
    count = 0
    for index in rng.permutation(len(pool)):
        padding.append(pool[index])
        count += len(pool[index].split())
        if count >= words:
            return padding
    raise ValueError(f"the pool of {len(pool)} texts holds fewer than {words} words: pass fewer --words")


def flagged(moderator: Moderator, texts: Sequence[str], *, batch: int = 16) -> np.ndarray:
    """Whether each text, posted as a caption, reaches a review threshold of the checkpoint's own
    labels."""
    thresholds = moderator.review_thresholds
    own = moderator.model.config.labels
    out = []
    for start in range(0, len(texts), batch):
        for result in moderator.score([PostContent(text=t) for t in texts[start : start + batch]]):
            out.append(any(result.scores[label] >= thresholds.get(label, 0.5) for label in own))
    return np.array(out, dtype=bool)


def _rate(hits: np.ndarray) -> dict[str, Any]:
    if not len(hits):  # e.g. a checkpoint that flags no harmful test text on its own
        return {"rate": None, "n": 0, "interval": None}
    low, high = wilson_interval(int(hits.sum()), len(hits))
    return {"rate": round(float(hits.mean()), 4), "n": len(hits), "interval": [round(low, 4), round(high, 4)]}


def build_sets(
    test: Sequence[TextExample],
    alone: Callable[[Sequence[str]], np.ndarray],
    *,
    harmful_posts: int,
    benign_posts: int,
    padding_words: int,
    seed: int = SEED,
) -> dict[str, Any]:
    """The check's posts. ``alone``: whether the checkpoint flags each text on its own (read
    whole: every test text but a few fits one window)."""
    rng = np.random.default_rng(seed)
    toxic = LABELS.index("toxic")
    harmful = [e.text for e in test if e.targets[toxic] == 1.0]
    benign = [e for e in test if e.targets[toxic] == 0.0 and e.mask[toxic] > 0]
    harmful_flags, benign_flags = alone(harmful), alone([e.text for e in benign])
    caught = [text for text, hit in zip(harmful, harmful_flags, strict=True) if hit]
    quiet = [e.text for e, hit in zip(benign, benign_flags, strict=True) if not hit]
    chosen = [caught[i] for i in rng.choice(len(caught), size=min(harmful_posts, len(caught)), replace=False)]
    buried = {
        position: [
            pad_around(text, draw_padding(quiet, rng, words=padding_words), position) for text in chosen
        ]
        for position in POSITIONS
    }
    buried["middle_of_everyday_prose"] = [
        pad_around(text, draw_padding(DOCUMENT_TEXTS, rng, words=padding_words), "middle") for text in chosen
    ]
    pools = {"quiet_mix": quiet} | {
        source: [e.text for e in benign if e.source == source]
        for source in sorted({e.source for e in benign})
    }
    benign_long = {
        name: [join(draw_padding(pool, rng, words=padding_words)) for _ in range(benign_posts)]
        for name, pool in pools.items()
    }
    benign_long["everyday_prose"] = [
        join(draw_padding(DOCUMENT_TEXTS, rng, words=padding_words)) for _ in range(benign_posts)
    ]
    return {
        "harmful_texts": len(harmful),
        "harmful_flagged_alone": len(caught),
        "benign_flagged_alone": {
            source: {
                "texts": sum(e.source == source for e in benign),
                "flagged": int(
                    sum(hit for e, hit in zip(benign, benign_flags, strict=True) if e.source == source)
                ),
            }
            for source in sorted({e.source for e in benign})
        },
        "buried": buried,
        "benign_long": benign_long,
    }


def run_check(
    checkpoint: Path,
    data_dir: Path,
    *,
    harmful_posts: int = 300,
    benign_posts: int = 200,
    padding_words: int = 200,
) -> dict[str, Any]:
    test = [e for e in load_text_corpus(data_dir, SOURCES) if e.split == "test"]
    moderators = {
        name: Moderator.load(checkpoint, options=InferenceOptions(read_whole_texts=whole))
        for name, whole in READINGS.items()
    }
    sets = build_sets(
        test,
        lambda texts: flagged(moderators["whole"], texts),
        harmful_posts=harmful_posts,
        benign_posts=benign_posts,
        padding_words=padding_words,
    )
    words = [len(text.split()) for text in sets["benign_long"]["quiet_mix"]]
    report: dict[str, Any] = {
        "checkpoint": moderators["whole"].version,
        "max_length": moderators["whole"].model.config.text_encoder.max_length,
        "sources": list(SOURCES),
        "padding_words": padding_words,
        "post_words_median": int(np.median(words)),
        **{key: sets[key] for key in ("harmful_texts", "harmful_flagged_alone", "benign_flagged_alone")},
        "readings": {},
    }
    for name, moderator in moderators.items():
        started = time.perf_counter()
        row: dict[str, Any] = {
            f"harmful_kept_{where}": _rate(flagged(moderator, posts))
            for where, posts in sets["buried"].items()
        }
        for padding, posts in sets["benign_long"].items():
            row[f"benign_{padding}_flagged"] = _rate(flagged(moderator, posts))
        row["seconds"] = round(time.perf_counter() - started, 1)
        report["readings"][name] = row
    return report


def format_report(report: dict[str, Any]) -> str:
    names = {"whole": "read whole", "cut": f"first {report['max_length']} tokens"}
    rows = [f"{'':<40}" + "".join(f"{names.get(name, name):>20}" for name in report["readings"])]
    first = next(iter(report["readings"].values()))
    for key in (k for k in first if k != "seconds"):
        cells = [
            f"{row[key]['rate']:>10.1%} (n={row[key]['n']})" if row[key]["n"] else "n/a (n=0)"
            for row in report["readings"].values()
        ]
        rows.append(f"{key.replace('_', ' '):<40}" + "".join(f"{c:>20}" for c in cells))
    alone = ", ".join(
        f"{source} {facts['flagged']} of {facts['texts']}"
        for source, facts in report["benign_flagged_alone"].items()
    )
    rows.append(
        f"harmful test texts flagged alone: {report['harmful_flagged_alone']} of {report['harmful_texts']} "
        f"(the ones buried); benign test texts flagged alone: {alone}; posts of about "
        f"{report['post_words_median']} words"
    )
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.long_posts", description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=DEFAULT_CHECKPOINT)
    parser.add_argument("--data-dir", type=Path, default=default_data_dir(), help="the shared datasets")
    parser.add_argument("--harmful", type=int, default=300, help="harmful texts to bury (default 300)")
    parser.add_argument(
        "--benign", type=int, default=200, help="benign long posts per padding kind (default 200)"
    )
    parser.add_argument("--words", type=int, default=200, help="benign words around each text (default 200)")
    parser.add_argument("--output", type=Path, default=DEFAULT_REPORT)
    args = parser.parse_args(argv)
    report = run_check(
        args.checkpoint,
        args.data_dir,
        harmful_posts=args.harmful,
        benign_posts=args.benign,
        padding_words=args.words,
    )
    print(format_report(report))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"written: {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
