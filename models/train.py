"""Train the fused moderation classifier: ``python -m models.train [--data-dir ../shared/data]``.

Recipe (about 35 minutes on 2 CPU cores; docs/model_card.md has the measured time):

1. **Text tower.** all-MiniLM-L6-v2's top ``--trainable-layers`` layers are fine-tuned on the
   labelled texts (HateXplain, Davidson, HarMeme, ToxiGen and ConvAbuse train splits, the
   template statements of ``models/data/statements.py``, the augmentation of
   ``models/data/augment.py``, plus ``--train-jsonl``). The frozen
   bottom layers run once and their hidden states are cached, so each epoch only pays for the
   top layers.
2. **Features.** Captions, rendered memes (EfficientNet-Lite0) and image texts are encoded once.
3. **Heads.** For each fusion mode (concat, sum, gated, attention) and the two unimodal
   baselines (caption only; image pixels + image text only), projections + fusion + head are
   trained on those features with modality dropout.
4. **Thresholds.** Per category, the review threshold maximising F1 on validation data, raised
   where needed so that at most ``--benign-fpr`` of held-out benign photo posts (photos the heads
   never saw, with and without their captions) would be sent to review.
5. **Checkpoints.** Every variant goes to ``<work-dir>/variants/<name>/``; the fusion mode with the
   best validation toxic AUROC on multimodal posts becomes the default checkpoint (``--output``).
   The report also gives each head's AUROC on the validation texts damaged as a read of an image
   damages them (``--select-by with-damaged`` chooses by both; ``models/variant_selection.py``).
6. **Reading captions.** Every checkpoint corrects the typed words of the captions it scores when
   the correction is sure (models/typed_spelling.py; ``--no-typed-spelling`` leaves captions as
   typed). Training texts are learnt as written.

Everything is seeded; two runs with the same arguments on the same machine give the same weights.

**Device.** ``--device auto`` (the default) trains on the first CUDA GPU when torch sees one and
on the CPU otherwise; ``--device cpu`` / ``cuda`` / ``cuda:N`` choose. The GPU runs the text
tower (caching the frozen layers, fine-tuning) and the fusion heads; rendering, OCR and the image
tower's feature pass stay on the CPU, where their inputs are made.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import math
import os
import random
import re
import shutil
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm
from transformers import AutoTokenizer

from . import variant_selection
from .architecture import ModerationModel, ensemble_of
from .checkpoint import save_checkpoint
from .config import FUSION_MODES, ModerationConfig, TextEncoderConfig
from .consistency import consistency_loss, damaged, twin_batches
from .data import augment
from .data.art import TRAIN_FAMILIES
from .data.multimodal import (
    KINDS,
    MultimodalExample,
    benign_photo_posts,
    benign_plain_images,
    benign_varied_images,
    compose,
)
from .data.sources import (
    LABELS,
    SPLITS,
    CocoImage,
    TextExample,
    default_data_dir,
    has_made_up_words,
    load_coco,
    load_text_corpus,
)
from .data.statements import SLURS, statement_examples
from .encoders import text_encoder_path
from .english_words import english_words
from .features import (
    FeatureSet,
    OcrCache,
    as_caption_less_memes,
    multimodal_features,
    predict,
    text_only_features,
)
from .inference import DEFAULT_CHECKPOINT
from .metrics import (
    auroc,
    best_f1_threshold,
    best_three_class_threshold,
    precision_at,
    recall_at,
    three_class_columns,
    three_class_report,
    three_class_truth,
    threshold_for_fpr,
)
from .preprocessing import ModerationProcessor
from .segmentation import WordSegmenter
from .suite import BLAND_CAPTIONS, build_suite
from .typed_spelling import SureSpelling
from .userdata import load_user_posts

log = logging.getLogger("models.train")

#: Where every stage runs without ``--device`` (and where every result is handed back).
CPU = torch.device("cpu")

#: How often each kind of composed post is drawn for training (more image-only harm and benign
#: posts than the uniform mix the test set uses: they are the hard cases).
TRAIN_KIND_WEIGHTS: dict[str, float] = {
    "caption_harm": 1.0,
    "image_harm": 1.5,
    "split_harm": 1.0,
    "benign": 1.5,
    "confounder": 1.0,
}

#: The variant that averages the four fusion heads (``--ensemble``).
ENSEMBLE = "ensemble"

#: Unimodal baselines: which modalities (caption, image pixels, image text) each may see.
BASELINES: dict[str, tuple[bool, bool, bool]] = {
    "text_only": (True, False, False),
    "image_only": (False, True, True),
}


@dataclass
class TrainArgs:
    data_dir: Path | None
    output: Path
    work_dir: Path
    seed: int
    text_epochs: int
    head_epochs: int
    trainable_layers: int
    memes_train: int
    memes_val: int
    davidson_cap: int
    train_jsonl: Path | None
    quick: bool
    threads: int | None
    version: str
    text_tower_from: Path | None = None
    benign_fpr: float = 0.005
    val_photos: int = 8
    caption_less_swap: float = 0.3
    synthetic_images: int = 400
    varied_images: int = 900
    obfuscated_texts: int = 3000
    counter_speech_texts: int = 1500
    identity_swap_texts: int = 1500
    stray_texts: int = 0
    typo_texts: int = 0
    consistency_weight: float = 0.0
    consistency_fraction: float = 0.25
    select_by: str = "multimodal"
    val_harm_share: float | None = 0.1
    statement_groups: int = 12
    supportive_groups: int = 0
    davidson_offensive: int = 0
    davidson_offensive_slurs: bool = False
    davidson_offensive_hate_unknown: bool = False
    device: str = "auto"
    typed_spelling: bool = True
    #: Seed of the fusion heads' initialisation and batch order (None: ``seed``); the data and the
    #: text tower keep ``seed``, so heads retrained on a reused tower can be redrawn alone.
    head_seed: int | None = None
    #: Also build the ensemble of the four fusion heads (their logits averaged) as a candidate
    #: for the default checkpoint.
    ensemble: bool = False
    #: Source -> weight of its training texts' labels in both stages' losses (default: all 1).
    source_weights: dict[str, float] = field(default_factory=dict)


def resolve_device(name: str) -> torch.device:
    """``auto`` = the first CUDA GPU when torch sees one, else the CPU; otherwise the named device,
    refused with a clear message when it does not exist here."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as error:
        raise ValueError(f"--device {name!r} is not a device name (auto, cpu, cuda, cuda:N)") from error
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"--device {name}: torch sees no CUDA GPU here (torch {torch.__version__}, "
                f"CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    elif device.type != "cpu":
        raise ValueError(f"--device {name}: only cpu and cuda devices are supported")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


# ----- data -------------------------------------------------------------------------------------


