"""Percentiles and amplitudes: flux percentile ratios, percent amplitude, amplitude, quantiles, median
absolute deviation, Gskew, half-magnitude amplitude ratio.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import numpy as np

from .common import given_moments, given_sw, given_weights, kernel, mean
from .order_stats import (
    given_median, given_sorted, given_wp, median_ordered, median_sorted, np_interp, percentile_sorted, quantile_sorted,
    step_percentile, take_sorted,
)
from .registry import feature

NAN = np.nan


@kernel
def _flux_percentile_ratio(x, s, weighted, order, plo, phi, w=None, wp=None, xs=None):
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = given_weights(s, w)
        xs, ws, c, sw = given_wp(x, w, order, wp)
        if sw == 0.0:
            return np.nan
        num = np_interp(phi, c, xs) - np_interp(plo, c, xs)
        den = np_interp(0.95, c, xs) - np_interp(0.05, c, xs)
    else:
        xs = given_sorted(x, order, xs)
        num = percentile_sorted(xs, phi * 100) - percentile_sorted(xs, plo * 100)
        den = percentile_sorted(xs, 95.0) - percentile_sorted(xs, 5.0)
    if den == 0.0:
        return np.nan
    return num / den


@feature("FluxPercentileRatioMid20", index=1, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_FluxPercentileRatioMid20(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """(P60 − P40)/(P95 − P5); W uses WP. Minimum n: 2 (denominator 0 -> NaN)."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.40, 0.60, w, wp, xs)


