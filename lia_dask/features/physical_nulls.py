"""The physical block's null tests of a point-lens event (numba, pure): mirrored dips, a second bump, rise vs fall.

Conventions as in :mod:`lia_dask.features.physical_fit`: ``t`` sorted times (days), ``f`` fluxes
normalised by the driver (centred on the median flux, in units of the median error), ``w = 1/σ²``;
one band. Every statistic is a χ² difference, which the driver divides by the error scale ``s²``
(:mod:`lia_dask.features.physical_models`) so that underestimated error bars do not inflate it.

* **Mirrored null** (:func:`bump_scan`, the dip of its pair): the same point-lens search at the same
  ``tE`` (and the nearest grid ``u0``) on the lightcurve mirrored in flux, i.e. the best *dimming* "event". White noise, red
  noise and systematics make dips as often as bumps; a lens only brightens. So
  ``Δχ²(bump) - Δχ²(dip)`` measures an event's significance against the lightcurve's own noise,
  whatever its correlation, where ``Δχ²(bump)`` alone grows with red noise.
* **Second bump** (:func:`bump_scan` on the residuals of the point-lens fit, epochs of the event
  excluded): a single lens brightens once; a dwarf nova recurs every 10-500 d (Warner 1995 §3.2).
  Its own mirrored null (a second dip) calibrates it.
* **Rise vs fall** (:func:`rise_fall`): the Einstein time refitted separately on each side of the peak
  with ``t0, u0, f_s, f_b`` fixed. A point lens is time-symmetric; a dwarf-nova outburst rises in
  ~1 d and declines over several days (fast rise, exponential decline).
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel
from .physical_fit import magnification
from .physical_search import TAB, TAB_N, TAB_SCALE, U0_GRID, WINDOW, skip_run

#: scan step in t0: max(u0, SCAN_STEP_MIN)·tE (the peak's width ~ u0·tE for small u0)
SCAN_STEP_MIN = 0.35
#: the scan skips a trial whose bound is below SCAN_MARGIN x the maxima so far, where rest > SCAN_FAST_REST
SCAN_MARGIN = 1.0 - 1e-9
SCAN_FAST_REST = 1e-3
#: rise / fall: tE scale factors tried on each side (log-spaced 1/4 .. 4)
SIDE_FACTORS = np.exp(np.linspace(np.log(0.25), np.log(4.0), 7))
#: rise / fall: epochs within this many tE of t0 enter the side fits
SIDE_WINDOW = 3.0


@kernel
def bump_scan(t, f, w, keep, tE, ku):
    """Largest χ² drops of a point-lens bump and of its mirrored dip at fixed ``tE``, in one pass.

    The model is ``F = f_b + a·(A(u) - 1)``, ``a`` and ``f_b`` solved by weighted least squares,
    ``u² = u0² + ((t - t0)/tE)²`` with ``u0 = U0_GRID[ku]`` of the PSPL grid
    (:mod:`~lia_dask.features.physical_search`, whose table of ``A - 1`` it reads), ``t0`` stepped by
    ``max(u0, 0.35)·tE`` from ``tE`` before the first to ``tE`` after the last epoch; only kept
    epochs within ``2 tE`` of ``t0`` enter the bump (``A - 1 < 0.07`` neglected beyond). With
    ``g = A - 1`` and weighted sums ``S_·`` over the kept epochs, a trial removes
    ``D = c²/v`` from the constant's χ², ``c = S_gf - S_g S_f/S_w``, ``v = S_gg - S_g²/S_w``; its
    amplitude ``a = c/v`` is a brightening when ``c > 0`` (bump) and a dimming when ``c < 0`` (the
    same search on the lightcurve mirrored in flux).

    Parameters
    ----------
    t, f, w : ndarray, shape (n,)
        Sorted times (days), normalised fluxes, weights ``1/σ²``.
    keep : ndarray of bool, shape (n,)
        Epochs used; the others are ignored entirely.
    tE : float
        Einstein time of the scanned shape (days).
    ku : int
        Index of ``u0`` in ``U0_GRID``.

    Returns
    -------
    (float, float)
        Largest ``D`` over t0 of a bump and of a dip (>= 0 each; 0 with fewer than 3 kept epochs).
    """
    n = len(t)
    sw = swf = 0.0
    m = 0
    first = last = 0.0
    for i in range(n):
        if keep[i]:
            if m == 0:
                first = t[i]
            last = t[i]
            m += 1
            sw += w[i]
            swf += w[i] * f[i]
    if m < 3 or not (tE > 0.0):
        return 0.0, 0.0
    mu = swf / sw
    # prefix sums over the kept epochs for the bound: weight, w (f - μ)₊², w (f - μ)₋²
    pw = np.zeros(n + 1)
    pp = np.zeros(n + 1)
    pm = np.zeros(n + 1)
    for i in range(n):
        r = f[i] - mu if keep[i] else 0.0
        pw[i + 1] = pw[i] + (w[i] if keep[i] else 0.0)
        pp[i + 1] = pp[i] + w[i] * max(r, 0.0) ** 2
        pm[i + 1] = pm[i] + w[i] * min(r, 0.0) ** 2
    tab = TAB[ku]
    sc = TAB_SCALE / tE
    half = WINDOW * tE
    step = max(U0_GRID[ku], SCAN_STEP_MIN) * tE
    bump = dip = 0.0
    t0 = first - tE
    lo = hi = 0
    while t0 <= last + tE:
        while lo < n and t[lo] < t0 - half:
            lo += 1
        if lo >= n:
            break
        if t[lo] > t0 + half:  # empty window: jump to the next epoch
            t0 += max(step, math.ceil((t[lo] - half - t0) / step) * step)
            continue
        if hi < lo:
            hi = lo
        while hi < n and t[hi] <= t0 + half:
            hi += 1
        # Cauchy–Schwarz: a trial removes at most Σ_window w (f - μ)±² / rest (a bump: +, a dip: -);
        # skipped only when that is clearly below both maxima so far (so they are the same)
        rest = 1.0 - (pw[hi] - pw[lo]) / sw
        if rest > SCAN_FAST_REST and (pp[hi] - pp[lo]) < bump * rest * SCAN_MARGIN \
                and (pm[hi] - pm[lo]) < dip * rest * SCAN_MARGIN:
            t0 = skip_run(t, lo, hi, t0, step, half, last + tE)
            continue
        sa = saa = saf = 0.0
        for i in range(lo, hi):
            if keep[i]:
                a = tab[min(int(abs(t[i] - t0) * sc), TAB_N)]
                wa = w[i] * a
                sa += wa
                saa += wa * a
                saf += wa * f[i]
        v = saa - sa * sa / sw
        if v > 1e-12 * saa:
            c = saf - sa * mu
            d = c * c / v
            if c > 0.0:
                bump = max(bump, d)
            else:
                dip = max(dip, d)
        t0 += step
    return bump, dip


@kernel
def nearest_u0(u0):
    """Index of the ``U0_GRID`` value nearest to ``u0`` in ``ln u0``."""
    best, kb = np.inf, 0
    for k in range(len(U0_GRID)):
        d = abs(math.log(max(u0, 1e-6) / U0_GRID[k]))
        if d < best:
            best, kb = d, k
    return kb


@kernel
def _side_chi2(t, f, w, t0, u02, tE, fs, fb, lo, hi):
    """χ² of the point lens ``fs·A + fb`` at ``(t0, u0², tE)`` over the epochs ``lo:hi``."""
    c = 0.0
    itE = 1.0 / tE
    for i in range(lo, hi):
        tau = (t[i] - t0) * itE
        r = f[i] - fs * magnification(u02 + tau * tau) - fb
        c += w[i] * r * r
    return c


@kernel
def rise_fall(t, f, w, t0, u0, tE, fs, fb):
    """Time asymmetry of an event: the Einstein time refitted on each side of the peak.

    With ``t0, u0, f_s, f_b`` fixed at the point-lens fit, ``tE`` is replaced by ``k·tE`` on the
    rise (epochs ``t0 - 3 tE <= t < t0``) and by ``k'·tE`` on the fall (``t0 <= t <= t0 + 3 tE``), each
    factor the best of :data:`SIDE_FACTORS` for its side's χ².

    Parameters
    ----------
    t, f, w : ndarray, shape (n,)
        Sorted times (days), normalised fluxes, weights.
    t0, u0, tE, fs, fb : float
        The point-lens fit (days; normalised flux units).

    Returns
    -------
    (float, float)
        ``log10(k'/k)`` (> 0: slower decline than rise, as an outburst) and the χ² the two side
        factors remove from the symmetric fit (>= 0). Both 0 when a side has fewer than 2 epochs.
    """
    if not (tE > 0.0 and fs > 0.0):
        return 0.0, 0.0
    a = np.searchsorted(t, t0 - SIDE_WINDOW * tE)
    m = np.searchsorted(t, t0)
    b = np.searchsorted(t, t0 + SIDE_WINDOW * tE, side="right")
    if m - a < 2 or b - m < 2:
        return 0.0, 0.0
    u02 = u0 * u0
    lkr, c1r = _side_best(t, f, w, t0, u02, tE, fs, fb, a, m)
    lkf, c1f = _side_best(t, f, w, t0, u02, tE, fs, fb, m, b)
    c0 = _side_chi2(t, f, w, t0, u02, tE, fs, fb, a, b)
    return (lkf - lkr) / math.log(10.0), max(c0 - c1r - c1f, 0.0)


@kernel
def _side_best(t, f, w, t0, u02, tE, fs, fb, lo, hi):
    """(ln k, χ²) of the best tE factor ``k`` over the epochs ``lo:hi``: :data:`SIDE_FACTORS`, then the
    vertex of the parabola through the best factor and its neighbours (in ln k)."""
    nk = len(SIDE_FACTORS)
    c = np.empty(nk)
    j = 0
    for k in range(nk):
        c[k] = _side_chi2(t, f, w, t0, u02, tE * SIDE_FACTORS[k], fs, fb, lo, hi)
        if c[k] < c[j]:
            j = k
    lk, best = math.log(SIDE_FACTORS[j]), c[j]
    if 0 < j < nk - 1:
        h = math.log(SIDE_FACTORS[1] / SIDE_FACTORS[0])
        den = c[j - 1] - 2.0 * c[j] + c[j + 1]
        if den > 0.0:
            x = lk + 0.5 * h * (c[j - 1] - c[j + 1]) / den
            cx = _side_chi2(t, f, w, t0, u02, tE * math.exp(x), fs, fb, lo, hi)
            if cx < best:
                lk, best = x, cx
    return lk, best
