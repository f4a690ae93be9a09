"""Feature kernels k = 56..83 of MicroLIA 2.8.1 (``number_cwt_like_peaks`` .. ``windowed_peak_fraction``).

This module holds the peak counts, crossings, entropies, quantiles, recurrence and Shapiro-Wilk
kernels; the moment, Stetson and successive-difference kernels of the same range live in
:mod:`lia_dask.features.kernels_c_moments`. :data:`FEATURES` (end of this module) lists all 28 in
the reference order.

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

from ._ports import find_peaks_prom_width, invgauss_cdf, peakutils_count, shapiro_w
from .common import kernel, quantile_sorted, safe_weights, std0, take_sorted, wsum
from .kernels_c_moments import (
    _med,
    _w_moments,
    f_root_mean_squared,
    f_skewness,
    f_std_over_mean,
    f_stetsonJ,
    f_stetsonK,
    f_stetsonL,
    f_sum_values,
    f_symmetry_looking,
    f_time_reversal_asymmetry,
    f_time_reversal_asymmetry_normalized,
    f_variance,
    f_variance_larger_than_standard_deviation,
    f_variation_coefficient,
    f_vonNeumannRatio,
)

NAN = np.nan
_SQRT2 = math.sqrt(2.0)


@kernel
def f_number_cwt_like_peaks(t, x, s, weighted, order):
    """Number of peaks with prominence >= 0.5 and width >= 5 samples, divided by n.

    Signal y = x (U) or y_i = x_i · (1/max(σ_i, 1e-6)) (W, product with the reciprocal);
    peaks as ``scipy.signal.find_peaks(y, prominence=0.5, width=5)``. n = 0 -> 0.0.
    """
    n = x.shape[0]
    if n == 0:
        return 0.0
    y = np.empty(n)
    for i in range(n):
        if weighted:
            si = s[i]
            d = si if (si > 1e-6 or si != si) else 1e-6
            y[i] = x[i] * (1.0 / d)
        else:
            y[i] = x[i]
    return find_peaks_prom_width(y, 0.5, 5.0) / n

@kernel
def f_number_of_crossings(t, x, s, weighted, order):
    """Median crossings per point: Σ_i [ (x_i > m) != (x_{i+1} > m) ] / n, m = med(x).

    W counts a crossing only where |Δx_i| > σ_i. n < 2 -> 0.0.
    """
    n = x.shape[0]
    if n < 2:
        return 0.0
    m = _med(x, order)
    c = 0
    for i in range(n - 1):
        if (x[i] > m) != (x[i + 1] > m):
            if (not weighted) or abs(x[i + 1] - x[i]) > s[i]:
                c += 1
    return c / n

@kernel
def f_permutation_entropy(t, x, s, weighted, order):
    """Shannon entropy (natural log, not normalised) of length-3 ordinal patterns, lag 1.

    Pattern of (x_i, x_{i+1}, x_{i+2}) = its stable argsort (ties: earlier first);
    H = -Σ_p f_p ln f_p over the observed patterns. Weights ignored. n < 3 -> NaN.
    """
    n = x.shape[0]
    if n < 3:
        return NAN
    # patterns indexed in lexicographic order of the permutation tuple:
    # 012, 021, 102, 120, 201, 210
    counts = np.zeros(6, np.int64)
    for i in range(n - 2):
        a = x[i]
        b = x[i + 1]
        c = x[i + 2]
        # stable sort of three values: element j precedes k (j < k) unless x_k < x_j
        if not (b < a):          # a before b
            if not (c < b):      # b before c
                p = 0            # a b c
            elif not (c < a):    # a before c, c before b
                p = 1            # a c b
            else:
                p = 4            # c a b
        else:                    # b before a
            if not (c < a):      # a before c
                p = 2            # b a c
            elif not (c < b):    # b before c, c before a
                p = 3            # b c a
            else:
                p = 5            # c b a
        counts[p] += 1
    total = n - 2
    h = 0.0
    for p in range(6):
        if counts[p] > 0:
            f = counts[p] / total
            h += f * math.log(f)
    return -h

@kernel
def f_prominence_peaks(t, x, s, weighted, order):
    """peakutils-style peak count (thres 0.3 relative, min_dist 25), divided by n.

    Ranking amplitude a = x·w (W, x if S_w = 0) or x (U); level L = min a + 0.3 (max a - min a).
    Slopes δ_i = Δx_i with zero blocks filled from their non-zero neighbours (§2.59); a candidate
    i has δ'_{i-1} > 0 > δ'_i and a_i > L; candidates are thinned, highest a first, by removing
    others within 25 samples. All δ = 0 (or n = 1) -> 0.0; n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    a = x.copy()
    if weighted:
        w = safe_weights(s)
        if wsum(w) != 0.0:
            for i in range(n):
                a[i] = x[i] * w[i]
    amin = a[0]
    amax = a[0]
    for i in range(1, n):
        if a[i] < amin:
            amin = a[i]
        if a[i] > amax:
            amax = a[i]
    level = 0.3 * (amax - amin) + amin
    return peakutils_count(x, a, level, 25) / n

