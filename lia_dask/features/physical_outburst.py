"""The dwarf-nova outburst competitor of the physical block (numba, pure): a flat-topped outburst, brute force.

Conventions as in :mod:`lia_dask.features.physical_fit`: ``t`` sorted times (days), ``f`` fluxes
normalised by the driver (centred on the median flux, in units of the median error), ``w = 1/σ²``;
one band.

A dwarf-nova outburst rises in about a day, stays near maximum for 0-2 d (a normal outburst) or
10-14 d (a superoutburst of an SU UMa star), then declines at a constant rate in magnitudes, i.e.
exponentially in flux, and is back at quiescence within days (Warner 1995, *Cataclysmic Variable
Stars*, §3.2, §3.6; the Bailey relation, decline 0.3-1.5 mag/d; Mróz et al. 2016, AcA 66, 109). A point
lens has neither a flat top nor compact wings: its magnification is peaked, ``A ≈ 1/u`` near the
peak, and falls off as a power of time (``A - 1 = 1.06-0.34`` at ``u = 2-1``), the same on both sides.
The model is

``F(t) = f_b + a·g(t)``, ``g = exp((t - t1)/τr)`` for ``t < t1``, ``1`` for ``t1 <= t <= t2``,
``exp(-(t - t2)/τd)`` for ``t > t2``,

with ``a > 0`` and ``f_b`` solved by weighted least squares at every trial; ``t2 = t1`` is the FRED of
:mod:`~lia_dask.features.physical_search`. Its non-linear parameters are searched by brute force
near the most significant epoch, where a sparsely caught outburst leaves a local optimiser in the
wrong gap (benchmarks/README.md, issue 11 H): the plateau edges ``t1 <= t2`` (at most
:data:`PLATEAU_MAX` apart) at each of the :data:`N_EDGE_EPOCHS` most significant epochs within
:data:`PLATEAU_MAX` of the most significant one and at the midpoints of the gaps on either side of it,
``τr`` in :data:`TAU_R`, ``τd`` in :data:`TAU_D` with ``τd >= τr`` (a decline no faster than the rise).

Cost: the rise and the decline sums of every edge and e-folding time come from one sweep over the
epochs per e-folding time (a running exponentially decayed sum), so a trial is O(1); the basis below
``e^-CUT`` is taken as 0.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel
from .physical_fit import FRED_MIN_RATIO

#: rise e-folding times (days): a dwarf nova rises in 0.5-2 d
TAU_R = np.array([0.2, 0.4, 0.8, 1.6, 3.2])
#: decline e-folding times (days): 1.086 / (0.3-1.5 mag/d) = 0.7-3.6 d, superoutbursts slower
TAU_D = np.array([0.3, 0.6, 1.2, 2.4, 4.8, 9.6])
#: longest plateau (days): a superoutburst lasts 10-14 d
PLATEAU_MAX = 15.0
#: plateau edges at this many most significant epochs (and their neighbouring gap midpoints)
N_EDGE_EPOCHS = 6
#: the basis is 0 further than CUT e-folding times from the plateau
CUT = 30.0


@kernel
def edge_times(t, f, w):
    """Candidate plateau edges (days, sorted, unique): the :data:`N_EDGE_EPOCHS` most significant epochs
    (largest ``f·sqrt(w)``) within :data:`PLATEAU_MAX` of the most significant one, and the midpoints of
    the gaps before and after each."""
    n = len(t)
    ib = 0
    zb = -np.inf
    for i in range(n):
        z = f[i] * math.sqrt(w[i])
        if z > zb:
            zb, ib = z, i
    tb = t[ib]
    lo = np.searchsorted(t, tb - PLATEAU_MAX)
    hi = np.searchsorted(t, tb + PLATEAU_MAX, side="right")
    m = hi - lo
    neg = np.empty(m)
    for j in range(m):
        neg[j] = -f[lo + j] * math.sqrt(w[lo + j])
    o = np.argsort(neg, kind="mergesort")
    kk = min(N_EDGE_EPOCHS, m)
    c = np.empty(3 * kk)
    nc = 0
    for j in range(kk):
        k = lo + o[j]
        c[nc] = t[k]
        nc += 1
        if k > 0:
            c[nc] = 0.5 * (t[k - 1] + t[k])
            nc += 1
        if k < n - 1:
            c[nc] = 0.5 * (t[k] + t[k + 1])
            nc += 1
    return np.unique(c[:nc])


@kernel
def rise_sums(t, f, w, c, tau, out):
    """``out[k] = (Σ w g, Σ w g², Σ w g f)`` over the epochs ``t < c[k]``, ``g = exp((t - c[k])/τ)``.

    ``c`` sorted ascending; one forward sweep with sums decayed to the latest epoch added.
    """
    n = len(t)
    i = np.searchsorted(t, c[0] - CUT * tau)
    s1 = s2 = s3 = 0.0
    tref = t[i] if i < n else 0.0
    for k in range(len(c)):
        while i < n and t[i] < c[k]:
            d = math.exp((tref - t[i]) / tau)
            s1, s2, s3 = s1 * d, s2 * d * d, s3 * d
            s1 += w[i]
            s2 += w[i]
            s3 += w[i] * f[i]
            tref = t[i]
            i += 1
        d = math.exp((tref - c[k]) / tau) if s1 > 0.0 else 0.0
        out[k, 0], out[k, 1], out[k, 2] = s1 * d, s2 * d * d, s3 * d


@kernel
def fall_sums(t, f, w, c, tau, out):
    """``out[k] = (Σ w g, Σ w g², Σ w g f)`` over the epochs ``t > c[k]``, ``g = exp(-(t - c[k])/τ)``.

    ``c`` sorted ascending; one backward sweep.
    """
    n = len(t)
    i = np.searchsorted(t, c[len(c) - 1] + CUT * tau, side="right") - 1
    s1 = s2 = s3 = 0.0
    tref = t[i] if i >= 0 else 0.0
    for k in range(len(c) - 1, -1, -1):
        while i >= 0 and t[i] > c[k]:
            d = math.exp((t[i] - tref) / tau)
            s1, s2, s3 = s1 * d, s2 * d * d, s3 * d
            s1 += w[i]
            s2 += w[i]
            s3 += w[i] * f[i]
            tref = t[i]
            i -= 1
        d = math.exp((c[k] - tref) / tau) if s1 > 0.0 else 0.0
        out[k, 0], out[k, 1], out[k, 2] = s1 * d, s2 * d * d, s3 * d


@kernel
def _positive_fit(sw, sg, sgg, sf, sgf, sff):
    """χ² of ``f ≈ f_b + a·g`` by weighted LSQ with ``a > 0`` (inf when the best ``a`` is not positive)."""
    det = sw * sgg - sg * sg
    if not det > 1e-12 * sw * sgg:
        return np.inf
    a = (sw * sgf - sg * sf) / det
    if not a > 0.0:
        return np.inf
    fb = (sf - a * sg) / sw
    chi2 = sff - 2.0 * a * sgf - 2.0 * fb * sf + a * a * sgg + 2.0 * a * fb * sg + fb * fb * sw
    return max(chi2, 0.0)


@kernel
def outburst_chi2(t, f, w, sw, swf, swff):
    """Best χ² of the flat-topped outburst and of its FRED subset (``t1 = t2``, ``τd >= 2 τr``), and that FRED's shape.

    Parameters
    ----------
    t, f, w : ndarray, shape (n,), n >= 2
        Sorted times (days), normalised fluxes, weights ``1/σ²``.
    sw, swf, swff : float
        ``Σ w``, ``Σ w f``, ``Σ w f²`` over all epochs.

    Returns
    -------
    (float, float, float)
        χ² of the best outburst and of the best FRED of the grid (inf: no trial with ``a > 0``), and
        ``log10(τd / τr)`` of that FRED (NaN where none).
    """
    n = len(t)
    c = edge_times(t, f, w)
    nc = len(c)
    nr, nd = len(TAU_R), len(TAU_D)
    rise = np.empty((nr, nc, 3))
    fall = np.empty((nd, nc, 3))
    for a in range(nr):
        rise_sums(t, f, w, c, TAU_R[a], rise[a])
    for d in range(nd):
        fall_sums(t, f, w, c, TAU_D[d], fall[d])
    # plateau sums (g = 1) from prefix sums of w and w f over the epochs c1 <= t <= c2
    pw = np.empty(n + 1)
    pf = np.empty(n + 1)
    pw[0] = pf[0] = 0.0
    for i in range(n):
        pw[i + 1] = pw[i] + w[i]
        pf[i + 1] = pf[i] + w[i] * f[i]
    first = np.searchsorted(t, c)                 # first epoch >= c
    after = np.searchsorted(t, c, side="right")   # first epoch > c
    best = best_fred = np.inf
    fred_log_ratio = np.nan
    for i1 in range(nc):
        for i2 in range(i1, nc):
            if c[i2] - c[i1] > PLATEAU_MAX:
                break
            p0 = pw[after[i2]] - pw[first[i1]]
            p1 = pf[after[i2]] - pf[first[i1]]
            for a in range(nr):
                r = rise[a, i1]
                for d in range(nd):
                    if TAU_D[d] < TAU_R[a]:
                        continue
                    q = fall[d, i2]
                    chi2 = _positive_fit(sw, r[0] + p0 + q[0], r[1] + p0 + q[1], swf, r[2] + p1 + q[2], swff)
                    if chi2 < best:
                        best = chi2
                    if i1 == i2 and TAU_D[d] >= FRED_MIN_RATIO * TAU_R[a] and chi2 < best_fred:
                        best_fred = chi2
                        fred_log_ratio = math.log10(TAU_D[d] / TAU_R[a])
    return best, best_fred, fred_log_ratio
