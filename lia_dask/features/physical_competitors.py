"""The competitors of the point lens without non-linear parameters (numba, pure): polynomials and harmonics.

``t, f, w`` : float64 arrays, shape (n,): times (days), normalised fluxes and weights ``1/σ²`` of one
lightcurve. The FRED outburst, the competitor with non-linear parameters, shares the point lens's
machinery (:mod:`lia_dask.features.physical_fit`, :func:`lia_dask.features.physical_search.fred_grid`).
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel
from .physical_fit import solve3


@kernel
def poly_chi2(t, f, w, deg, tmid, half):
    """χ² of the weighted LSQ polynomial of degree ``deg`` (<= 2) in ``(t - tmid)/half`` (days / days)."""
    k = deg + 1
    a = np.zeros((3, 3))
    b = np.zeros(3)
    p = np.empty(3)
    for i in range(len(t)):
        x = (t[i] - tmid) / half
        p[0], p[1], p[2] = 1.0, x, x * x
        for r in range(k):
            b[r] += w[i] * p[r] * f[i]
            for c in range(k):
                a[r, c] += w[i] * p[r] * p[c]
    for r in range(k, 3):
        a[r, r] = 1.0
    coef = solve3(a, b)
    if not np.all(np.isfinite(coef)):
        return np.inf
    chi2 = 0.0
    for i in range(len(t)):
        x = (t[i] - tmid) / half
        r = f[i] - (coef[0] + coef[1] * x + coef[2] * x * x)
        chi2 += w[i] * r * r
    return chi2


@kernel
def harmonic_chi2(t, f, w, freq):
    """χ² of a constant plus two harmonics at ``freq`` (1/d), weighted LSQ (5 coefficients)."""
    n = len(t)
    k = 5
    a = np.zeros((k, k))
    b = np.zeros(k)
    p = np.empty(k)
    for i in range(n):
        ph = 2.0 * math.pi * freq * t[i]
        p[0], p[1], p[2], p[3], p[4] = 1.0, math.cos(ph), math.sin(ph), math.cos(2 * ph), math.sin(2 * ph)
        for r in range(k):
            b[r] += w[i] * p[r] * f[i]
            for c in range(k):
                a[r, c] += w[i] * p[r] * p[c]
    for r in range(k):
        a[r, r] *= 1.0 + 1e-10
    coef = np.linalg.solve(a, b)
    chi2 = 0.0
    for i in range(n):
        ph = 2.0 * math.pi * freq * t[i]
        m = coef[0] + coef[1] * math.cos(ph) + coef[2] * math.sin(ph) + coef[3] * math.cos(2 * ph) \
            + coef[4] * math.sin(2 * ph)
        r = f[i] - m
        chi2 += w[i] * r * r
    return chi2
