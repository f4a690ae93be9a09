"""Stetson and variability indices, normality tests: Stetson J / K / L, von Neumann ratio, Anderson-
Darling, Shapiro-Wilk.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import math

import numpy as np

from .common import given_moments, given_weights, kernel, mean, std1, var0
from .order_stats import given_median, given_sorted
from .special import _ndtr, log_ndtr, shapiro_w
from .registry import feature

NAN = np.nan
_EPS = 2.220446049250313e-16


@kernel
def _stetson_scale(x):
    """√(n/(n-1)), the factor of the Stetson residuals δ_i = √(n/(n-1)) (x_i - med x)/σ_i; n >= 2."""
    n = x.shape[0]
    return math.sqrt(n / (n - 1.0))


@kernel
def _stetson_j(x, s, order, med=None):
    n = x.shape[0]
    if n < 2:
        return NAN
    m = given_median(x, order, med)
    f = _stetson_scale(x)
    acc = 0.0
    d0 = f * (x[0] - m) / s[0]  # δ_i computed as it is used (no array of residuals)
    for i in range(n - 1):
        d1 = f * (x[i + 1] - m) / s[i + 1]
        p = d0 * d1
        acc += np.sign(p) * math.sqrt(abs(p))
        d0 = d1
    return acc / (n - 1)


@kernel
def _stetson_k(x, s, order, med=None):
    n = x.shape[0]
    if n < 2:
        return NAN
    m = given_median(x, order, med)
    f = _stetson_scale(x)
    sa = 0.0
    s2 = 0.0
    for i in range(n):
        d = f * (x[i] - m) / s[i]
        sa += abs(d)
        s2 += d * d
    return (sa / n) / math.sqrt(s2 / n)


@feature("stetsonJ", index=72, series="normalised", needs_order=True, needs=("median",))
def f_stetsonJ(t, x, s, weighted, order, med=None):
    """Stetson J about the median; errors always used (W = U).

    δ_i = √(n/(n-1)) (x_i - med x)/σ_i, P_i = δ_i δ_{i+1}; J = Σ sign(P)√|P| / (n-1). n < 2 -> NaN.
    """
    return _stetson_j(x, s, order, med)


@feature("stetsonK", index=73, series="normalised", needs_order=True, needs=("median",))
def f_stetsonK(t, x, s, weighted, order, med=None):
    """Stetson K: (Σ|δ_i|/n) / √(Σδ_i²/n), δ as in stetsonJ (W = U). n < 2 -> NaN."""
    return _stetson_k(x, s, order, med)


@feature("stetsonL", index=74, series="normalised", needs_order=True, needs=("median",))
def f_stetsonL(t, x, s, weighted, order, med=None):
    """Stetson L = J·K/0.798 if J and K are finite, else NaN (W = U). n < 2 -> NaN."""
    j = _stetson_j(x, s, order, med)
    k = _stetson_k(x, s, order, med)
    if np.isfinite(j) and np.isfinite(k):
        return j * k / 0.798
    return NAN


@feature("vonNeumannRatio", index=82, series="normalised", needs_order=False, needs=("weights", "moments"))
def f_vonNeumannRatio(t, x, s, weighted, order, w=None, m=None):
    """Mean squared successive difference over the variance. n < 2 -> NaN.

    U: mean(Δx²)/var₀(x) (zero variance -> inf/NaN). W: p_i = √(w_i w_{i+1}); Σp = 0 -> U;
    else (Σ p Δx² / Σ p) / v_w, +inf if v_w <= 0.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    if weighted:
        w = given_weights(s, w)
        sp = 0.0
        spd = 0.0
        for i in range(n - 1):
            p = math.sqrt(w[i] * w[i + 1])
            d = x[i + 1] - x[i]
            sp += p
            spd += p * (d * d)
        if sp != 0.0:
            mu, v, sw = given_moments(x, w, m)
            if v > 0.0:
                return (spd / sp) / v
            return np.inf
    acc = 0.0
    for i in range(n - 1):
        d = x[i + 1] - x[i]
        acc += d * d
    return (acc / (n - 1)) / var0(x)


@feature("AndersonDarling", index=0, series="normalised", needs_order=True, needs=("weights", "moments", "sorted"))
def f_AndersonDarling(t, x, s, weighted, order, w=None, m=None, xs=None):
    """Logistic of the Anderson–Darling A² for normality: ``1/(1+exp(-10(A²-0.3)))``.

    U: SciPy ``anderson(x, 'norm')`` (mean, std ddof=1, log_ndtr). W: z from μ_w, v_w
    (mean/var0 if S_w = 0), c = clip(Φ(z), eps, 1-eps), ``A² = -n - Σ(2k-1)[ln c_k + log1p(-c_{n+1-k})]/n``.
    Minimum n: 2 (U and W); constant x -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return np.nan
    xs = given_sorted(x, order, xs)
    acc = 0.0
    if weighted:
        w = given_weights(s, w)
        mu, v, sw = given_moments(x, w, m)
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
            acc += (2.0 * (k + 1) - 1.0) / n * (log_ndtr(zk) + log_ndtr(-zr))
        a2 = -n - acc
    return 1.0 / (1.0 + np.exp(-10.0 * (a2 - 0.3)))


@feature("shapiro_wilk", index=69, series="normalised", needs_order=True)
def f_shapiro_wilk(t, x, s, weighted, order):
    """Shapiro-Wilk W, ``scipy.stats.shapiro(x)[0]`` (AS R94, AS 111 quantiles); W = U.

    n < 3 -> NaN; range < 1e-19 (constant) -> 1.0; n = 3 clamped to >= 0.75.
    """
    return shapiro_w(x, order)
