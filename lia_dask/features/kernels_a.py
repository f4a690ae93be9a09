"""Feature kernels k = 0..27 of the MicroLIA 2.8.1 set (``FEATURES.md`` §2.0-§2.27).

Contract (``agent_notes/FEATURES_SPLIT.md``): ``f_<name>(t, x, s, weighted, order) -> float``;
``t, x, s`` contiguous float64 arrays of one lightcurve as the feature receives them, ``order``
the int64 ``numpy.argsort(x)`` permutation (tie order of the reference, §1.9.1). Kernels never
raise; NaN where the value is undefined (inf is turned into NaN by the driver).
"""
from __future__ import annotations

import math

import numpy as np

from .common import (
    kernel, mean, median_sorted, np_interp, percentile_sorted, safe_weights, std1, take_sorted,
    var0, weighted_mean_var, wp_cumulative, wsum,
)
from .kernels_a_values import (  # k = 12..27
    f_above1, f_above3, f_above5, f_abs_energy, f_abs_sum_changes, f_amplitude, f_auto_corr, f_below1, f_below3, f_below5, f_benford_correlation, f_c3, f_check_for_duplicate, f_check_for_max_duplicate, f_check_for_min_duplicate, f_check_max_last_loc,
)

_SQRT1_2 = 0.7071067811865476
_EPS = 2.220446049250313e-16


# ------------------------------------------------------------------ special functions
@kernel
def _ndtr(a):
    """Standard normal CDF (cephes ``ndtr`` rule: erf near 0, erfc in the tails)."""
    x = a * _SQRT1_2
    z = abs(x)
    if z < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(z)
    if x > 0:
        return 1.0 - y
    return y


@kernel
def _log_ndtr(a):
    """log Φ(a) accurate in the lower tail (SciPy ``log_ndtr``)."""
    if np.isnan(a):
        return np.nan
    t = a * _SQRT1_2
    if a < -1.0:
        y = -t
        if y < 25.0:
            return math.log(math.erfc(y) / 2.0)
        # erfc(y) = exp(-y²)·erfcx(y); asymptotic series of erfcx for large y
        y2 = y * y
        inv = 1.0 / (2.0 * y2)
        term = 1.0
        ser = 1.0
        for k in range(1, 12):
            term *= -(2.0 * k - 1.0) * inv
            ser += term
        erfcx = ser / (y * math.sqrt(math.pi))
        return math.log(erfcx / 2.0) - y2
    return math.log1p(-math.erfc(t) / 2.0)


# ------------------------------------------------------------------ k = 0
@kernel
def f_AndersonDarling(t, x, s, weighted, order):
    """Logistic of the Anderson–Darling A² for normality: ``1/(1+exp(-10(A²-0.3)))``.

    U: SciPy ``anderson(x, 'norm')`` (mean, std ddof=1, log_ndtr). W: z from μ_w, v_w
    (mean/var0 if S_w = 0), c = clip(Φ(z), eps, 1-eps), ``A² = -n - Σ(2k-1)[ln c_k + log1p(-c_{n+1-k})]/n``.
    Minimum n: 2 (U and W); constant x -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return np.nan
    xs = take_sorted(x, order)
    acc = 0.0
    if weighted:
        w = safe_weights(s)
        mu, v, sw = weighted_mean_var(x, w)
        if sw == 0.0:
            mu = mean(x)
            v = var0(x)
        sd = np.sqrt(v)
        c = np.empty(n, np.float64)
        for k in range(n):
            p = _ndtr((xs[k] - mu) / sd)
            if p < _EPS:
                p = _EPS
            elif p > 1.0 - _EPS:
                p = 1.0 - _EPS
            c[k] = p
        for k in range(n):
            acc += (2.0 * (k + 1) - 1.0) * (math.log(c[k]) + math.log1p(-c[n - 1 - k]))
        a2 = -n - acc / n
    else:
        xbar = mean(x)
        sd = std1(x)
        for k in range(n):
            zk = (xs[k] - xbar) / sd
            zr = (xs[n - 1 - k] - xbar) / sd
            acc += (2.0 * (k + 1) - 1.0) / n * (_log_ndtr(zk) + _log_ndtr(-zr))
        a2 = -n - acc
    return 1.0 / (1.0 + np.exp(-10.0 * (a2 - 0.3)))


# ------------------------------------------------------------------ k = 1..5
@kernel
def _flux_percentile_ratio(x, s, weighted, order, plo, phi):
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = safe_weights(s)
        xs, ws, c, sw = wp_cumulative(x, w, order)
        if sw == 0.0:
            return np.nan
        num = np_interp(phi, c, xs) - np_interp(plo, c, xs)
        den = np_interp(0.95, c, xs) - np_interp(0.05, c, xs)
    else:
        xs = take_sorted(x, order)
        num = percentile_sorted(xs, phi * 100) - percentile_sorted(xs, plo * 100)
        den = percentile_sorted(xs, 95.0) - percentile_sorted(xs, 5.0)
    if den == 0.0:
        return np.nan
    return num / den


@kernel
def f_FluxPercentileRatioMid20(t, x, s, weighted, order):
    """(P60 − P40)/(P95 − P5); W uses WP. Minimum n: 2 (denominator 0 -> NaN)."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.40, 0.60)


