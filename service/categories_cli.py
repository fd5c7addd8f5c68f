"""``postguard categories``: list the categories scored, add one from examples, remove one, refit
a bundle on a retrained checkpoint.

A category defined by example lives in a *category bundle* (a directory; see
``models/categories/bundle.py``). The service scores the bundle at ``POSTGUARD_CATEGORIES_PATH``,
or the bundled one (``self_harm``, ``violence``, ``sexual``) when that is not set. The bundled
directory is part of the installed package and is never written: ``add`` on a new directory
first copies the bundled categories into it, so a platform's bundle extends ours. Heads read the
checkpoint's own text tower (models/categories/embedding.py), so a bundle fits one checkpoint:
after a retrain, ``refit`` fits every category again from the examples the bundle keeps.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from service.api.taxonomy import openai_keys_reading
from service.errors import ConfigError
from service.settings import CommonSettings, load_settings

if TYPE_CHECKING:
    from models.categories.embedding import CategoryEmbedder

COMMANDS = ("categories",)
EXIT_OK = 0


def add_commands(commands: Any) -> None:
    parser = commands.add_parser(
        "categories",
        help="list the categories scored; add one defined by example posts; remove one; refit a bundle",
        description="Without an action: the taxonomy (every category scored, its definition, "
        "thresholds, measured quality and the OpenAI/Azure names it maps to).",
    )
    actions = parser.add_subparsers(dest="categories_command", metavar="ACTION")
    listing = actions.add_parser("list", help="the taxonomy table (the default action)")
    listing.add_argument("--json", action="store_true", help="one JSON object per category")
    parser.set_defaults(json=False)
    add = actions.add_parser(
        "add",
        help='define a category by example posts (JSONL: {"text": ..., "label": 1 or 0}, >= 20 positives)',
        description="Embed the examples with the checkpoint's text tower, fit a small head "
        "against them and ordinary benign posts, set review/block thresholds precision-first, and "
        "write it into the category bundle. Prints what fitting measured and the policy lines to add.",
    )
    add.add_argument("name", help="category name: a-z, 0-9 and _, e.g. crypto_scam")
    add.add_argument("--examples", type=Path, required=True, metavar="FILE.jsonl")
    add.add_argument("--description", default="", help="one sentence: what the category covers")
    add.add_argument("--bundle", type=Path, help="bundle directory (default: POSTGUARD_CATEGORIES_PATH)")
    add.add_argument(
        "--empty", action="store_true", help="start a new bundle empty instead of with the bundled categories"
    )
    remove = actions.add_parser("remove", help="delete a category from a bundle")
    remove.add_argument("name")
    remove.add_argument("--bundle", type=Path, help="bundle directory (default: POSTGUARD_CATEGORIES_PATH)")
    refit = actions.add_parser(
        "refit",
        help="fit every category of a bundle again on the checkpoint loaded (after a retrain)",
        description="Refit each category from the examples the bundle keeps, on the checkpoint at "
        "POSTGUARD_MODEL_PATH (or the bundled one). A new directory starts from a copy of the bundled "
        "categories. Thresholds are set again: the policy lines are printed.",
    )
    refit.add_argument("--bundle", type=Path, help="bundle directory (default: POSTGUARD_CATEGORIES_PATH)")


def _settings() -> CommonSettings:
    return load_settings(CommonSettings)  # categories never talk to Kafka or PostgreSQL


def _writable_bundle(given: Path | None, settings: CommonSettings) -> Path:
    from models.inference import DEFAULT_CATEGORIES

    bundle = given or settings.categories_path
    if bundle is None:
        raise ConfigError(
            "POSTGUARD_CATEGORIES_PATH: not set, and the bundled categories are read-only; "
            "pass --bundle DIR (a new directory starts with a copy of the bundled categories)"
        )
    if bundle.resolve() == DEFAULT_CATEGORIES.resolve():
        raise ConfigError(f"--bundle: {bundle} is the bundled, read-only bundle; choose another directory")
    return bundle


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _checkpoint_embedder(settings: CommonSettings) -> tuple[CategoryEmbedder, tuple[str, ...]]:
    """The category embedding of the checkpoint the service loads, and that checkpoint's own labels."""
    from models.categories.embedding import CategoryEmbedder
    from models.checkpoint import load_checkpoint
    from models.inference import DEFAULT_CHECKPOINT

    model, processor, _ = load_checkpoint(settings.model_path or DEFAULT_CHECKPOINT)
    return CategoryEmbedder.for_checkpoint(model, processor), tuple(model.config.labels)


def _refit_all(bundle: Path, embedder: CategoryEmbedder) -> str:
    from models.categories.benign import load_sample
    from models.categories.bundle import refit_bundle
    from models.categories.define import define_category
    from models.categories.examples import CategoryExample
    from models.categories.head import CategoryHead

    benign = load_sample()

    def fit(name: str, examples: list[CategoryExample], description: str) -> CategoryHead:
        _say(f"refitting {name!r}")
        head, report = define_category(
            name, examples, embedder=embedder, benign=benign, description=description, progress=_say
        )
        _say(
            f"  {name}: cross-validated AUROC {report.cv_auroc:.3f}; review {head.review}, block {head.block}"
        )
        return head

    return refit_bundle(bundle, fit, encoder_fingerprint=embedder.fingerprint)


