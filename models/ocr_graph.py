"""Exact simplification of RapidOCR's PP-OCRv4 ONNX graphs: the same outputs in about half the time.

PP-OCRv4's backbone (PPLCNetV3, in both the text detector and the recogniser) follows nearly every
convolution with a "learnable affine block" ``y = s * x + b`` (scalar ``s`` and ``b``) and writes
hardswish as four elementwise operators (``x + 3``, ``Clip(0, 6)``, ``* x``, ``/ 6``). onnxruntime
fuses none of them (its Conv+Mul fusion wants the constant as the second input; the exported graph
has it first), so on one core about half of the recogniser's time went to elementwise passes over
large activations (profiled: Conv 34 %, Mul/Add/Div/Clip 50 %). Three rewrites, each exact in
real arithmetic (only float rounding differs: ~1e-5 on outputs in [0, 1], checked by the tests):

1. ``Conv -> Mul(s)`` and ``Conv -> Add(b)`` with a scalar constant: ``s`` and ``b`` go into the
   convolution's weights and bias;
2. hardswish's four operators become ``x * HardSigmoid(x; 1/6, 1/2)`` (onnxruntime then fuses the
   HardSigmoid into the convolution before it);
3. ``s * h + b`` read only by convolutions: ``s`` goes into their weights (zero padding scales to
   zero padding); ``b`` into their bias where they have no padding, otherwise one ``Add(b / s)``
   stays (a padded border of ``h + b/s`` is not the padded border of ``h`` plus a bias).

A rewrite applies only where its pattern is unambiguous (single consumers, constants of the
expected shape and value); anything else is left as it is, so another model passes through
unchanged (:class:`Rewrites` says what was done).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper


@dataclass(frozen=True)
class Rewrites:
    """How many times each rewrite applied."""

    affine_into_conv: int = 0
    hardswish: int = 0
    affine_into_next_conv: int = 0
    scale_into_next_conv: int = 0

    @property
    def total(self) -> int:
        return self.affine_into_conv + self.hardswish + self.affine_into_next_conv + self.scale_into_next_conv


def simplified_model_bytes(path: Path | str) -> tuple[bytes, Rewrites]:
    """The simplified model at ``path``, serialized for ``onnxruntime.InferenceSession``."""
    model = onnx.load(str(path))
    rewrites = simplify(model)
    onnx.checker.check_model(model)
    return model.SerializeToString(), rewrites


def simplify(model: onnx.ModelProto) -> Rewrites:
    """Apply the three rewrites to ``model`` in place."""
    graph = _Graph(model.graph)
    affine_into_conv = 0
    while graph.fold_affine_into_producing_conv():
        affine_into_conv += 1
    hardswish = 0
    while graph.replace_hardswish():
        hardswish += 1
    into_next, scale_only = graph.fold_affine_into_next_convs()
    graph.drop_unused_initializers()
    return Rewrites(affine_into_conv, hardswish, into_next, scale_only)


class _Graph:
    """A graph being rewritten: constants as arrays, who reads what."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self.outputs = {output.name for output in graph.output}
        # Exported PaddlePaddle graphs hold their weights in Constant nodes: make them initializers
        # so every constant is found (and changed) the same way.
        for node in list(graph.node):
            if node.op_type == "Constant" and [a.name for a in node.attribute] == ["value"]:
                tensor = onnx.TensorProto()
                tensor.CopyFrom(node.attribute[0].t)
                tensor.name = node.output[0]
                graph.initializer.append(tensor)
                graph.node.remove(node)
        self.initializers = {tensor.name: tensor for tensor in graph.initializer}

    # --- lookups ---

    def constant(self, name: str) -> np.ndarray | None:
        tensor = self.initializers.get(name)
        return None if tensor is None else numpy_helper.to_array(tensor)

    def set_constant(self, name: str, value: np.ndarray) -> None:
        tensor = numpy_helper.from_array(value.astype(np.float32), name)
        if name in self.initializers:
            self.initializers[name].CopyFrom(tensor)
        else:
            self.graph.initializer.append(tensor)
            # the repeated field holds a copy: keep a handle on the one in the graph
            self.initializers[name] = self.graph.initializer[-1]

    def readers(self) -> dict[str, list[onnx.NodeProto]]:
        found: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for node in self.graph.node:
            for name in node.input:
                found[name].append(node)
        return found

    def producers(self) -> dict[str, onnx.NodeProto]:
        return {name: node for node in self.graph.node for name in node.output}

    def scalar_operand(self, node: onnx.NodeProto) -> tuple[str, float] | None:
        """(the variable input, the constant) of a two-input node with one scalar constant input."""
        if len(node.input) != 2:
            return None
        first, second = node.input
        for variable, constant in ((first, second), (second, first)):
            value = self.constant(constant)
            if value is not None and value.size == 1 and self.constant(variable) is None:
                return variable, float(value.ravel()[0])
        return None

    def single_reader(self, name: str, readers: dict[str, list[onnx.NodeProto]]) -> bool:
        return len(readers[name]) == 1 and name not in self.outputs

    def rename_input(self, old: str, new: str) -> None:
        for node in self.graph.node:
            for index, name in enumerate(node.input):
                if name == old:
                    node.input[index] = new

    def conv_parameters(
        self, conv: onnx.NodeProto, readers: dict[str, list[onnx.NodeProto]]
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """A convolution's weights and bias, if this convolution alone reads them."""
        weights = self.constant(conv.input[1]) if len(conv.input) > 1 else None
        if weights is None or len(readers[conv.input[1]]) != 1:
            return None
        if len(conv.input) > 2 and conv.input[2]:
            bias = self.constant(conv.input[2])
            if bias is None or len(readers[conv.input[2]]) != 1:
                return None
            return weights, bias
        return weights, np.zeros(weights.shape[0], np.float32)

    def set_conv_parameters(self, conv: onnx.NodeProto, weights: np.ndarray, bias: np.ndarray) -> None:
        self.set_constant(conv.input[1], weights)
        if len(conv.input) > 2 and conv.input[2]:
            self.set_constant(conv.input[2], bias)
        else:
            name = f"{conv.name or conv.output[0]}__bias"
            self.set_constant(name, bias)
            if len(conv.input) == 2:
                conv.input.append(name)
            else:
                conv.input[2] = name

    # --- rewrites (each returns whether it changed the graph) ---

    def fold_affine_into_producing_conv(self) -> bool:
        readers, producers = self.readers(), self.producers()
        for node in self.graph.node:
            if node.op_type not in ("Mul", "Add"):
                continue
            operand = self.scalar_operand(node)
            if operand is None:
                continue
            variable, value = operand
            conv = producers.get(variable)
            if conv is None or conv.op_type != "Conv" or not self.single_reader(variable, readers):
                continue
            if node.output[0] in self.outputs:
                continue
            parameters = self.conv_parameters(conv, readers)
            if parameters is None:
                continue
            weights, bias = parameters
            if node.op_type == "Mul":
                weights, bias = weights * value, bias * value
            else:
                bias = bias + value
            self.set_conv_parameters(conv, weights, bias)
            self.rename_input(node.output[0], variable)
            self.graph.node.remove(node)
            return True
        return False

    def replace_hardswish(self) -> bool:
        readers = self.readers()
        for plus_three in self.graph.node:
            if plus_three.op_type != "Add":
                continue
            operand = self.scalar_operand(plus_three)
            if operand is None or operand[1] != 3.0:
                continue
            x = operand[0]
            clip = self._only_reader(plus_three.output[0], "Clip", readers)
            if clip is None or not self._is_clip(clip, 0.0, 6.0):
                continue
            times_x = self._only_reader(clip.output[0], "Mul", readers)
            if times_x is None or sorted(times_x.input) != sorted([x, clip.output[0]]):
                continue
            over_six = self._only_reader(times_x.output[0], "Div", readers)
            if over_six is None or over_six.input[0] != times_x.output[0]:
                continue
            six = self.constant(over_six.input[1])
            if six is None or six.size != 1 or float(six.ravel()[0]) != 6.0:
                continue
            gate_name = f"{plus_three.output[0]}__hardsigmoid"
            gate = helper.make_node(
                "HardSigmoid", [x], [gate_name], name=gate_name, alpha=1.0 / 6.0, beta=0.5
            )
            product = helper.make_node(
                "Mul", [x, gate_name], [over_six.output[0]], name=f"{over_six.output[0]}__hardswish"
            )
            position = list(self.graph.node).index(plus_three)
            for node in (plus_three, clip, times_x, over_six):
                self.graph.node.remove(node)
            self.graph.node.insert(position, product)
            self.graph.node.insert(position, gate)
            return True
        return False

    def fold_affine_into_next_convs(self) -> tuple[int, int]:
        """``Mul(s) -> Add(b) -> Conv...``: returns (fully folded, scale folded and one Add kept)."""
        folded = scale_only = 0
        readers = self.readers()
        for scale_node in list(self.graph.node):
            if scale_node.op_type != "Mul":
                continue
            operand = self.scalar_operand(scale_node)
            if operand is None or operand[1] == 0.0 or not self.single_reader(scale_node.output[0], readers):
                continue
            x, scale = operand
            shift_node = readers[scale_node.output[0]][0]
            shift_operand = self.scalar_operand(shift_node) if shift_node.op_type == "Add" else None
            if shift_operand is None or shift_node.output[0] in self.outputs:
                continue
            shift = shift_operand[1]
            convs = readers[shift_node.output[0]]
            if not convs or any(c.op_type != "Conv" or c.input[0] != shift_node.output[0] for c in convs):
                continue
            parameters = [self.conv_parameters(conv, readers) for conv in convs]
            if any(p is None for p in parameters):
                continue
            unpadded = all(_unpadded(conv) for conv in convs)
            for conv, found in zip(convs, parameters, strict=True):
                assert found is not None
                weights, bias = found
                weights = weights * scale
                if unpadded:
                    # conv(x + c) = conv(x) + c * (sum of each output channel's weights)
                    bias = bias + (shift / scale) * weights.reshape(weights.shape[0], -1).sum(axis=1)
                    conv.input[0] = x
                self.set_conv_parameters(conv, weights, bias)
            self.graph.node.remove(scale_node)
            if unpadded:
                self.graph.node.remove(shift_node)
                folded += 1
            else:
                # y = s * (x + b/s): the scale is in the convolutions, the shift stays as one Add
                shift_name = f"{shift_node.output[0]}__shift"
                self.set_constant(shift_name, np.array([shift / scale], np.float32))
                shift_node.input[0], shift_node.input[1] = x, shift_name
                scale_only += 1
            readers = self.readers()
        return folded, scale_only

    def drop_unused_initializers(self) -> None:
        used = {name for node in self.graph.node for name in node.input}
        used |= self.outputs
        for tensor in list(self.graph.initializer):
            if tensor.name not in used:
                self.graph.initializer.remove(tensor)

    # --- helpers ---

    def _only_reader(
        self, name: str, op_type: str, readers: dict[str, list[onnx.NodeProto]]
    ) -> onnx.NodeProto | None:
        if not self.single_reader(name, readers) or readers[name][0].op_type != op_type:
            return None
        return readers[name][0]

    def _is_clip(self, node: onnx.NodeProto, low: float, high: float) -> bool:
        if len(node.input) != 3:
            return False
        values = []
        for name in node.input[1:]:
            bound = self.constant(name)
            if bound is None or bound.size != 1:
                return False
            values.append(float(bound.ravel()[0]))
        return values == [low, high]


def _unpadded(conv: onnx.NodeProto) -> bool:
    """True when the convolution reads no padding (explicit pads all zero, no automatic padding)."""
    for attribute in conv.attribute:
        if attribute.name == "pads" and any(attribute.ints):
            return False
        if attribute.name == "auto_pad" and attribute.s not in (b"", b"NOTSET", b"VALID"):
            return False
    return True
