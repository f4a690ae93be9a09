"""Feature kernels of helper B's range (k = 28..55) built on successive differences and time
steps: complexity, integrate, mean_abs_change, mean_change, mean_second_derivative,
median_distance.

The registry takes them from :data:`lia_dask.features.kernels_b.FEATURES`, which lists all 28
features of the range; this module only splits the source along its topic.

Contract and notation as in :mod:`lia_dask.features.kernels_b`: ``f_<name>(t, x, s, weighted,
order) -> float`` on contiguous float64 arrays of shape (n,); never raises; NaN where undefined.
Δx_i = x_{i+1} - x_i, Δt_i = t_{i+1} - t_i (i = 1..n-1), w_i the safe inverse-variance weights.
"""
from __future__ import annotations

import numpy as np

from lia_dask.features.common import kernel, median, safe_weights

NAN = np.nan


@kernel
def f_complexity(t, x, s, weighted, order):
    """RMS of successive differences.

    U: ``sqrt(mean(Δx_i²))``. W: ω_i = w_i (safe weight of the *first* point of each pair),
    ``sqrt(Σ ω_i Δx_i² / Σ ω_i)``; U if Σω = 0. n < 2 -> NaN.
    """
    n = x.shape[0]
    if n < 2:
        return NAN
    if weighted:
        w = safe_weights(s)
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


@kernel
def f_integrate(t, x, s, weighted, order):
    """Trapezoidal integral ``Σ (t_{i+1} - t_i)·(x_i + x_{i+1})/2`` (W = U). n <= 1 -> 0.0."""
    acc = 0.0
    for i in range(x.shape[0] - 1):
        acc += (t[i + 1] - t[i]) * (x[i] + x[i + 1]) / 2.0
    return acc


@kernel
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


@kernel
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


@kernel
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


@kernel
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
                d[k] = np.sqrt(q / v)
                k += 1
        else:
            d[k] = np.sqrt(q)
            k += 1
    if k == 0:
        return NAN
    return median(d[:k])
