"""Scoring posts with a checkpoint: the one entry point the service uses."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .architecture import ModerationModel
from .categories.bundle import BundleError, CategoryBundle, load_bundle
from .categories.embedding import CategoryEmbedder, TextAndCategoryTower
from .checkpoint import load_checkpoint
from .encoder_cache import LruCache, image_key, text_key
from .errors import CheckpointError
from .nsfw import NSFW_CATEGORY, NsfwDetector, as_category_score
from .ocr import OcrEngine, SpareThread
from .preprocessing import ModerationProcessor
from .text_gate import TextGate
from .text_onnx import OnnxTextTower
from .text_windows import PostViews
from .types import MODALITIES, ModerationResult, PostContent

logger = logging.getLogger(__name__)

#: Where the text tower runs (InferenceOptions.text_runtime).
TEXT_RUNTIMES = ("torch", "onnxruntime")

#: The checkpoint shipped inside the package, used whenever no other model path is configured.
DEFAULT_CHECKPOINT = Path(__file__).resolve().parent / "default_checkpoint"
#: The example-defined categories shipped beside it (``python -m models.categories.build``).
DEFAULT_CATEGORIES = Path(__file__).resolve().parent / "default_categories"


@dataclass(frozen=True)
class InferenceOptions:
    """Speed options of :class:`Moderator`; the defaults are the plain, unoptimised path. And one
    reading option:

    - ``read_whole_texts``: a caption or image text longer than the text tower's ``max_length``
      tokens is read in overlapping windows, and each label takes the window that scores it
      highest (:mod:`models.text_windows`); False: only its first ``max_length`` tokens are read
      (what the tower alone does; kept to measure the difference, ``python -m models.long_posts``).

    The speed options:

    - ``ocr_gate_threshold``: OCR only images whose :func:`models.text_gate.text_likelihood` reaches
      it (None: OCR every image);
    - ``cache_entries``: LRU entries per content-hash cache (text embeddings, image embeddings, OCR
      texts); 0 disables caching;
    - ``quantize_text``: int8 dynamic quantization of the text tower's Linear layers;
    - ``overlap_ocr``: run a batch's OCR in a second thread while torch encodes its captions and pixels;
    - ``ocr_detection_max_side``: OCR text detection on at most this many pixels per side, without
      the upside-down check (None: RapidOCR's defaults, as in training and evaluation);
    - ``ocr_threads``: onnxruntime threads of the OCR engine (None: all cores);
    - ``ocr_simplified_graphs``: OCR on :mod:`models.ocr_graph`'s exact simplification of RapidOCR's
      detection and recognition graphs (the same text, about half the time);
    - ``ocr_recognition_batch``: text lines the OCR recogniser reads per call (None: RapidOCR's 6);
    - ``text_runtime``: ``"torch"``, or ``"onnxruntime"`` to run the text tower as an ONNX graph
      exported from the checkpoint at load (:mod:`models.text_onnx`; the same embeddings to ~1e-6);
    - ``text_chunk``: encode a batch's texts shortest first, this many per call, so that short
      texts are not padded to the longest one of the batch (None: all in one call);
    - ``image_chunk``: encode a batch's images this many per call (None: all in one call). The image
      tower's activations grow with the images in a call: 32 at once hold ~0.5 GB and run about
      half as fast per image as two at a time, whose activations stay in the CPU's caches.
    """

    ocr_gate_threshold: float | None = None
    cache_entries: int = 0
    quantize_text: bool = False
    overlap_ocr: bool = False
    ocr_detection_max_side: int | None = None
    ocr_threads: int | None = None
    ocr_simplified_graphs: bool = False
    ocr_recognition_batch: int | None = None
    text_runtime: str = "torch"
    text_chunk: int | None = None
    image_chunk: int | None = None
    read_whole_texts: bool = True

    def __post_init__(self) -> None:
        if self.text_runtime not in TEXT_RUNTIMES:
            raise ValueError(
                f"text_runtime must be one of {', '.join(TEXT_RUNTIMES)}, not {self.text_runtime!r}"
            )
        if self.text_runtime == "onnxruntime" and self.quantize_text:
            raise ValueError("quantize_text (int8 torch layers) needs text_runtime 'torch'")
        if self.text_chunk is not None and self.text_chunk < 1:
            raise ValueError("text_chunk must be at least 1 (or None: one call per batch)")
        if self.image_chunk is not None and self.image_chunk < 1:
            raise ValueError("image_chunk must be at least 1 (or None: one call per batch)")

    @property
    def plain(self) -> bool:
        return (
            self.ocr_gate_threshold is None
            and self.cache_entries == 0
            and not self.overlap_ocr
            and self.text_runtime == "torch"
            and self.text_chunk is None
            and self.image_chunk is None
        )


class Moderator:
    """A loaded checkpoint: scores batches of posts with per-modality attribution. Not async; CPU-bound."""

    def __init__(
        self,
        model: ModerationModel,
        processor: ModerationProcessor,
        *,
        sha256: str,
        options: InferenceOptions | None = None,
        categories: CategoryBundle | None = None,
        category_embedder: CategoryEmbedder | None = None,
        nsfw: NsfwDetector | None = None,
    ) -> None:
        self.options = options or InferenceOptions()
        if categories is not None and categories.heads and category_embedder is None:
            raise ValueError("a category bundle needs the CategoryEmbedder its heads were fit on")
        #: Example-defined categories scored after the checkpoint's own (None: the checkpoint's only).
        self.categories = categories if categories is not None and categories.heads else None
        self.category_embedder = category_embedder
        #: open_nsfw: the image evidence of the bundle's ``sexual`` category (None: text only).
        self.nsfw = nsfw if self.categories is not None and NSFW_CATEGORY in self.categories.names else None
        if self.options.quantize_text:
            # int8 weights for every Linear of the text tower (activations quantized on the fly).
            # torch.ao.quantization is deprecated in favour of torchao (not a dependency); the eager
            # dynamic path still works in torch 2.13 and is what this option measures.
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*deprecated.*")
                model.text_encoder = torch.ao.quantization.quantize_dynamic(
                    model.text_encoder, {torch.nn.Linear}, dtype=torch.qint8
                )
        self.model = model.eval()
        self.processor = processor
        # What turns token ids into sentence embeddings on the fast path (the plain path keeps
        # torch): (text embeddings,), or with categories (text embeddings, category embeddings)
        # from the same pass.
        with_categories = self.categories is not None
        self._text_tower: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]
        if self.options.text_runtime == "onnxruntime":
            # As many threads as torch has been given (Moderator.load sets them first).
            self._text_tower = OnnxTextTower(
                model, threads=torch.get_num_threads(), categories=with_categories
            )
        elif with_categories:
            self._text_tower = TextAndCategoryTower(model)
        else:
            self._text_tower = lambda input_ids, attention_mask: (
                model.encode_text(input_ids, attention_mask),
            )
        # Chunks are cut from one right-padded tokenisation (models/preprocessing.py's tokenizer).
        self._text_chunk = self.options.text_chunk if processor.tokenizer.padding_side == "right" else None
        self.sha256 = sha256
        fast_detection = self.options.ocr_detection_max_side is not None
        own_ocr = (
            self.options.ocr_threads is not None
            or self.options.ocr_simplified_graphs
            or self.options.ocr_recognition_batch is not None
        )
        if processor.ocr is not None and (fast_detection or own_ocr):
            processor.ocr = OcrEngine(
                detection_max_side=self.options.ocr_detection_max_side,
                angle_classifier=not fast_detection,
                threads=self.options.ocr_threads,
                simplified_graphs=self.options.ocr_simplified_graphs,
                recognition_batch=self.options.ocr_recognition_batch,
            )
        threshold = self.options.ocr_gate_threshold
        self.text_gate = TextGate(threshold) if threshold is not None else None
        entries = self.options.cache_entries
        self.text_cache: LruCache[torch.Tensor] = LruCache(entries)
        self.image_cache: LruCache[torch.Tensor] = LruCache(entries)
        self.ocr_cache: LruCache[str] = LruCache(entries)
        self.category_cache: LruCache[np.ndarray] = LruCache(entries)
        self.nsfw_cache: LruCache[float] = LruCache(entries)
        self._ocr_thread: ThreadPoolExecutor | None = None

    @classmethod
    def load(
        cls,
        path: Path | str | None = None,
        *,
        torch_threads: int | None = None,
        options: InferenceOptions | None = None,
        categories: Path | None = None,
        categories_required: bool = True,
        nsfw: bool = False,
    ) -> Moderator:
        """Load a checkpoint (default: the bundled one) for inference, with the category bundle at
        ``categories`` if given. Its heads must have been fit on this checkpoint's pretrained tower;
        if not, :class:`BundleError`, or with ``categories_required=False`` a logged warning and no
        example-defined categories (the service's default bundle beside a checkpoint built on
        another tower). ``nsfw``: score images with open_nsfw as the ``sexual`` category's image
        evidence (when the bundle has that category)."""
        directory = Path(path) if path is not None else DEFAULT_CHECKPOINT
        if path is None and not (directory / "manifest.json").is_file():
            raise CheckpointError(
                f"the bundled checkpoint is missing from {directory}; train one with `python -m models.train`"
            )
        if torch_threads is not None:
            torch.set_num_threads(torch_threads)
        model, processor, sha256 = load_checkpoint(directory)
        if categories is None:
            return cls(model, processor, sha256=sha256, options=options)
        embedder = CategoryEmbedder.for_checkpoint(model, processor)
        try:
            bundle = load_bundle(categories, encoder_fingerprint=embedder.fingerprint, dim=embedder.dim)
        except BundleError as exc:
            if categories_required or not exc.other_tower:
                raise
            logger.warning(
                "example-defined categories are not scored: %s. To score them with this checkpoint: "
                "postguard categories refit --bundle DIR (a new DIR starts from the bundled "
                "categories), then POSTGUARD_CATEGORIES_PATH=DIR",
                exc,
            )
            return cls(model, processor, sha256=sha256, options=options)
        detector = NsfwDetector(threads=1) if nsfw and NSFW_CATEGORY in bundle.names else None
        return cls(
            model,
            processor,
            sha256=sha256,
            options=options,
            categories=bundle,
            category_embedder=embedder,
            nsfw=detector,
        )

    def clear_caches(self) -> None:
        """Forget every cached encoder output and OCR text (benchmarks start cold)."""
        for cache in (
            self.text_cache,
            self.image_cache,
            self.ocr_cache,
            self.category_cache,
            self.nsfw_cache,
        ):
            cache.clear()

    @property
    def labels(self) -> tuple[str, ...]:
        """The checkpoint's categories, then the bundle's (by name)."""
        extra = self.categories.names if self.categories is not None else ()
        return self.model.config.labels + extra

    @property
    def version(self) -> str:
        """The checkpoint's version, with ``+<bundle version>`` when example-defined categories are
        scored too: decisions are unique per post and version, and the bundle changes the scores."""
        if self.categories is None:
            return self.model.config.version
        return f"{self.model.config.version}+{self.categories.version}"

    @property
    def review_thresholds(self) -> dict[str, float]:
        thresholds = dict(self.model.config.review_thresholds)
        if self.categories is not None:
            thresholds.update({head.name: head.review for head in self.categories.heads})
        return thresholds

    @torch.inference_mode()
    def score(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        """Score a batch. Raises :class:`models.errors.InputError` subclasses for posts it cannot score."""
        if not posts:
            return []
        if not self.options.plain:
            return self._score_fast(posts)
        batch = self.processor.prepare(posts)
        model = self.model
        size = len(posts)
        caption_windows = [self._windows(text) for text in batch.captions]
        image_text_windows = [self._windows(text) for text in batch.ocr_texts]
        views = PostViews.of(caption_windows, image_text_windows)
        image_pixels = torch.zeros(size, model.image_dim)
        if batch.pixel_values is not None:
            image_pixels[batch.image_rows] = model.encode_image(batch.pixel_values)

        def encode(texts: list[str]) -> torch.Tensor:
            return model.encode_text(**self.processor.tokenize(texts))  # no caches on the plain path

        probs, deltas = self._score_views(
            views,
            self._view_rows(views.captions, self._encoded_windows(caption_windows, encode)),
            image_pixels,
            self._view_rows(views.image_texts, self._encoded_windows(image_text_windows, encode)),
            batch.present,
        )
        results = [
            self._result(row, probs, deltas, batch.present, batch.ocr_texts[row]) for row in range(size)
        ]
        return self._with_categories(
            results, caption_windows, image_text_windows, [post.image for post in posts]
        )

    def _windows(self, text: str | None) -> list[str]:
        """The pieces of a caption or image text the tower reads: its windows, or with
        ``read_whole_texts`` off the text itself (cut by the tokenizer); none for no text."""
        if not text:
            return []
        if not self.options.read_whole_texts:
            return [text]
        # a text of whitespace alone has no window, but the post has it: read as it is, as before
        return self.processor.text_windows(text) or [text]

    def _score_views(
        self,
        views: PostViews,
        caption: torch.Tensor,
        image_pixels: torch.Tensor,
        image_text: torch.Tensor,
        present: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Leave-one-out scores of every view (``caption`` and ``image_text``: one row per view;
        ``image_pixels`` and ``present``: one per post), then per post and label the view that
        scores it highest: (probs (posts, labels), deltas (posts, modalities, labels))."""
        rows = list(views.post_of_view)
        probs, deltas = self.model.leave_one_out(
            caption=caption, image_pixels=image_pixels[rows], image_text=image_text, present=present[rows]
        )
        return views.best(probs, deltas, posts=len(present))

    def _score_fast(self, posts: Sequence[PostContent]) -> list[ModerationResult]:
        """:meth:`score` with OCR gating, content-hash caches and OCR overlapped with torch work.

        Same inputs reach the same towers as in :meth:`ModerationProcessor.prepare`; only work
        whose result is already known (cache) or worthless (no text in the image) is skipped.
        """
        processor, model = self.processor, self.model
        for post in posts:
            processor.validate(post)
        size = len(posts)
        captions = [processor.read_caption(post.text) for post in posts]
        image_rows = [i for i, post in enumerate(posts) if post.image is not None]
        keys = {i: image_key(posts[i].image) for i in image_rows}  # type: ignore[arg-type]

        # OCR first (in its own thread when overlapping), so it runs while torch encodes below.
        ocr_texts: list[str | None] = [None] * size
        pending: dict[int, str] = {}  # row -> image key whose OCR is still to come
        jobs: dict[str, Future[str] | str] = {}  # one OCR per distinct image, even inside a batch
        for i in image_rows:
            post, key = posts[i], keys[i]
            if post.ocr_text is not None:
                ocr_texts[i] = processor.given_image_text(post.ocr_text, repaired=post.ocr_text_repaired)
            elif (cached := self.ocr_cache.get(key)) is not None:
                ocr_texts[i] = cached
            else:
                pending[i] = key
                if key in jobs:
                    continue
                if self.options.overlap_ocr:
                    jobs[key] = self._ocr_executor().submit(self._read, post.image)  # type: ignore[arg-type]
                else:
                    jobs[key] = self._read(post.image)  # type: ignore[arg-type]

        # Category embeddings come out of the same text-tower pass: text -> embedding, this batch.
        category_features: dict[str, np.ndarray] = {}
        caption_windows = [self._windows(text) for text in captions]
        caption_vectors = self._encoded_windows(
            caption_windows, lambda texts: self._encode_texts(texts, category_features)
        )
        caption_rows = [i for i, text in enumerate(captions) if text]
        image_pixels = torch.zeros(size, model.image_dim)
        if image_rows:
            images = [image for i in image_rows if (image := posts[i].image) is not None]
            image_pixels[image_rows] = self._encode_images(images, keys, image_rows)

        read = {key: job.result() if isinstance(job, Future) else job for key, job in jobs.items()}
        for key, text in read.items():
            self.ocr_cache.put(key, text)
        for i, key in pending.items():
            ocr_texts[i] = read[key]
        image_text_windows = [self._windows(text) for text in ocr_texts]
        image_text_vectors = self._encoded_windows(
            image_text_windows, lambda texts: self._encode_texts(texts, category_features)
        )
        image_text_rows = [i for i, text in enumerate(ocr_texts) if text]

        present = torch.zeros(size, 3, dtype=torch.bool)
        present[caption_rows, 0] = True
        present[image_rows, 1] = True
        present[image_text_rows, 2] = True
        views = PostViews.of(caption_windows, image_text_windows)
        probs, deltas = self._score_views(
            views,
            self._view_rows(views.captions, caption_vectors),
            image_pixels,
            self._view_rows(views.image_texts, image_text_vectors),
            present,
        )
        results = [self._result(row, probs, deltas, present, ocr_texts[row]) for row in range(size)]
        return self._with_categories(
            results,
            caption_windows,
            image_text_windows,
            [post.image for post in posts],
            known=category_features,
            image_keys=keys,
        )

    @staticmethod
    def _encoded_windows(
        windows: Sequence[Sequence[str]], encode: Callable[[list[str]], torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        """Window text -> its embedding, for every window of every text, each distinct one encoded
        once by ``encode`` ((n, text_dim) for n texts)."""
        texts = list(dict.fromkeys(window for pieces in windows for window in pieces))
        if not texts:
            return {}
        return dict(zip(texts, encode(texts), strict=True))

    def _view_rows(self, texts: Sequence[str], vectors: dict[str, torch.Tensor]) -> torch.Tensor:
        """(len(texts), text_dim): each view's text embedding (zeros where it has no such text)."""
        out = torch.zeros(len(texts), self.model.text_dim)
        for view, text in enumerate(texts):
            if text:
                out[view] = vectors[text]
        return out

    def _with_categories(
        self,
        results: list[ModerationResult],
        caption_windows: Sequence[Sequence[str]],
        image_text_windows: Sequence[Sequence[str]],
        images: Sequence[Image.Image | None],
        known: dict[str, np.ndarray] | None = None,
        image_keys: dict[int, str] | None = None,
    ) -> list[ModerationResult]:
        """Add the example-defined categories' scores. Each text of a post (caption, image text) is
        scored alone, a long one window by window (its score: its highest window's); for
        ``sexual``, with an :class:`NsfwDetector`, the image's open_nsfw score (mapped onto the
        category's thresholds, :func:`models.nsfw.as_category_score`) is its third piece of
        evidence. The post gets the highest; attribution is leave-one-out on that
        maximum: a modality's share is how far the score would fall without it. ``known``: category
        embeddings the text tower already gave this batch (text -> embedding); ``image_keys``: the
        cache keys of the rows' images where the caller has them (hashing an image's pixels is not
        free)."""
        if self.categories is None:
            return results
        distinct = sorted({w for pieces in (*caption_windows, *image_text_windows) for w in pieces})
        scores = dict(
            zip(distinct, self.categories.score(self._category_features(distinct, known or {})), strict=True)
        )
        heads = len(self.categories.heads)

        def text_scores(windows: Sequence[str]) -> np.ndarray:
            if not windows:
                return np.zeros(heads)
            return np.max(np.stack([scores[window] for window in windows]), axis=0)  # (heads,)

        pixels = self._image_evidence(images, image_keys or {})
        out = []
        for row, result in enumerate(results):
            merged_scores, merged_attribution = dict(result.scores), dict(result.attribution)
            caption, image_text = text_scores(caption_windows[row]), text_scores(image_text_windows[row])
            for j, head in enumerate(self.categories.heads):
                seen = head.name == NSFW_CATEGORY and row in pixels
                evidence = {
                    "caption": float(caption[j]),
                    "image_pixels": (
                        as_category_score(pixels[row], review=head.review, block=head.block) if seen else 0.0
                    ),
                    "image_text": float(image_text[j]),
                }
                best = max(evidence.values())
                pushes = {m: best - max(v for other, v in evidence.items() if other != m) for m in evidence}
                total = sum(pushes.values())
                merged_scores[head.name] = round(best, 6)
                merged_attribution[head.name] = {
                    m: round(push / total, 4) if total > 1e-6 else 0.0 for m, push in pushes.items()
                }
            out.append(replace(result, scores=merged_scores, attribution=merged_attribution))
        return out

    def _image_evidence(self, images: Sequence[Image.Image | None], keys: dict[int, str]) -> dict[int, float]:
        """Row -> open_nsfw probability for the rows with an image (none without a detector);
        images seen before come from the cache. ``keys``: row -> cache key, where already known."""
        if self.nsfw is None:
            return {}
        found: dict[int, float] = {}
        missing: dict[str, list[int]] = {}
        first: dict[str, Image.Image] = {}
        for row, image in enumerate(images):
            if image is None:
                continue
            key = keys.get(row) or image_key(image)
            cached = self.nsfw_cache.get(key)
            if cached is not None:
                found[row] = cached
            else:
                missing.setdefault(key, []).append(row)
                first.setdefault(key, image)
        if missing:
            distinct = list(missing)
            # ``image_chunk`` at a time, as for the image tower: onnxruntime's arena keeps the
            # activations of the largest call it has run for the life of the process.
            chunk = self.options.image_chunk or len(distinct)
            values = np.concatenate(
                [
                    self.nsfw.score([first[k] for k in distinct[i : i + chunk]])
                    for i in range(0, len(distinct), chunk)
                ]
            )
            for key, value in zip(distinct, values, strict=True):
                self.nsfw_cache.put(key, float(value))
                for row in missing[key]:
                    found[row] = float(value)
        return found

    def _category_features(self, texts: list[str], known: dict[str, np.ndarray]) -> np.ndarray:
        """(len(texts), dim) category embeddings: from ``known`` (this batch's text-tower pass) or
        the cache, else embedded on their own (the reference path; a cache entry evicted before its
        text's embedding)."""
        assert self.category_embedder is not None
        out = np.zeros((len(texts), self.category_embedder.dim), dtype=np.float32)
        missing = []
        for row, text in enumerate(texts):
            cached = known.get(text)
            if cached is None:
                cached = self.category_cache.get(text_key(text))
            if cached is not None:
                out[row] = cached
            else:
                missing.append(row)
        if missing:
            embedded = self.category_embedder.embed([texts[row] for row in missing])
            for row, vector in zip(missing, embedded, strict=True):
                self.category_cache.put(text_key(texts[row]), vector)
                out[row] = vector
        return out

    def read_image_text(self, image: Image.Image, spare: SpareThread | None = None) -> str:
        """The text in ``image`` (OCR, cleaned as for scoring; cached by content), without the text
        gate: for callers that already decided the image needs reading and do it on their own
        thread, then pass the result as :attr:`PostContent.ocr_text` with
        ``ocr_text_repaired=True`` (the service's OCR lane).
        Thread-safe: the OCR engine and the caches lock what they share. ``spare``: a thread that
        may recognise some of the image's text lines while it has nothing else to do (the
        service's idle inference thread); the text is the same."""
        key = image_key(image)
        cached = self.ocr_cache.get(key)
        if cached is not None:
            return cached
        text = self.processor.read_image_text(image, spare=spare)
        self.ocr_cache.put(key, text)
        return text

    def _read(self, image: Image.Image) -> str:
        """OCR one image, unless the gate says it holds no text."""
        if self.text_gate is not None and not self.text_gate.likely_has_text(image):
            return ""
        return self.processor.read_image_text(image)

    def _ocr_executor(self) -> ThreadPoolExecutor:
        if self._ocr_thread is None:
            self._ocr_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="postguard-ocr")
        return self._ocr_thread

    def _encode_texts(self, texts: list[str], category_features: dict[str, np.ndarray]) -> torch.Tensor:
        """(len(texts), text_dim) embeddings; each distinct text not in the cache is encoded once.
        With categories, the category embeddings of the texts encoded go into the category cache
        and ``category_features``."""
        out = torch.zeros(len(texts), self.model.text_dim)
        missing: dict[str, list[int]] = {}
        for row, text in enumerate(texts):
            cached = self.text_cache.get(text_key(text))
            if cached is not None:
                out[row] = cached
            else:
                missing.setdefault(text, []).append(row)
        if missing:
            distinct = list(missing)
            encoded, categories = self._encode_distinct(distinct)  # (n_distinct, text_dim), (n_distinct, dim)
            for text, vector in zip(distinct, encoded, strict=True):
                self.text_cache.put(text_key(text), vector.clone())
                out[missing[text]] = vector
            if categories is not None:
                for text, row in zip(distinct, categories.numpy(), strict=True):
                    self.category_cache.put(text_key(text), row.copy())
                    category_features[text] = row
        return out

    def _encode_distinct(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Embeddings of ``texts``: in one call, or shortest first in chunks of ``text_chunk`` (a
        batch is padded to its longest text, and attention costs grow with that length for every
        row: short texts beside a long one cost as much as it does)."""
        tokens = self.processor.tokenize(texts)
        chunk = self._text_chunk
        if chunk is None or len(texts) <= chunk:
            outputs = self._text_tower(tokens["input_ids"], tokens["attention_mask"])
        else:
            lengths = tokens["attention_mask"].sum(dim=1)
            order = torch.argsort(lengths, stable=True)
            parts = []
            for start in range(0, len(texts), chunk):
                rows = order[start : start + chunk]
                width = int(lengths[rows].max())
                parts.append(
                    self._text_tower(
                        tokens["input_ids"][rows, :width], tokens["attention_mask"][rows, :width]
                    )
                )
            # back into the order of ``texts``
            inverse = torch.argsort(order)
            outputs = tuple(torch.cat(pieces)[inverse] for pieces in zip(*parts, strict=True))
        return outputs[0], (outputs[1] if len(outputs) > 1 else None)

    def _encode_images(
        self, images: list[Image.Image], keys: dict[int, str], rows: list[int]
    ) -> torch.Tensor:
        """(len(images), image_dim) features; each distinct image not in the cache is encoded once."""
        out = torch.zeros(len(images), self.model.image_dim)
        missing: dict[str, list[int]] = {}
        first: dict[str, Image.Image] = {}
        for position, (image, row) in enumerate(zip(images, rows, strict=True)):
            key = keys[row]
            cached = self.image_cache.get(key)
            if cached is not None:
                out[position] = cached
            else:
                missing.setdefault(key, []).append(position)
                first.setdefault(key, image)
        if missing:
            distinct = list(missing)
            encoded = self._encode_distinct_images([first[k] for k in distinct])
            for key, vector in zip(distinct, encoded, strict=True):
                self.image_cache.put(key, vector.clone())
                out[missing[key]] = vector
        return out

    def _encode_distinct_images(self, images: list[Image.Image]) -> torch.Tensor:
        """Features of ``images``: in one call, or ``image_chunk`` at a time (pixels made per chunk,
        so neither the pixels nor the activations of the whole batch are held at once)."""
        chunk = self.options.image_chunk or len(images)
        parts = [
            self.model.encode_image(self.processor.pixel_values(images[start : start + chunk]))
            for start in range(0, len(images), chunk)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _result(
        self, row: int, probs: torch.Tensor, deltas: torch.Tensor, present: torch.Tensor, ocr_text: str | None
    ) -> ModerationResult:
        own = self.model.config.labels  # the bundle's are added by _with_categories
        scores = {label: round(float(probs[row, j]), 6) for j, label in enumerate(own)}
        attribution: dict[str, dict[str, float]] = {}
        for j, label in enumerate(own):
            # Only modalities that pushed the score up get a share; shares sum to 1 (or are all 0).
            pushes = deltas[row, :, j].clamp(min=0.0)
            total = float(pushes.sum())
            attribution[label] = {
                name: (round(float(pushes[m]) / total, 4) if total > 1e-6 else 0.0)
                for m, name in enumerate(MODALITIES)
            }
        present_names = tuple(name for m, name in enumerate(MODALITIES) if bool(present[row, m]))
        return ModerationResult(
            scores=scores, attribution=attribution, ocr_text=ocr_text, modalities_present=present_names
        )
