"""Thresholds and runs: fractions beyond n sigma, clusters and runs above / below the median or mean,
crossings.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import numpy as np

from .common import given_std0, given_std1, given_sw, given_weights, kernel, run_step
from .order_stats import given_median, median_ordered, weighted_median
from .registry import feature

NAN = np.nan


@kernel
def _beyond(x, s, weighted, order, sgn, w=None, sw=None, med=None, sd0=None):
    """U: fraction of points with sgn·(x − med) > std0; W: Σ w over them / S_w (U if S_w = 0); centre and scale unweighted."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    # med(x): the shared median or from the order (no sorted copy); where x holds NaN or ±inf, std₀
    # is NaN and no point passes, so the NaN rule of median_ordered changes nothing
    c = given_median(x, order, med)
    sd = given_std0(x, sd0)
    if sd == 0.0:
        return 0.0
    if weighted:
        w = given_weights(s, w)
        sw = given_sw(w, sw)
        if sw != 0.0:
            wsel = 0.0
            for i in range(n):
                if sgn * (x[i] - c) > sd:
                    wsel += w[i]
            return wsel / sw
    cnt = 0
    for i in range(n):
        if sgn * (x[i] - c) > sd:
            cnt += 1
    return cnt / n


@feature("above1", index=12, series="normalised", needs_order=True, needs=("weights", "sw", "median", "std0"))
def f_above1(t, x, s, weighted, order, w=None, sw=None, med=None, sd0=None):
    """Fraction with (x − med) > std0; W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, 1.0, w, sw, med, sd0)


@feature("above3", index=13, series="normalised", needs_order=True, needs=("weights", "sw", "median", "std0"))
def f_above3(t, x, s, weighted, order, w=None, sw=None, med=None, sd0=None):
    """Fraction with 3(x − med) > std0 (σ/3 threshold, as published); W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, 3.0, w, sw, med, sd0)


@feature("above5", index=14, series="normalised", needs_order=True, needs=("weights", "sw", "median", "std0"))
def f_above5(t, x, s, weighted, order, w=None, sw=None, med=None, sd0=None):
    """Fraction with 5(x − med) > std0 (σ/5 threshold, as published); W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, 5.0, w, sw, med, sd0)


@feature("below1", index=19, series="normalised", needs_order=True, needs=("weights", "sw", "median", "std0"))
def f_below1(t, x, s, weighted, order, w=None, sw=None, med=None, sd0=None):
    """Fraction with −(x − med) > std0; W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, -1.0, w, sw, med, sd0)


@feature("below3", index=20, series="normalised", needs_order=True, needs=("weights", "sw", "median", "std0"))
def f_below3(t, x, s, weighted, order, w=None, sw=None, med=None, sd0=None):
    """Fraction with −3(x − med) > std0; W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, -3.0, w, sw, med, sd0)


@feature("below5", index=21, series="normalised", needs_order=True, needs=("weights", "sw", "median", "std0"))
def f_below5(t, x, s, weighted, order, w=None, sw=None, med=None, sd0=None):
    """Fraction with −5(x − med) > std0; W: weighted fraction. Minimum n: 1."""
    return _beyond(x, s, weighted, order, -5.0, w, sw, med, sd0)


@kernel
def _con(x, s, weighted, order, kappa, above, med=None, sd1=None):
    """Number of maximal runs (length >= 3) of flagged points, / n; n < 3 -> 0.0.

    b = med(x); thr_i = κσ_i (W) or κ·std₁(x) (U); flag x_i >= b + thr_i (above) or
    x_i <= b - thr_i (below), inclusive.
    """
    n = x.shape[0]
    if n < 3:
        return 0.0
    b = given_median(x, order, med)
    thr_u = 0.0 if weighted else kappa * given_std1(x, sd1)  # std₁ only where it is the threshold
    cur = 0
    count = 0
    for i in range(n):  # the flags streamed (no array): a maximal run is counted where it reaches length 3
        thr = kappa * s[i] if weighted else thr_u
        cur = run_step(cur, (x[i] >= b + thr) if above else (x[i] <= b - thr))
        if cur == 3:
            count += 1
    return count / n


@feature("con_above1", index=30, series="normalised", needs_order=True, needs=("median", "std1"))
def f_con_above1(t, x, s, weighted, order, med=None, sd1=None):
    """#{maximal runs of >= 3 consecutive x_i >= med(x) + thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 1.0, True, med, sd1)


@feature("con_above3", index=31, series="normalised", needs_order=True, needs=("median", "std1"))
def f_con_above3(t, x, s, weighted, order, med=None, sd1=None):
    """#{maximal runs of >= 3 consecutive x_i >= med(x) + 3·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 3.0, True, med, sd1)


@feature("con_above5", index=32, series="normalised", needs_order=True, needs=("median", "std1"))
def f_con_above5(t, x, s, weighted, order, med=None, sd1=None):
    """#{maximal runs of >= 3 consecutive x_i >= med(x) + 5·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 5.0, True, med, sd1)


