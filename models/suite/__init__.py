"""postguard's functional test suite for hate-speech classification: a benchmark, not a pytest test.

Each case is a short post built from a template written for this project (our own wording,
nothing copied from published suites) and tests one *functionality*: something a hate
classifier must get right, such as hate phrased as a question, hate behind a disguised slur,
counter-speech that quotes hate, or swearing that is offensive but not hateful. Scores are
reported per functionality by ``python -m models.evaluate``.

Every case carries one of three labels, and a prediction (the set of categories that fired)
passes when:

- ``hateful``: the ``hate`` category fired;
- ``non_hateful_offensive``: ``hate`` did not fire (``offensive``/``toxic`` may: profanity
  without hate, abuse of individuals, objects or non-protected groups, still-profane reclaimed
  slurs);
- ``benign``: no category fired (neutral or positive mentions of groups, negated hate,
  counter-speech, slur homonyms, bland captions).

Cases are grouped by template: anything that trains on part of the suite must split on
``FunctionalCase.split_group`` (the template id, with obfuscated cases mapped back to their
source template), never on cases, or near-identical sentences leak across the split.
"""

from __future__ import annotations

from ..data.obfuscation import KINDS as OBFUSCATION_KINDS
from ..data.obfuscation import obfuscate
from .cases import LABELS, FunctionalCase, build_suite, passes
from .identities import NON_PROTECTED_GROUPS, PROTECTED_GROUPS, SLURS, IdentityGroup, Slur
from .templates import BLAND_CAPTIONS, FUNCTIONALITIES, TEMPLATES, Functionality, Template

__all__ = [
    "BLAND_CAPTIONS",
    "FUNCTIONALITIES",
    "LABELS",
    "NON_PROTECTED_GROUPS",
    "OBFUSCATION_KINDS",
    "PROTECTED_GROUPS",
    "SLURS",
    "TEMPLATES",
    "FunctionalCase",
    "Functionality",
    "IdentityGroup",
    "Slur",
    "Template",
    "build_suite",
    "obfuscate",
    "passes",
]