@kernel
def f_FluxPercentileRatioMid35(t, x, s, weighted, order):
    """(P67.5 − P32.5)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.325, 0.675)


@kernel
def f_FluxPercentileRatioMid50(t, x, s, weighted, order):
    """(P75 − P25)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.25, 0.75)


@kernel
def f_FluxPercentileRatioMid65(t, x, s, weighted, order):
    """(P82.5 − P17.5)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.175, 0.825)


@kernel
def f_FluxPercentileRatioMid80(t, x, s, weighted, order):
    """(P90 − P10)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.10, 0.90)


# ------------------------------------------------------------------ k = 6
@kernel
def _wp_sub(xs, ws, a, b, q):
    """WP(q) over the already sorted slice [a, b) (no re-sort); NaN if empty or weight 0."""
    if b <= a:
        return np.nan
    sw = 0.0
    for k in range(a, b):
        sw += ws[k]
    if sw == 0.0:
        return np.nan
    m = b - a
    c = np.empty(m, np.float64)
    acc = 0.0
    for k in range(m):
        acc += ws[a + k]
        c[k] = acc / sw
    return np_interp(q, c, xs[a:b])


@kernel
def f_Gskew(t, x, s, weighted, order):
    """med(x ≤ P3) + med(x ≥ P97) − 2·med(x); W: the same with WP on one sort. Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = safe_weights(s)
        xs, ws, c, sw = wp_cumulative(x, w, order)
        if sw == 0.0:
            return np.nan
        p3 = np_interp(0.03, c, xs)
        m = np_interp(0.5, c, xs)
        p97 = np_interp(0.97, c, xs)
        lo_end = 0
        while lo_end < n and xs[lo_end] <= p3:
            lo_end += 1
        hi_start = n
        while hi_start > 0 and xs[hi_start - 1] >= p97:
            hi_start -= 1
        mq3 = _wp_sub(xs, ws, 0, lo_end, 0.5)
        mq97 = _wp_sub(xs, ws, hi_start, n, 0.5)
        return mq3 + mq97 - 2 * m
    xs = take_sorted(x, order)
    m = median_sorted(xs)
    p3 = percentile_sorted(xs, 3.0)
    p97 = percentile_sorted(xs, 97.0)
    lo_end = 0
    while lo_end < n and xs[lo_end] <= p3:
        lo_end += 1
    hi_start = n
    while hi_start > 0 and xs[hi_start - 1] >= p97:
        hi_start -= 1
    return median_sorted(xs[:lo_end]) + median_sorted(xs[hi_start:]) - 2 * m


# ------------------------------------------------------------------ k = 7
@kernel
def _ols_slope(t, x):
    n = t.shape[0]
    tb = mean(t)
    xb = mean(x)
    sxy = 0.0
    sxx = 0.0
    for i in range(n):
        dt = t[i] - tb
        sxy += dt * (x[i] - xb)
        sxx += dt * dt
    if sxx == 0.0:
        return np.nan
    return (sxy / n) / (sxx / n)


@kernel
def f_LinearTrend(t, x, s, weighted, order):
    """Slope of x against t: OLS (U); Σw(t−t̄_w)(x−x̄_w)/Σw(t−t̄_w)² (W, OLS if S_w = 0). Minimum n: 2."""
    n = x.shape[0]
    if n < 2:
        return np.nan
    if weighted:
        w = safe_weights(s)
        sw = wsum(w)
        if sw > 0.0:
            swt = 0.0
            swx = 0.0
            for i in range(n):
                swt += w[i] * t[i]
                swx += w[i] * x[i]
            tb = swt / sw
            xb = swx / sw
            num = 0.0
            den = 0.0
            for i in range(n):
                dt = t[i] - tb
                num += w[i] * dt * (x[i] - xb)
                den += w[i] * dt * dt
            if not den > 0.0:
                return np.nan
            return num / den
    return _ols_slope(t, x)


# ------------------------------------------------------------------ k = 8
@kernel
def f_MaxSlope(t, x, s, weighted, order):
    """U: max |Δx/Δt| over valid pairs; W: Σω|Δx/Δt|/Σω with ω = 1/(σ_i²+σ_{i+1}²). Minimum n: 2."""
    n = x.shape[0]
    if n < 2:
        return np.nan
    best = -np.inf
    num = 0.0
    den = 0.0
    nvalid = 0
    for i in range(n - 1):
        dt = t[i + 1] - t[i]
        sl = abs((x[i + 1] - x[i]) / dt)
        if dt != 0.0 and np.isfinite(sl):
            nvalid += 1
            if weighted:
                om = 1.0 / (s[i] * s[i] + s[i + 1] * s[i + 1])
                num += om * sl
                den += om
            elif sl > best:
                best = sl
    if nvalid == 0:
        return np.nan
    if weighted:
        return num / den
    return best


# ------------------------------------------------------------------ k = 9
@kernel
def f_PairSlopeTrend(t, x, s, weighted, order):
    """Rising fraction of the last ≤ 30 points' steps: U #{d>0}/#d; W Σ_{d>0}ω/Σ_{d≠0}ω. Minimum n: 2."""
    n = x.shape[0]
    if n < 2:
        return np.nan
    a = n - 30 if n > 30 else 0
    m = n - a - 1
    if weighted:
        wp = 0.0
        wn = 0.0
        for i in range(a, n - 1):
            d = x[i + 1] - x[i]
            om = 1.0 / (s[i] * s[i] + s[i + 1] * s[i + 1])
            if d > 0:
                wp += om
            elif d < 0:
                wn += om
        tot = wp + wn
        if not tot > 0.0:
            return np.nan
        return wp / tot
    cnt = 0
    for i in range(a, n - 1):
        if x[i + 1] - x[i] > 0:
            cnt += 1
    return cnt / m