@kernel
def _quantile(x, order, q):
    return quantile_sorted(take_sorted(x, order), q)

@kernel
def f_quantile_25(t, x, s, weighted, order):
    """np.quantile(x, 0.25) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.25)

@kernel
def f_quantile_5(t, x, s, weighted, order):
    """np.quantile(x, 0.05) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.05)

@kernel
def f_quantile_50(t, x, s, weighted, order):
    """np.quantile(x, 0.50) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.50)

@kernel
def f_quantile_75(t, x, s, weighted, order):
    """np.quantile(x, 0.75) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.75)

@kernel
def f_quantile_95(t, x, s, weighted, order):
    """np.quantile(x, 0.95) (linear interpolation, NumPy lerp); W = U. n = 0 -> NaN."""
    return _quantile(x, order, 0.95)

@kernel
def f_ratio_recurring_points(t, x, s, weighted, order):
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
    xs = take_sorted(x, order)
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


@kernel
def f_sample_entropy(t, x, s, weighted, order):
    """Sample entropy, m = 2, r = 0.2 std₀(x): -ln(A/B); weights ignored.

    B (A) = number of ordered pairs j != k of all n-1 (n-2) length-2 (length-3) windows with
    Chebyshev distance <= r. n < 4, A = 0 or B = 0 -> NaN.

    The windows are sorted by their first value (from ``order``) and each is compared only with
    the following ones whose first value is within r (a sweep; the bound is the same
    ``x_k - x_j <= r`` test, which is monotone under rounding, so the counts equal those of all
    pairs). Cost O(n log n + number of pairs within r in the first value).
    """
    n = x.shape[0]
    if n < 4:
        return NAN
    r = 0.2 * std0(x)
    if r != r:              # non-finite x: every comparison fails (A = B = 0)
        return NAN
    # x is finite here (std₀ is NaN otherwise); window values sorted by the first one.
    m = n - 1
    a0 = np.empty(m, np.float64)
    a1 = np.empty(m, np.float64)
    a2 = np.empty(m, np.float64)        # NaN for the last window (no third value): never matches
    p = 0
    for q in range(n):
        j = order[q]
        if j == n - 1:
            continue
        a0[p] = x[j]
        a1[p] = x[j + 1]
        a2[p] = x[j + 2] if j + 2 < n else NAN
        p += 1
    b = 0
    a = 0
    end = 0
    for p in range(m):
        v0 = a0[p]
        if end < p + 1:
            end = p + 1
        while end < m and a0[end] - v0 <= r:
            end += 1
        v1 = a1[p]
        v2 = a2[p]
        for q in range(p + 1, end):
            c2 = abs(v1 - a1[q]) <= r
            b += c2
            a += c2 & (abs(v2 - a2[q]) <= r)
    if a == 0 or b == 0:
        return NAN
    return -math.log((2.0 * a) / (2.0 * b))


@kernel
def _half_1p_erf(z):
    """``0.5 (1 + erf(z))``; for |z| >= 6 libm's erf is exactly ±1, so the result is 1 or 0."""
    if z >= 6.0:
        return 1.0
    if z <= -6.0:
        return 0.0
    return 0.5 * (1.0 + math.erf(z))


@kernel
def _log2_eps(p, l2one, l2eps):
    """``log2(p + ε)``, with the two saturated values p = 1 and p = 0 precomputed by the caller."""
    if p == 1.0:
        return l2one
    if p == 0.0:
        return l2eps
    return math.log2(p + 1e-12)


