"""Feature kernels of helper C's range (k = 56..83) that are moments, Stetson indices and
successive-difference statistics: root_mean_squared, skewness, std_over_mean, stetsonJ/K/L,
sum_values, symmetry_looking, time_reversal_asymmetry(_normalized), variance,
variance_larger_than_standard_deviation, variation_coefficient, vonNeumannRatio.

The registry takes them from :data:`lia_dask.features.kernels_c.FEATURES`, which lists all 28
features of the range; this module only splits the source along its topic.

Every kernel follows the contract of ``lia_dask.features``: ``f_<name>(t, x, s, weighted, order)``
with ``t, x, s`` contiguous float64 arrays of shape (n,) (times in days, values and errors in the
units of the pass, see ``shared/spec/FEATURES.md`` §1.3/§1.4), ``weighted`` the ``apply_weights``
flag (W) or not (U), and ``order`` the int64 permutation ``numpy.argsort(x)`` (default kind)
computed by the caller. Each returns one float64, NaN where the value is undefined (inf may be
returned; the driver turns it into NaN). Kernels never raise.

Notation in the docstrings: Δx_i = x_{i+1} - x_i; w_i the safe inverse-variance weights (1/σ_i²,
0 where σ_i <= 0 or non-finite); S_w = Σ w_i; μ_w, v_w, s_w = √v_w the population weighted mean,
variance and standard deviation; med the NumPy median; WM the weighted median (§1.7); std₀/var₀
the population (ddof = 0) standard deviation/variance.
"""
from __future__ import annotations

import math

import numpy as np

from .common import (
    kernel,
    mean,
    median_sorted,
    safe_weights,
    take_sorted,
    var0,
    weighted_mean_var,
    weighted_median,
)

NAN = np.nan


@kernel
def _med(x, order):
    """np.median(x) using the caller's sort permutation."""
    return median_sorted(take_sorted(x, order))


@kernel
def _w_moments(x, s, weighted):
    """(mean, variance): W -> (μ_w, v_w) when S_w > 0; U or S_w = 0 -> (mean, var₀)."""
    if weighted:
        mu, v, sw = weighted_mean_var(x, safe_weights(s))
        if sw > 0.0:
            return mu, v
    return mean(x), var0(x)


@kernel
def f_root_mean_squared(t, x, s, weighted, order):
    """Standard deviation about the mean (not the RMS): U std₀(x); W s_w (std₀ if S_w = 0).

    n = 0 -> NaN.
    """
    if x.shape[0] == 0:
        return NAN
    mu, v = _w_moments(x, s, weighted)
    return math.sqrt(v) if v >= 0.0 else NAN


@kernel
def f_skewness(t, x, s, weighted, order):
    """Skewness. n < 3 -> NaN.

    U: scipy ``skew(x, bias=False)`` = √(n(n-1))/(n-2) · m3/m2^1.5 (central moments m_k);
    NaN when m2 <= (eps·|mean|)². W: S_w = 0 -> NaN; v_w = 0 -> 0.0; else
    (Σw(x-μ_w)³/S_w) / v_w^1.5 (biased).
    """
    n = x.shape[0]
    if n < 3:
        return NAN
    if weighted:
        w = safe_weights(s)
        mu, v, sw = weighted_mean_var(x, w)
        if sw == 0.0:
            return NAN
        if v == 0.0:
            return 0.0
        acc = 0.0
        for i in range(n):
            d = x[i] - mu
            acc += w[i] * (d * d * d)
        return (acc / sw) / v ** 1.5
    mu = mean(x)
    m2 = 0.0
    m3 = 0.0
    for i in range(n):
        d = x[i] - mu
        m2 += d * d
        m3 += d * d * d
    m2 /= n
    m3 /= n
    eps = 2.220446049250313e-16 * abs(mu)
    if m2 <= eps * eps:
        return NAN
    return math.sqrt((n - 1.0) * n) / (n - 2.0) * m3 / m2 ** 1.5


@kernel
def f_std_over_mean(t, x, s, weighted, order):
    """Coefficient of variation: U std₀(x)/mean(x); W s_w/μ_w (U if S_w = 0).

    n = 0 -> NaN; zero mean -> ±inf/NaN.
    """
    if x.shape[0] == 0:
        return NAN
    mu, v = _w_moments(x, s, weighted)
    return math.sqrt(v) / mu


@kernel
def _stetson_delta(x, s, order):
    n = x.shape[0]
    m = _med(x, order)
    f = math.sqrt(n / (n - 1.0))
    d = np.empty(n)
    for i in range(n):
        d[i] = f * (x[i] - m) / s[i]
    return d


