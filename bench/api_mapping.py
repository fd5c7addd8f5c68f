"""``python -m bench.api_mapping``: how well each Perspective attribute and OpenAI key that
postguard answers (service/api/taxonomy.py) is served, measured on labelled test splits.

Every text goes through the bundled model with its example-defined categories, exactly as the API
scores a text; each attribute's score is computed by the API's own mapping rule. Test sets (test
splits only; none trained the heads or thresholds):

- TOXICITY: HateXplain test, hate speech or offensive vs normal;
- IDENTITY_ATTACK (and OpenAI ``hate``): HateXplain test, hate speech vs the rest; ToxiGen's
  held-out group, toxic vs not;
- INSULT (OpenAI ``harassment``): ConvAbuse test, abusive vs not (abuse aimed at a person);
- PROFANITY: Davidson test, offensive (profane) vs neither;
- SEVERE_TOXICITY: ConvAbuse test, strongly abusive (most annotators at -2 or -3) vs the rest;
- SEXUALLY_EXPLICIT, FLIRTATION (OpenAI ``sexual``): ConvAbuse test, sexual harassment vs the rest;
- THREAT (OpenAI ``violence``): the project's functional suite, direct and normative threats vs
  every other case (our own wording: a weaker check than an external set).

Reported: AUROC, and recall, false-positive rate and precision at 0.5 (the cut-off Perspective
users most often apply). "well" = AUROC >= 0.85, "approximately" 0.70-0.85, "poorly" below.
Writes ``bench/results/api_mapping.json`` and prints a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from models.data.sources import _convabuse_votes, default_data_dir, load_text_corpus
from models.metrics import auroc, false_positive_rate_at, precision_at, recall_at
from models.suite import build_suite
from models.types import PostContent
from service.api.taxonomy import OPENAI_KEYS, PERSPECTIVE_ATTRIBUTES, Mapped

RESULTS = Path(__file__).resolve().parent / "results"
CUTOFF = 0.5


def _convabuse_test(data_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    with (data_dir / "convabuse" / "data.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            labels = row["labels"]
            text = " ".join(row["text"].split())
            if row["split"] == "test" and text and int(labels["derived_n_annotators"]) > 0:
                rows.append((text, labels))
    return rows


def labelled_sets(data_dir: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Name -> (texts, 0/1 labels)."""
    test = [e for e in load_text_corpus(data_dir) if e.split == "test"]
    hatexplain = [e for e in test if e.source == "hatexplain"]
    toxigen = [e for e in test if e.source == "toxigen"]
    davidson = [e for e in test if e.source == "davidson" and e.source_label in ("offensive", "normal")]
    convabuse = _convabuse_test(data_dir)

    def majority(labels: dict[str, Any], *fields: str) -> bool:
        annotators = int(labels["derived_n_annotators"])
        return 2 * sum(_convabuse_votes(labels, f) for f in fields) > annotators

    suite = build_suite()
    sets = {
        "hatexplain_toxic": ([e.text for e in hatexplain], [e.source_label != "normal" for e in hatexplain]),
        "hatexplain_hate": (
            [e.text for e in hatexplain],
            [e.source_label == "hatespeech" for e in hatexplain],
        ),
        "toxigen_hate": ([e.text for e in toxigen], [e.targets[0] > 0.5 for e in toxigen]),
        "convabuse_abusive": (
            [t for t, _ in convabuse],
            [bool(int(lab["derived_abusive_majority"])) for _, lab in convabuse],
        ),
        "convabuse_severe": (
            [t for t, _ in convabuse],
            [majority(lab, "is_abuse.-2", "is_abuse.-3") for _, lab in convabuse],
        ),
        "convabuse_sexual": (
            [t for t, _ in convabuse],
            [majority(lab, "sex_harassment") for _, lab in convabuse],
        ),
        "davidson_profane": ([e.text for e in davidson], [e.source_label == "offensive" for e in davidson]),
        "suite_threats": ([c.text for c in suite], [c.functionality.startswith("threat_") for c in suite]),
    }
    return {name: (texts, np.array(labels, dtype=int)) for name, (texts, labels) in sets.items()}