@kernel
def f_shannon_entropy(t, x, s, weighted, order):
    """SIDRA entropy: Gaussian and inverse-Gaussian CDF terms at x ± σ.

    μ = med(x); scale S = √mean((x-μ)²) (U) or s_w (W; std₀ if S_w = 0); p± = Φ((x±σ-μ)/S)
    via erf; q± = invgauss.cdf((x±σ)/μ, S²/μ); ω = 1 (U) or 1/(σ² + 1e-12) (W); Δ = 2σ;
    H = -Σ ωΔ[log2(p⁺+ε) + log2(p⁻+ε)] - Σ ωΔ[log2(q⁺+ε) + log2(q⁻+ε)], ε = 1e-12.
    n = 0 -> -0.0; S = 0 or med < 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return -0.0
    eps = 1e-12
    mu = _med(x, order)
    if weighted:
        m_w, v = _w_moments(x, s, True)
        scale = math.sqrt(v) if v >= 0.0 else NAN
    else:
        acc = 0.0
        for i in range(n):
            d = x[i] - mu
            acc += d * d
        scale = math.sqrt(acc / n)
    den = scale * _SQRT2
    eta = (scale * scale) / mu
    l2one = math.log2(1.0 + eps)          # log2(p + ε) for the saturated p = 1 and p = 0
    l2eps = math.log2(eps)
    hg = 0.0
    hi = 0.0
    for i in range(n):
        om = 1.0 / (s[i] * s[i] + 1e-12) if weighted else 1.0
        wd = om * (2.0 * s[i])
        zp = (x[i] + s[i] - mu) / den
        zm = (x[i] - s[i] - mu) / den
        pp = _half_1p_erf(zp)
        pm = _half_1p_erf(zm)
        hg += wd * (_log2_eps(pp, l2one, l2eps) + _log2_eps(pm, l2one, l2eps))
        qp = invgauss_cdf((x[i] + s[i]) / mu, eta)
        qm = invgauss_cdf((x[i] - s[i]) / mu, eta)
        hi += wd * (_log2_eps(qp, l2one, l2eps) + _log2_eps(qm, l2one, l2eps))
    return -hg - hi

@kernel
def f_shapiro_wilk(t, x, s, weighted, order):
    """Shapiro-Wilk W, ``scipy.stats.shapiro(x)[0]`` (AS R94, AS 111 quantiles); W = U.

    n < 3 -> NaN; range < 1e-19 (constant) -> 1.0; n = 3 clamped to >= 0.75.
    """
    return shapiro_w(x, order)

@kernel
def f_windowed_peak_fraction(t, x, s, weighted, order):
    """Fraction of points above all 7 neighbours on each side; divided by n (all points).

    U: x_c > x_{c±j}, j = 1..7. W: x_c - x_{c±j} > √(σ_c² + σ_{c±j}²). n < 15 -> 0.0.
    """
    n = x.shape[0]
    if n < 15:
        return 0.0
    cnt = 0
    for c in range(7, n - 7):
        ok = True
        for j in range(1, 8):
            for k in (c - j, c + j):
                if weighted:
                    if not (x[c] - x[k] > math.sqrt(s[c] * s[c] + s[k] * s[k])):
                        ok = False
                else:
                    if not (x[c] > x[k]):
                        ok = False
            if not ok:
                break
        if ok:
            cnt += 1
    return cnt / n


FEATURES = {
    "number_cwt_like_peaks": f_number_cwt_like_peaks,
    "number_of_crossings": f_number_of_crossings,
    "permutation_entropy": f_permutation_entropy,
    "prominence_peaks": f_prominence_peaks,
    "quantile_25": f_quantile_25,
    "quantile_5": f_quantile_5,
    "quantile_50": f_quantile_50,
    "quantile_75": f_quantile_75,
    "quantile_95": f_quantile_95,
    "ratio_recurring_points": f_ratio_recurring_points,
    "root_mean_squared": f_root_mean_squared,
    "sample_entropy": f_sample_entropy,
    "shannon_entropy": f_shannon_entropy,
    "shapiro_wilk": f_shapiro_wilk,
    "skewness": f_skewness,
    "std_over_mean": f_std_over_mean,
    "stetsonJ": f_stetsonJ,
    "stetsonK": f_stetsonK,
    "stetsonL": f_stetsonL,
    "sum_values": f_sum_values,
    "symmetry_looking": f_symmetry_looking,
    "time_reversal_asymmetry": f_time_reversal_asymmetry,
    "time_reversal_asymmetry_normalized": f_time_reversal_asymmetry_normalized,
    "variance": f_variance,
    "variance_larger_than_standard_deviation": f_variance_larger_than_standard_deviation,
    "variation_coefficient": f_variation_coefficient,
    "vonNeumannRatio": f_vonNeumannRatio,
    "windowed_peak_fraction": f_windowed_peak_fraction,
}
