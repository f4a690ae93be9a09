"""Feature kernels k = 28..55 of MicroLIA 2.8.1 (``check_min_last_loc`` .. ``median_distance``).

Every kernel follows the contract of ``lia_dask.features``: ``f_<name>(t, x, s, weighted, order)``
with ``t, x, s`` contiguous float64 arrays of shape (n,) (times in days, values and errors in the
units of the pass, see ``shared/spec/FEATURES.md`` §1.3/§1.4), ``weighted`` the ``apply_weights``
flag (W when True, U when False), and ``order`` the int64 permutation ``numpy.argsort(x)``
(default kind) computed by the caller. Each returns one float64, NaN where the value is undefined
(±inf may be returned; the driver maps it to NaN). Kernels never raise.

The successive-difference features (complexity, integrate, mean_abs_change, mean_change,
mean_second_derivative, median_distance) live in :mod:`lia_dask.features.kernels_b_steps`;
:data:`FEATURES` at the end of this module lists all 28 in output order.

Notation in the docstrings: Δx_i = x_{i+1} - x_i (i = 1..n-1), w_i the safe inverse-variance
weights (1/σ_i², 0 where σ_i <= 0 or non-finite), S_w = Σ w_i, μ_w and v_w the weighted mean and
population variance, med the NumPy median, std₀/std₁ the ddof 0/1 standard deviations, and
WM / WP(q) the weighted median / percentile of spec §1.7 (tie order from ``order``).
"""
from __future__ import annotations

import numpy as np

from lia_dask.features.common import (
    count_clusters,
    kernel,
    longest_run,
    mean,
    np_interp,
    safe_weights,
    std0,
    std1,
    weighted_mean_var,
    weighted_median,
    wp_cumulative,
    wsum,
)
from lia_dask.features.kernels_a import f_amplitude
from lia_dask.features.kernels_b_steps import (
    f_complexity,
    f_integrate,
    f_mean_abs_change,
    f_mean_change,
    f_mean_second_derivative,
    f_median_distance,
)

NAN = np.nan


# --------------------------------------------------------------------------- private helper
@kernel
def _median_ordered(x, order):
    """``np.median(x)`` in O(1) from the ascending permutation ``order`` of the kernel contract.

    Middle value, or ``(a + b) / 2`` for even n (as :func:`common.median_sorted`); NaN if n == 0
    or x holds a NaN (``numpy.argsort`` puts NaN last, and ``np.median`` then gives NaN).
    """
    n = order.shape[0]
    if n == 0 or np.isnan(x[order[n - 1]]):
        return NAN
    h = n // 2
    if n % 2 == 1:
        return x[order[h]]
    return (x[order[h - 1]] + x[order[h]]) / 2.0


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


# --------------------------------------------------------------------------- k = 28
@kernel
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


# --------------------------------------------------------------------------- k = 30..35
@kernel
def _con(x, s, weighted, order, kappa, above):
    """Number of maximal runs (length >= 3) of flagged points, / n; n < 3 -> 0.0.

    b = med(x); thr_i = κσ_i (W) or κ·std₁(x) (U); flag x_i >= b + thr_i (above) or
    x_i <= b - thr_i (below), inclusive.
    """
    n = x.shape[0]
    if n < 3:
        return 0.0
    b = _median_ordered(x, order)
    thr_u = kappa * std1(x)
    flags = np.empty(n, np.bool_)
    for i in range(n):
        thr = kappa * s[i] if weighted else thr_u
        if above:
            flags[i] = x[i] >= b + thr
        else:
            flags[i] = x[i] <= b - thr
    return count_clusters(flags, 3) / n


@kernel
def f_con_above1(t, x, s, weighted, order):
    """#{maximal runs of >= 3 consecutive x_i >= med(x) + thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 1.0, True)


@kernel
def f_con_above3(t, x, s, weighted, order):
    """#{maximal runs of >= 3 consecutive x_i >= med(x) + 3·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 3.0, True)