def _add(args: argparse.Namespace) -> int:
    from models.categories.benign import load_sample
    from models.categories.bundle import MANIFEST_FILE, check_name, copy_bundle, save_category, verify_bundle
    from models.categories.define import define_category
    from models.categories.examples import check_examples, read_examples
    from models.inference import DEFAULT_CATEGORIES

    settings = _settings()
    bundle = _writable_bundle(args.bundle, settings)
    embedder, own_labels = _checkpoint_embedder(settings)
    check_name(args.name, reserved=own_labels)
    examples = read_examples(args.examples)
    check_examples(examples, source=str(args.examples))  # before any copying or refitting
    if not (bundle / MANIFEST_FILE).is_file() and not args.empty:
        copy_bundle(DEFAULT_CATEGORIES, bundle)
        _say(f"new bundle {bundle}: started with a copy of the bundled categories (--empty to start without)")
        if verify_bundle(bundle)["encoder_fingerprint"] != embedder.fingerprint:
            _say("the bundled categories were fit on the bundled checkpoint, not this one: refitting them")
            _refit_all(bundle, embedder)
    head, report = define_category(
        args.name,
        examples,
        embedder=embedder,
        benign=load_sample(),
        description=args.description,
        source=str(args.examples),
        progress=_say,
    )
    version = save_category(bundle, head, examples, encoder_fingerprint=embedder.fingerprint)
    print(
        f"category {args.name!r} added to {bundle} (bundle version {version})\n"
        f"  examples: {report.positives} positive, {report.negatives} negative; {report.benign} benign posts\n"
        f"  cross-validated AUROC {report.cv_auroc:.3f}; at the review threshold {head.review:.2f}: "
        f"recall {report.cv_recall_at_review:.2f}, your negatives flagged {report.cv_negative_fpr_at_review:.2%}, "
        f"held-back benign posts flagged {report.benign_fpr_at_review:.2%}\n"
        f"To moderate it, add to the policy file (and raise its version):\n\n"
        f"[categories.{args.name}]\nreview = {head.review}\nblock = {head.block}\n\n"
        f"and run the service with POSTGUARD_CATEGORIES_PATH={bundle}"
    )
    if report.positives < 50:
        _say("note: with fewer than 50 positives a head is much weaker (docs/categories.md, learning curve)")
    return EXIT_OK


def _refit(args: argparse.Namespace) -> int:
    from models.categories.bundle import MANIFEST_FILE, copy_bundle, load_bundle
    from models.inference import DEFAULT_CATEGORIES

    settings = _settings()
    bundle = _writable_bundle(args.bundle, settings)
    embedder, _ = _checkpoint_embedder(settings)
    if not (bundle / MANIFEST_FILE).is_file():
        copy_bundle(DEFAULT_CATEGORIES, bundle)
        _say(f"new bundle {bundle}: a copy of the bundled categories, to refit")
    version = _refit_all(bundle, embedder)
    lines = [
        f"[categories.{h.name}]\nreview = {h.review}\nblock = {h.block}\n" for h in load_bundle(bundle).heads
    ]
    print(
        f"every category of {bundle} refit on this checkpoint (bundle version {version}).\n"
        "Thresholds are set again: update the policy file (and raise its version):\n\n" + "\n".join(lines)
    )
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    from models.categories.bundle import remove_category

    bundle = _writable_bundle(args.bundle, _settings())
    version = remove_category(bundle, args.name)
    print(
        f"category {args.name!r} removed from {bundle} (bundle version {version}); remove it from the policy too"
    )
    return EXIT_OK


def taxonomy_rows(settings: CommonSettings) -> list[dict[str, Any]]:
    """Every category the service would score with these settings, with what is known about it."""
    from models.categories.bundle import load_bundle
    from models.categories.taxonomy import describe
    from models.config import ModerationConfig
    from models.inference import DEFAULT_CHECKPOINT
    from service.moderation.policy import load_policy
    from service.moderation.scoring import category_bundle_path

    config = ModerationConfig.load((settings.model_path or DEFAULT_CHECKPOINT) / "config.json")
    policy = load_policy(settings.policy_path)
    rows: list[dict[str, Any]] = []
    bundle_path = category_bundle_path(settings)
    heads = load_bundle(bundle_path).heads if bundle_path is not None else ()
    origins = [(name, "checkpoint", None) for name in config.labels] + [
        (h.name, "examples", h) for h in heads
    ]
    for name, origin, head in origins:
        card = head.card if head is not None else {}
        info = describe(name, str(card.get("description", "")))
        thresholds = policy.categories.get(name)
        rows.append(
            {
                "name": name,
                "from": origin,
                "definition": info.definition,
                "out_of_scope": info.out_of_scope,
                "trained_on": info.trained_on,
                "openai": openai_keys_reading(name),
                "azure": list(info.azure),
                "policy": {"review": thresholds.review, "block": thresholds.block} if thresholds else None,
                "cv_auroc": card.get("fit", {}).get("cv_auroc"),
            }
        )
    return rows


def _list(as_json: bool) -> int:
    rows = taxonomy_rows(_settings())
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return EXIT_OK
    print(f"{'category':<12} {'from':<10} {'policy review/block':<20} {'OpenAI':<34} {'Azure':<9} definition")
    for row in rows:
        policy = row["policy"]
        thresholds = f"{policy['review']:.2f} / {policy['block']:.2f}" if policy else "not moderated"
        print(
            f"{row['name']:<12} {row['from']:<10} {thresholds:<20} {', '.join(row['openai']) or '-':<34} "
            f"{', '.join(row['azure']) or '-':<9} {row['definition']}"
        )
    print("\nmeasured quality per category: docs/categories.md and models/eval/categories.json")
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    from models.errors import ModelError

    try:
        if args.categories_command == "add":
            return _add(args)
        if args.categories_command == "remove":
            return _remove(args)
        if args.categories_command == "refit":
            return _refit(args)
        return _list(args.json)
    except ModelError as exc:  # bad examples, a damaged bundle: the user's to fix
        raise ConfigError(str(exc)) from exc
