"""Sessions built from in-memory graphs run them and do not keep the serialized graph alive."""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper, numpy_helper

from models.onnx_sessions import cpu_session_from_bytes

# Large enough that holding it shows plainly in Python's traced memory, small enough to be quick.
WEIGHT_VALUES = 4 * 1024 * 1024  # 16 MB of float32


def _graph_with_a_big_weight() -> tuple[bytes, np.ndarray]:
    """y = x + w, where w is a 16 MB initializer (so the serialized graph is ~16 MB)."""
    weight = np.arange(WEIGHT_VALUES, dtype=np.float32) / WEIGHT_VALUES
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "w"], ["y"])],
        "add",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [WEIGHT_VALUES])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [WEIGHT_VALUES])],
        [numpy_helper.from_array(weight, "w")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString(), weight


def _python_bytes_held_by(make_session: object) -> int:
    """Bytes of Python memory still allocated once a session is built and the graph dropped."""
    tracemalloc.start()
    try:
        graph = _graph_with_a_big_weight()[0]
        session = make_session(graph)  # type: ignore[operator]
        del graph
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
        assert session is not None
        return held
    finally:
        tracemalloc.stop()


def test_the_session_computes_the_graph() -> None:
    graph, weight = _graph_with_a_big_weight()
    session = cpu_session_from_bytes(graph, onnxruntime.SessionOptions())
    x = np.ones(WEIGHT_VALUES, dtype=np.float32)
    (y,) = session.run(None, {"x": x})
    np.testing.assert_allclose(y, x + weight)


def test_the_session_does_not_hold_the_serialized_graph() -> None:
    graph_bytes = WEIGHT_VALUES * 4
    plain = _python_bytes_held_by(
        lambda g: onnxruntime.InferenceSession(g, providers=["CPUExecutionProvider"])
    )
    ours = _python_bytes_held_by(lambda g: cpu_session_from_bytes(g, onnxruntime.SessionOptions()))
    # onnxruntime's own session keeps the graph (the reason for cpu_session_from_bytes) ...
    assert plain >= graph_bytes
    # ... ours keeps none of it (onnxruntime's native copy of the weights is not Python memory).
    assert ours < graph_bytes / 4