@kernel
def f_con_above5(t, x, s, weighted, order):
    """#{maximal runs of >= 3 consecutive x_i >= med(x) + 5·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 5.0, True)


@kernel
def f_con_below1(t, x, s, weighted, order):
    """#{maximal runs of >= 3 consecutive x_i <= med(x) - thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 1.0, False)


@kernel
def f_con_below3(t, x, s, weighted, order):
    """#{maximal runs of >= 3 consecutive x_i <= med(x) - 3·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 3.0, False)


@kernel
def f_con_below5(t, x, s, weighted, order):
    """#{maximal runs of >= 3 consecutive x_i <= med(x) - 5·thr_i} / n, thr = σ_i (W), std₁(x) (U).

    n < 3 -> 0.0.
    """
    return _con(x, s, weighted, order, 5.0, False)


# --------------------------------------------------------------------------- k = 36, 37
@kernel
def _count_side(x, s, weighted, order, above):
    """(Weighted) fraction of points strictly above / below the (weighted) median."""
    n = x.shape[0]
    if n == 0:
        return NAN
    if weighted:
        w = safe_weights(s)
        sw = wsum(w)
        if sw != 0.0:
            m = weighted_median(x, w, order)
            acc = 0.0
            for i in range(n):
                if (x[i] > m) if above else (x[i] < m):
                    acc += w[i]
            return acc / sw
    m = _median_ordered(x, order)
    cnt = 0
    for i in range(n):
        if (x[i] > m) if above else (x[i] < m):
            cnt += 1
    return cnt / n


@kernel
def f_count_above(t, x, s, weighted, order):
    """Fraction strictly above the median.

    U: ``#{x_i > med(x)} / n``. W: m = WM(x, w), ``Σ_{x_i > m} w_i / S_w``; U if S_w = 0.
    n = 0 -> NaN.
    """
    return _count_side(x, s, weighted, order, True)


@kernel
def f_count_below(t, x, s, weighted, order):
    """Fraction strictly below the median.

    U: ``#{x_i < med(x)} / n``. W: m = WM(x, w), ``Σ_{x_i < m} w_i / S_w``; U if S_w = 0.
    n = 0 -> NaN.
    """
    return _count_side(x, s, weighted, order, False)


# --------------------------------------------------------------------------- k = 38..40
@kernel
def f_cusum(t, x, s, weighted, order):
    """Range of the normalised cumulative sum of deviations from the median.

    m = med(x) (both modes); scale U: std₀(x); W: ``sqrt(Σ w (x-m)² / S_w)`` about the median
    (std₀ if S_w = 0). c_k = Σ_{i<=k}(x_i - m) / (n·scale); result ``max c - min c``;
    scale = 0 -> 0.0. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    m = _median_ordered(x, order)
    scale = NAN
    if weighted:
        w = safe_weights(s)
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


@kernel
def _first_arg_extreme(x, s, weighted, want_max):
    """First 0-based argmax / argmin of x (U) or x·w (W); a NaN counts as the extreme (NumPy)."""
    n = x.shape[0]
    if weighted:
        v = x * safe_weights(s)
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


@kernel
def f_first_loc_max(t, x, s, weighted, order):
    """Relative position of the first maximum: ``argmax(x)/n`` (U), ``argmax(x·w)/n`` (W).

    0-based index of the first occurrence. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    return _first_arg_extreme(x, s, weighted, True) / n


@kernel
def f_first_loc_min(t, x, s, weighted, order):
    """Relative position of the first minimum: ``argmin(x)/n`` (U), ``argmin(x·w)/n`` (W).

    0-based index of the first occurrence. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    return _first_arg_extreme(x, s, weighted, False) / n


