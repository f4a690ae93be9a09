"""Global searches of the physical block (numba, pure): the PSPL grid and the FRED grid.

They give the starting points of Levenberg–Marquardt (:func:`lia_dask.features.physical_fit.lm_fit`).
Conventions as in :mod:`lia_dask.features.physical_fit`; here ``t`` is sorted and ``f`` normalised
(centred on the median flux, in units of the median error), one band.

PSPL grid: ``tE`` log-spaced 1–1000 d (:data:`TE_GRID`), ``u0`` in :data:`U0_GRID`, ``t0`` stepped by
``max(u0, 0.35)·tE`` from ``tE`` before the first to ``tE`` after the last epoch (peaks in gaps, at
season edges and outside the data are tried; steps over empty stretches jump to the next epoch).
Each trial visits only the epochs with ``|t - t0| < 2 tE`` (outside, ``A - 1 < 0.07`` is neglected in
the grid only; LM is exact), with ``A - 1`` from a table per grid ``u0``, and is skipped without
visiting them when a Cauchy–Schwarz bound on the χ² it can remove (from prefix sums of the positive
residuals about the weighted mean) cannot beat the best trial of its ``tE`` so far.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel
from .physical_fit import FAST, FRED_MIN_RATIO, FS_REJECT, MODEL_FRED, NS, amplitudes, band_sums

#: grid tE values (days), log-spaced over the range the issue asks for
TE_GRID = np.exp(np.linspace(np.log(1.0), np.log(1000.0), 7))
#: grid u0 values
U0_GRID = np.array([0.12, 0.6])
#: half width of a PSPL grid trial's window, in tE
WINDOW = 2.0
#: A(u) - 1 tabulated in |τ| on [0, WINDOW] per grid u0 (nearest entry; the grid only)
TAB_N = 4096
TAB_SCALE = TAB_N / WINDOW
TAB = np.empty((len(U0_GRID), TAB_N + 1))
for _k, _u0 in enumerate(U0_GRID):
    _tau = (np.arange(TAB_N + 1) + 0.5) / TAB_SCALE
    _u2 = _u0 * _u0 + _tau * _tau
    TAB[_k] = (_u2 + 2.0) / np.sqrt(_u2 * (_u2 + 4.0)) - 1.0
#: FRED grid: rise and decline times (days); peak at the two brightest epochs
TAU_R = np.array([0.5, 3.0])
TAU_D = np.array([2.0, 10.0, 50.0])


@kernel(fastmath=FAST)
def _window_chi2(t, f, w, lo, hi, t0, tab, sc, sw, swf, swff, fbmin):
    """Grid χ² of a PSPL at ``t0`` from the epochs ``lo:hi`` (``A - 1`` from ``tab``, 0 outside)."""
    sa = saa = saf = 0.0
    for i in range(lo, hi):
        a = tab[min(int(abs(t[i] - t0) * sc), TAB_N)]
        wa = w[i] * a
        sa += wa
        saa += wa * a
        saf += wa * f[i]
    # basis g = 1 + a
    _fs, _fb, chi2, _free = amplitudes(sw, sw + sa, sw + 2.0 * sa + saa, swf, swf + saf, swff, fbmin, FS_REJECT)
    return chi2


@kernel(fastmath=FAST)
def pspl_grid(t, f, w, starts, fbmin):
    """Windowed PSPL grid; ``starts`` (len(TE_GRID), 4) <- best (χ², t0, u0, tE) per tE value (χ² inf: none).

    Parameters
    ----------
    t, f, w : ndarray, shape (n,)
        Sorted times (days), normalised fluxes and weights.
    starts : ndarray, shape (len(TE_GRID), 4)
        Written in place.
    fbmin : float
        Lower bound of the blend flux (normalised units).
    """
    n = len(t)
    sw = swf = swff = 0.0
    for i in range(n):
        sw += w[i]
        swf += w[i] * f[i]
        swff += w[i] * f[i] * f[i]
    # prefix sums for the bound: weights and weighted squared positive residuals about the mean
    mu = swf / sw
    pw = np.empty(n + 1)
    pr = np.empty(n + 1)
    pw[0] = pr[0] = 0.0
    ibright = 0
    for i in range(n):
        r = max(f[i] - mu, 0.0)
        pw[i + 1] = pw[i] + w[i]
        pr[i + 1] = pr[i] + w[i] * r * r
        if w[i] * r * r > w[ibright] * max(f[ibright] - mu, 0.0) ** 2:
            ibright = i
    chi_c = swff - swf * mu
    tmin, tmax = t[0], t[n - 1]
    for k in range(len(TE_GRID)):
        tE = TE_GRID[k]
        starts[k, 0] = np.inf
        sc = TAB_SCALE / tE
        half = WINDOW * tE
        # seeds that raise the bar of the bound early: the most significant epoch, the previous tE's best
        for ku in range(len(U0_GRID)):
            for seed in range(2):
                if seed == 1 and not (k > 0 and np.isfinite(starts[k - 1, 0])):
                    continue
                t0 = t[ibright] if seed == 0 else starts[k - 1, 1]
                lo = np.searchsorted(t, t0 - half)
                hi = np.searchsorted(t, t0 + half, side="right")
                chi2 = _window_chi2(t, f, w, lo, hi, t0, TAB[ku], sc, sw, swf, swff, fbmin)
                if chi2 < starts[k, 0]:
                    starts[k, 0], starts[k, 1], starts[k, 2], starts[k, 3] = chi2, t0, U0_GRID[ku], tE
        for ku in range(len(U0_GRID)):
            u0 = U0_GRID[ku]
            step = max(u0, 0.35) * tE
            t0 = tmin - tE
            lo = 0
            hi = 0
            while t0 <= tmax + tE:
                while lo < n and t[lo] < t0 - half:
                    lo += 1
                if lo >= n:
                    break
                if t[lo] > t0 + half:  # empty window: jump to the next epoch
                    nxt = t[lo] - half
                    t0 += max(step, math.ceil((nxt - t0) / step) * step)
                    continue
                if hi < lo:
                    hi = lo
                while hi < n and t[hi] <= t0 + half:
                    hi += 1
                rest = 1.0 - (pw[hi] - pw[lo]) / sw
                if not (rest > 1e-9 and chi_c - (pr[hi] - pr[lo]) / rest >= starts[k, 0]):
                    chi2 = _window_chi2(t, f, w, lo, hi, t0, TAB[ku], sc, sw, swf, swff, fbmin)
                    if chi2 < starts[k, 0]:
                        starts[k, 0], starts[k, 1], starts[k, 2], starts[k, 3] = chi2, t0, u0, tE
                    t0 += step
                else:
                    t0 = skip_run(t, lo, hi, t0, step, half, tmax + tE)


@kernel
def skip_run(t, lo, hi, t0, step, half, t0_max):
    """The next ``t0`` after a trial at ``t0`` whose window ``t[lo:hi]`` (non-empty) a bound skipped.

    Until the next epoch enters the window (``t[hi] <= t0 + half``) or its last one leaves it, each
    trial's window is a part of this one: a smaller χ² the bound allows it to remove and more weight
    outside, so its bound (computed with the same monotone operations, and the best unchanged) skips
    it too. Those trials are stepped over without the window's bookkeeping; ``t0`` takes exactly the
    values the scan would give it. Shared by the grid and :func:`lia_dask.features.physical_nulls.bump_scan`.
    """
    last_in = t[hi - 1]
    next_in = t[hi] if hi < len(t) else np.inf
    t0 += step
    while t0 <= t0_max and t0 + half < next_in and last_in >= t0 - half:
        t0 += step
    return t0


@kernel
def brightest_two(f):
    """The first two entries of ``np.argsort(-f)`` (``f`` of length >= 2), in one pass when there is no tie.

    Where the largest or the second largest value occurs more than once the order of ``argsort`` decides,
    so that case calls it.
    """
    if len(f) < 2:
        return np.argsort(-f)[:2]
    i1 = i2 = -1
    for i in range(len(f)):
        if i1 < 0 or f[i] > f[i1]:
            i1, i2 = i, i1
        elif i2 < 0 or f[i] > f[i2]:
            i2 = i
    n1 = n2 = 0
    for i in range(len(f)):
        n1 += f[i] == f[i1]
        n2 += f[i] == f[i2]
    if n1 > 1 or n2 > 1 or not (f[i1] == f[i1] and f[i2] == f[i2]):
        return np.argsort(-f)[:2]
    out = np.empty(2, np.int64)
    out[0], out[1] = i1, i2
    return out


@kernel
def fred_grid(t, f, w):
    """Best FRED grid point -> (χ², tp, τr, τd); tp at the two brightest epochs, ``t`` sorted.

    The rise and the decline are summed separately (epochs before / from ``tp``), so each (τr, τd)
    pair costs no pass of its own.
    """
    n = len(t)
    order = brightest_two(f)
    best = (np.inf, t[order[0]], 1.0, 10.0)
    rise = np.empty((len(TAU_R), NS))
    fall = np.empty((len(TAU_D), NS))
    for c in range(min(2, n)):
        tp = t[order[c]]
        m = np.searchsorted(t, tp)  # epochs m: are at or after tp
        for a in range(len(TAU_R)):
            band_sums(MODEL_FRED, t, f, w, 0, m, tp, 1.0 / TAU_R[a], 1.0, False, rise[a])
        for d in range(len(TAU_D)):
            band_sums(MODEL_FRED, t, f, w, m, n, tp, 1.0, 1.0 / TAU_D[d], False, fall[d])
        for a in range(len(TAU_R)):
            for d in range(len(TAU_D)):
                if TAU_D[d] < FRED_MIN_RATIO * TAU_R[a]:
                    continue
                r, q = rise[a], fall[d]
                _fs, _fb, chi2, _free = amplitudes(r[0] + q[0], r[1] + q[1], r[2] + q[2], r[3] + q[3], r[4] + q[4],
                                                   r[5] + q[5], -np.inf, FS_REJECT)
                if chi2 < best[0]:
                    best = (chi2, tp, TAU_R[a], TAU_D[d])
    return best
