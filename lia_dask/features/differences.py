"""Differences and slopes: successive differences, slopes against time, trends, autocorrelation, time-
reversal asymmetry, cumulative sums.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import math

import numpy as np

from .common import given_moments, given_sw, given_weights, kernel, mean, pearson, std0
from .order_stats import given_median, median_of_sqrt
from .registry import feature

NAN = np.nan


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


@feature("LinearTrend", index=7, series="normalised", needs_order=False, needs=("weights", "sw"))
def f_LinearTrend(t, x, s, weighted, order, w=None, sw=None):
    """Slope of x against t: OLS (U); Σw(t−t̄_w)(x−x̄_w)/Σw(t−t̄_w)² (W, OLS if S_w = 0). Minimum n: 2."""
    n = x.shape[0]
    if n < 2:
        return np.nan
    if weighted:
        w = given_weights(s, w)
        sw = given_sw(w, sw)
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


@feature("MaxSlope", index=8, series="normalised", needs_order=False)
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


@feature("PairSlopeTrend", index=9, series="normalised", needs_order=False)
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


@feature("abs_sum_changes", index=16, series="normalised", needs_order=False)
def f_abs_sum_changes(t, x, s, weighted, order):
    """Σ|Δx| (U); Σ_{d>0}|Δx|/d with d = √(σ_i²+σ_{i+1}²) (W). n < 2 -> 0.0."""
    n = x.shape[0]
    acc = 0.0
    for i in range(n - 1):
        dx = abs(x[i + 1] - x[i])
        if weighted:
            d = np.sqrt(s[i] * s[i] + s[i + 1] * s[i + 1])
            if d > 0.0:
                acc += dx / d
        else:
            acc += dx
    return acc


@feature("mean_abs_change", index=49, series="normalised", needs_order=False)
def f_mean_abs_change(t, x, s, weighted, order):
    """Mean absolute successive difference.

    U: mean |Δx_i|. W: ω_i = 1/(σ_i + σ_{i+1}) (linear sum, unguarded), ``Σ ω |Δx| / Σ ω``;
    U if Σω = 0. n < 2 -> NaN.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    if weighted:
        num = 0.0
        den = 0.0
        for i in range(n - 1):
            w = 1.0 / (s[i] + s[i + 1])
            num += w * abs(x[i + 1] - x[i])
            den += w
        if den != 0.0:
            return num / den
    acc = 0.0
    for i in range(n - 1):
        acc += abs(x[i + 1] - x[i])
    return acc / (n - 1)


@feature("mean_change", index=50, series="normalised", needs_order=False)
def f_mean_change(t, x, s, weighted, order):
    """Mean successive difference.

    U: mean Δx_i. W: ω_i = 1/(σ_i² + σ_{i+1}²) (unguarded), ``Σ ω Δx / Σ ω``; U if Σω = 0.
    n < 2 -> NaN.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    if weighted:
        num = 0.0
        den = 0.0
        for i in range(n - 1):
            w = 1.0 / (s[i] * s[i] + s[i + 1] * s[i + 1])
            num += w * (x[i + 1] - x[i])
            den += w
        if den != 0.0:
            return num / den
    acc = 0.0
    for i in range(n - 1):
        acc += x[i + 1] - x[i]
    return acc / (n - 1)


@feature("mean_second_derivative", index=52, series="normalised", needs_order=False)
def f_mean_second_derivative(t, x, s, weighted, order):
    """Mean discrete second derivative on the irregular grid.

    d_i = (2/h)·((x_{i+1}-x_i)/h_f - (x_i-x_{i-1})/h_b), h_f = t_{i+1}-t_i, h_b = t_i-t_{i-1},
    h = t_{i+1}-t_{i-1}, over interior i with h_f, h_b, h > 0. U: mean d. W: ω_i =
    1/(σ_{i-1}² + σ_i² + σ_{i+1}²) (unguarded), ``Σ ω d / Σ ω`` over valid triplets with ω > 0
    (U if none). n < 3 or no valid triplet -> NaN.
    """
    n = x.shape[0]
    if n < 3:
        return NAN
    cnt = 0
    acc = 0.0
    wcnt = 0
    num = 0.0
    den = 0.0
    for i in range(1, n - 1):
        hf = t[i + 1] - t[i]
        hb = t[i] - t[i - 1]
        h = t[i + 1] - t[i - 1]
        if not (hf > 0.0 and hb > 0.0 and h > 0.0):
            continue
        d = (2.0 / h) * ((x[i + 1] - x[i]) / hf - (x[i] - x[i - 1]) / hb)
        cnt += 1
        acc += d
        if weighted:
            w = 1.0 / (s[i - 1] * s[i - 1] + s[i] * s[i] + s[i + 1] * s[i + 1])
            if w > 0.0:
                wcnt += 1
                num += w * d
                den += w
    if cnt == 0:
        return NAN
    if weighted and wcnt > 0:
        return num / den
    return acc / cnt


@feature("complexity", index=29, series="normalised", needs_order=False, needs=("weights",))
def f_complexity(t, x, s, weighted, order, w=None):
    """RMS of successive differences.

    U: ``sqrt(mean(Δx_i²))``. W: ω_i = w_i (safe weight of the *first* point of each pair),
    ``sqrt(Σ ω_i Δx_i² / Σ ω_i)``; U if Σω = 0. n < 2 -> NaN.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    if weighted:
        w = given_weights(s, w)
        num = 0.0
        den = 0.0
        for i in range(n - 1):
            d = x[i + 1] - x[i]
            num += w[i] * (d * d)
            den += w[i]
        if den != 0.0:
            return np.sqrt(num / den)
    acc = 0.0
    for i in range(n - 1):
        d = x[i + 1] - x[i]
        acc += d * d
    return np.sqrt(acc / (n - 1))


