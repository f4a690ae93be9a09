"""Moments: mean, spread, skewness, kurtosis and the statistics built from them.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import math

import numpy as np

from .common import given_moments, given_weights, mean, mean_var, std0
from .order_stats import median_ordered, weighted_median
from .registry import feature

NAN = np.nan


@feature("meanMag", index=48, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_meanMag(t, x, s, weighted, order, w=None, m=None):
    """Mean: ``mean(x)`` (U) or μ_w = ``Σ w x / S_w`` (W; mean(x) if S_w = 0). n = 0 -> NaN."""
    if weighted:
        mu, v, sw = given_moments(x, given_weights(s, w), m)
        if sw != 0.0:
            return mu
    return mean(x)


@feature("root_mean_squared", index=66, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_root_mean_squared(t, x, s, weighted, order, w=None, m=None):
    """Standard deviation about the mean (not the RMS): U std₀(x); W s_w (std₀ if S_w = 0).

    n = 0 -> NaN.
    """
    if x.shape[0] == 0:
        return NAN
    mu, v = mean_var(x, s, weighted, w, m)
    return math.sqrt(v) if v >= 0.0 else NAN


@feature("skewness", index=70, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_skewness(t, x, s, weighted, order, w=None, m=None):
    """Skewness. n < 3 -> NaN.

    U: scipy ``skew(x, bias=False)`` = √(n(n-1))/(n-2) · m3/m2^1.5 (central moments m_k);
    NaN when m2 <= (eps·|mean|)². W: S_w = 0 -> NaN; v_w = 0 -> 0.0; else
    (Σw(x-μ_w)³/S_w) / v_w^1.5 (biased).
    """
    n = x.shape[0]
    if n < 3:
        return NAN
    if weighted:
        w = given_weights(s, w)
        mu, v, sw = given_moments(x, w, m)
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


@feature("kurtosis", index=44, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_kurtosis(t, x, s, weighted, order, w=None, m=None):
    """Excess kurtosis ``m4/m2² - 3``.

    U (SciPy, bias=True): central moments about the mean; NaN if m2 <= (eps·mean)².
    W: ``(Σ w (x-μ_w)⁴ / S_w) / v_w² - 3``; S_w = 0 -> NaN; v_w = 0 -> 0.0. n < 4 -> NaN.
    """
    n = x.shape[0]
    if n < 4:
        return NAN
    if weighted:
        w = given_weights(s, w)
        mu, v, sw = given_moments(x, w, m)
        if sw == 0.0:
            return NAN
        if v == 0.0:
            return 0.0
        m4 = 0.0
        for i in range(n):
            d = x[i] - mu
            d2 = d * d
            m4 += w[i] * (d2 * d2)
        return (m4 / sw) / (v * v) - 3.0
    mu = mean(x)
    m2 = 0.0
    m4 = 0.0
    for i in range(n):
        d = x[i] - mu
        d2 = d * d
        m2 += d2
        m4 += d2 * d2
    m2 /= n
    m4 /= n
    if m2 <= (np.finfo(np.float64).eps * mu) ** 2:
        return NAN
    return m4 / (m2 * m2) - 3.0


@feature("variance", index=79, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_variance(t, x, s, weighted, order, w=None, m=None):
    """U var₀(x); W v_w (var₀ if S_w = 0). n = 0 -> NaN."""
    if x.shape[0] == 0:
        return NAN
    mu, v = mean_var(x, s, weighted, w, m)
    return v


@feature("variance_larger_than_standard_deviation", index=80, series="normalised", needs_order=False, needs=("weights",))
def f_variance_larger_than_standard_deviation(t, x, s, weighted, order, w=None):
    """1.0 if v > √v (i.e. v > 1), else 0.0, with v = ``variance`` (U var₀, W v_w); v not finite -> NaN."""
    if x.shape[0] == 0:
        return NAN
    mu, v = mean_var(x, s, weighted, w)  # f_variance's value, without the order it does not read
    if not np.isfinite(v):
        return NAN
    return 1.0 if v > math.sqrt(v) else 0.0


@feature("std_over_mean", index=71, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_std_over_mean(t, x, s, weighted, order, w=None, m=None):
    """Coefficient of variation: U std₀(x)/mean(x); W s_w/μ_w (U if S_w = 0).

    n = 0 -> NaN; zero mean -> ±inf/NaN.
    """
    if x.shape[0] == 0:
        return NAN
    mu, v = mean_var(x, s, weighted, w, m)
    return math.sqrt(v) / mu


@feature("variation_coefficient", index=81, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_variation_coefficient(t, x, s, weighted, order, w=None, m=None):
    """U std₀(x)/mean(x); W s_w/μ_w (U if S_w = 0); mean exactly 0 -> NaN. n = 0 -> NaN."""
    if x.shape[0] == 0:
        return NAN
    mu, v = mean_var(x, s, weighted, w, m)
    if mu == 0.0:
        return NAN
    return math.sqrt(v) / mu


@feature("sum_values", index=75, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_sum_values(t, x, s, weighted, order, w=None, m=None):
    """The mean (not a sum): U Σx/n; W μ_w (mean if S_w = 0). n = 0 -> NaN."""
    if x.shape[0] == 0:
        return NAN
    if weighted:
        mu, v, sw = given_moments(x, given_weights(s, w), m)
        if sw != 0.0:
            return mu
    return mean(x)


@feature("abs_energy", index=15, series="normalised", needs_order=False, needs=("weights",))
def f_abs_energy(t, x, s, weighted, order, w=None):
    """Σx² (U); Σw x² with safe weights (W). n = 0 -> 0.0."""
    acc = 0.0
    if weighted:
        w = given_weights(s, w)
        for i in range(x.shape[0]):
            acc += w[i] * (x[i] * x[i])
    else:
        for i in range(x.shape[0]):
            acc += x[i] * x[i]
    return acc


@feature("large_standard_deviation", index=45, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_large_standard_deviation(t, x, s, weighted, order, w=None, m=None):
    """1.0 if ``std > 0.3·(max(x) - min(x))`` else 0.0.

    std = std₀(x) (U) or s_w = sqrt(v_w) (W; std₀ if S_w = 0). n = 0 -> NaN; range 0 -> 0.0.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    rng = np.max(x) - np.min(x)
    if rng == 0.0:
        return 0.0
    sd = NAN
    if weighted:
        mu, v, sw = given_moments(x, given_weights(s, w), m)
        if sw != 0.0:
            sd = np.sqrt(v)
    if not weighted or np.isnan(sd):
        sd = std0(x)
    return 1.0 if sd > 0.3 * rng else 0.0


@feature("symmetry_looking", index=76, series="normalised", needs_order=True, needs=("weights", "moments", "wp"))
def f_symmetry_looking(t, x, s, weighted, order, w=None, m=None, wp=None):
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
        w = given_weights(s, w)
        mu, v, sw = given_moments(x, w, m)
        if sw > 0.0:
            return 1.0 if abs(mu - weighted_median(x, w, order, wp)) < 0.5 * rng else 0.0
    return 1.0 if abs(mean(x) - median_ordered(x, order)) < 0.5 * rng else 0.0