# --------------------------------------------------------------------------- k = 41, 42, 44, 45
@kernel
def f_half_mag_amplitude_ratio(t, x, s, weighted, order):
    """``sqrt(v_A / v_B)``, A = {x_i > m}, B = {x_i <= m}, m = med(x) (both modes).

    U: v = mean over the set of (x - m)². W: v = Σ w (x-m)² / Σ w over the set (safe weights).
    Empty set or zero set weight -> NaN; v_A <= 0 or v_B <= 0 -> NaN. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    m = _median_ordered(x, order)
    w = safe_weights(s) if weighted else np.ones(n)
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
def f_index_mass_quantile(t, x, s, weighted, order):
    """``(j+1)/n``, j = first 0-based index where the cumulative mass fraction reaches 0.5.

    a_i = |x_i| (U) or |x_i|·(1/σ_i²) (W, unguarded: σ = 0 gives inf); cdf_k = Σ_{i<=k} a_i / Σ a;
    j = first k with cdf_k >= 0.5 or NaN (NumPy searchsorted, NaN sorted last). n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    a = np.empty(n)
    for i in range(n):
        a[i] = abs(x[i]) * (1.0 / (s[i] * s[i])) if weighted else abs(x[i])
    total = wsum(a)
    c = 0.0
    for j in range(n):
        c += a[j]
        if not (c / total < 0.5):
            return (j + 1) / n
    return (n + 1) / n


@kernel
def f_kurtosis(t, x, s, weighted, order):
    """Excess kurtosis ``m4/m2² - 3``.

    U (SciPy, bias=True): central moments about the mean; NaN if m2 <= (eps·mean)².
    W: ``(Σ w (x-μ_w)⁴ / S_w) / v_w² - 3``; S_w = 0 -> NaN; v_w = 0 -> 0.0. n < 4 -> NaN.
    """
    n = x.shape[0]
    if n < 4:
        return NAN
    if weighted:
        w = safe_weights(s)
        mu, v, sw = weighted_mean_var(x, w)
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


@kernel
def f_large_standard_deviation(t, x, s, weighted, order):
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
        mu, v, sw = weighted_mean_var(x, safe_weights(s))
        if sw != 0.0:
            sd = np.sqrt(v)
    if not weighted or np.isnan(sd):
        sd = std0(x)
    return 1.0 if sd > 0.3 * rng else 0.0


# --------------------------------------------------------------------------- k = 46, 47
@kernel
def _longest_strike(x, s, weighted, order, above):
    """Longest run of points beyond the centre, / n (see f_longest_strike_above/below)."""
    n = x.shape[0]
    if n == 0:
        return NAN
    flags = np.empty(n, np.bool_)
    if weighted:
        m = weighted_median(x, safe_weights(s), order)  # NaN if S_w = 0: nothing is flagged
        for i in range(n):
            flags[i] = (x[i] > m + s[i]) if above else (x[i] < m - s[i])
    else:
        m = _median_ordered(x, order)
        for i in range(n):
            flags[i] = (x[i] > m) if above else (x[i] < m)
    return longest_run(flags) / n


@kernel
def f_longest_strike_above(t, x, s, weighted, order):
    """Longest run of consecutive points above the centre, / n.

    U: flags x_i > med(x). W: flags x_i > WM(x, w) + σ_i (WM NaN if S_w = 0: no flags).
    n = 0 -> NaN.
    """
    return _longest_strike(x, s, weighted, order, True)


@kernel
def f_longest_strike_below(t, x, s, weighted, order):
    """Longest run of consecutive points below the centre, / n.

    U: flags x_i < med(x). W: flags x_i < WM(x, w) - σ_i (WM NaN if S_w = 0: no flags).
    n = 0 -> NaN.
    """
    return _longest_strike(x, s, weighted, order, False)


# --------------------------------------------------------------------------- k = 48, 51
@kernel
def f_meanMag(t, x, s, weighted, order):
    """Mean: ``mean(x)`` (U) or μ_w = ``Σ w x / S_w`` (W; mean(x) if S_w = 0). n = 0 -> NaN."""
    if weighted:
        mu, v, sw = weighted_mean_var(x, safe_weights(s))
        if sw != 0.0:
            return mu
    return mean(x)