@feature("con_below1", index=33, series="normalised", needs_order=True, needs=("median", "std1"))
def f_con_below1(t, x, s, weighted, order, med=None, sd1=None):
    """#{maximal runs of >= 3 consecutive x_i <= med(x) - thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 1.0, False, med, sd1)


@feature("con_below3", index=34, series="normalised", needs_order=True, needs=("median", "std1"))
def f_con_below3(t, x, s, weighted, order, med=None, sd1=None):
    """#{maximal runs of >= 3 consecutive x_i <= med(x) - 3·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 3.0, False, med, sd1)


@feature("con_below5", index=35, series="normalised", needs_order=True, needs=("median", "std1"))
def f_con_below5(t, x, s, weighted, order, med=None, sd1=None):
    """#{maximal runs of >= 3 consecutive x_i <= med(x) - 5·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 5.0, False, med, sd1)


@kernel
def _count_side(x, s, weighted, order, above, w=None, sw=None, wp=None):
    """(Weighted) fraction of points strictly above / below the (weighted) median."""
    n = x.shape[0]
    if n == 0:
        return NAN
    if weighted:
        w = given_weights(s, w)
        sw = given_sw(w, sw)
        if sw != 0.0:
            m = weighted_median(x, w, order, wp)
            acc = 0.0
            for i in range(n):
                if (x[i] > m) if above else (x[i] < m):
                    acc += w[i]
            return acc / sw
    m = median_ordered(x, order)
    cnt = 0
    for i in range(n):
        if (x[i] > m) if above else (x[i] < m):
            cnt += 1
    return cnt / n


@feature("count_above", index=36, series="normalised", needs_order=True, needs=("weights", "sw", "wp"))
def f_count_above(t, x, s, weighted, order, w=None, sw=None, wp=None):
    """Fraction strictly above the median.

    U: ``#{x_i > med(x)} / n``. W: m = WM(x, w), ``Σ_{x_i > m} w_i / S_w``; U if S_w = 0.
    n = 0 -> NaN.
    """
    return _count_side(x, s, weighted, order, True, w, sw, wp)


@feature("count_below", index=37, series="normalised", needs_order=True, needs=("weights", "sw", "wp"))
def f_count_below(t, x, s, weighted, order, w=None, sw=None, wp=None):
    """Fraction strictly below the median.

    U: ``#{x_i < med(x)} / n``. W: m = WM(x, w), ``Σ_{x_i < m} w_i / S_w``; U if S_w = 0.
    n = 0 -> NaN.
    """
    return _count_side(x, s, weighted, order, False, w, sw, wp)


@kernel
def _longest_strike(x, s, weighted, order, above, w=None, wp=None):
    """Longest run of points beyond the centre, / n (see f_longest_strike_above/below)."""
    n = x.shape[0]
    if n == 0:
        return NAN
    cur = 0
    best = 0
    if weighted:
        m = weighted_median(x, given_weights(s, w), order, wp)  # NaN if S_w = 0: nothing is flagged
        for i in range(n):
            cur = run_step(cur, (x[i] > m + s[i]) if above else (x[i] < m - s[i]))
            best = max(best, cur)
    else:
        m = median_ordered(x, order)
        for i in range(n):
            cur = run_step(cur, (x[i] > m) if above else (x[i] < m))
            best = max(best, cur)
    return best / n


@feature("longest_strike_above", index=46, series="normalised", needs_order=True, needs=("weights", "wp"))
def f_longest_strike_above(t, x, s, weighted, order, w=None, wp=None):
    """Longest run of consecutive points above the centre, / n.

    U: flags x_i > med(x). W: flags x_i > WM(x, w) + σ_i (WM NaN if S_w = 0: no flags).
    n = 0 -> NaN.
    """
    return _longest_strike(x, s, weighted, order, True, w, wp)


@feature("longest_strike_below", index=47, series="normalised", needs_order=True, needs=("weights", "wp"))
def f_longest_strike_below(t, x, s, weighted, order, w=None, wp=None):
    """Longest run of consecutive points below the centre, / n.

    U: flags x_i < med(x). W: flags x_i < WM(x, w) - σ_i (WM NaN if S_w = 0: no flags).
    n = 0 -> NaN.
    """
    return _longest_strike(x, s, weighted, order, False, w, wp)


@feature("number_of_crossings", index=57, series="normalised", needs_order=True, needs=("median",))
def f_number_of_crossings(t, x, s, weighted, order, med=None):
    """Median crossings per point: Σ_i [ (x_i > m) != (x_{i+1} > m) ] / n, m = med(x).

    W counts a crossing only where |Δx_i| > σ_i. n < 2 -> 0.0.
    """
    n = x.shape[0]
    if n < 2:
        return 0.0
    m = given_median(x, order, med)
    c = 0
    for i in range(n - 1):
        if (x[i] > m) != (x[i + 1] > m):
            if (not weighted) or abs(x[i + 1] - x[i]) > s[i]:
                c += 1
    return c / n
