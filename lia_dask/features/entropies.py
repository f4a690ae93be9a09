"""Entropies and digit statistics: permutation, sample and Shannon entropy, Benford correlation.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import math

import numpy as np

from .common import given_std0, given_weights, kernel, mean_var, pearson, popcount
from .order_stats import given_median
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


#: words of row bitsets :func:`_sampen_pairs` keeps per block of columns (bounds its memory to 8 MiB)
SAMPEN_BLOCK_WORDS = 1 << 20
_ONE = np.uint64(1)
_ALL = np.uint64(0xFFFFFFFFFFFFFFFF)


@kernel
def _sampen_pairs(x, order, r, block_words):
    """(A, B): unordered pairs j < k with c(j, k) ∧ c(j+1, k+1) [∧ c(j+2, k+2) for A], c = ``|x_j - x_k| <= r``.

    B over the n-1 length-2 windows, A over the n-2 length-3 windows (``sample_entropy``). The
    match matrix c is built as bit rows, one uint64 word per 64 columns: sweeping the values in
    sorted order (``order``), the set of k within r of the current value is a window of the
    sorted values (the test ``|x_j - x_k| <= r`` is monotone in x_k under rounding) kept as a
    bitset and copied into row j; a pair of windows then matches where row j AND row j+1 shifted
    by one column (AND row j+2 shifted by two) has a bit set, counted with ``popcount``. The
    counts are those of the all-pairs definition; cost O(n²/64) word operations, memory bounded by
    building the rows for blocks of columns (about ``block_words`` uint64 words). ``x`` finite,
    r >= 0, n >= 4.
    """
    n = x.shape[0]
    per_row = max(1, block_words // n)
    bcols = per_row * 64
    a_tot = np.uint64(0)
    b_tot = np.uint64(0)
    for k0 in range(0, n, bcols):
        k2 = min(n, k0 + bcols)          # columns counted in this block: k0 .. k2-1
        e = min(n, k2 + 2)               # plus the two columns the shifted rows read
        nw = (e - k0 + 63) >> 6
        cols = np.empty(e - k0, np.int64)  # the block's columns in ascending order of x, and their x
        cv = np.empty(e - k0, np.float64)
        c = 0
        for q in range(n):
            j = order[q]
            if k0 <= j < e:
                cols[c] = j - k0
                cv[c] = x[j]
                c += 1
        rows = np.empty((n, nw + 1), np.uint64)   # one zero word more: the shifts read w + 1
        win = np.zeros(nw, np.uint64)
        lo = 0
        hi = 0
        for q in range(n):
            j = order[q]
            v = x[j]
            while hi < c and cv[hi] - v <= r:
                k = cols[hi]
                win[k >> 6] ^= _ONE << np.uint64(k & 63)
                hi += 1
            while lo < hi and v - cv[lo] > r:
                k = cols[lo]
                win[k >> 6] ^= _ONE << np.uint64(k & 63)
                lo += 1
            for w in range(nw):
                rows[j, w] = win[w]
            rows[j, nw] = 0
        nvalid = k2 - k0
        last = (nvalid - 1) >> 6
        mask = _ALL >> np.uint64(63 - ((nvalid - 1) & 63))
        for j in range(n - 1):
            j2 = j + 2 if j + 2 < n else j + 1      # (row j+1 stands in; A is not counted then)
            bb = np.uint64(0)
            aa = np.uint64(0)
            for w in range(last + 1):
                m = rows[j, w] & ((rows[j + 1, w] >> _ONE) | (rows[j + 1, w + 1] << np.uint64(63)))
                m2 = m & ((rows[j2, w] >> np.uint64(2)) | (rows[j2, w + 1] << np.uint64(62)))
                bb += popcount(m)
                aa += popcount(m2)
            # the bits past the block's last column (read only through the shifts) are not counted
            m = rows[j, last] & ((rows[j + 1, last] >> _ONE) | (rows[j + 1, last + 1] << np.uint64(63)))
            m2 = m & ((rows[j2, last] >> np.uint64(2)) | (rows[j2, last + 1] << np.uint64(62)))
            bb -= popcount(m & ~mask)
            aa -= popcount(m2 & ~mask)
            b_tot += bb
            if j + 2 < n:
                a_tot += aa
    # the diagonal (j == k) always matches: n-1 windows for B, n-2 for A; each pair counted twice
    return (np.int64(a_tot) - (n - 2)) // 2, (np.int64(b_tot) - (n - 1)) // 2


@feature("sample_entropy", index=67, series="normalised", needs_order=True, needs=("std0",))
def f_sample_entropy(t, x, s, weighted, order, sd0=None):
    """Sample entropy, m = 2, r = 0.2 std₀(x): -ln(A/B); weights ignored.

    B (A) = number of ordered pairs j != k of all n-1 (n-2) length-2 (length-3) windows with
    Chebyshev distance <= r. n < 4, A = 0 or B = 0 -> NaN.

    Window j matches window k where ``|x_j - x_k| <= r`` and ``|x_{j+1} - x_{k+1}| <= r`` (and
    ``|x_{j+2} - x_{k+2}| <= r`` for A): the counts come from bit rows of that one-value match
    matrix (:func:`_sampen_pairs`, O(n²/64) word operations), equal to the all-pairs counts.
    """
    n = x.shape[0]
    if n < 4:
        return NAN
    r = 0.2 * given_std0(x, sd0)
    if r != r:              # non-finite x: every comparison fails (A = B = 0)
        return NAN
    a, b = _sampen_pairs(x, order, r, SAMPEN_BLOCK_WORDS)
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


@feature("shannon_entropy", index=68, series="normalised", needs_order=True, needs=("weights", "moments", "median"))
def f_shannon_entropy(t, x, s, weighted, order, w=None, m=None, med=None):
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
    mu = given_median(x, order, med)
    if weighted:
        m_w, v = mean_var(x, s, True, w, m)
        scale = math.sqrt(v) if v >= 0.0 else NAN
    else:
        acc = 0.0
        for i in range(n):
            d = x[i] - mu
            acc += d * d
        scale = math.sqrt(acc / n)
    den = scale * _SQRT2
    eta = (scale * scale) / mu
    if not (eta > 0.0):
        # every invgauss_cdf term is NaN (med < 0, S = 0 or NaN), so H is NaN whatever the rest
        return NAN
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
def _pow10_table(lo, hi):
    """``10.0 ** float(e)`` for e = lo .. hi, computed by the same compiled expression as in the kernels."""
    out = np.empty(hi - lo + 1, np.float64)
    for e in range(lo, hi + 1):
        out[e - lo] = 10.0 ** float(e)
    return out


#: exponents of the decades a finite double can fall in (floor(log10) of 5e-324 .. 1.8e308)
_POW10_LO = -330
_POW10 = _pow10_table(_POW10_LO, 310)
_LOG10_2 = math.log10(2.0)


@kernel
def decade(a):
    """``floor(log10(a))`` of a finite ``a > 0``, equal to libm's, mostly without calling it.

    With ``a = m·2^b`` (``frexp``, 0.5 <= m < 1), log10(a) lies in [(b-1)·log10 2, b·log10 2), so
    e = floor((b-1)·log10 2) is the decade or one less; one comparison with the table of 10^e
    fixes it. Where ``a`` lies within a relative 1e-12 of a table entry (log10 within ~4e-13 of
    an integer, where libm's rounding of log10 decides the floor) or off the table, libm's log10
    is called as before. Elsewhere the two agree: libm's log10 is within a few ulp (< 6e-14 for
    |log10 a| < 331) of the exact value. Returns an int (as numba's ``math.floor``).
    """
    _m, b2 = math.frexp(a)
    e = int(math.floor((b2 - 1) * _LOG10_2))
    k = e - _POW10_LO
    if k < 0 or k + 2 >= _POW10.shape[0]:
        return math.floor(math.log10(a))
    if a >= _POW10[k + 1]:
        k += 1
        e += 1
    if a <= _POW10[k] * (1.0 + 1e-12) or a >= _POW10[k + 1] * (1.0 - 1e-12):
        return math.floor(math.log10(a))
    return e


@feature("benford_correlation", index=22, series="normalised", needs_order=False, needs=("weights",))
def f_benford_correlation(t, x, s, weighted, order, w=None):
    """Pearson r between first-digit frequencies of |x| and Benford's law (W: weighted counts). Minimum n: 1."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    dig = np.zeros(n, np.int64)
    nkeep = 0
    for i in range(n):
        a = abs(x[i])
        if np.isfinite(a) and a > 0.0:
            e = decade(a)
            k = e - _POW10_LO
            b = _POW10[k] if 0 <= k < _POW10.shape[0] else 10.0 ** float(e)   # the table holds the same values
            d = int(math.floor(a / b))
            dig[i] = d
            if d > 0:
                nkeep += 1
    if nkeep == 0:
        return np.nan
    h = np.zeros(9, np.float64)
    use_w = False
    if weighted:
        w = given_weights(s, w)
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