@feature("FluxPercentileRatioMid35", index=2, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_FluxPercentileRatioMid35(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """(P67.5 − P32.5)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.325, 0.675, w, wp, xs)


@feature("FluxPercentileRatioMid50", index=3, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_FluxPercentileRatioMid50(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """(P75 − P25)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.25, 0.75, w, wp, xs)


@feature("FluxPercentileRatioMid65", index=4, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_FluxPercentileRatioMid65(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """(P82.5 − P17.5)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.175, 0.825, w, wp, xs)


@feature("FluxPercentileRatioMid80", index=5, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_FluxPercentileRatioMid80(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """(P90 − P10)/(P95 − P5); W uses WP. Minimum n: 2."""
    return _flux_percentile_ratio(x, s, weighted, order, 0.10, 0.90, w, wp, xs)


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


@feature("Gskew", index=6, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_Gskew(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """med(x ≤ P3) + med(x ≥ P97) − 2·med(x); W: the same with WP on one sort. Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = given_weights(s, w)
        xs, ws, c, sw = given_wp(x, w, order, wp)
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
    xs = given_sorted(x, order, xs)
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


@feature("PercentAmplitude", index=10, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_PercentAmplitude(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """max|x − m|/m with m = med (U) or WM (W; NaN if S_w = 0). Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = given_weights(s, w)
        xs, ws, c, sw = given_wp(x, w, order, wp)
        if sw == 0.0:
            return np.nan
        m = np_interp(0.5, c, xs)
    else:
        m = median_sorted(given_sorted(x, order, xs))
    best = -np.inf
    for i in range(n):
        d = abs(x[i] - m)
        if d > best or np.isnan(d):
            best = d
            if np.isnan(d):
                break
    return best / m


@feature("PercentDifferenceFluxPercentile", index=11, series="normalised", needs_order=True, needs=("weights", "wp", "sorted"))
def f_PercentDifferenceFluxPercentile(t, x, s, weighted, order, w=None, wp=None, xs=None):
    """(P95 − P5)/med (U); (WP(.95) − WP(.05))/WP(.5) (W). Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    if weighted:
        w = given_weights(s, w)
        xs, ws, c, sw = given_wp(x, w, order, wp)
        if sw == 0.0:
            return np.nan
        return (np_interp(0.95, c, xs) - np_interp(0.05, c, xs)) / np_interp(0.5, c, xs)
    xs = given_sorted(x, order, xs)
    return (percentile_sorted(xs, 95.0) - percentile_sorted(xs, 5.0)) / median_sorted(xs)


@feature("amplitude", index=17, series="raw", needs_order=True, needs=("weights", "sw", "sorted"))
def f_amplitude(t, x, s, weighted, order, w=None, sw=None, xs=None):
    """P99 − P1 (U); step percentiles WS(99) − WS(1) (W, U if S_w = 0). On un-normalised flux. Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    xs = given_sorted(x, order, xs)
    if weighted:
        w = given_weights(s, w)
        if given_sw(w, sw) > 0.0:
            ws = take_sorted(w, order)
            return step_percentile(xs, ws, 99.0) - step_percentile(xs, ws, 1.0)
    return percentile_sorted(xs, 99.0) - percentile_sorted(xs, 1.0)


@feature("median_buffer_range", index=54, series="raw", needs_order=True, needs=("weights", "moments"))
def f_median_buffer_range(t, x, s, weighted, order, w=None, m=None):
    """Fraction of points within ±10 % of the amplitude A around a centre c (un-normalised input).

    A = ``f_amplitude`` (k = 17, same flag; non-finite -> NaN); c = med(x) (U) or μ_w (W;
    mean(x) if S_w = 0). Result ``#{c - 0.1A < x_i < c + 0.1A} / n`` (strict). n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    amp = f_amplitude(t, x, s, weighted, order, w)
    if not np.isfinite(amp):
        return NAN
    if weighted:
        c, v, sw = given_moments(x, given_weights(s, w), m)
        if sw == 0.0:
            c = mean(x)
    else:
        c = median_ordered(x, order)
    buf = 0.1 * amp
    lo = c - buf
    hi = c + buf
    cnt = 0
    for i in range(n):
        if x[i] > lo and x[i] < hi:
            cnt += 1
    return cnt / n


@feature("half_mag_amplitude_ratio", index=41, series="normalised", needs_order=True, needs=("weights", "median"))
def f_half_mag_amplitude_ratio(t, x, s, weighted, order, w=None, med=None):
    """``sqrt(v_A / v_B)``, A = {x_i > m}, B = {x_i <= m}, m = med(x) (both modes).

    U: v = mean over the set of (x - m)². W: v = Σ w (x-m)² / Σ w over the set (safe weights).
    Empty set or zero set weight -> NaN; v_A <= 0 or v_B <= 0 -> NaN. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    m = given_median(x, order, med)
    w = given_weights(s, w) if weighted else np.ones(n)
    na = 0.0
    da = 0.0
    nb = 0.0
    db = 0.0
    for i in range(n):
        d = x[i] - m
        if x[i] > m:
            na += w[i] * (d * d)
            da += w[i]
        else:
            nb += w[i] * (d * d)
            db += w[i]
    if da == 0.0 or db == 0.0:
        return NAN
    va = na / da
    vb = nb / db
    if va > 0.0 and vb > 0.0:
        return np.sqrt(va / vb)
    return NAN


@kernel
def _median_abs_dev_ordered(x, order, m):
    """``np.median(|x - m|)`` in O(n) from ``order``, for m = the median of x.

    Along the sorted x the deviations fall to the left of m and rise to its right, so the k-th
    smallest deviation comes from merging the two monotone sides (no sort needed).
    """
    n = order.shape[0]
    if n == 0 or np.isnan(m):
        return NAN
    j = 0  # first sorted position with x >= m
    while j < n and x[order[j]] < m:
        j += 1
    i = j - 1
    h = n // 2
    prev = NAN
    cur = NAN
    for _ in range(h + 1):
        prev = cur
        if i >= 0 and (j >= n or abs(x[order[i]] - m) <= abs(x[order[j]] - m)):
            cur = abs(x[order[i]] - m)
            i -= 1
        else:
            cur = abs(x[order[j]] - m)
            j += 1
    if n % 2 == 1:
        return cur
    return (prev + cur) / 2.0


@feature("medianAbsDev", index=53, series="normalised", needs_order=True, needs=("weights", "wp"))
def f_medianAbsDev(t, x, s, weighted, order, w=None, wp=None):
    """U: median absolute deviation ``med(|x - med(x)|)``. W: *not* a weighted MAD (Quirk 3).

    W (S_w > 0, else U): with xs = x[order], C the WP cumulative weights and m = WP(0.5), the
    deviations d_k = |xs_k - m| are kept in x-sorted order and interpolated at 0.5:
    ``numpy.interp(0.5, C, d)``. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    if weighted:
        xs, ws, c, sw = given_wp(x, given_weights(s, w), order, wp)
        if sw != 0.0:
            m = np_interp(0.5, c, xs)
            d = np.abs(xs - m)
            return np_interp(0.5, c, d)
    m = median_ordered(x, order)
    return _median_abs_dev_ordered(x, order, m)


@kernel
def _quantile(x, order, q, xs=None):
    return quantile_sorted(given_sorted(x, order, xs), q)


@feature("quantile_25", index=60, series="normalised", needs_order=True, needs=("sorted",))
def f_quantile_25(t, x, s, weighted, order, xs=None):
    """np.quantile(x, 0.25) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.25, xs)


@feature("quantile_5", index=61, series="normalised", needs_order=True, needs=("sorted",))
def f_quantile_5(t, x, s, weighted, order, xs=None):
    """np.quantile(x, 0.05) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.05, xs)


@feature("quantile_50", index=62, series="normalised", needs_order=True, needs=("sorted",))
def f_quantile_50(t, x, s, weighted, order, xs=None):
    """np.quantile(x, 0.50) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.50, xs)


@feature("quantile_75", index=63, series="normalised", needs_order=True, needs=("sorted",))
def f_quantile_75(t, x, s, weighted, order, xs=None):
    """np.quantile(x, 0.75) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.75, xs)


@feature("quantile_95", index=64, series="normalised", needs_order=True, needs=("sorted",))
def f_quantile_95(t, x, s, weighted, order, xs=None):
    """np.quantile(x, 0.95) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.95, xs)