@kernel
def f_mean_n_abs_max(t, x, s, weighted, order):
    """Mean of the 10 largest |x_i|.

    U: mean |x_i| over I (the 10 largest; ties at the 10th place go to the earlier index).
    W: ``Σ_I w |x| / Σ_I w`` (safe weights); U if Σ_I w = 0. n < 10 -> NaN.
    """
    n = x.shape[0]
    if n < 10:
        return NAN
    a = np.abs(x)
    taken = np.zeros(n, np.bool_)
    w = safe_weights(s)
    acc = 0.0
    num = 0.0
    den = 0.0
    for _ in range(10):
        # next largest |x| not yet taken (NaN counts as largest, as in NumPy's argpartition);
        # strict ">" keeps the earliest index among ties
        best = -1
        for i in range(n):
            if taken[i]:
                continue
            if best < 0 or a[i] > a[best] or (np.isnan(a[i]) and not np.isnan(a[best])):
                best = i
        taken[best] = True
        acc += a[best]
        num += w[best] * a[best]
        den += w[best]
    if weighted and den != 0.0:
        return num / den
    return acc / 10.0


# --------------------------------------------------------------------------- k = 53, 54
@kernel
def f_medianAbsDev(t, x, s, weighted, order):
    """U: median absolute deviation ``med(|x - med(x)|)``. W: *not* a weighted MAD (Quirk 3).

    W (S_w > 0, else U): with xs = x[order], C the WP cumulative weights and m = WP(0.5), the
    deviations d_k = |xs_k - m| are kept in x-sorted order and interpolated at 0.5:
    ``numpy.interp(0.5, C, d)``. n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    if weighted:
        xs, ws, c, sw = wp_cumulative(x, safe_weights(s), order)
        if sw != 0.0:
            m = np_interp(0.5, c, xs)
            d = np.abs(xs - m)
            return np_interp(0.5, c, d)
    m = _median_ordered(x, order)
    return _median_abs_dev_ordered(x, order, m)


@kernel
def f_median_buffer_range(t, x, s, weighted, order):
    """Fraction of points within ±10 % of the amplitude A around a centre c (un-normalised input).

    A = ``f_amplitude`` (k = 17, same flag; non-finite -> NaN); c = med(x) (U) or μ_w (W;
    mean(x) if S_w = 0). Result ``#{c - 0.1A < x_i < c + 0.1A} / n`` (strict). n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    amp = f_amplitude(t, x, s, weighted, order)
    if not np.isfinite(amp):
        return NAN
    if weighted:
        c, v, sw = weighted_mean_var(x, safe_weights(s))
        if sw == 0.0:
            c = mean(x)
    else:
        c = _median_ordered(x, order)
    buf = 0.1 * amp
    lo = c - buf
    hi = c + buf
    cnt = 0
    for i in range(n):
        if x[i] > lo and x[i] < hi:
            cnt += 1
    return cnt / n


FEATURES = {
    "check_min_last_loc": f_check_min_last_loc,
    "complexity": f_complexity,
    "con_above1": f_con_above1,
    "con_above3": f_con_above3,
    "con_above5": f_con_above5,
    "con_below1": f_con_below1,
    "con_below3": f_con_below3,
    "con_below5": f_con_below5,
    "count_above": f_count_above,
    "count_below": f_count_below,
    "cusum": f_cusum,
    "first_loc_max": f_first_loc_max,
    "first_loc_min": f_first_loc_min,
    "half_mag_amplitude_ratio": f_half_mag_amplitude_ratio,
    "index_mass_quantile": f_index_mass_quantile,
    "integrate": f_integrate,
    "kurtosis": f_kurtosis,
    "large_standard_deviation": f_large_standard_deviation,
    "longest_strike_above": f_longest_strike_above,
    "longest_strike_below": f_longest_strike_below,
    "meanMag": f_meanMag,
    "mean_abs_change": f_mean_abs_change,
    "mean_change": f_mean_change,
    "mean_n_abs_max": f_mean_n_abs_max,
    "mean_second_derivative": f_mean_second_derivative,
    "medianAbsDev": f_medianAbsDev,
    "median_buffer_range": f_median_buffer_range,
    "median_distance": f_median_distance,
}