def select_text_training(
    examples: Sequence[TextExample],
    *,
    davidson_cap: int,
    seed: int,
    davidson_offensive: int = 0,
    davidson_offensive_slurs: bool = False,
    davidson_offensive_hate_unknown: bool = False,
) -> list[TextExample]:
    """Train-split texts; Davidson (77 % 'offensive' tweets) is capped so it doesn't drown the rest.

    The cap keeps hate and benign tweets first (in file order) and fills what is left with
    offensive ones; with the default cap (4,000) the hate and benign tweets alone fill it (4,474
    in the train split), so no offensive tweet is left. ``davidson_offensive`` adds that many
    offensive tweets, drawn at random, beyond the cap: without a slur of the training vocabulary
    (:data:`models.data.statements.SLURS`) unless ``davidson_offensive_slurs``, because this
    project's labels call a slur aimed at a group hate, and Davidson's annotators often called
    such a tweet offensive (5 % of its offensive tweets have one). ``davidson_offensive_hate_unknown``
    masks those added tweets' ``hate`` label (unknown instead of 0): they teach ``offensive`` and
    ``toxic`` without teaching "not hate"."""
    rng = np.random.default_rng(seed)
    train = [e for e in examples if e.split == "train"]
    davidson = [e for e in train if e.source == "davidson"]
    others = [e for e in train if e.source != "davidson"]
    if len(davidson) > davidson_cap or davidson_offensive:
        rare = [e for e in davidson if e.source_label != "offensive"]
        common = [e for e in davidson if e.source_label == "offensive"]
        fill = max(0, davidson_cap - len(rare))
        drawn = [common[i] for i in rng.permutation(len(common))]
        added = drawn[fill:]
        if not davidson_offensive_slurs:
            added = [e for e in added if not has_training_slur(e.text)]
        added = added[: max(0, davidson_offensive)]
        if davidson_offensive_hate_unknown:
            hate = LABELS.index("hate")
            added = [
                replace(e, mask=tuple(0.0 if j == hate else m for j, m in enumerate(e.mask))) for e in added
            ]
        davidson = rare[:davidson_cap] + drawn[:fill] + added
    return others + davidson


_SLUR_PATTERN = re.compile(
    r"\b(?:" + "|".join(sorted({re.escape(s.rstrip("s")) for s in SLURS})) + r")(?:s|es|ed|y)?\b", re.I
)


def has_training_slur(text: str) -> bool:
    """Whether ``text`` has a slur of the training vocabulary (singular, plural, ``-ed``/``-y``)."""
    return _SLUR_PATTERN.search(text) is not None


def weighted_sources(examples: Sequence[TextExample], weights: Mapping[str, float]) -> list[TextExample]:
    """``examples`` with the label mask of each named source's texts scaled by its weight. Both
    stages' losses are mask-weighted means (``ModerationModel.loss``), so a weight of 2 counts each
    of those labels twice, as if the texts were there twice, without the time of a second copy."""
    present = {e.source for e in examples}
    unknown = sorted(set(weights) - present)
    if unknown:
        raise SystemExit(
            f"--source-weight names {', '.join(unknown)}: not a source of the training texts "
            f"(they are: {', '.join(sorted(present))})"
        )
    for source, weight in weights.items():
        if not weight > 0:
            raise SystemExit(f"--source-weight {source}={weight}: a weight must be above 0")
    if not weights:
        return list(examples)
    return [
        replace(e, mask=tuple(m * weights[e.source] for m in e.mask)) if e.source in weights else e
        for e in examples
    ]


def length_batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (little padding = less CPU time)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def in_cached_order(examples: Sequence[TextExample], batch_size: int) -> list[TextExample]:
    """``examples`` in the row order :func:`cache_frozen_layers` (and so :func:`top_layers_embed`)
    gives them with the same ``batch_size``: the order their embeddings come back in."""
    return [examples[i] for rows in length_batches([len(e.text) for e in examples], batch_size) for i in rows]


# ----- stage 1: the text tower -----------------------------------------------------------------


@dataclass
class CachedBatch:
    hidden: torch.Tensor  # (batch, seq, dim) float16, output of the frozen layers
    attention_mask: torch.Tensor  # (batch, seq)
    targets: torch.Tensor
    mask: torch.Tensor


def cache_frozen_layers(
    model: ModerationModel,
    processor: ModerationProcessor,
    examples: Sequence[TextExample],
    *,
    batch_size: int,
    desc: str,
    device: torch.device = CPU,
    groups: Sequence[Sequence[int]] | None = None,
) -> list[CachedBatch]:
    """Hidden states of the frozen layers, computed on ``device`` and kept on the CPU, one batch per
    group of rows (default: :func:`length_batches` of ``batch_size``)."""
    start = model.first_trainable_layer
    lengths = [len(e.text) for e in examples]
    batches = []
    # no_grad, not inference_mode: these tensors later feed layers that are being trained.
    with torch.no_grad():
        for rows in tqdm(groups or length_batches(lengths, batch_size), desc=desc, unit="batch"):
            inputs = processor.tokenize([examples[i].text for i in rows])
            hidden = model.text_hidden(
                inputs["input_ids"].to(device), inputs["attention_mask"].to(device), stop=start
            )
            batches.append(
                CachedBatch(
                    hidden.half().cpu(),
                    inputs["attention_mask"],
                    torch.tensor([examples[i].targets for i in rows]),
                    torch.tensor([examples[i].mask for i in rows]),
                )
            )
    return batches


def cache_twins(
    model: ModerationModel,
    processor: ModerationProcessor,
    examples: Sequence[TextExample],
    *,
    batch_size: int,
    fraction: float,
    seed: int,
    device: torch.device = CPU,
) -> dict[int, CachedBatch]:
    """For a ``fraction`` of the training batches (indexed as :func:`cache_frozen_layers` orders
    them), the same rows with each text damaged (:func:`models.consistency.damaged`)."""
    groups = length_batches([len(e.text) for e in examples], batch_size)
    chosen = twin_batches(len(groups), fraction, seed)
    rng = random.Random(seed)
    twins = [replace(e, text=damaged(e.text, rng)) for e in examples]
    cached = cache_frozen_layers(
        model,
        processor,
        twins,
        batch_size=batch_size,
        desc="cache frozen text layers (damaged twins)",
        device=device,
        groups=[groups[i] for i in chosen],
    )
    return dict(zip(chosen, cached, strict=True))


def top_layers_embed(
    model: ModerationModel, batches: Sequence[CachedBatch], device: torch.device = CPU
) -> torch.Tensor:
    """Sentence embeddings (n, dim) on the CPU, the top layers run on ``device``."""
    with torch.inference_mode():
        return torch.cat(
            [
                model.text_from_hidden(
                    b.hidden.to(device).float(),
                    b.attention_mask.to(device),
                    start=model.first_trainable_layer,
                ).cpu()
                for b in batches
            ]
        )


