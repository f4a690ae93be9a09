"""Entropies and digit statistics: permutation, sample and Shannon entropy, Benford correlation.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel, mean_var, median_ordered, pearson, safe_weights, std0
from .special import invgauss_cdf
from .registry import feature

NAN = np.nan
_SQRT2 = math.sqrt(2.0)


@feature("permutation_entropy", index=58, series="normalised", needs_order=False)
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


@feature("sample_entropy", index=67, series="normalised", needs_order=True)
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


@feature("shannon_entropy", index=68, series="normalised", needs_order=True)
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
    mu = median_ordered(x, order)
    if weighted:
        m_w, v = mean_var(x, s, True)
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


@feature("benford_correlation", index=22, series="normalised", needs_order=False)
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
