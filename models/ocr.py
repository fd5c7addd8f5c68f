"""Reading the text inside an image (memes carry their message in pixels) with RapidOCR.

RapidOCR (Apache-2.0) ships its ONNX detection and recognition models inside the wheel, so
nothing is downloaded. The engine is created lazily and is safe to call from several threads; the
service calls it from its OCR lane's thread, which may hand some of an image's text lines to the
idle inference thread (:class:`SpareThread`).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
from PIL import Image

logger = logging.getLogger(__name__)

#: Lines recognised with less confidence than this are dropped (mostly texture read as letters).
MIN_LINE_CONFIDENCE = 0.5
#: OCR cost grows with pixels; memes are readable at this size and it bounds the time per image.
OCR_MAX_SIDE = 960
#: Edge marks: a line lying wholly in the image's top or bottom band (this share of the height, at
#: least MARK_BAND_MIN_PX) whose text is less than MARK_HEIGHT_RATIO of the tallest line's height
#: is a watermark, a reposting app's credit or a handle, not the message: it is dropped.
MARK_BAND = 0.08
MARK_BAND_MIN_PX = 24
MARK_HEIGHT_RATIO = 0.8
#: What :meth:`OcrEngine.read` returns changed with this number (caches of reads key on it).
#: 3: rows of text joined by newlines (they were joined by spaces), so that the repair can tell a
#: row of its own from the words around it (models/ocr_spelling.py, noise lines).
READ_VERSION = 3


class SpareThread(Protocol):
    """Another thread that may take part of a read while it has nothing of its own to do (the
    service lends its inference thread, service/moderation/inference_thread.py)."""

    def offer(self, job: Callable[[Callable[[], bool]], None]) -> bool:
        """Start ``job(wanted_back)`` on the spare thread if it is idle and return True; return False
        (and never run ``job``) when it is busy. ``wanted_back()`` turns True as soon as the thread's
        own work is waiting: the job then returns after the piece it is on."""
        ...


class OcrEngine:
    """Extracts text from an image, lines ordered top to bottom, left to right."""

    def __init__(
        self,
        *,
        min_confidence: float = MIN_LINE_CONFIDENCE,
        max_side: int = OCR_MAX_SIDE,
        detection_max_side: int | None = None,
        angle_classifier: bool = True,
        threads: int | None = None,
        simplified_graphs: bool = False,
        recognition_batch: int | None = None,
        drop_edge_marks: bool = True,
    ) -> None:
        """``detection_max_side``: run text detection on a copy whose longest side is at most this
        (RapidOCR's default instead scales the *shortest* side up to 736 px, which more than doubles
        the pixels of a 512 px meme); recognition still reads the full-resolution crops.
        ``angle_classifier`` False skips the per-line 0/180 degree check (upside-down text).
        ``threads``: onnxruntime intra-op threads (None: all cores).
        ``simplified_graphs``: run the detector and recogniser on :mod:`models.ocr_graph`'s exact
        simplification of their ONNX graphs (same text, about half the time).
        ``recognition_batch``: text lines recognised per call (None: RapidOCR's 6). A batch is padded
        to its widest line; one line per call pads nothing (faster on one core, see
        docs/performance.md).
        ``drop_edge_marks``: leave out watermarks, credits and handles at the image's top and
        bottom edges (:func:`without_edge_marks`)."""
        if recognition_batch is not None and recognition_batch < 1:
            raise ValueError("recognition_batch must be at least 1")
        self.min_confidence = min_confidence
        self.max_side = max_side
        self.detection_max_side = detection_max_side
        self.angle_classifier = angle_classifier
        self.threads = threads
        self.simplified_graphs = simplified_graphs
        self.recognition_batch = recognition_batch
        self.drop_edge_marks = drop_edge_marks
        self._engine: Any = None
        self._lock = threading.Lock()
        self._recognition: _SharedRecognition | None = None

    def _load(self) -> Any:
        if self._engine is None:
            from rapidocr_onnxruntime import RapidOCR

            # RapidOCR logs every call at INFO; keep the service's logs about the service.
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            options: dict[str, Any] = {}
            if self.detection_max_side is not None:
                options = {"det_limit_type": "max", "det_limit_side_len": self.detection_max_side}
            if self.threads is not None:
                options["intra_op_num_threads"] = self.threads
            engine = RapidOCR(**options)
            if self.detection_max_side is not None:
                _cap_detection(engine, self.detection_max_side)
            if self.simplified_graphs:
                _use_simplified_graphs(engine, self.threads)
            if self.recognition_batch is not None:
                _set_recognition_batch(engine, self.recognition_batch)
            self._recognition = _share_recognition(engine)
            self._engine = engine
        return self._engine

    def read(self, image: Image.Image, spare: SpareThread | None = None) -> str:
        """The text in ``image`` as one string ('' when there is none), one row of text per line
        (boxes side by side on one row are joined by a space). Safe to call from several
        threads at once (the service's OCR lane with ``ocr_lane_readers`` > 1): onnxruntime
        sessions are thread-safe, and the only state RapidOCR changes during a call is the
        detector's resize step, which every call sets to an equal value (one fixed step under
        :func:`_cap_detection`; RapidOCR's default rebuilds the same one each call).

        ``spare``: a thread that may recognise some of the text lines while it is idle (the same
        text, sooner; see :class:`_SharedRecognition`)."""
        with self._lock:
            engine = self._load()
            recognition = self._recognition
        if max(image.size) > self.max_side:
            image = image.copy()
            image.thumbnail((self.max_side, self.max_side), Image.Resampling.BILINEAR)
        with recognition.lent(spare) if recognition is not None else contextlib.nullcontext():
            result, _ = engine(image.convert("RGB"), use_cls=self.angle_classifier)
        if not result:
            return ""
        lines = []
        for box, text, confidence in result:
            if float(confidence) < self.min_confidence or not str(text).strip():
                continue
            top = min(point[1] for point in box)
            left = min(point[0] for point in box)
            height = max(point[1] for point in box) - top
            lines.append((top, left, height, str(text).strip()))
        if self.drop_edge_marks:
            lines = without_edge_marks(lines, image.height)
        # Group boxes into rows (tops within half a line height), then read each row left to right.
        lines.sort(key=lambda item: (item[0], item[1]))
        rows: list[list[tuple[float, float, float, str]]] = []
        for line in lines:
            if rows and abs(line[0] - rows[-1][0][0]) < max(line[2], 1.0) / 2:
                rows[-1].append(line)
            else:
                rows.append([line])
        return "\n".join(" ".join(item[3] for item in sorted(row, key=lambda r: r[1])) for row in rows)


def without_edge_marks(
    lines: list[tuple[float, float, float, str]], image_height: int
) -> list[tuple[float, float, float, str]]:
    """``lines`` (top, left, height, text) less the edge marks: lines wholly inside the top or
    bottom band of the image whose text is clearly smaller than the tallest line's. Reposting apps
    and pages stamp their name or handle there in small type ("imgflip.com", "@the_daily_laugh");
    read into the message, it makes hate look like a joke page's post to the text tower (in the
    evaluation's functional suite, hateful memes with a watermark were caught 69 % of the time
    against 84 % without). A lone line, or lines of one size, are all kept."""
    if len(lines) < 2:
        return lines
    tallest = max(line[2] for line in lines)
    band = max(MARK_BAND * image_height, MARK_BAND_MIN_PX)

    def is_mark(line: tuple[float, float, float, str]) -> bool:
        top, _, height, _ = line
        at_edge = top + height <= band or top >= image_height - band
        return at_edge and height < MARK_HEIGHT_RATIO * tallest

    return [line for line in lines if not is_mark(line)]


def _cap_detection(engine: Any, max_side: int) -> None:
    """Make RapidOCR's detector honour ``max_side``.

    With ``det_limit_type="max"`` RapidOCR 1.x ignores ``det_limit_side_len``: every call it
    rebuilds the resize step with a limit of 960, 1,500 or 2,000 px chosen from the image size, so
    a 640 px cap left a 900 px image at 900 px. Replacing that choice with a fixed step makes the
    cap real (and the step the same on every call, which keeps concurrent reads safe)."""
    detector = getattr(engine, "text_det", None)
    if detector is None or not hasattr(detector, "get_preprocess"):
        raise RuntimeError(
            "this rapidocr-onnxruntime version has no text_det.get_preprocess: "
            "the OCR detection cap (ocr_detection_max_side) cannot be applied; set it to 0"
        )
    step = detector.get_preprocess(max_side)
    step.limit_side_len = max_side
    step.limit_type = "max"
    detector.get_preprocess = lambda max_wh: step


class _SharedRecognition:
    """RapidOCR's recogniser, reading one image's text lines on two threads when a spare one is lent.

    Recognition is about four fifths of reading a meme (one call per line of text, tens of
    milliseconds each); detection is one call that cannot be split. The lines are handed out
    widest first, in chunks of the recogniser's batch size, from one queue that the reading thread
    and the spare thread both take from, so neither waits for the other except for the chunk the
    spare thread is on when the reading thread runs out. The spare thread takes no new chunk once
    its own work is waiting (``wanted_back``), so lending it delays that work by one chunk at most.
    Every chunk is read by the same recogniser as without a spare thread: the text is identical."""

    def __init__(self, recogniser: Any) -> None:
        self._recogniser = recogniser
        self._local = threading.local()

    @property
    def recogniser(self) -> Any:
        """RapidOCR's own recogniser (its session, batch size and character list)."""
        return self._recogniser

    @contextlib.contextmanager
    def lent(self, spare: SpareThread | None) -> Iterator[None]:
        """Within this context, calls from this thread may use ``spare`` (None: they do not)."""
        self._local.spare = spare
        try:
            yield
        finally:
            self._local.spare = None

    def __call__(
        self, img_list: np.ndarray | list[np.ndarray], return_word_box: bool = False
    ) -> tuple[list[tuple[str, float]], float]:
        spare: SpareThread | None = getattr(self._local, "spare", None)
        lines = [img_list] if isinstance(img_list, np.ndarray) else list(img_list)
        batch = int(self._recogniser.rec_batch_num)
        if spare is None or return_word_box or len(lines) <= batch:
            return self._recogniser(lines, return_word_box)
        order = sorted(range(len(lines)), key=lambda i: lines[i].shape[1] / lines[i].shape[0], reverse=True)
        work = _LineQueue([order[i : i + batch] for i in range(0, len(order), batch)])

        def read_chunk(chunk: list[int]) -> tuple[list[tuple[str, float]], float]:
            return self._recogniser([lines[i] for i in chunk], return_word_box)

        def lend(wanted_back: Callable[[], bool]) -> None:
            work.run(read_chunk, wanted_back)

        # Offered again after every chunk this thread reads while the spare one is busy: it is
        # often between two batches to score, and a meme's lines take longer than one batch.
        lent = spare.offer(lend)
        while work.read_one(read_chunk):
            if not lent:
                lent = spare.offer(lend)
        return work.results(len(lines))


class _LineQueue:
    """Chunks of text lines shared by the threads recognising them, and their results."""

    def __init__(self, chunks: list[list[int]]) -> None:
        self._chunks = chunks
        self._next = 0
        self._done = 0
        self._read: dict[int, tuple[str, float]] = {}
        self._seconds = 0.0
        self._error: BaseException | None = None
        self._condition = threading.Condition()

    def run(
        self,
        read_chunk: Callable[[list[int]], tuple[list[tuple[str, float]], float]],
        stop: Callable[[], bool],
    ) -> None:
        """Read chunks until none is left (or ``stop()``), recording each result or the first error."""
        while not stop() and self.read_one(read_chunk):
            pass

    def read_one(self, read_chunk: Callable[[list[int]], tuple[list[tuple[str, float]], float]]) -> bool:
        """Read the next chunk; False when none was left (or one failed)."""
        with self._condition:
            if self._next == len(self._chunks) or self._error is not None:
                return False
            chunk = self._chunks[self._next]
            self._next += 1
        try:
            texts, seconds = read_chunk(chunk)
        except BaseException as exc:  # noqa: BLE001 - handed to the reading thread, raised there
            with self._condition:
                self._error = self._error or exc
                self._done += 1
                self._condition.notify_all()
            return False
        with self._condition:
            self._read.update(zip(chunk, texts, strict=True))
            self._seconds += seconds
            self._done += 1
            self._condition.notify_all()
        return True

    def results(self, count: int) -> tuple[list[tuple[str, float]], float]:
        """Every line's (text, confidence) in input order and the seconds spent; waits for chunks
        still being read on the other thread, and raises the error one of them raised."""
        with self._condition:
            self._condition.wait_for(lambda: self._done == self._next)
            if self._error is not None:
                raise self._error
            return [self._read[i] for i in range(count)], self._seconds


def _recogniser_of(engine: Any) -> Any | None:
    """RapidOCR's text recogniser, or None when this RapidOCR version has none with a batch size."""
    recogniser = getattr(engine, "text_rec", None)
    return recogniser if recogniser is not None and hasattr(recogniser, "rec_batch_num") else None


def _share_recognition(engine: Any) -> _SharedRecognition | None:
    """Wrap the engine's recogniser so that a read can lend part of it to a spare thread (None when
    this RapidOCR version has no recogniser to wrap: reads then stay on one thread)."""
    recogniser = _recogniser_of(engine)
    if recogniser is None:
        logger.warning(
            "this rapidocr-onnxruntime version has no text_rec.rec_batch_num: OCR reads use one thread"
        )
        return None
    shared = _SharedRecognition(recogniser)
    engine.text_rec = shared
    return shared


def _set_recognition_batch(engine: Any, lines: int) -> None:
    """Make RapidOCR's recogniser read ``lines`` text lines per call (its default is 6)."""
    recogniser = _recogniser_of(engine)
    if recogniser is None:
        raise RuntimeError(
            "this rapidocr-onnxruntime version has no text_rec.rec_batch_num: the OCR "
            "recognition batch cannot be set; set ocr_recognition_batch to 0"
        )
    recogniser.rec_batch_num = lines


def _use_simplified_graphs(engine: Any, threads: int | None) -> None:
    """Swap the detector's and recogniser's onnxruntime sessions for ones on the simplified graphs.

    RapidOCR has no hook for this: its sessions are rebuilt from the same model files (the
    recogniser's character list, read from the original model's metadata at start, stays valid:
    the rewrite keeps metadata and outputs) with the same session options as RapidOCR's own."""
    from rapidocr_onnxruntime.utils.infer_engine import OrtInferSession

    from .ocr_graph import simplified_model_bytes
    from .onnx_sessions import cpu_session_from_bytes

    holders = {
        "detector": getattr(getattr(engine, "text_det", None), "infer", None),
        "recogniser": getattr(getattr(engine, "text_rec", None), "session", None),
    }
    for role, holder in holders.items():
        path = getattr(getattr(holder, "session", None), "_model_path", None)
        if not isinstance(holder, OrtInferSession) or not path:
            raise RuntimeError(
                f"this rapidocr-onnxruntime version does not expose its text {role}'s onnxruntime "
                "session: the simplified OCR graphs cannot be used; set ocr_simplified_graphs off"
            )
        model, rewrites = simplified_model_bytes(path)
        if rewrites.total == 0:
            logger.warning(
                "OCR %s model %s has none of the patterns models.ocr_graph simplifies: it runs as shipped",
                role,
                path,
            )
            continue
        options = OrtInferSession._init_sess_opts(
            {"intra_op_num_threads": threads if threads is not None else -1}
        )
        holder.session = cpu_session_from_bytes(model, options)
