"""Feature kernels k = 12..27 of the MicroLIA 2.8.1 set: threshold fractions, sums, lag products,
first digits, duplicates and extreme positions (``FEATURES.md`` §2.12-§2.27).

Same contract as :mod:`lia_dask.features.kernels_a`, whose ``FEATURES`` table lists these too.
"""
from __future__ import annotations

import math

import numpy as np

from .common import (
    kernel, median_sorted, pearson, percentile_sorted, safe_weights, std0, step_percentile, take_sorted,
    weighted_mean_var, wsum,
)


# ------------------------------------------------------------------ k = 12..14, 19..21
@kernel
def _beyond(x, s, weighted, order, sgn):
    """Fraction of points with sgn·(x − med) > std0 (unweighted centre and scale)."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    m = median_sorted(take_sorted(x, order))
    sd = std0(x)
    if sd == 0.0:
        return 0.0
    cnt = 0
    wsel = 0.0
    for i in range(n):
        if sgn * (x[i] - m) > sd:
            cnt += 1
    if weighted:
        w = safe_weights(s)
        sw = wsum(w)
        if sw != 0.0:
            for i in range(n):
                if sgn * (x[i] - m) > sd:
                    wsel += w[i]
            return wsel / sw
    return cnt / n


@kernel
def f_above1(t, x, s, weighted, order):
    """Fraction with (x − med) > std0; W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, 1.0)


@kernel
def f_above3(t, x, s, weighted, order):
    """Fraction with 3(x − med) > std0 (σ/3 threshold, as published). Minimum n: 1."""
    return _beyond(x, s, weighted, order, 3.0)


@kernel
def f_above5(t, x, s, weighted, order):
    """Fraction with 5(x − med) > std0 (σ/5 threshold, as published). Minimum n: 1."""
    return _beyond(x, s, weighted, order, 5.0)


@kernel
def f_below1(t, x, s, weighted, order):
    """Fraction with −(x − med) > std0; W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, -1.0)


@kernel
def f_below3(t, x, s, weighted, order):
    """Fraction with −3(x − med) > std0. Minimum n: 1."""
    return _beyond(x, s, weighted, order, -3.0)


@kernel
def f_below5(t, x, s, weighted, order):
    """Fraction with −5(x − med) > std0. Minimum n: 1."""
    return _beyond(x, s, weighted, order, -5.0)


# ------------------------------------------------------------------ k = 15, 16
@kernel
def f_abs_energy(t, x, s, weighted, order):
    """Σx² (U); Σw x² with safe weights (W). n = 0 -> 0.0."""
    acc = 0.0
    if weighted:
        w = safe_weights(s)
        for i in range(x.shape[0]):
            acc += w[i] * (x[i] * x[i])
    else:
        for i in range(x.shape[0]):
            acc += x[i] * x[i]
    return acc


@kernel
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


# ------------------------------------------------------------------ k = 17
@kernel
def f_amplitude(t, x, s, weighted, order):
    """P99 − P1 (U); step percentiles WS(99) − WS(1) (W, U if S_w = 0). On un-normalised flux. Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    xs = take_sorted(x, order)
    if weighted:
        w = safe_weights(s)
        if wsum(w) > 0.0:
            ws = take_sorted(w, order)
            return step_percentile(xs, ws, 99.0) - step_percentile(xs, ws, 1.0)
    return percentile_sorted(xs, 99.0) - percentile_sorted(xs, 1.0)


# ------------------------------------------------------------------ k = 18
@kernel
def f_auto_corr(t, x, s, weighted, order):
    """Lag-1 autocorrelation: Pearson(x[:-1], x[1:]) (U); Σp(x_i−μ)(x_{i+1}−μ)/Σw(x−μ)², p = √(w_i w_{i+1}) (W).

    Minimum n: 2 (U gives NaN at n = 2).
    """
    n = x.shape[0]
    if n < 2:
        return np.nan
    if weighted:
        w = safe_weights(s)
        sp = 0.0
        for i in range(n - 1):
            sp += np.sqrt(w[i] * w[i + 1])
        if sp != 0.0:
            mu, v, sw = weighted_mean_var(x, w)
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


