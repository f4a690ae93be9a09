"""Order statistics of the feature kernels (``lia_dask.features.order_stats``): the exact shortcuts.

Each shortcut (a selection instead of a sort, roots of the middle values only) is checked bit for
bit against the plain computation on values with ties, signed zeros, ±inf and NaN.
"""
from __future__ import annotations

import numpy as np

from lia_dask.features.order_stats import batch_medians, median_of_sqrt, median_ordered, median_sorted


def test_medians_by_selection_are_the_argsort_medians_bit_for_bit():
    """``batch_medians`` gives ``median_ordered(x, numpy.argsort(x))`` wherever it does not ask for the sort.

    Values drawn from {±0, ±1, 2, 0.5, ±inf, NaN} (ties, signed zeros, NaN) and from 7 normal
    values; the objects it flags (a zero median) are the only ones where the sign of a zero may differ.
    """
    rng = np.random.default_rng(21)
    flagged = 0
    for trial in range(60):
        lens = rng.integers(0, 40, 50)
        off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
        pool = (np.array([0.0, -0.0, 1.0, -1.0, 2.0, np.inf, -np.inf, 0.5, np.nan]) if trial % 2
                else rng.normal(size=7))
        x = rng.choice(pool, off[-1])
        med, redo = batch_medians(off, x)
        for i in range(len(lens)):
            v = x[off[i]:off[i + 1]]
            ref = np.float64(median_ordered(v, v.argsort()))
            if redo[i]:
                flagged += 1
                assert ref == 0.0
            else:
                assert ref.view(np.uint64) == med[i].view(np.uint64), (trial, i, v, ref, med[i])
    assert flagged > 20


def test_median_of_sqrt_is_the_median_of_the_roots_bit_for_bit():
    """√ is non-decreasing, so the middle values of √q are the roots of q's middle values (ties, NaN, inf)."""
    rng = np.random.default_rng(22)
    for trial in range(3000):
        n = int(rng.integers(1, 30))
        pool = (np.array([0.0, 1.0, 2.0, 0.25, 1e-300, 1e300, np.inf, np.nan]) if trial % 2
                else rng.uniform(0, 3, 6) ** 3)
        q = rng.choice(pool, n)
        want = np.float64(median_sorted(np.sort(np.sqrt(q))))
        got = np.float64(median_of_sqrt(q))
        assert want.view(np.uint64) == got.view(np.uint64) or (np.isnan(want) and np.isnan(got)), (q, want, got)