def finetune_text_tower(
    model: ModerationModel,
    train: list[CachedBatch],
    val: list[CachedBatch],
    *,
    epochs: int,
    seed: int,
    device: torch.device = CPU,
    twins: dict[int, CachedBatch] | None = None,
    consistency_weight: float = 0.0,
    learning_rate: float = 8e-5,
) -> dict[str, object]:
    """Fine-tune the top text layers with a temporary linear head; keep the epoch with the best val
    AUROC. The text tower must already be on ``device``; cached batches move there one at a time.
    ``twins`` (train batch index -> the same rows damaged) add ``consistency_weight`` times the
    consistency loss (:mod:`models.consistency`) on those batches."""
    twins = twins if consistency_weight > 0 else None
    start = model.first_trainable_layer
    layers = model.text_layers[start:]
    dim = model.text_dim
    head = nn.Linear(dim, model.config.num_labels).to(device)
    optimizer = torch.optim.AdamW(
        [
            {"params": [p for p in layers.parameters()], "lr": learning_rate},
            {"params": head.parameters(), "lr": 2e-3},
        ],
        weight_decay=0.01,
    )
    total = max(1, epochs * len(train))
    warmup = max(1, total // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda step: min(1.0, (step + 1) / warmup) * max(0.0, (total - step) / max(1, total - warmup)),
    )
    generator = torch.Generator().manual_seed(seed)
    val_targets = torch.cat([b.targets for b in val])[:, -1].numpy()
    val_known = torch.cat([b.mask for b in val])[:, -1].numpy() > 0
    history: list[dict[str, float]] = []
    best_auc, best_state = -1.0, copy.deepcopy(layers.state_dict())
    for epoch in range(1, epochs + 1):
        model.text_encoder.train()
        order = torch.randperm(len(train), generator=generator).tolist()
        running, seen = 0.0, 0
        distance, twinned = 0.0, 0
        bar = tqdm(order, desc=f"text tower epoch {epoch}/{epochs}", unit="batch")
        for index in bar:
            batch = train[index]
            pooled = model.text_from_hidden(
                batch.hidden.to(device).float(), batch.attention_mask.to(device), start=start
            )
            loss = ModerationModel.loss(head(pooled), batch.targets.to(device), batch.mask.to(device))
            if twins is not None and index in twins:
                twin = twins[index]
                pooled_twin = model.text_from_hidden(
                    twin.hidden.to(device).float(), twin.attention_mask.to(device), start=start
                )
                apart = consistency_loss(pooled, pooled_twin)
                loss = loss + consistency_weight * apart
                distance += apart.item()
                twinned += 1
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(layers.parameters()) + list(head.parameters()), 1.0)
            optimizer.step()
            scheduler.step()
            running += loss.item() * len(batch.targets)
            seen += len(batch.targets)
            bar.set_postfix(loss=f"{running / seen:.4f}")
        model.text_encoder.eval()
        with torch.inference_mode():
            scores = torch.sigmoid(head(top_layers_embed(model, val, device).to(device)))[:, -1].cpu().numpy()
        val_auc = auroc(val_targets[val_known], scores[val_known])
        history.append({"epoch": epoch, "train_loss": running / max(seen, 1), "val_toxic_auroc": val_auc})
        if twinned:
            history[-1]["twin_cosine_distance"] = distance / twinned
        log.info(
            "text tower epoch %d: train loss %.4f, val toxic AUROC %.4f",
            epoch,
            running / max(seen, 1),
            val_auc,
        )
        if val_auc > best_auc:
            best_auc, best_state = val_auc, copy.deepcopy(layers.state_dict())
    layers.load_state_dict(best_state)
    model.text_encoder.eval()
    return {"epochs": history, "best_val_toxic_auroc": best_auc}


def reuse_text_tower(model: ModerationModel, checkpoint: Path) -> dict[str, object]:
    """Copy the fine-tuned top text layers from an earlier checkpoint instead of fine-tuning again
    (retraining only the fusion heads, e.g. after a change to the multimodal data, takes minutes)."""
    from .checkpoint import load_checkpoint

    source, _, _ = load_checkpoint(checkpoint)
    if (
        source.num_text_layers != model.num_text_layers
        or source.first_trainable_layer != model.first_trainable_layer
    ):
        raise SystemExit(
            f"--text-tower-from {checkpoint}: its text tower fine-tunes layers from "
            f"{source.first_trainable_layer}, this run from {model.first_trainable_layer} (use the same --trainable-layers)"
        )
    for index in range(model.first_trainable_layer, model.num_text_layers):
        model.text_layers[index].load_state_dict(source.text_layers[index].state_dict())
    model.text_encoder.eval()
    log.info("text tower: reused the fine-tuned layers of %s (%s)", checkpoint, source.config.version)
    return {
        "reused_from": str(checkpoint),
        "source_version": source.config.version,
        "source_text_tower": source.config.training.get("text_tower"),
        "source_consistency": source.config.training.get("consistency"),
    }


# ----- stage 3: heads on features --------------------------------------------------------------


def train_head(
    base: ModerationModel,
    config: ModerationConfig,
    train: FeatureSet,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 256,
    lr: float = 2e-3,
    device: torch.device = CPU,
) -> ModerationModel:
    """A model sharing ``base``'s towers with fresh projections, fusion and head trained on
    ``train`` (on ``device``; the model comes back on the CPU, towers included)."""
    torch.manual_seed(seed)
    model = ModerationModel(config, text_encoder=base.text_encoder, image_encoder=base.image_encoder)
    model.to(device)
    params = [p for n, p in model.named_parameters() if not n.startswith(("text_encoder.", "image_encoder."))]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    steps = epochs * math.ceil(len(train) / batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=max(1, steps))
    generator = torch.Generator().manual_seed(seed)
    model.train()
    model.text_encoder.eval()
    model.image_encoder.eval()
    for _ in range(epochs):
        order = torch.randperm(len(train), generator=generator)
        for start in range(0, len(train), batch_size):
            idx = order[start : start + batch_size]
            out = model.fuse_features(
                caption=train.caption[idx].to(device),
                image_pixels=train.image_pixels[idx].to(device),
                image_text=train.image_text[idx].to(device),
                present=train.present[idx].to(device),
                labels=train.targets[idx].to(device),
                label_mask=train.mask[idx].to(device),
            )
            optimizer.zero_grad(set_to_none=True)
            assert out.loss is not None
            out.loss.backward()
            optimizer.step()
            scheduler.step()
    return model.to("cpu").eval()


