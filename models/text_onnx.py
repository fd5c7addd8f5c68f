"""The text tower on ONNX Runtime: the same MiniLM weights and pooling, about twice as fast per post.

On one CPU thread, PyTorch's eager BERT spends much of a short post's time between operators
(Python dispatch, one kernel per elementwise op); ONNX Runtime runs the same graph with its
operators fused. The tower is exported from the loaded checkpoint when :class:`Moderator` starts
(about 2 s, in memory: nothing is written to disk or downloaded, and the session does not keep the
exported bytes, models/onnx_sessions.py), so it always matches the checkpoint's weights, including
its fine-tuned top layers. Outputs equal PyTorch's to about 1e-6 (float rounding;
tests/models/test_text_onnx.py bounds it). docs/performance.md has the timings.
"""

from __future__ import annotations

import io
import logging
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from .onnx_sessions import cpu_session_from_bytes

if TYPE_CHECKING:
    from .architecture import ModerationModel

logger = logging.getLogger(__name__)

#: ONNX opset of the exported graph (supported by the onnxruntime versions this project pins).
OPSET = 17


class _TextTower(torch.nn.Module):
    """encode_text as a module, so the exporter traces exactly what scoring runs."""

    def __init__(self, model: ModerationModel) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model.encode_text(input_ids, attention_mask)


class OnnxTokenTower:
    """A module from ``(input_ids, attention_mask)`` to one or more ``(batch, dim)`` outputs,
    exported at load and run by ONNX Runtime."""

    def __init__(
        self,
        module: torch.nn.Module,
        *,
        outputs: Sequence[str] = ("embeddings",),
        threads: int | None = None,
        name: str = "tower",
    ) -> None:
        """``outputs``: names of the module's outputs, in order; ``threads``: onnxruntime
        intra-op threads (None: all cores)."""
        import onnxruntime

        started = time.perf_counter()
        graph = export_token_module(module, outputs=outputs)
        options = onnxruntime.SessionOptions()
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or 0
        options.inter_op_num_threads = 1
        # Spinning threads would take CPU the OCR lane needs while they wait for work.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = cpu_session_from_bytes(graph, options)
        logger.info("%s on onnxruntime ready in %.1f s", name, time.perf_counter() - started)

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The module's outputs, each (batch, dim)."""
        outputs = self._session.run(
            None,
            {
                "input_ids": input_ids.numpy().astype(np.int64, copy=False),
                "attention_mask": attention_mask.numpy().astype(np.int64, copy=False),
            },
        )
        return tuple(torch.from_numpy(output) for output in outputs)


class OnnxTextTower(OnnxTokenTower):
    """The checkpoint's text tower computed by ONNX Runtime: its sentence embeddings, and with
    ``categories`` the example-defined categories' embeddings from the same pass
    (models/categories/embedding.py)."""

    def __init__(
        self, model: ModerationModel, *, threads: int | None = None, categories: bool = False
    ) -> None:
        if categories:
            from .categories.embedding import TextAndCategoryTower

            super().__init__(
                TextAndCategoryTower(model),
                outputs=("embeddings", "category_embeddings"),
                threads=threads,
                name="text tower (with the category embedding)",
            )
        else:
            super().__init__(_TextTower(model), threads=threads, name="text tower")


def export_text_tower(model: ModerationModel) -> bytes:
    """The ONNX graph (bytes) of ``model.encode_text`` with dynamic batch and sequence length."""
    return export_token_module(_TextTower(model))


def export_token_module(module: torch.nn.Module, *, outputs: Sequence[str] = ("embeddings",)) -> bytes:
    """The ONNX graph (bytes) of a module from ``(input_ids, attention_mask)`` to the
    ``(batch, dim)`` ``outputs``, with dynamic batch and sequence length."""
    tower = module.eval()
    # Any two short inputs: the shapes are dynamic, the values only drive the trace.
    input_ids = torch.tensor([[101, 7592, 2088, 102], [101, 2023, 102, 0]], dtype=torch.long)
    attention_mask = (input_ids != 0).long()
    buffer = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript-based exporter warns that it is deprecated in favour of the dynamo one,
        # which needs onnxscript (not a dependency); it still exports this model exactly.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            tower,
            (input_ids, attention_mask),
            buffer,  # type: ignore[arg-type]  # a file object is accepted (not in torch's annotation)
            input_names=["input_ids", "attention_mask"],
            output_names=list(outputs),
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                **{output: {0: "batch"} for output in outputs},
            },
            opset_version=OPSET,
            dynamo=False,
        )
    return buffer.getvalue()