@feature("integrate", index=43, series="normalised", needs_order=False)
def f_integrate(t, x, s, weighted, order):
    """Trapezoidal integral ``Σ (t_{i+1} - t_i)·(x_i + x_{i+1})/2`` (W = U). n <= 1 -> 0.0."""
    acc = 0.0
    for i in range(x.shape[0] - 1):
        acc += (t[i + 1] - t[i]) * (x[i] + x[i + 1]) / 2.0
    return acc


@feature("c3", index=23, series="normalised", needs_order=False)
def f_c3(t, x, s, weighted, order):
    """mean(x_i x_{i+1} x_{i+2}) (U); Σωτ/Σω with ω = 1/(σ_i²+σ_{i+1}²+σ_{i+2}²) (W). Minimum n: 3."""
    n = x.shape[0]
    if n < 3:
        return np.nan
    acc = 0.0
    num = 0.0
    den = 0.0
    for i in range(n - 2):
        tau = x[i] * x[i + 1] * x[i + 2]
        acc += tau
        if weighted:
            om = 1.0 / (s[i] * s[i] + s[i + 1] * s[i + 1] + s[i + 2] * s[i + 2])
            num += om * tau
            den += om
    if weighted and den != 0.0:
        return num / den
    return acc / (n - 2)


@feature("auto_corr", index=18, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_auto_corr(t, x, s, weighted, order, w=None, m=None):
    """Lag-1 autocorrelation: Pearson(x[:-1], x[1:]) (U); Σp(x_i−μ)(x_{i+1}−μ)/Σw(x−μ)², p = √(w_i w_{i+1}) (W).

    Minimum n: 2 (U gives NaN at n = 2).
    """
    n = x.shape[0]
    if n < 2:
        return np.nan
    if weighted:
        w = given_weights(s, w)
        sp = 0.0
        for i in range(n - 1):
            sp += np.sqrt(w[i] * w[i + 1])
        if sp != 0.0:
            mu, v, sw = given_moments(x, w, m)
            num = 0.0
            for i in range(n - 1):
                num += np.sqrt(w[i] * w[i + 1]) * (x[i] - mu) * (x[i + 1] - mu)
            den = 0.0
            for i in range(n):
                d = x[i] - mu
                den += w[i] * (d * d)
            if not den > 0.0:
                return np.nan
            return num / den
    return pearson(x[:-1], x[1:])


@feature("time_reversal_asymmetry", index=77, series="normalised", needs_order=False)
def f_time_reversal_asymmetry(t, x, s, weighted, order):
    """Mean of τ_i = (x_{i+2} - x_i)(x_{i+1} - x_i), lag 1. n < 3 -> NaN.

    U: mean(τ). W: ω_i = 1/(σ_i² + σ_{i+1}² + σ_{i+2}²) (unguarded); Σωτ/Σω, mean(τ) if Σω = 0.
    """
    n = x.shape[0]
    if n < 3:
        return NAN
    m = n - 2
    st = 0.0
    swt = 0.0
    sw = 0.0
    for i in range(m):
        tau = (x[i + 2] - x[i]) * (x[i + 1] - x[i])
        st += tau
        if weighted:
            om = 1.0 / (s[i] * s[i] + s[i + 1] * s[i + 1] + s[i + 2] * s[i + 2])
            swt += om * tau
            sw += om
    if weighted and sw != 0.0:
        return swt / sw
    return st / m


@feature("time_reversal_asymmetry_normalized", index=78, series="normalised", needs_order=False)
def f_time_reversal_asymmetry_normalized(t, x, s, weighted, order):
    """⟨d³⟩/⟨d²⟩^1.5 with d_i = x_{i+3} - x_i. n < 4 -> NaN.

    U: plain means. W: ω_i = safe weight of ε_i = √(σ_{i+3}² + σ_i²), weighted means
    (NaN if Σω = 0). Denominator not > 0 (0 or NaN) -> 0.0.
    """
    n = x.shape[0]
    if n < 4:
        return NAN
    m = n - 3
    s2 = 0.0
    s3 = 0.0
    sw = 0.0
    for i in range(m):
        d = x[i + 3] - x[i]
        d2 = d * d
        if weighted:
            e = math.sqrt(s[i + 3] * s[i + 3] + s[i] * s[i])
            om = 1.0 / (e * e) if (np.isfinite(e) and e > 0.0) else 0.0
        else:
            om = 1.0
        sw += om
        s2 += om * d2
        s3 += om * (d2 * d)
    if sw == 0.0:
        return 0.0
    num = s3 / sw
    den = (s2 / sw) ** 1.5
    if den > 0.0:
        return num / den
    return 0.0


@feature("cusum", index=38, series="normalised", needs_order=True, needs=("weights", "median"))
def f_cusum(t, x, s, weighted, order, w=None, med=None):
    """Range of the normalised cumulative sum of deviations from the median.

    m = med(x) (both modes); scale U: std₀(x); W: ``sqrt(Σ w (x-m)² / S_w)`` about the median
    (std₀ if S_w = 0). c_k = Σ_{i<=k}(x_i - m) / (n·scale); result ``max c - min c``;
    scale = 0 -> 0.0. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    m = given_median(x, order, med)
    scale = NAN
    if weighted:
        w = given_weights(s, w)
        num = 0.0
        den = 0.0
        for i in range(n):
            d = x[i] - m
            num += w[i] * (d * d)
            den += w[i]
        if den != 0.0:
            scale = np.sqrt(num / den)
    if np.isnan(scale):
        scale = std0(x)
    if scale == 0.0:
        return 0.0
    norm = n * scale
    c = 0.0
    lo = np.inf
    hi = -np.inf
    for i in range(n):
        c += x[i] - m
        v = c / norm
        if v > hi:
            hi = v
        if v < lo:
            lo = v
    return hi - lo


@feature("median_distance", index=55, series="normalised", needs_order=False)
def f_median_distance(t, x, s, weighted, order):
    """Median Euclidean step length in the (t, x) plane.

    q_i = Δx_i² + Δt_i². U: ``med(√q_i)``. W: v_i = σ_i² + σ_{i+1}²,
    ``med(√(q_i / v_i))`` over pairs with v_i > 0 (none -> NaN). n < 2 -> NaN.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    d = np.empty(n - 1)
    k = 0
    for i in range(n - 1):
        dx = x[i + 1] - x[i]
        dt = t[i + 1] - t[i]
        q = dx * dx + dt * dt
        if weighted:
            v = s[i] * s[i] + s[i + 1] * s[i + 1]
            if v > 0.0:
                d[k] = q / v
                k += 1
        else:
            d[k] = q
            k += 1
    if k == 0:
        return NAN
    return median_of_sqrt(d[:k])  # the median of the √, with the roots of the middle values only
