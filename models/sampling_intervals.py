"""Bootstrap intervals: how far a number measured on a few hundred test posts could move on
another draw of posts of the same kind.

The report's targets are checked on test sets of 125 to 4,368 posts, and several verdicts sit a
hair from their targets (a macro-F1 0.002 short, a recall gap measured on 150 memes). An interval
says whether a verdict is settled by the data or could flip on another sample, which is what an
adoption decision between two retrains needs to know before it reads a difference as real.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist

import numpy as np

#: Resamples per interval: enough for stable 2.5 / 97.5 percentiles (to about ±0.003 on a rate).
RESAMPLES = 1000
LEVEL = 0.95


def bootstrap_interval(
    statistic: Callable[[np.ndarray], float],
    size: int,
    *,
    strata: np.ndarray | None = None,
    resamples: int = RESAMPLES,
    level: float = LEVEL,
    seed: int,
) -> tuple[float, float]:
    """The percentile interval of ``statistic`` over resamples of the items ``0..size-1``.

    ``statistic`` receives an array of item indices (drawn with replacement), so a statistic of
    several arrays that describe the same items (a post as a caption and as an image) resamples
    them together: a paired interval. With ``strata`` (one value per item) each stratum is
    resampled within itself and keeps its size, for statistics defined per group (the worst
    functionality of the suite). Resamples where the statistic is undefined (NaN: an AUROC drawn
    with one class only) are left out.
    """
    if size <= 0:
        raise ValueError(f"bootstrap_interval needs at least one item, got size={size}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level}")
    if strata is not None and len(strata) != size:
        raise ValueError(f"strata has {len(strata)} values for {size} items")
    rng = np.random.default_rng(seed)
    groups = [np.arange(size)] if strata is None else [np.flatnonzero(strata == s) for s in np.unique(strata)]
    values = np.array(
        [
            statistic(np.concatenate([group[rng.integers(0, len(group), len(group))] for group in groups]))
            for _ in range(resamples)
        ],
        dtype=float,
    )
    values = values[~np.isnan(values)]
    if not len(values):
        return (float("nan"), float("nan"))
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return (float(low), float(high))


def wilson_interval(successes: int, trials: int, *, level: float = LEVEL) -> tuple[float, float]:
    """The Wilson score interval of a proportion. Used for plain rates instead of the bootstrap,
    whose interval collapses to [0, 0] when no post was flagged (0 of 420 is not proof of 0 %)."""
    if trials <= 0:
        raise ValueError(f"wilson_interval needs at least one trial, got {trials}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and {trials}, got {successes}")
    z = float(NormalDist().inv_cdf(0.5 + level / 2))
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    # At 0 (or all) successes the ends are exactly 0 (or 1); centre - half would leave float dust.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return (low, high)
