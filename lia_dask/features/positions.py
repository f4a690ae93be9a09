"""Positions and counts: where the extremes are, duplicates, recurring values, mass quantile.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import numpy as np

from .common import given_weights, kernel
from .order_stats import given_sorted, take_sorted
from .registry import feature

NAN = np.nan


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


@feature("check_for_duplicate", index=24, series="normalised", needs_order=True, needs=("sorted",))
def f_check_for_duplicate(t, x, s, weighted, order, xs=None):
    """1.0 if two values are equal (U) or some pair has |x_j − x_i| ≤ 2√(σ_i²+σ_j²) (W), else 0.0."""
    n = x.shape[0]
    if n < 2:
        return 0.0
    xs = given_sorted(x, order, xs)
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


@feature("check_for_max_duplicate", index=25, series="normalised", needs_order=False)
def f_check_for_max_duplicate(t, x, s, weighted, order):
    """1.0 if more than one point is within τ_i of max(x) (τ = 3σ W, 0 U), else 0.0. n = 0 -> NaN."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    return 1.0 if _count_close(x, s, weighted, _extreme(x, True)) > 1 else 0.0


@feature("check_for_min_duplicate", index=26, series="normalised", needs_order=False)
def f_check_for_min_duplicate(t, x, s, weighted, order):
    """1.0 if more than one point is within τ_i of min(x) (τ = 3σ W, 0 U), else 0.0. n = 0 -> NaN."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    return 1.0 if _count_close(x, s, weighted, _extreme(x, False)) > 1 else 0.0


@feature("check_max_last_loc", index=27, series="normalised", needs_order=False)
def f_check_max_last_loc(t, x, s, weighted, order):
    """1 − j/n, j the last 0-based index within τ_j of max(x) (τ = 3σ W, 0 U). n = 0 -> NaN."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    j = _last_close(x, s, weighted, _extreme(x, True))
    if j < 0:
        return np.nan
    return 1.0 - j / n


@feature("check_min_last_loc", index=28, series="normalised", needs_order=False)
def f_check_min_last_loc(t, x, s, weighted, order):
    """Relative position of the last point at the minimum, counted from the end.

    m = min(x); τ_i = 3σ_i (W) or 0 (U); j = largest 0-based i with |x_i - m| <= τ_i;
    result ``1 - j/n`` in [1/n, 1]. n = 0 -> NaN; no point within tolerance -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    m = np.min(x)
    for j in range(n - 1, -1, -1):
        tol = 3.0 * s[j] if weighted else 0.0
        if abs(x[j] - m) <= tol:
            return 1.0 - j / n
    return NAN


@kernel
def _first_arg_extreme(x, s, weighted, want_max, w=None):
    """First 0-based argmax / argmin of x (U) or x·w (W); a NaN counts as the extreme (NumPy)."""
    n = x.shape[0]
    if weighted:
        v = x * given_weights(s, w)
    else:
        v = x
    best = 0
    bv = v[0]
    if np.isnan(bv):
        return 0
    for i in range(1, n):
        vi = v[i]
        if np.isnan(vi):
            return i
        if (vi > bv) if want_max else (vi < bv):
            bv = vi
            best = i
    return best


@feature("first_loc_max", index=39, series="normalised", needs_order=False, needs=("weights",))
def f_first_loc_max(t, x, s, weighted, order, w=None):
    """Relative position of the first maximum: ``argmax(x)/n`` (U), ``argmax(x·w)/n`` (W).

    0-based index of the first occurrence. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    return _first_arg_extreme(x, s, weighted, True, w) / n