def tune_thresholds(
    model: ModerationModel,
    val: FeatureSet,
    benign: FeatureSet | None = None,
    *,
    benign_fpr: float = 0.005,
    positive_share: float | None = None,
) -> dict[str, float]:
    """Per category, the F1-optimal review threshold on validation posts where the label is known
    (negatives reweighted so that harm is ``positive_share`` of the traffic, when given), raised
    where needed so that at most ``benign_fpr`` of the ``benign`` posts reach it.

    Validation data is harm-rich (about half toxic), so plain F1 picks low thresholds that flood
    review with ordinary posts; a platform's traffic is mostly benign."""
    scores = predict(model, val)
    benign_scores = predict(model, benign) if benign is not None and len(benign) else None
    thresholds = {}
    for j, label in enumerate(model.config.labels):
        known = val.mask[:, j].numpy() > 0
        threshold = best_f1_threshold(
            val.targets[known, j].numpy(), scores[known, j], positive_share=positive_share
        )
        if benign_scores is not None:
            threshold = max(threshold, threshold_for_fpr(benign_scores[:, j], benign_fpr))
        thresholds[label] = threshold
    return thresholds


def threshold_report(
    model: ModerationModel, val: FeatureSet, *, positive_share: float | None
) -> dict[str, dict[str, float]]:
    """Precision (as measured, and at ``positive_share`` harm), recall and false-positive rate of
    each category at its review threshold on validation posts."""
    scores = predict(model, val)
    out = {}
    for j, label in enumerate(model.config.labels):
        known = val.mask[:, j].numpy() > 0
        y, s = val.targets[known, j].numpy(), scores[known, j]
        t = model.config.review_thresholds[label]
        out[label] = {
            "threshold": t,
            "precision": precision_at(y, s, t),
            "precision_at_share": precision_at(y, s, t, positive_share=positive_share),
            "positive_share": positive_share if positive_share is not None else float(y.mean()),
            "recall": recall_at(y, s, t),
            "false_positive_rate": float((s[y == 0] >= t).mean()) if (y == 0).any() else float("nan"),
        }
    return out


def _suite_texts() -> list[str]:
    # The functional suite (models/suite) is a benchmark: no text of it is ever trained on.
    return [case.text for case in build_suite()] + list(BLAND_CAPTIONS)


def text_corpus(args: TrainArgs) -> tuple[list[TextExample], list[MultimodalExample]]:
    """Every training and validation text (the shared datasets, the template statements, the
    user's texts and their augmentations, less every functional-suite text) and the user's posts
    with images."""
    corpus: list[TextExample] = []
    if args.data_dir is not None:
        log.info("loading datasets from %s", args.data_dir)
        corpus = load_text_corpus(args.data_dir)
        if args.statement_groups > 0:
            statements = statement_examples(
                seed=args.seed,
                groups_per_template=args.statement_groups,
                supportive_groups=args.supportive_groups,
            )
            corpus += statements
            log.info("template statements: %d texts (models/data/statements.py)", len(statements))
    user_posts: list[MultimodalExample] = []
    if args.train_jsonl is not None:
        user_texts, user_posts = load_user_posts(args.train_jsonl)
        corpus += user_texts
        log.info("user data: %d text posts, %d posts with images", len(user_texts), len(user_posts))
    suite_texts = _suite_texts()
    corpus = augment.drop_suite_texts(corpus, suite_texts)
    corpus += augmentations(corpus, args)
    return augment.drop_suite_texts(corpus, suite_texts), user_posts


def ocr_vocabulary(
    corpus: Iterable[TextExample], *, general_words: Iterable[str] | None = None
) -> WordSegmenter:
    """The ranked vocabulary the OCR repair reads image text with (models/ocr_spelling.py): the
    words of the training texts, less the obfuscated ones, whose spellings ("bicth",
    "arevermin") would otherwise pass for words and never be repaired, and less those with
    made-up strays ("Brunaix"); then, ranked behind them, the general English words they lack
    (``general_words``, by default :func:`models.english_words.english_words`), so that a word
    the tweets never use ("Romani", "strangle") is read whole rather than cut into pieces."""
    own = WordSegmenter.from_texts(e.text for e in corpus if e.split == "train" and not has_made_up_words(e))
    return own.widened(english_words() if general_words is None else general_words)


def augmentations(corpus: Sequence[TextExample], args: TrainArgs) -> list[TextExample]:
    """Augmented texts for the train and val splits (models/data/augment.py), each split made
    from its own texts only."""
    scores = augment.word_harm_scores(e for e in corpus if e.split == "train")
    extra: list[TextExample] = []
    for split, scale, offset in (("train", 1.0, 0), ("val", 0.15, 100)):
        texts = [e for e in corpus if e.split == split]
        seed = args.seed + 20 + offset
        extra += augment.obfuscated(
            texts, count=int(args.obfuscated_texts * scale), seed=seed, harm_scores=scores
        )
        extra += augment.counter_speech(texts, count=int(args.counter_speech_texts * scale), seed=seed + 1)
        extra += augment.identity_swaps(texts, count=int(args.identity_swap_texts * scale), seed=seed + 2)
        extra += augment.strayed(texts, count=int(args.stray_texts * scale), seed=seed + 3)
        extra += augment.typoed(texts, count=int(args.typo_texts * scale), seed=seed + 4)
    extra += augment.bland_reactions("train")
    log.info(
        "augmentation: %d texts (obfuscation, counter-speech, identity swaps, stray words, typos, reactions)",
        len(extra),
    )
    return extra


def tune_three_class(
    model: ModerationModel, val: FeatureSet, val_texts: Sequence[TextExample]
) -> tuple[float, dict[str, Any]] | None:
    """The toxic cut that maximises HateXplain's 3-class macro-F1 on validation texts (used only
    to report the 3-class metric; the service decides with the review thresholds), and the
    validation F1s at that cut (macro and by class). The first ``len(val_texts)`` rows of ``val``
    are those texts."""
    rows = [i for i, e in enumerate(val_texts) if e.source == "hatexplain"]
    if not rows:
        return None
    source_labels = [val_texts[i].source_label for i in rows]
    truth = three_class_truth(source_labels)
    scores = predict(model, val.subset(rows))
    labels = model.config.labels
    cut = best_three_class_threshold(truth, *three_class_columns(scores, labels))
    _, _, report = three_class_report(source_labels, scores, labels, cut)
    return cut, report


def benign_any_fpr(model: ModerationModel, benign: FeatureSet | None) -> float | None:
    """Share of held-out benign photo posts that would reach review in any category."""
    if benign is None or not len(benign):
        return None
    scores = predict(model, benign)
    limits = np.array([model.config.review_thresholds.get(label, 0.5) for label in model.config.labels])
    return float((scores >= limits).any(axis=1).mean())


def multimodal_auroc(model: ModerationModel, features: FeatureSet) -> float:
    scores = predict(model, features)[:, -1]
    known = features.mask[:, -1].numpy() > 0
    return auroc(features.targets[known, -1].numpy(), scores[known])