# ------------------------------------------------------------------ k = 22
@kernel
def f_benford_correlation(t, x, s, weighted, order):
    """Pearson r between first-digit frequencies of |x| and Benford's law (W: weighted counts). Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    dig = np.zeros(n, np.int64)
    nkeep = 0
    for i in range(n):
        a = abs(x[i])
        if np.isfinite(a) and a > 0.0:
            e = math.floor(math.log10(a))
            b = 10.0 ** float(e)
            d = int(math.floor(a / b))
            dig[i] = d
            if d > 0:
                nkeep += 1
    if nkeep == 0:
        return np.nan
    h = np.zeros(9, np.float64)
    use_w = False
    if weighted:
        w = safe_weights(s)
        swm = 0.0
        for i in range(n):
            if dig[i] > 0:
                swm += w[i]
        if swm != 0.0:
            use_w = True
            for i in range(n):
                d = dig[i]
                if 1 <= d <= 9:
                    h[d - 1] += w[i]
            tot = 0.0
            for j in range(9):
                tot += h[j]
            for j in range(9):
                h[j] = h[j] / tot
    if not use_w:
        for i in range(n):
            d = dig[i]
            if 1 <= d <= 9:
                h[d - 1] += 1.0
        for j in range(9):
            h[j] = h[j] / nkeep
    ben = np.empty(9, np.float64)
    for j in range(9):
        ben[j] = math.log10(1.0 + 1.0 / (j + 1))
    return pearson(ben, h)


# ------------------------------------------------------------------ k = 23
@kernel
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


# ------------------------------------------------------------------ k = 24..27
@kernel
def f_check_for_duplicate(t, x, s, weighted, order):
    """1.0 if two values are equal (U) or some pair has |x_j − x_i| ≤ 2√(σ_i²+σ_j²) (W), else 0.0."""
    n = x.shape[0]
    if n < 2:
        return 0.0
    xs = take_sorted(x, order)
    if not weighted:
        for k in range(n - 1):
            if xs[k + 1] == xs[k]:
                return 1.0
        return 0.0
    ss = take_sorted(s, order)
    smax = 0.0
    prune = True
    for k in range(n):
        sk = ss[k]
        if np.isnan(sk) or np.isinf(sk):
            prune = False
        elif abs(sk) > smax:
            smax = abs(sk)
    for k in range(n - 1):
        vk = ss[k] * ss[k]
        bound = 2.0 * np.sqrt(vk + smax * smax)
        for j in range(k + 1, n):
            d = xs[j] - xs[k]
            if prune and d > bound:
                break
            if abs(d) <= 2.0 * np.sqrt(vk + ss[j] * ss[j]):
                return 1.0
    return 0.0


@kernel
def _count_close(x, s, weighted, ref):
    """#{i : numpy.isclose(x_i, ref, rtol=0, atol=3σ_i (W) or 0 (U))} (isclose also counts x_i == ref)."""
    c = 0
    fin = np.isfinite(ref)
    for i in range(x.shape[0]):
        xi = x[i]
        if xi == ref:
            c += 1
        elif fin and weighted and abs(xi - ref) <= 3 * s[i]:
            c += 1
    return c


@kernel
def _last_close(x, s, weighted, ref):
    """Largest i with numpy.isclose(x_i, ref, rtol=0, atol=3σ_i (W) or 0 (U)); -1 if none."""
    fin = np.isfinite(ref)
    for i in range(x.shape[0] - 1, -1, -1):
        xi = x[i]
        if xi == ref or (fin and weighted and abs(xi - ref) <= 3 * s[i]):
            return i
    return -1


@kernel
def _extreme(x, want_max):
    m = x[0]
    for i in range(1, x.shape[0]):
        if np.isnan(x[i]):
            return np.nan
        if want_max:
            if x[i] > m:
                m = x[i]
        elif x[i] < m:
            m = x[i]
    return m


@kernel
def f_check_for_max_duplicate(t, x, s, weighted, order):
    """1.0 if more than one point is within τ_i of max(x) (τ = 3σ W, 0 U), else 0.0. n = 0 -> NaN."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    return 1.0 if _count_close(x, s, weighted, _extreme(x, True)) > 1 else 0.0


@kernel
def f_check_for_min_duplicate(t, x, s, weighted, order):
    """1.0 if more than one point is within τ_i of min(x) (τ = 3σ W, 0 U), else 0.0. n = 0 -> NaN."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    return 1.0 if _count_close(x, s, weighted, _extreme(x, False)) > 1 else 0.0


@kernel
def f_check_max_last_loc(t, x, s, weighted, order):
    """1 − j/n, j the last 0-based index within τ_j of max(x) (τ = 3σ W, 0 U). n = 0 -> NaN."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    j = _last_close(x, s, weighted, _extreme(x, True))
    if j < 0:
        return np.nan
    return 1.0 - j / n
