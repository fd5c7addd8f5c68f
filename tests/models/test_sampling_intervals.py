"""Bootstrap and Wilson intervals of models/sampling_intervals.py on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.sampling_intervals import bootstrap_interval, wilson_interval


def test_bootstrap_interval_of_a_rate_has_the_binomial_width() -> None:
    flags = np.r_[np.ones(200), np.zeros(200)]
    low, high = bootstrap_interval(lambda idx: float(flags[idx].mean()), len(flags), seed=1)
    # normal approximation: 0.5 ± 1.96 * sqrt(0.25 / 400) = 0.5 ± 0.049
    assert low == pytest.approx(0.451, abs=0.012)
    assert high == pytest.approx(0.549, abs=0.012)


def test_bootstrap_interval_is_reproducible_and_narrows_with_more_posts() -> None:
    small, large = np.tile([1.0, 0.0], 50), np.tile([1.0, 0.0], 2000)
    first = bootstrap_interval(lambda idx: float(small[idx].mean()), len(small), seed=7)
    assert bootstrap_interval(lambda idx: float(small[idx].mean()), len(small), seed=7) == first
    wide = first[1] - first[0]
    narrow = np.subtract(*bootstrap_interval(lambda idx: float(large[idx].mean()), len(large), seed=7)[::-1])
    assert narrow < wide / 4


def test_strata_keep_their_sizes_in_every_resample() -> None:
    strata = np.array(["a"] * 30 + ["b"] * 70)
    sizes: list[tuple[int, int]] = []

    def record(idx: np.ndarray) -> float:
        drawn = strata[idx]
        sizes.append((int((drawn == "a").sum()), int((drawn == "b").sum())))
        return 0.0

    bootstrap_interval(record, len(strata), strata=strata, resamples=50, seed=3)
    assert set(sizes) == {(30, 70)}


def test_resamples_where_the_statistic_is_undefined_are_left_out() -> None:
    labels = np.r_[np.ones(3), np.zeros(97)]  # some resamples draw no positive
    low, high = bootstrap_interval(
        lambda idx: float(labels[idx].mean()) if labels[idx].any() else math.nan, len(labels), seed=5
    )
    assert 0 < low <= high
    assert bootstrap_interval(lambda idx: math.nan, 10, seed=5) == (pytest.approx(math.nan, nan_ok=True),) * 2


def test_bootstrap_interval_rejects_impossible_arguments() -> None:
    with pytest.raises(ValueError, match="at least one item"):
        bootstrap_interval(lambda idx: 0.0, 0, seed=0)
    with pytest.raises(ValueError, match="strata has 2 values for 3 items"):
        bootstrap_interval(lambda idx: 0.0, 3, strata=np.array([0, 1]), seed=0)
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(lambda idx: 0.0, 3, level=1.5, seed=0)


def test_wilson_interval_matches_known_values() -> None:
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    # no post flagged out of 420: not [0, 0], the upper end is z^2 / (n + z^2)
    low, high = wilson_interval(0, 420)
    assert low == 0.0
    assert high == pytest.approx(1.959964**2 / (420 + 1.959964**2), rel=1e-6)
    assert wilson_interval(420, 420)[1] == pytest.approx(1.0)
    # exactly 0 and 1 at the edges, for every size (centre - half alone leaves float dust at some)
    assert all(wilson_interval(0, n)[0] == 0.0 and wilson_interval(n, n)[1] == 1.0 for n in range(1, 1000))


def test_wilson_interval_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and 10"):
        wilson_interval(11, 10)
