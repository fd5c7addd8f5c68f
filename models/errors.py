"""Errors raised by the classifier package. One base class; each error names what a caller did wrong."""

from __future__ import annotations


class ModelError(Exception):
    """Base class of every error raised by ``models``."""

    #: A short, stable, machine-readable code (used as the dead-letter reason and a metric label).
    code: str = "model_error"


class InputError(ModelError, ValueError):
    """The post given to the classifier is not something it can score."""

    code = "invalid_input"


class TextTooLongError(InputError):
    """The text is longer than the configured maximum number of characters."""

    code = "text_too_long"


class EmptyPostError(InputError):
    """The post has neither text nor image."""

    code = "empty_post"


class ImageError(InputError):
    """The image could not be used."""

    code = "image_invalid"


class CorruptImageError(ImageError):
    """The image bytes are empty, truncated or not a decodable image."""

    code = "image_corrupt"


class UnsupportedImageFormatError(ImageError):
    """The image is in a format outside the allowlist (JPEG, PNG, WebP, GIF)."""

    code = "image_unsupported_format"


class ImageTooLargeError(ImageError):
    """The image claims more pixels than allowed (decompression-bomb guard)."""

    code = "image_too_large"


class CheckpointError(ModelError):
    """A checkpoint directory is missing files, has a wrong checksum or an incompatible config."""

    code = "checkpoint_invalid"