@feature("first_loc_min", index=40, series="normalised", needs_order=False, needs=("weights",))
def f_first_loc_min(t, x, s, weighted, order, w=None):
    """Relative position of the first minimum: ``argmin(x)/n`` (U), ``argmin(x·w)/n`` (W).

    0-based index of the first occurrence. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    return _first_arg_extreme(x, s, weighted, False, w) / n


@kernel
def _mass(x, s, i, weighted):
    """a_i of index_mass_quantile: |x_i|·(1/σ_i²) (W, unguarded) or |x_i| (U)."""
    return abs(x[i]) * (1.0 / (s[i] * s[i])) if weighted else abs(x[i])


@feature("index_mass_quantile", index=42, series="normalised", needs_order=False)
def f_index_mass_quantile(t, x, s, weighted, order):
    """``(j+1)/n``, j = first 0-based index where the cumulative mass fraction reaches 0.5.

    a_i = |x_i| (U) or |x_i|·(1/σ_i²) (W, unguarded: σ = 0 gives inf); cdf_k = Σ_{i<=k} a_i / Σ a;
    j = first k with cdf_k >= 0.5 or NaN (NumPy searchsorted, NaN sorted last). n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    total = 0.0
    for i in range(n):  # the masses summed in order (as wsum of their array), then again for the running sum
        total += _mass(x, s, i, weighted)
    c = 0.0
    for j in range(n):
        c += _mass(x, s, j, weighted)
        if not (c / total < 0.5):
            return (j + 1) / n
    return (n + 1) / n


@feature("ratio_recurring_points", index=65, series="normalised", needs_order=True, needs=("sorted",))
def f_ratio_recurring_points(t, x, s, weighted, order, xs=None):
    """Fraction of the K distinct values u_k of x that recur.

    U: #{u_k occurring more than once} / K. W: u_k recurs if
    #{i : |x_i - u_k| <= σ_i + 1e-5 |u_k|} > 1 (numpy ``isclose``, atol = σ). n = 0 -> 0.0.

    One pass over the sorted values. In W the candidates of u_k are scanned outwards from u_k
    (ties first, then alternately left and right) until two match; a side stops at the first
    point whose distance exceeds (largest σ on that side of it) + 1e-5|u_k|, computed in the same
    floating-point expressions, so no farther point can match (rounding is monotone). Typical
    cost O(n log n) (the sort is the caller's).
    """
    n = x.shape[0]
    if n == 0:
        return 0.0
    xs = given_sorted(x, order, xs)
    if weighted:
        ss = take_sorted(s, order)
        pre = np.empty(n, np.float64)       # pre[k] = max(ss[0..k]), NaN ignored
        suf = np.empty(n, np.float64)       # suf[k] = max(ss[k..n-1])
        m = -np.inf
        for k in range(n):
            if ss[k] > m:
                m = ss[k]
            pre[k] = m
        m = -np.inf
        for k in range(n - 1, -1, -1):
            if ss[k] > m:
                m = ss[k]
            suf[k] = m
    kdist = 0
    rec = 0
    i = 0
    while i < n:
        u = xs[i]
        j = i
        while j < n and xs[j] == u:
            j += 1
        kdist += 1
        if not weighted:
            if j - i > 1:
                rec += 1
        elif np.isfinite(u):                # |x - ±inf| is NaN or inf > tolerance: never recurs
            c = 1e-5 * abs(u)
            cnt = 0
            for k in range(i, j):
                if abs(xs[k] - u) <= ss[k] + c:
                    cnt += 1
            lo = i - 1
            hi = j
            while cnt < 2 and (lo >= 0 or hi < n):
                if lo >= 0:
                    d = abs(xs[lo] - u)
                    if d <= ss[lo] + c:
                        cnt += 1
                        lo -= 1
                    elif d > pre[lo] + c:
                        lo = -1
                    else:
                        lo -= 1
                if hi < n and cnt < 2:
                    d = abs(xs[hi] - u)
                    if d <= ss[hi] + c:
                        cnt += 1
                        hi += 1
                    elif d > suf[hi] + c:
                        hi = n
                    else:
                        hi += 1
            if cnt > 1:
                rec += 1
        if j == i:          # NaN in x: never equal to itself
            j = i + 1
        i = j
    return rec / kdist