# ----- the whole recipe ------------------------------------------------------------------------


def run(args: TrainArgs) -> dict[str, object]:
    started = time.time()
    device = resolve_device(args.device)
    if device.type == "cuda":
        # deterministic cuBLAS (torch.use_deterministic_algorithms asks for it); set before CUDA starts
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    seed_everything(args.seed)
    log.info("training device: %s", torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu")
    if args.threads:
        torch.set_num_threads(args.threads)
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.data_dir is None and args.train_jsonl is None:
        raise SystemExit("no training data: pass --data-dir (the shared datasets) and/or --train-jsonl FILE")

    # --- data
    corpus, user_posts = text_corpus(args)
    photos: dict[str, list[Path]] = {"train": [], "val": [], "test": []}
    coco_captions: dict[str, list[str]] = {"train": [], "val": [], "test": []}
    coco_by_split: dict[str, list[CocoImage]] = {"train": [], "val": [], "test": []}
    if args.data_dir is not None:
        coco = load_coco(args.data_dir)
        # COCO val2017 photos are kept for test posts; train2017 photos are split into train and
        # val photos, so the thresholds are checked on photos the heads never saw.
        train2017 = [c for c in coco if c.coco_split == "train2017"]
        held = set(np.random.default_rng(args.seed).permutation(len(train2017))[: args.val_photos].tolist())
        for index, image in enumerate(train2017):
            coco_by_split["val" if index in held else "train"].append(image)
        coco_by_split["test"] = [c for c in coco if c.coco_split != "train2017"]
        for split, images in coco_by_split.items():
            photos[split] = [c.path for c in images]
            coco_captions[split] = [cap for c in images for cap in c.captions]
    train_texts = select_text_training(
        corpus,
        davidson_cap=args.davidson_cap,
        seed=args.seed,
        davidson_offensive=args.davidson_offensive,
        davidson_offensive_slurs=args.davidson_offensive_slurs,
        davidson_offensive_hate_unknown=args.davidson_offensive_hate_unknown,
    )
    train_texts = weighted_sources(train_texts, args.source_weights)
    val_texts = [e for e in corpus if e.split == "val" and e.source not in ("davidson",)]
    if args.quick:
        rng = np.random.default_rng(args.seed)
        train_texts = [train_texts[i] for i in rng.permutation(len(train_texts))[:1500]]
        val_texts = [val_texts[i] for i in rng.permutation(len(val_texts))[:400]]
    if not train_texts or not val_texts:
        raise SystemExit("need both train and val texts (add 'split': 'val' rows to your JSONL)")
    log.info("text tower: %d train texts, %d val texts", len(train_texts), len(val_texts))

    # --- model
    config = ModerationConfig(
        text_encoder=TextEncoderConfig(trainable_layers=args.trainable_layers, max_length=64),
        version=args.version,
    )
    base = ModerationModel(config)
    tokenizer = AutoTokenizer.from_pretrained(text_encoder_path(config.text_encoder), local_files_only=True)
    segmenter = ocr_vocabulary(corpus)
    processor = ModerationProcessor(config, tokenizer, segmenter=segmenter)

    # --- stage 1 (on the training device; the tower returns to the CPU for the feature pass)
    base.text_encoder.to(device)
    train_cache = cache_frozen_layers(
        base, processor, train_texts, batch_size=32, desc="cache frozen text layers (train)", device=device
    )
    val_cache = cache_frozen_layers(
        base, processor, val_texts, batch_size=64, desc="cache frozen text layers (val)", device=device
    )
    if args.text_tower_from is not None:
        text_report = reuse_text_tower(base, args.text_tower_from)
    else:
        twins = None
        if args.consistency_weight > 0:
            twins = cache_twins(
                base,
                processor,
                train_texts,
                batch_size=32,
                fraction=args.consistency_fraction,
                seed=args.seed + 11,
                device=device,
            )
            log.info(
                "consistency: %d of %d training batches have damaged twins (weight %g)",
                len(twins),
                len(train_cache),
                args.consistency_weight,
            )
        text_report = finetune_text_tower(
            base,
            train_cache,
            val_cache,
            epochs=args.text_epochs,
            seed=args.seed,
            device=device,
            twins=twins,
            consistency_weight=args.consistency_weight,
        )

    # --- stage 2: features
    train_embeddings = top_layers_embed(base, train_cache, device)
    ordered_train = in_cached_order(train_texts, 32)
    val_embeddings = top_layers_embed(base, val_cache, device)
    ordered_val = in_cached_order(val_texts, 64)
    # The validation texts once more, each damaged as a read of an image damages it: every head is
    # scored on them too, and --select-by with-damaged chooses by it (models/variant_selection.py).
    damaged_val = variant_selection.damaged_copies(ordered_val, seed=args.seed + 12)
    damaged_cache = cache_frozen_layers(
        base,
        processor,
        damaged_val,
        batch_size=64,
        desc="cache frozen text layers (damaged val)",
        device=device,
    )
    damaged_embeddings = top_layers_embed(base, damaged_cache, device)
    damaged_val = in_cached_order(damaged_val, 64)
    base.text_encoder.to("cpu")
    image_dim = base.image_dim
    lookup = {" ".join(e.text.split()): train_embeddings[i] for i, e in enumerate(ordered_train)}
    lookup.update({" ".join(e.text.split()): val_embeddings[i] for i, e in enumerate(ordered_val)})
    by_split = {s: [e for e in corpus if e.split == s and e.source not in ("davidson",)] for s in SPLITS}
    memes_train = compose(
        by_split["train"],
        photos["train"],
        coco_captions["train"],
        count=min(args.memes_train, 300) if args.quick else args.memes_train,
        split="train",
        seed=args.seed + 1,
        twins=True,
        augment=True,
        weights=[TRAIN_KIND_WEIGHTS[k] for k in KINDS],
        gradients=args.synthetic_images > 0,
        layouts="train",
        bland_captions=augment.REACTIONS,
    )
    memes_val = compose(
        by_split["val"],
        photos["val"],
        coco_captions["val"],
        count=min(args.memes_val, 150) if args.quick else args.memes_val,
        split="val",
        seed=args.seed + 2,
        twins=True,
        layouts="train",
        bland_captions=augment.REACTIONS,
    )
    # Many views of the few training photos, alone and with benign captions of any training photo:
    # benign caption + benign photo is most of a platform's traffic, and the fusion must not add
    # two harmless signals up to a harmful one.
    memes_train += benign_photo_posts(
        coco_by_split["train"],
        views=4 if args.quick else 12,
        split="train",
        seed=args.seed + 3,
        captions_per_view=3,
        caption_pool=coco_captions["train"],
    )
    # Held-out benign photos, each view paired with several captions of the held-out photos: the
    # false-positive tail of benign caption + benign photo pairs is what the thresholds must clear.
    benign_val = benign_photo_posts(
        coco_by_split["val"],
        views=12,
        split="val",
        seed=args.seed + 4,
        captions_per_view=6,
        caption_pool=coco_captions["val"],
    )
    synthetic_images = min(args.synthetic_images, 40) if args.quick else args.synthetic_images
    if synthetic_images > 0:
        # Flat colours and gradients without text, benign, in training and in the held-out benign
        # set the thresholds are capped on: photos must not be the only benign images the heads see.
        memes_train += benign_plain_images(
            synthetic_images, split="train", seed=args.seed + 6, caption_pool=coco_captions["train"]
        )
        benign_val += benign_plain_images(
            max(1, synthetic_images // 4),
            split="val",
            seed=args.seed + 7,
            caption_pool=coco_captions["val"],
        )
    varied_images = min(args.varied_images, 90) if args.quick else args.varied_images
    if varied_images > 0:
        # Art, document screenshots and modern memes, all benign, most with a short reaction or
        # an ordinary caption: whatever an image looks like, it must not carry harm it does not
        # show. The held-out benign set gets its own draws (the evaluation's families are others).
        def benign_texts(split: str) -> list[str]:
            return [
                e.text for e in by_split[split] if e.targets[-1] == 0.0 and 3 <= len(e.text.split()) <= 25
            ]

        memes_train += benign_varied_images(
            varied_images,
            split="train",
            seed=args.seed + 8,
            families=TRAIN_FAMILIES,
            benign_texts=benign_texts("train") + coco_captions["train"],
            captions=list(augment.REACTIONS) + coco_captions["train"],
            photos=photos["train"],
        )
        benign_val += benign_varied_images(
            max(1, varied_images // 4),
            split="val",
            seed=args.seed + 9,
            families=TRAIN_FAMILIES,
            benign_texts=benign_texts("val") + coco_captions["val"],
            captions=list(augment.REACTIONS) + coco_captions["val"],
            photos=photos["val"],
        )
    memes_train += [p for p in user_posts if p.split == "train"]
    memes_val += [p for p in user_posts if p.split == "val"]
    ocr_cache = OcrCache(args.work_dir / "ocr_cache.json")
    train_mm = multimodal_features(
        base,
        processor,
        memes_train,
        ocr="simulated",
        seed=args.seed,
        desc="train posts",
        text_lookup=lookup,
        ocr_cache=ocr_cache,
    )
    val_mm = multimodal_features(
        base,
        processor,
        memes_val,
        ocr="simulated",
        seed=args.seed + 1,
        desc="val posts",
        text_lookup=lookup,
        ocr_cache=ocr_cache,
    )
    benign_val_set = (
        multimodal_features(
            base, processor, benign_val, ocr="real", ocr_cache=ocr_cache, desc="held-out benign photos"
        )
        if benign_val
        else None
    )
    ocr_cache.save()
    train_texts_set = text_only_features(train_embeddings, ordered_train, image_dim)
    # Some text posts again as caption-less memes (text in the image-text slot): the head otherwise
    # learns the caption slot from ~25k texts and the image-text slot from a few thousand memes,
    # and scores the same words lower when they are written in an image (docs/model_card.md).
    swapped = as_caption_less_memes(
        train_texts_set, train_mm, fraction=args.caption_less_swap, seed=args.seed + 5
    )
    train_set = FeatureSet.concat([train_texts_set, swapped] + [train_mm] * 3)
    val_set = FeatureSet.concat([text_only_features(val_embeddings, ordered_val, image_dim), val_mm])
    damaged_set = variant_selection.damaged_view(
        damaged_embeddings, damaged_val, val_mm, image_dim=image_dim, seed=args.seed + 13
    )

    # --- stage 3: heads
    variants: dict[str, dict[str, object]] = {}
    models: dict[str, ModerationModel] = {}

    def judge_variant(name: str, model: ModerationModel, allowed: tuple[bool, bool, bool]) -> None:
        """Tune the variant's thresholds and 3-class cut on validation and record its metrics."""
        val_view, val_mm_view, damaged_view = (
            val_set.restrict(allowed),
            val_mm.restrict(allowed),
            damaged_set.restrict(allowed),
        )
        benign_view = benign_val_set.restrict(allowed) if benign_val_set is not None else None
        model.config.review_thresholds = tune_thresholds(
            model, val_view, benign_view, benign_fpr=args.benign_fpr, positive_share=args.val_harm_share
        )
        # val_view starts with the validation texts, in the order of ordered_val
        three_class_val = tune_three_class(model, val_view, ordered_val)
        model.config.training = {
            "variant": name,
            "three_class_toxic_threshold": three_class_val[0] if three_class_val else None,
            "modalities": [
                m for m, a in zip(("caption", "image_pixels", "image_text"), allowed, strict=True) if a
            ],
        }
        models[name] = model
        variants[name] = {
            variant_selection.CLEAN_METRIC: multimodal_auroc(model, val_mm_view),
            variant_selection.DAMAGED_METRIC: multimodal_auroc(model, damaged_view),
            "val_all_toxic_auroc": multimodal_auroc(model, val_view),
            "review_thresholds": model.config.review_thresholds,
            "val_benign_photo_any_fpr": benign_any_fpr(model, benign_view),
            "val_at_thresholds": threshold_report(model, val_view, positive_share=args.val_harm_share),
            "val_hatexplain_three_class": three_class_val[1] if three_class_val else None,
        }
        variants[name][variant_selection.SCORE] = variant_selection.selection_score(
            variants[name], args.select_by
        )
        log.info(
            "variant %-10s val toxic AUROC: multimodal %.4f, damaged texts %.4f (selection score %.4f)",
            name,
            variants[name][variant_selection.CLEAN_METRIC],
            variants[name][variant_selection.DAMAGED_METRIC],
            variants[name][variant_selection.SCORE],
        )

    names = [*FUSION_MODES, *BASELINES]
    for name in tqdm(names, desc="fusion heads", unit="variant"):
        fusion = name if name in FUSION_MODES else "concat"
        variant_config = copy.deepcopy(config)
        variant_config.fusion = fusion  # type: ignore[assignment]
        allowed = BASELINES.get(name, (True, True, True))
        model = train_head(
            base,
            variant_config,
            train_set.restrict(allowed),
            epochs=args.head_epochs,
            seed=args.seed if args.head_seed is None else args.head_seed,
            device=device,
        )
        judge_variant(name, model, allowed)
    candidates: tuple[str, ...] = FUSION_MODES
    if args.ensemble:
        # The four fusion heads just trained, averaged: nothing more to train, and a candidate
        # like any head (its own thresholds and 3-class cut, tuned on the same validation posts).
        judge_variant(ENSEMBLE, ensemble_of([models[mode] for mode in FUSION_MODES]), (True, True, True))
        candidates = (*FUSION_MODES, ENSEMBLE)
    best = variant_selection.choose_variant(variants, candidates, args.select_by)

    facts: dict[str, object] = {
        "seed": args.seed,
        "head_seed": args.head_seed,
        "data_dir": str(args.data_dir) if args.data_dir else None,
        "train_jsonl": str(args.train_jsonl) if args.train_jsonl else None,
        "text_tower": text_report,
        "consistency": (
            {"weight": args.consistency_weight, "fraction": args.consistency_fraction}
            if args.consistency_weight > 0 and args.text_tower_from is None
            else None
        ),
        "train_texts": len(train_texts),
        "source_weights": dict(args.source_weights) or None,
        "davidson_offensive": (
            {
                "tweets": args.davidson_offensive,
                "with_slurs": args.davidson_offensive_slurs,
                "hate_unknown": args.davidson_offensive_hate_unknown,
            }
            if args.davidson_offensive
            else None
        ),
        "val_texts": len(val_texts),
        "train_multimodal_posts": len(memes_train),
        "val_multimodal_posts": len(memes_val),
        "val_benign_photo_posts": len(benign_val),
        "val_harm_share": args.val_harm_share,
        "text_sources": sorted({e.source for e in train_texts}),
        "benign_fpr_budget": args.benign_fpr,
        "photos": {split: len(images) for split, images in coco_by_split.items()},
        "variants": variants,
        "ensemble": args.ensemble,
        "default_variant": best,
        "select_by": args.select_by,
        "typed_text_spelling": args.typed_spelling,
        "quick": args.quick,
        "seconds": round(time.time() - started, 1),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
    }
    if args.typed_spelling:
        # The checkpoint reads the captions it scores with sure corrections of typed words
        # (models/typed_spelling.py); the labelled texts above were learnt as written.
        processor.typed_spelling = SureSpelling.with_english_words(segmenter.words)
    for name, model in models.items():
        model.config.training = {
            **model.config.training,
            **{k: v for k, v in facts.items() if k != "variants"},
        }
        model.config.version = args.version if name == best else f"{args.version}-{name}"
        destination = args.work_dir / "variants" / name
        shutil.rmtree(destination, ignore_errors=True)
        save_checkpoint(model, processor, destination)
    shutil.rmtree(args.output, ignore_errors=True)
    shutil.copytree(args.work_dir / "variants" / best, args.output)
    (args.work_dir / "training_report.json").write_text(json.dumps(facts, indent=2, default=float) + "\n")
    log.info("default checkpoint (%s) written to %s in %.0f s", best, args.output, time.time() - started)
    # Category heads read the text tower's hidden states (models/categories/embedding.py): a new
    # tower invalidates every category bundle fit on the old one.
    log.info(
        "example-defined categories fit only the checkpoint they were fit on: refit them on this one "
        "(python -m models.categories.build --checkpoint %s for the bundled set; "
        "postguard categories refit --bundle DIR for a bundle of your own)",
        args.output,
    )
    return facts


def parse_args(argv: Sequence[str] | None = None) -> TrainArgs:
    parser = argparse.ArgumentParser(
        prog="python -m models.train",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        help="folder with hatexplain/, davidson_hate_offensive/, harmeme_annotations_textonly/, "
        "coco_captions_mini_permissive/ (default: ../shared/data when it exists)",
    )
    parser.add_argument("--no-shared-data", action="store_true", help="train on --train-jsonl only")
    parser.add_argument("--train-jsonl", type=Path, help="your own labelled posts (see models/userdata.py)")
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_CHECKPOINT, help="where the default checkpoint goes"
    )
    parser.add_argument(
        "--work-dir", type=Path, default=Path("artifacts/train"), help="variants, caches, report"
    )
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument(
        "--head-seed",
        type=int,
        default=None,
        help="seed of the fusion heads alone (default: --seed); with --text-tower-from, redraws "
        "the heads on the same data and tower, to tell a change's effect from the heads' own spread",
    )
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="also average the four fusion heads into one checkpoint (variant 'ensemble'), a "
        "candidate for the default like each head: --select-by chooses on validation",
    )
    parser.add_argument("--text-epochs", type=int, default=2)
    parser.add_argument("--head-epochs", type=int, default=10)
    parser.add_argument(
        "--trainable-layers", type=int, default=4, help="top text-encoder layers to fine-tune"
    )
    parser.add_argument("--memes-train", type=int, default=3000)
    parser.add_argument("--memes-val", type=int, default=600)
    parser.add_argument(
        "--davidson-cap", type=int, default=4000, help="Davidson hate and benign tweets kept (file order)"
    )
    parser.add_argument(
        "--davidson-offensive",
        type=int,
        default=0,
        help="Davidson offensive tweets added beyond the cap, drawn at random (the cap alone keeps none)",
    )
    parser.add_argument(
        "--davidson-offensive-slurs",
        action="store_true",
        help="let --davidson-offensive draw tweets with a slur (default: without; a slur aimed at a group is hate here)",
    )
    parser.add_argument(
        "--davidson-offensive-hate-unknown",
        action="store_true",
        help="the --davidson-offensive tweets' hate label unknown instead of 0 (offensive and toxic only)",
    )
    parser.add_argument("--threads", type=int, help="torch threads (default: all cores)")
    parser.add_argument(
        "--device",
        default="auto",
        help="where the text tower and heads train: auto (a CUDA GPU when torch sees one, else the "
        "CPU), cpu, cuda or cuda:N (default auto)",
    )
    parser.add_argument(
        "--benign-fpr",
        type=float,
        default=0.005,
        help="most held-out benign photo posts a review threshold may flag, per category (default 0.005)",
    )
    parser.add_argument(
        "--val-photos", type=int, default=8, help="COCO train2017 photos held out for validation"
    )
    parser.add_argument(
        "--synthetic-images",
        type=int,
        default=400,
        help="benign text-free synthetic images (flat colours, gradients) added to training "
        "(a quarter as many to the held-out benign set); also renders memes on gradients",
    )
    parser.add_argument(
        "--varied-images",
        type=int,
        default=900,
        help="benign art, document screenshots and modern memes added to training (a quarter as "
        "many to the held-out benign set)",
    )
    parser.add_argument("--obfuscated-texts", type=int, default=3000, help="texts with a disguised word")
    parser.add_argument(
        "--counter-speech-texts", type=int, default=1500, help="harmful texts quoted in a rejecting frame"
    )
    parser.add_argument(
        "--identity-swap-texts", type=int, default=1500, help="benign texts with a group name swapped"
    )
    parser.add_argument(
        "--stray-texts",
        type=int,
        default=0,
        help="harmful and benign texts with a made-up stray word beside them (a brand, a number, "
        "a handle), labels unchanged (default 0: 4000 was measured and not adopted, "
        "docs/training/stray_text_experiment.md)",
    )
    parser.add_argument(
        "--typo-texts",
        type=int,
        default=0,
        help="harmful and benign texts (half each) with one or two accidental misspellings, labels "
        "unchanged (models/data/typos.py; default 0: 4000 was measured and not adopted, "
        "docs/training/typo_experiment.md)",
    )
    parser.add_argument(
        "--source-weight",
        action="append",
        default=[],
        metavar="SOURCE=WEIGHT",
        help="weight of one text source's labels in the losses, e.g. hatexplain=2 (repeatable; "
        "default: every source 1)",
    )
    parser.add_argument(
        "--supportive-groups",
        type=int,
        default=0,
        help="add supportive statements about groups in hate speech's sentence shapes to the template "
        "statements, each template about this many groups (models/data/statements.py SUPPORTIVE; "
        "default 0 = off: 24 and 6 were measured and not adopted, docs/training/supportive_experiment.md)",
    )
    parser.add_argument(
        "--consistency-weight",
        type=float,
        default=0.0,
        help="weight of the text tower's consistency loss: a text and its damaged twin (a stray word "
        "or two glued words) should embed alike (models/consistency.py; default 0 = off: 1 was measured "
        "and not adopted, docs/training/consistency_experiment.md)",
    )
    parser.add_argument(
        "--consistency-fraction",
        type=float,
        default=0.25,
        help="share of the training batches given damaged twins (each costs a second forward pass)",
    )
    parser.add_argument(
        "--select-by",
        choices=variant_selection.RULES,
        default=variant_selection.RULES[0],
        help="how the default fusion head is chosen: best validation multimodal toxic AUROC "
        "(multimodal, the default) or its mean with the AUROC on damaged validation texts "
        "(with-damaged: measured and not adopted, docs/training/consistency_experiment.md)",
    )
    parser.add_argument(
        "--val-harm-share",
        type=float,
        default=0.1,
        help="share of harm the review thresholds are tuned for (validation negatives are "
        "reweighted to it; 0 = validation as it is)",
    )
    parser.add_argument(
        "--statement-groups",
        type=int,
        default=12,
        help="groups each hateful template statement is written about (models/data/statements.py; "
        "benign contrasts get twice as many; 0 = no template statements)",
    )
    parser.add_argument(
        "--caption-less-swap",
        type=float,
        default=0.3,
        help="share of training texts also shown as caption-less memes (text in the image-text slot)",
    )
    parser.add_argument(
        "--text-tower-from",
        type=Path,
        help="reuse the fine-tuned text layers of this checkpoint (skips stage 1; heads only)",
    )
    parser.add_argument(
        "--typed-spelling",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the checkpoint corrects a caption's typed words when the correction is sure "
        "(models/typed_spelling.py); training texts are learnt as written either way",
    )
    parser.add_argument(
        "--version",
        default=time.strftime("postguard-mm-%Y%m%d-%H%M"),
        help="version string of the checkpoint (default: postguard-mm-DATE-TIME; decisions are unique per post and version)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="tiny subsets: a smoke run in a couple of minutes"
    )
    ns = parser.parse_args(argv)
    if not 0.0 <= ns.benign_fpr < 1.0:
        parser.error(f"--benign-fpr must be in [0, 1), got {ns.benign_fpr}")
    if not 0.0 <= ns.val_harm_share < 1.0:
        parser.error(f"--val-harm-share must be in [0, 1), got {ns.val_harm_share}")
    for name in (
        "statement_groups",
        "varied_images",
        "obfuscated_texts",
        "counter_speech_texts",
        "identity_swap_texts",
        "stray_texts",
        "typo_texts",
    ):
        if getattr(ns, name) < 0:
            parser.error(f"--{name.replace('_', '-')} must be >= 0, got {getattr(ns, name)}")
    if ns.synthetic_images < 0:
        parser.error(f"--synthetic-images must be >= 0, got {ns.synthetic_images}")
    if ns.consistency_weight < 0:
        parser.error(f"--consistency-weight must be >= 0, got {ns.consistency_weight}")
    if not 0.0 < ns.consistency_fraction <= 1.0:
        parser.error(f"--consistency-fraction must be in (0, 1], got {ns.consistency_fraction}")
    if not 0.0 <= ns.caption_less_swap <= 1.0:
        parser.error(f"--caption-less-swap must be in [0, 1], got {ns.caption_less_swap}")
    if ns.davidson_offensive < 0:
        parser.error(f"--davidson-offensive must be 0 or more, got {ns.davidson_offensive}")
    try:
        resolve_device(ns.device)
    except ValueError as error:
        parser.error(str(error))
    data_dir = None if ns.no_shared_data else ns.data_dir
    if data_dir is not None and not data_dir.is_dir():
        parser.error(f"--data-dir {data_dir} does not exist")
    return TrainArgs(
        data_dir,
        ns.output,
        ns.work_dir,
        ns.seed,
        ns.text_epochs,
        ns.head_epochs,
        ns.trainable_layers,
        ns.memes_train,
        ns.memes_val,
        ns.davidson_cap,
        ns.train_jsonl,
        ns.quick,
        ns.threads,
        ns.version,
        text_tower_from=ns.text_tower_from,
        benign_fpr=ns.benign_fpr,
        val_photos=ns.val_photos,
        caption_less_swap=ns.caption_less_swap,
        synthetic_images=ns.synthetic_images,
        varied_images=ns.varied_images,
        obfuscated_texts=ns.obfuscated_texts,
        counter_speech_texts=ns.counter_speech_texts,
        identity_swap_texts=ns.identity_swap_texts,
        stray_texts=ns.stray_texts,
        typo_texts=ns.typo_texts,
        consistency_weight=ns.consistency_weight,
        consistency_fraction=ns.consistency_fraction,
        select_by=ns.select_by,
        val_harm_share=ns.val_harm_share or None,
        statement_groups=ns.statement_groups,
        supportive_groups=ns.supportive_groups,
        davidson_offensive=ns.davidson_offensive,
        davidson_offensive_slurs=ns.davidson_offensive_slurs,
        davidson_offensive_hate_unknown=ns.davidson_offensive_hate_unknown,
        device=ns.device,
        typed_spelling=ns.typed_spelling,
        source_weights=_source_weights(parser, ns.source_weight),
        head_seed=ns.head_seed,
        ensemble=ns.ensemble,
    )


def _source_weights(parser: argparse.ArgumentParser, items: Sequence[str]) -> dict[str, float]:
    weights: dict[str, float] = {}
    for item in items:
        source, _, value = item.partition("=")
        try:
            weights[source.strip()] = float(value)
        except ValueError:
            parser.error(f"--source-weight {item!r}: expected SOURCE=WEIGHT, e.g. hatexplain=2")
    return weights


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    run(parse_args(argv))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
