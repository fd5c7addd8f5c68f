"""onnxruntime sessions built from a graph held in memory, without keeping that graph alive.

Two of the model's ONNX graphs are made in memory when it loads: the text tower, exported from the
checkpoint (models/text_onnx.py), and RapidOCR's detector and recogniser after their exact
simplification (models/ocr_graph.py). onnxruntime's Python ``InferenceSession`` keeps the bytes it
was built from for as long as the session lives (``_model_bytes``; onnxruntime's own source calls
this "holding the memory indefinitely"). It reads them again only to rebuild the session on a
fallback execution provider after a provider failure, which a CPU-only session never has. For the
text tower that copy is ~90 MB of a service's resident memory doing nothing (docs/performance.md),
so the sessions made here drop it once the session is built.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import onnxruntime

#: The only execution provider these sessions use (and the reason no fallback ever needs the graph).
PROVIDERS = ["CPUExecutionProvider"]


def cpu_session_from_bytes(graph: bytes, options: onnxruntime.SessionOptions) -> onnxruntime.InferenceSession:
    """A CPU session on the serialized ONNX ``graph`` that does not keep ``graph`` referenced."""
    import onnxruntime

    session = onnxruntime.InferenceSession(graph, sess_options=options, providers=PROVIDERS)
    # The attribute exists in every onnxruntime release this project supports; should a future one
    # stop holding the bytes, there is nothing to drop and the session works the same.
    if getattr(session, "_model_bytes", None) is not None:
        session._model_bytes = None
    return session
