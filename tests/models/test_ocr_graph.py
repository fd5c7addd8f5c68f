"""The exact simplification of RapidOCR's graphs: same outputs, fewer operators, same text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import rapidocr_onnxruntime
from onnx import TensorProto, helper, numpy_helper

from models.data.memes import MemeSpec, render_meme
from models.ocr import OcrEngine
from models.ocr_graph import Rewrites, simplified_model_bytes, simplify

RAPIDOCR_MODELS = Path(str(rapidocr_onnxruntime.__file__)).parent / "models"
DETECTOR = RAPIDOCR_MODELS / "ch_PP-OCRv4_det_infer.onnx"
RECOGNISER = RAPIDOCR_MODELS / "ch_PP-OCRv4_rec_infer.onnx"


def _run(model: bytes, inputs: np.ndarray) -> np.ndarray:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: inputs})[0]


def _text_line_like(shape: tuple[int, ...]) -> np.ndarray:
    """Normalised pixels in [-1, 1]: a light background with dark strokes and some noise."""
    rng = np.random.default_rng(3)
    pixels = np.full(shape, 0.9, np.float32)
    height, width = shape[2], shape[3]
    pixels[:, :, height // 4 : 3 * height // 4, width // 16 : -width // 16 : 7] = -0.9
    return np.clip(pixels + rng.normal(0, 0.1, shape).astype(np.float32), -1, 1)


@pytest.mark.parametrize(
    ("path", "shape"), [(RECOGNISER, (2, 3, 48, 320)), (DETECTOR, (1, 3, 224, 320))], ids=["rec", "det"]
)
def test_the_simplified_graph_computes_the_same_outputs(path: Path, shape: tuple[int, ...]) -> None:
    inputs = _text_line_like(shape)
    original = _run(path.read_bytes(), inputs)
    model, rewrites = simplified_model_bytes(path)
    simplified = _run(model, inputs)
    assert rewrites.affine_into_conv > 20 and rewrites.hardswish > 20, rewrites
    assert simplified.shape == original.shape
    np.testing.assert_allclose(simplified, original, atol=1e-4)
    before = len(onnx.load(str(path)).graph.node)
    after = len(onnx.load_from_string(model).graph.node)
    assert after < before - 100, (before, after)


def _graph(nodes: list[onnx.NodeProto], initializers: list[TensorProto]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", "c", "h", "w"])],
        initializers,
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 12)])


def _const(name: str, value: np.ndarray | float) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, np.float32).reshape(np.shape(value) or (1,)), name)


def _affine_conv_chain(pads: list[int]) -> onnx.ModelProto:
    """conv -> *s1 +b1 -> hardswish -> *s2 +b2 -> conv (3x3, ``pads``)."""
    rng = np.random.default_rng(0)
    w1, b1 = rng.normal(size=(2, 2, 1, 1)), rng.normal(size=2)
    w2, b2 = rng.normal(size=(2, 2, 3, 3)), rng.normal(size=2)
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("Mul", ["s1", "c1"], ["m1"]),  # constant first, as PaddlePaddle exports it
        helper.make_node("Add", ["m1", "t1"], ["a1"]),
        helper.make_node("Add", ["a1", "three"], ["p3"]),
        helper.make_node("Clip", ["p3", "zero", "six"], ["cl"]),
        helper.make_node("Mul", ["a1", "cl"], ["mx"]),
        helper.make_node("Div", ["mx", "six1"], ["hs"]),
        helper.make_node("Mul", ["s2", "hs"], ["m2"]),
        helper.make_node("Add", ["m2", "t2"], ["a2"]),
        helper.make_node("Conv", ["a2", "w2", "b2"], ["y"], kernel_shape=[3, 3], pads=pads),
    ]
    scalars = {"s1": 1.7, "t1": 0.3, "three": 3.0, "six1": 6.0, "s2": 0.4, "t2": -0.25}
    initializers = [_const(k, v) for k, v in scalars.items()]
    initializers += [numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero")]
    initializers += [numpy_helper.from_array(np.array(6.0, dtype=np.float32), "six")]
    initializers += [_const("w1", w1), _const("b1", b1), _const("w2", w2), _const("b2", b2)]
    return _graph(nodes, initializers)


@pytest.mark.parametrize(
    ("pads", "expected"),
    [
        ([0, 0, 0, 0], Rewrites(affine_into_conv=2, hardswish=1, affine_into_next_conv=1)),
        ([1, 1, 1, 1], Rewrites(affine_into_conv=2, hardswish=1, scale_into_next_conv=1)),
    ],
    ids=["unpadded", "padded"],
)
def test_each_rewrite_is_exact_on_a_small_graph(pads: list[int], expected: Rewrites) -> None:
    model = _affine_conv_chain(pads)
    inputs = np.random.default_rng(1).normal(size=(1, 2, 5, 5)).astype(np.float32) * 3
    original = _run(model.SerializeToString(), inputs)
    rewrites = simplify(model)
    onnx.checker.check_model(model)
    assert rewrites == expected
    np.testing.assert_allclose(_run(model.SerializeToString(), inputs), original, rtol=1e-5, atol=1e-5)
    kinds = [node.op_type for node in model.graph.node]
    # padded: the shift stays as one Add (a padded border of h + b/s is not a bias)
    assert kinds == (
        ["Conv", "HardSigmoid", "Mul", "Conv"]
        if pads == [0, 0, 0, 0]
        else ["Conv", "HardSigmoid", "Mul", "Add", "Conv"]
    )


def test_a_convolution_read_twice_is_left_alone() -> None:
    # The conv's output also feeds the graph output: folding the Mul into it would change that.
    nodes = [
        helper.make_node("Conv", ["x", "w", "b"], ["c"]),
        helper.make_node("Mul", ["c", "s"], ["m"]),
        helper.make_node("Add", ["m", "c"], ["y"]),
    ]
    model = _graph(nodes, [_const("w", np.ones((2, 2, 1, 1))), _const("b", np.zeros(2)), _const("s", 2.0)])
    assert simplify(model) == Rewrites()
    assert [node.op_type for node in model.graph.node] == ["Conv", "Mul", "Add"]


@pytest.mark.slow
def test_simplified_ocr_reads_the_same_text() -> None:
    texts = [
        "you people are not welcome here go back where you came from",
        "nothing to see here just a cat on a sofa enjoying the sun",
    ]
    memes = [
        render_meme(MemeSpec(text, "color:40,90,200", style, 0, 34, 4.0, 90, 512, 448))
        for text in texts
        for style in ("outlined_top_bottom", "caption_bar")
    ]
    shipped = OcrEngine(detection_max_side=640, angle_classifier=False, threads=1)
    simplified = OcrEngine(detection_max_side=640, angle_classifier=False, threads=1, simplified_graphs=True)
    read = [simplified.read(meme) for meme in memes]
    assert read == [shipped.read(meme) for meme in memes]
    assert all(len(text) > 20 for text in read), read
    # the swap really happened: the recogniser's session no longer reads the shipped file
    # (models.ocr reads the shipped file's path from the same attribute: it exists)
    path = simplified._load().text_rec.recogniser.session.session._model_path
    assert path is None or "ch_PP-OCRv4_rec" not in str(path)