@kernel
def _stetson_j(x, s, order):
    n = x.shape[0]
    if n < 2:
        return NAN
    d = _stetson_delta(x, s, order)
    acc = 0.0
    for i in range(n - 1):
        p = d[i] * d[i + 1]
        acc += np.sign(p) * math.sqrt(abs(p))
    return acc / (n - 1)


@kernel
def _stetson_k(x, s, order):
    n = x.shape[0]
    if n < 2:
        return NAN
    d = _stetson_delta(x, s, order)
    sa = 0.0
    s2 = 0.0
    for i in range(n):
        sa += abs(d[i])
        s2 += d[i] * d[i]
    return (sa / n) / math.sqrt(s2 / n)


@kernel
def f_stetsonJ(t, x, s, weighted, order):
    """Stetson J about the median; errors always used (W = U).

    δ_i = √(n/(n-1)) (x_i - med x)/σ_i, P_i = δ_i δ_{i+1}; J = Σ sign(P)√|P| / (n-1). n < 2 -> NaN.
    """
    return _stetson_j(x, s, order)


@kernel
def f_stetsonK(t, x, s, weighted, order):
    """Stetson K: (Σ|δ_i|/n) / √(Σδ_i²/n), δ as in stetsonJ (W = U). n < 2 -> NaN."""
    return _stetson_k(x, s, order)


@kernel
def f_stetsonL(t, x, s, weighted, order):
    """Stetson L = J·K/0.798 if J and K are finite, else NaN (W = U). n < 2 -> NaN."""
    j = _stetson_j(x, s, order)
    k = _stetson_k(x, s, order)
    if np.isfinite(j) and np.isfinite(k):
        return j * k / 0.798
    return NAN


@kernel
def f_sum_values(t, x, s, weighted, order):
    """The mean (not a sum): U Σx/n; W μ_w (mean if S_w = 0). n = 0 -> NaN."""
    if x.shape[0] == 0:
        return NAN
    if weighted:
        mu, v, sw = weighted_mean_var(x, safe_weights(s))
        if sw != 0.0:
            return mu
    return mean(x)


@kernel
def f_symmetry_looking(t, x, s, weighted, order):
    """1.0 if |centre - median| < 0.5 (max x - min x), else 0.0.

    U: |mean - med|; W (S_w > 0, else U): |μ_w - WM|. Range 0 -> 1.0; n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    rng = x[order[n - 1]] - x[order[0]]
    if rng == 0.0:
        return 1.0
    if weighted:
        w = safe_weights(s)
        mu, v, sw = weighted_mean_var(x, w)
        if sw > 0.0:
            return 1.0 if abs(mu - weighted_median(x, w, order)) < 0.5 * rng else 0.0
    return 1.0 if abs(mean(x) - _med(x, order)) < 0.5 * rng else 0.0


@kernel
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


@kernel
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


@kernel
def f_variance(t, x, s, weighted, order):
    """U var₀(x); W v_w (var₀ if S_w = 0). n = 0 -> NaN."""
    if x.shape[0] == 0:
        return NAN
    mu, v = _w_moments(x, s, weighted)
    return v


@kernel
def f_variance_larger_than_standard_deviation(t, x, s, weighted, order):
    """1.0 if v > √v (i.e. v > 1) with v = variance (same flag), else 0.0; v not finite -> NaN."""
    v = f_variance(t, x, s, weighted, order)
    if not np.isfinite(v):
        return NAN
    return 1.0 if v > math.sqrt(v) else 0.0


@kernel
def f_variation_coefficient(t, x, s, weighted, order):
    """U std₀(x)/mean(x); W s_w/μ_w (U if S_w = 0); mean exactly 0 -> NaN. n = 0 -> NaN."""
    if x.shape[0] == 0:
        return NAN
    mu, v = _w_moments(x, s, weighted)
    if mu == 0.0:
        return NAN
    return math.sqrt(v) / mu


@kernel
def f_vonNeumannRatio(t, x, s, weighted, order):
    """Mean squared successive difference over the variance. n < 2 -> NaN.

    U: mean(Δx²)/var₀(x) (zero variance -> inf/NaN). W: p_i = √(w_i w_{i+1}); Σp = 0 -> U;
    else (Σ p Δx² / Σ p) / v_w, +inf if v_w <= 0.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    if weighted:
        w = safe_weights(s)
        sp = 0.0
        spd = 0.0
        for i in range(n - 1):
            p = math.sqrt(w[i] * w[i + 1])
            d = x[i + 1] - x[i]
            sp += p
            spd += p * (d * d)
        if sp != 0.0:
            mu, v, sw = weighted_mean_var(x, w)
            if v > 0.0:
                return (spd / sp) / v
            return np.inf
    acc = 0.0
    for i in range(n - 1):
        d = x[i + 1] - x[i]
        acc += d * d
    return (acc / (n - 1)) / var0(x)
