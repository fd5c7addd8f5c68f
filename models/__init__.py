"""postguard's fused image+text moderation classifier.

Public surface: :class:`Moderator` (load a checkpoint, score posts), :class:`PostContent`,
:class:`ModerationResult`, :class:`ModerationConfig`, :class:`ModerationModel`. Heavy imports
(torch, transformers) happen when these are first used, not when ``models`` is imported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .types import MODALITIES, ModerationResult, PostContent

if TYPE_CHECKING:
    from .architecture import ModerationModel
    from .config import ModerationConfig
    from .inference import Moderator

__all__ = [
    "MODALITIES",
    "ModerationConfig",
    "ModerationModel",
    "ModerationResult",
    "Moderator",
    "PostContent",
]


def __getattr__(name: str) -> Any:
    if name == "Moderator":
        from .inference import Moderator

        return Moderator
    if name == "ModerationConfig":
        from .config import ModerationConfig

        return ModerationConfig
    if name == "ModerationModel":
        from .architecture import ModerationModel

        return ModerationModel
    raise AttributeError(name)
