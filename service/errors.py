"""Errors of the service. One base class; each error says what went wrong and what to do."""

from __future__ import annotations


class PostguardError(Exception):
    """Base class of every error raised by ``service``."""


class ConfigError(PostguardError):
    """A setting is missing or invalid; the message names the environment variable."""


class PostRejected(PostguardError):
    """A message cannot be decided and goes to the dead-letter topic.

    ``code`` is a short stable identifier (the DLQ header ``postguard-error`` and the metric label
    ``reason``); ``reason`` is the human-readable explanation (header ``postguard-reason``).
    """

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class InfrastructureError(PostguardError):
    """A broker or database could not be started, reached or used: PostgreSQL not answering or
    not migrated at start, or a demo/test server (devtools.embedded) failing to start."""


class ModelUnavailable(PostguardError):
    """The model fails on a known-good post as well as on the post at hand: the fault is the model's
    (or the machine's), not the post's, so the post must be retried, not dead-lettered."""


class ReviewError(PostguardError):
    """A review-workflow operation cannot be done (the message says why); base of the three below."""


class ReviewNotFound(ReviewError):
    """The review item, post or moderator named does not exist."""


class ReviewConflict(ReviewError):
    """The item is not in a state that allows the operation (e.g. claimed by someone else)."""


class ModeratorRejected(ReviewError):
    """A moderator account is disabled, lacks the role, or a new password is too weak."""
