"""Special functions and ported library algorithms the feature kernels call, written once.

Written from the published algorithms (and the formulas of ``shared/spec/FEATURES.md``), so that
the feature kernels stay inside ``numba.njit``:

* :func:`_ndtr` -- the standard normal CDF Φ (cephes rule: erf near 0, erfc in the tails);
* :func:`log_ndtr` -- ``log(Φ(x))``, accurate in the far lower tail (the one log-Φ of the package);
* :func:`invgauss_cdf` -- ``scipy.stats.invgauss.cdf(y, eta)`` (shape-only), evaluated in log space;
* :func:`find_peaks_prom_width` -- the peak search of ``scipy.signal.find_peaks(y,
  prominence=pmin, width=wmin)`` with ``wlen=None`` and ``rel_height=0.5``;
* :func:`shapiro_w` -- the Shapiro-Wilk W of Royston's AS R94 with the AS 111 normal quantiles
  (``scipy.stats.shapiro(x)[0]``);
* :func:`peakutils_count` -- the peak search of ``peakutils.indexes`` (relative threshold,
  zero-slope plateaus, minimum distance), slopes on one array and threshold / ranking on another.

All functions are pure, take float64 arrays or scalars and never raise.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel

_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_SQRT1_2 = 0.7071067811865476


@kernel
def _ndtr(a):
    """Standard normal CDF (cephes ``ndtr`` rule: erf near 0, erfc in the tails)."""
    x = a * _SQRT1_2
    z = abs(x)
    if z < _SQRT1_2:
        return 0.5 + 0.5 * math.erf(x)
    y = 0.5 * math.erfc(z)
    if x > 0:
        return 1.0 - y
    return y


@kernel
def log_ndtr(x):
    """log of the standard normal CDF, log Phi(x), accurate for very negative ``x``.

    x > -1: log1p(-erfc(x/sqrt2)/2); -37 <= x <= -1: log(erfc(-x/sqrt2)/2); below -37 (where
    erfc underflows) the asymptotic series -x^2/2 - log(-x) - log sqrt(2 pi)
    + log(1 - 1/x^2 + 3/x^4 - 15/x^6 + 105/x^8 - 945/x^10).
    """
    if x != x:
        return np.nan
    if x > -1.0:
        if x * _SQRT1_2 >= 28.0:        # libm erfc underflows to 0 there: log1p(-0.0)
            return -0.0
        return math.log1p(-0.5 * math.erfc(x * _SQRT1_2))
    if x >= -37.0:
        return math.log(0.5 * math.erfc(-x * _SQRT1_2))
    if x == -np.inf:
        return -np.inf
    z = 1.0 / (x * x)
    series = 1.0 + z * (-1.0 + z * (3.0 + z * (-15.0 + z * (105.0 + z * -945.0))))
    return -0.5 * x * x - math.log(-x) - _LOG_SQRT_2PI + math.log(series)


@kernel
def invgauss_cdf(y, eta):
    """``scipy.stats.invgauss.cdf(y, eta)``: inverse-Gaussian CDF, shape ``eta``, scale 1.

    NaN for eta <= 0 or NaN, or y NaN; 0 for y <= 0; 1 for y = +inf; otherwise, with
    phi = 1/sqrt(y): a = logPhi(phi (y/eta - 1)), b = 2/eta + logPhi(-phi (y/eta + 1)),
    cdf = exp(a + log1p(exp(b - a))).
    """
    if not (eta > 0.0) or y != y:
        return np.nan
    if y <= 0.0:
        return 0.0
    if y == np.inf:
        return 1.0
    fac = 1.0 / math.sqrt(y)
    za = fac * ((y / eta) - 1.0)
    zb = -fac * ((y / eta) + 1.0)
    two_eta = 2.0 / eta
    if za >= 10.0 and (two_eta + (-0.5 * zb * zb)) < -44.0:
        # The saturated upper tail, found before any libm call: za/√2 >= 7 gives 0 >= a >= -2^-60
        # (erfc(7) < 1e-22); b <= 2/η - zb²/2 - 0.9 for zb <= -1 (log Φ(z) <= -z²/2 - log(|z|√2π),
        # and the asymptotic branch subtracts positive terms), so b - a < -43.9, exp(b - a) < 2^-60
        # and the exponent a + log1p(exp(b - a)) lies in (-2^-54, 2^-54), where exp gives exactly 1.
        return 1.0
    a = log_ndtr(za)
    if zb < -37.0:
        # log_ndtr's asymptotic branch is (-0.5 zb zb) minus positive terms plus log(series <= 1),
        # so in floating point b <= 2/η + (-0.5 zb zb) and b - a <= that - a (rounding is
        # monotone): when this bound is below -746, exp(b - a) is 0 and b need not be computed.
        if (two_eta + (-0.5 * zb * zb)) - a < -746.0:
            return math.exp(a + 0.0)
    b = two_eta + log_ndtr(zb)
    d = b - a
    if d < -746.0:                      # exp(d) == 0 and log1p(0) == 0 exactly
        return math.exp(a + 0.0)
    return math.exp(a + math.log1p(math.exp(d)))


@kernel
def find_peaks_prom_width(y, pmin, wmin):
    """Count the peaks of ``y`` with prominence >= ``pmin`` and width >= ``wmin``.

    Parameters
    ----------
    y : ndarray of float64, shape (n,)
    pmin, wmin : float
        Minimum prominence (same unit as ``y``) and minimum width (samples) at half prominence.

    Returns
    -------
    int
        Number of peaks kept. Local maxima: plateaus allowed, located at their (floor) middle;
        the first and last samples are never peaks. Prominence and width follow SciPy with
        ``wlen=None`` (the whole signal) and ``rel_height=0.5``.
    """
    n = y.shape[0]
    count = 0
    i = 1
    i_max = n - 1
    while i < i_max:
        if y[i - 1] < y[i]:
            j = i + 1
            while j < i_max and y[j] == y[i]:
                j += 1
            if y[j] < y[i]:
                p = (i + j - 1) // 2
                yp = y[p]
                # prominence: lowest point on each side before a higher sample
                left_min = yp
                left_base = p
                k = p
                while k >= 0 and y[k] <= yp:
                    if y[k] < left_min:
                        left_min = y[k]
                        left_base = k
                    k -= 1
                if not (yp - left_min >= pmin):
                    # prom = yp - max(left_min, right_min) <= yp - left_min < pmin: not kept
                    i = j + 1
                    continue
                right_min = yp
                right_base = p
                k = p
                while k <= n - 1 and y[k] <= yp:
                    if y[k] < right_min:
                        right_min = y[k]
                        right_base = k
                    k += 1
                prom = yp - max(left_min, right_min)
                if prom >= pmin:
                    h = yp - prom * 0.5
                    k = p
                    while left_base < k and h < y[k]:
                        k -= 1
                    left_ip = float(k)
                    if y[k] < h and y[k + 1] != y[k]:
                        left_ip += (h - y[k]) / (y[k + 1] - y[k])
                    k = p
                    while k < right_base and h < y[k]:
                        k += 1
                    right_ip = float(k)
                    if y[k] < h and y[k - 1] != y[k]:
                        right_ip -= (h - y[k]) / (y[k - 1] - y[k])
                    if right_ip - left_ip >= wmin:
                        count += 1
                i = j
        i += 1
    return count


@kernel
def _ppnd_as111(p):
    """Normal quantile Phi^-1(p) by the AS 111 (Beasley-Springer) approximation."""
    q = p - 0.5
    if abs(q) <= 0.42:
        r = q * q
        num = q * (((-25.44106049637 * r + 41.39119773534) * r + -18.61500062529) * r
                   + 2.50662823884)
        den = (((3.13082909833 * r + -21.06224101826) * r + 23.08336743743) * r
               + -8.47351093090) * r + 1.0
        return num / den
    r = p
    if q > 0:
        r = 1.0 - p
    if r > 0:
        r = math.sqrt(-math.log(r))
    else:
        return 0.0
    num = ((2.32121276858 * r + 4.85014127135) * r + -2.29796479134) * r + -2.78718931138
    num /= (1.63706781897 * r + 3.54388924762) * r + 1.0
    return -num if q < 0 else num


@kernel
def _poly5(c1, c2, c3, c4, c5, u):
    """c1 u + c2 u^2 + c3 u^3 + c4 u^4 + c5 u^5 in Horner form (innermost term first)."""
    p = u * c5
    p = (p + c4) * u
    p = (p + c3) * u
    p = (p + c2) * u
    p = (p + c1) * u
    return p


@kernel
def shapiro_w(x, order):
    """Shapiro-Wilk W of ``x`` (``scipy.stats.shapiro(x)[0]``); NaN for n < 3.

    Parameters
    ----------
    x : ndarray of float64, shape (n,)
    order : ndarray of int64, shape (n,)
        Ascending sort permutation of ``x``.

    Notes
    -----
    y = sorted(x) - x[n//2]. Coefficients a_i: m_i = Phi^-1((i - 0.375)/(n + 0.25)) (AS 111),
    a_1 = c1(1/sqrt n) - m_1/sqrt(2 sum m^2), a_2 likewise with c2 for n > 5, the rest
    -m_i/phi. W = 1 - (sqrt(SSA SSX) - SAX)(sqrt(SSA SSX) + SAX)/(SSA SSX) on y/range;
    range < 1e-19 gives 1.0; n = 3 is clamped to >= 0.75.
    """
    n = x.shape[0]
    if n < 3:
        return np.nan
    shift = x[n // 2]
    y = np.empty(n)
    for k in range(n):
        y[k] = x[order[k]] - shift
    nn2 = n // 2
    a = np.zeros(nn2)
    an = float(n)
    if n == 3:
        a[0] = math.sqrt(2.0) / 2.0
    else:
        an25 = an + 0.25
        summ2 = 0.0
        for i in range(nn2):
            m = _ppnd_as111((i + 1 - 0.375) / an25)
            a[i] = m
            summ2 += m * m
        summ2 *= 2.0
        ssumm2 = math.sqrt(summ2)
        rsn = 1.0 / math.sqrt(an)
        a1 = _poly5(0.221157, -0.147981, -0.207119e1, 0.4434685e1, -0.2706056e1, rsn) \
            - (a[0] / ssumm2)
        if n > 5:
            i1 = 2
            a2 = -a[1] / ssumm2 + _poly5(0.42981e-1, -0.293762, -0.1752461e1, 0.5682633e1,
                                         -0.3582633e1, rsn)
            fac = math.sqrt((summ2 - (2.0 * a[0] ** 2) - 2.0 * a[1] ** 2)
                            / (1.0 - (2.0 * a1 ** 2) - 2.0 * a2 ** 2))
            a[1] = a2
        else:
            i1 = 1
            fac = math.sqrt((summ2 - 2.0 * a[0] ** 2) / (1.0 - 2.0 * a1 ** 2))
        a[0] = a1
        for i in range(i1, nn2):
            a[i] *= -1.0 / fac
    rng = y[n - 1] - y[0]
    if not (rng >= 1e-19):
        return 1.0 if rng < 1e-19 else np.nan
    # coefficient of sorted position k (0-based): -a[k] below the middle, +a[n-1-k] above
    sx = y[0] / rng
    sa = -a[0]
    i2 = n - 2
    for k in range(1, n):
        sx += y[k] / rng
        if k != i2:
            if k < i2:
                sa += -a[k]
            else:
                sa += a[i2]
        i2 -= 1
    sa /= n
    sx /= n
    ssa = 0.0
    ssx = 0.0
    sax = 0.0
    i2 = n - 1
    for k in range(n):
        if k != i2:
            if k < i2:
                asa = -a[k] - sa
            else:
                asa = a[i2] - sa
        else:
            asa = -sa
        xsx = y[k] / rng - sx
        ssa += asa * asa
        ssx += xsx * xsx
        sax += asa * xsx
        i2 -= 1
    ssassx = math.sqrt(ssa * ssx)
    w1 = (ssassx - sax) * (ssassx + sax) / (ssa * ssx)
    w = 1.0 - w1
    if n == 3 and w < 0.75:
        return 0.75
    return w


@kernel
def peakutils_count(x, a, level, min_dist):
    """Number of peaks of the ``peakutils.indexes`` algorithm, slopes on ``x``, levels on ``a``.

    Parameters
    ----------
    x : ndarray of float64, shape (n,)
        Values whose first differences δ_i = x_{i+1} - x_i define the slopes.
    a : ndarray of float64, shape (n,)
        Ranking amplitude: candidates need ``a_i > level``; thinning visits higher ``a`` first.
    level : float
        Absolute threshold on ``a``.
    min_dist : int
        Candidates within ``min_dist`` samples of a kept, higher candidate are removed.

    Returns
    -------
    int
        0 if every δ is 0 (or n < 2). Zero-slope blocks take the first non-zero slope after them
        (block at the start), the last one before them (block at the end), or, inside, the slope
        before for positions below the block's median position and the slope after for the rest.
        A candidate i has δ'_{i-1} > 0 > δ'_i and a_i > level.
    """
    n = x.shape[0]
    m = n - 1
    d = np.empty(max(m, 0))
    nz = 0
    for i in range(m):
        d[i] = x[i + 1] - x[i]
        if d[i] != 0.0:
            nz += 1
    if nz == 0:
        return 0
    dd = d.copy()
    i = 0
    while i < m:
        if d[i] != 0.0:
            i += 1
            continue
        r = i
        while i < m and d[i] == 0.0:
            i += 1
        ell = i - r                      # zero block r .. r+ell-1
        if r == 0:
            for k in range(r, r + ell):
                dd[k] = d[r + ell]
        elif r + ell == m:
            for k in range(r, r + ell):
                dd[k] = d[r - 1]
        else:
            # np.median of the block positions: positions below it take the slope before
            for k in range(r, r + ell):
                if 2 * (k - r) < ell - 1:
                    dd[k] = d[r - 1]
                else:
                    dd[k] = d[r + ell]
    cand = np.empty(n, np.int64)
    nc = 0
    for i in range(1, n - 1):
        if dd[i - 1] > 0.0 and dd[i] < 0.0 and a[i] > level:
            cand[nc] = i
            nc += 1
    if nc <= 1:
        return nc
    cand = cand[:nc]
    ca = np.empty(nc)
    for j in range(nc):
        ca[j] = a[cand[j]]
    # ascending order of a, ties in index order (a stable sort; the reference's tie order is
    # NumPy's unspecified argsort order, and the conformance data do not depend on it); ca holds
    # no NaN (every candidate has a_i > level)
    rank = np.argsort(ca, kind="mergesort")
    alive = np.ones(nc, np.bool_)
    for jj in range(nc - 1, -1, -1):
        j = rank[jj]
        if alive[j]:
            p = cand[j]
            # cand is ascending: the candidates within min_dist of p are the neighbours of j
            k = j - 1
            while k >= 0 and p - cand[k] <= min_dist:
                alive[k] = False
                k -= 1
            k = j + 1
            while k < nc and cand[k] - p <= min_dist:
                alive[k] = False
                k += 1
    kept = 0
    for j in range(nc):
        if alive[j]:
            kept += 1
    return kept
