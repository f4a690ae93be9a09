"""Residual statistics of the point-lens fit (numba, pure).

``z`` : float64, shape (n,): residuals of the fitted model in (rescaled) standard deviations, in time
order; ``base`` : bool, shape (n,): epochs on the baseline (outside the event).
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel


@kernel
def baseline_excursion(z, base, scale):
    """Largest excursion on the baseline: max over 3 consecutive baseline epochs of the smallest
    same-sign residual, in robust σ (``scale``). A second brightening (a recurrent outburst) or a
    dip gives a large value; isolated outliers do not (microlensing by a single lens does not repeat)."""
    best = 0.0
    if not scale > 0:
        return np.nan
    for i in range(len(z) - 2):
        if base[i] and base[i + 1] and base[i + 2]:
            lo = min(z[i], min(z[i + 1], z[i + 2]))
            hi = max(z[i], max(z[i + 1], z[i + 2]))
            best = max(best, max(lo, -hi))
    return best / scale


@kernel
def residual_stats(z):
    """(runs-test z, lag-1 autocorrelation, robust scale MAD/0.6745, fraction |z| > 4) of the residuals."""
    n = len(z)
    npos = 0
    runs = 1
    for i in range(n):
        if z[i] > 0:
            npos += 1
        if i > 0 and (z[i] > 0) != (z[i - 1] > 0):
            runs += 1
    nneg = n - npos
    if npos > 0 and nneg > 0:
        mu = 2.0 * npos * nneg / n + 1.0
        var = (mu - 1.0) * (mu - 2.0) / (n - 1.0)
        runs_z = (runs - mu) / math.sqrt(var) if var > 0 else 0.0
    else:
        runs_z = -math.sqrt(n)
    s2 = s1 = 0.0
    for i in range(n):
        s2 += z[i] * z[i]
        if i > 0:
            s1 += z[i] * z[i - 1]
    acf1 = s1 / s2 if s2 > 0 else 0.0
    mad = np.median(np.abs(z - np.median(z))) / 0.6744897501960817
    big = 0
    for i in range(n):
        if abs(z[i]) > 4.0:
            big += 1
    return runs_z, acf1, mad, big / n