# ------------------------------------------------------------------ k = 10, 11
@kernel
def f_PercentAmplitude(t, x, s, weighted, order):
    """max|x − m|/m with m = med (U) or WM (W; NaN if S_w = 0). Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = safe_weights(s)
        xs, ws, c, sw = wp_cumulative(x, w, order)
        if sw == 0.0:
            return np.nan
        m = np_interp(0.5, c, xs)
    else:
        m = median_sorted(take_sorted(x, order))
    best = -np.inf
    for i in range(n):
        d = abs(x[i] - m)
        if d > best or np.isnan(d):
            best = d
            if np.isnan(d):
                break
    return best / m


@kernel
def f_PercentDifferenceFluxPercentile(t, x, s, weighted, order):
    """(P95 − P5)/med (U); (WP(.95) − WP(.05))/WP(.5) (W). Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = safe_weights(s)
        xs, ws, c, sw = wp_cumulative(x, w, order)
        if sw == 0.0:
            return np.nan
        return (np_interp(0.95, c, xs) - np_interp(0.05, c, xs)) / np_interp(0.5, c, xs)
    xs = take_sorted(x, order)
    return (percentile_sorted(xs, 95.0) - percentile_sorted(xs, 5.0)) / median_sorted(xs)


FEATURES = {
    "AndersonDarling": f_AndersonDarling,
    "FluxPercentileRatioMid20": f_FluxPercentileRatioMid20,
    "FluxPercentileRatioMid35": f_FluxPercentileRatioMid35,
    "FluxPercentileRatioMid50": f_FluxPercentileRatioMid50,
    "FluxPercentileRatioMid65": f_FluxPercentileRatioMid65,
    "FluxPercentileRatioMid80": f_FluxPercentileRatioMid80,
    "Gskew": f_Gskew,
    "LinearTrend": f_LinearTrend,
    "MaxSlope": f_MaxSlope,
    "PairSlopeTrend": f_PairSlopeTrend,
    "PercentAmplitude": f_PercentAmplitude,
    "PercentDifferenceFluxPercentile": f_PercentDifferenceFluxPercentile,
    "above1": f_above1,
    "above3": f_above3,
    "above5": f_above5,
    "abs_energy": f_abs_energy,
    "abs_sum_changes": f_abs_sum_changes,
    "amplitude": f_amplitude,
    "auto_corr": f_auto_corr,
    "below1": f_below1,
    "below3": f_below3,
    "below5": f_below5,
    "benford_correlation": f_benford_correlation,
    "c3": f_c3,
    "check_for_duplicate": f_check_for_duplicate,
    "check_for_max_duplicate": f_check_for_max_duplicate,
    "check_for_min_duplicate": f_check_for_min_duplicate,
    "check_max_last_loc": f_check_max_last_loc,
}

#: features computed outside numba (none in this module)
OBJECT_MODE: dict = {}
