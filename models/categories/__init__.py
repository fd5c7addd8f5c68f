"""Categories defined by example: small heads on the checkpoint's text tower.

A platform adds a category without a dataset: positive and negative example posts
(:mod:`.examples`) are embedded by the checkpoint's text tower, from the hidden states it computes
for its own categories (:mod:`.embedding`), a logistic head is
fit with thresholds set precision-first (:mod:`.head`, :mod:`.define`), and the heads live in a
versioned, checksummed bundle (:mod:`.bundle`) that the service scores beside the checkpoint.
"""

from .bundle import BundleError, CategoryBundle, load_bundle, save_category, verify_bundle
from .embedding import CategoryEmbedder
from .examples import CategoryExample, ExamplesError, read_examples
from .head import CategoryHead

__all__ = [
    "BundleError",
    "CategoryBundle",
    "CategoryEmbedder",
    "CategoryExample",
    "CategoryHead",
    "ExamplesError",
    "load_bundle",
    "read_examples",
    "save_category",
    "verify_bundle",
]