#: Which labelled set measures which answer.
MEASURED_BY: dict[str, list[str]] = {
    "TOXICITY": ["hatexplain_toxic", "convabuse_abusive"],
    "IDENTITY_ATTACK": ["hatexplain_hate", "toxigen_hate"],
    "INSULT": ["convabuse_abusive"],
    "PROFANITY": ["davidson_profane"],
    "SEVERE_TOXICITY": ["convabuse_severe"],
    "SEXUALLY_EXPLICIT": ["convabuse_sexual"],
    "FLIRTATION": ["convabuse_sexual"],
    "THREAT": ["suite_threats"],
    "openai:hate": ["hatexplain_hate", "toxigen_hate"],
    "openai:harassment": ["convabuse_abusive"],
    "openai:sexual": ["convabuse_sexual"],
    "openai:violence": ["suite_threats"],
}


def _rule(answer: str) -> Mapped:
    if answer.startswith("openai:"):
        rule = OPENAI_KEYS[answer.removeprefix("openai:")]
        assert rule is not None
        return rule
    return PERSPECTIVE_ATTRIBUTES[answer]


def _verdict(value: float) -> str:
    return "well" if value >= 0.85 else "approximately" if value >= 0.70 else "poorly"


def measure(moderator: Any, sets: dict[str, tuple[list[str], np.ndarray]], batch: int = 64) -> dict[str, Any]:
    scores: dict[str, list[dict[str, float]]] = {}
    for name, (texts, _) in sets.items():
        out: list[dict[str, float]] = []
        for start in tqdm(range(0, len(texts), batch), desc=name, unit="batch", file=sys.stderr):
            results = moderator.score([PostContent(text=t) for t in texts[start : start + batch]])
            out += [r.scores for r in results]
        scores[name] = out
    report: dict[str, Any] = {}
    for answer, set_names in MEASURED_BY.items():
        rule = _rule(answer)
        if not rule.available(moderator.labels):
            report[answer] = {"served": False, "reason": f"the model scores no {', '.join(rule.categories)}"}
            continue
        rows = {}
        for set_name in set_names:
            labels = sets[set_name][1]
            values = np.array([rule.score(s) for s in scores[set_name]])
            area = auroc(labels, values)
            rows[set_name] = {
                "auroc": round(area, 4),
                "recall_at_0.5": round(recall_at(labels, values, CUTOFF), 4),
                "false_positive_rate_at_0.5": round(false_positive_rate_at(labels, values, CUTOFF), 4),
                "precision_at_0.5": round(precision_at(labels, values, CUTOFF), 4),
                "n": int(len(labels)),
                "positives": int(labels.sum()),
            }
        worst = min(r["auroc"] for r in rows.values())
        report[answer] = {
            "served": True,
            "mapping": list(rule.categories),
            "sets": rows,
            "verdict": _verdict(worst),
        }
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.api_mapping",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--data-dir", type=Path, default=default_data_dir())
    parser.add_argument("--checkpoint", type=Path, help="default: the bundled one")
    parser.add_argument("--output", type=Path, default=RESULTS / "api_mapping.json")
    args = parser.parse_args(argv)
    if args.data_dir is None or not (args.data_dir / "convabuse").is_dir():
        parser.error(
            f"no labelled data at {args.data_dir} (the shared datasets folder, see models/data/sources.py)"
        )
    from models.inference import DEFAULT_CATEGORIES, Moderator

    # As the API loads it: with the bundled example-defined categories (when they fit the checkpoint).
    moderator = Moderator.load(args.checkpoint, categories=DEFAULT_CATEGORIES, categories_required=False)
    answers = measure(moderator, labelled_sets(args.data_dir))
    report = {"model_version": moderator.version, "cutoff": CUTOFF, "answers": answers}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"{'answer':<22}{'set':<20}{'AUROC':>7}{'recall':>8}{'FPR':>7}{'prec.':>7}  verdict")
    for answer, row in answers.items():
        if not row["served"]:
            print(f"{answer:<22}not served: {row['reason']}")
            continue
        for set_name, m in row["sets"].items():
            print(
                f"{answer:<22}{set_name:<20}{m['auroc']:>7.3f}{m['recall_at_0.5']:>8.3f}"
                f"{m['false_positive_rate_at_0.5']:>7.3f}{m['precision_at_0.5']:>7.3f}  {row['verdict']}"
            )
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
