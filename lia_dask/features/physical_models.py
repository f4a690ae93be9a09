"""Model kernels of the physical stage (pure numba; see :mod:`lia_dask.features.physical`).

PSPL with blending (``f_s A(u) + f_b``) and the FRED outburst share one machinery: a basis
function of three non-linear parameters, amplitudes solved linearly (:func:`linfit`, with a lower
bound on the blend flux), a global grid (:func:`pspl_grid` with windowed sums over a tabulated
``A - 1``; :func:`fred_grid`) and Levenberg–Marquardt on the profiled residuals (:func:`lm`).
The competitors without non-linear parameters: :func:`poly_chi2` (constant, trend) and
:func:`harmonic_chi2` (periodic, at a given frequency).

Parameter vectors ``theta``: PSPL ``(t0 [d], ln u0, ln tE [d])``; FRED ``(tp [d], ln τr, ln τd)``.
Fluxes ``f`` and weights ``w = 1/σ²`` are the caller's normalised values (any unit).
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .common import KERNEL_OPTIONS

_njit = numba.njit(**KERNEL_OPTIONS)
#: hot loops: reassociation lets LLVM vectorise the sums (inputs are finite; inf/NaN semantics kept)
_njit_fast = numba.njit(**KERNEL_OPTIONS, fastmath={"reassoc", "contract", "arcp"})

K_PSPL, K_CONST, K_TREND, K_FRED, K_PERIODIC = 5, 1, 3, 5, 6
TE_GRID = np.exp(np.linspace(np.log(1.0), np.log(1000.0), 7))
_U0_GRID = np.array([0.12, 0.6])
_WINDOW = 3.0
#: A(u) - 1 tabulated in |τ| on [0, _WINDOW] per grid u0 (nearest entry; the grid only, LM is exact)
_TAB_N = 4096
_TAB_SCALE = _TAB_N / _WINDOW
_TAB = np.empty((len(_U0_GRID), _TAB_N + 1))
for _k, _u0 in enumerate(_U0_GRID):
    _tau = (np.arange(_TAB_N + 1) + 0.5) / _TAB_SCALE
    _u2 = _u0 * _u0 + _tau * _tau
    _TAB[_k] = (_u2 + 2.0) / np.sqrt(_u2 * (_u2 + 4.0)) - 1.0
_TAU_R = np.array([0.5, 3.0])
_TAU_D = np.array([2.0, 10.0, 50.0])
MODEL_PSPL, MODEL_FRED = 0, 1
#: LM starts: the best grid point of this many tE values
N_STARTS = 2
#: allowed negative blend flux, as a fraction of the median flux (noise in the baseline)
BLEND_TOL = 0.2
#: the FRED's decline is at least this many times slower than its rise
FRED_MIN_RATIO = 2.0


# ----------------------------------------------------------------------------- building blocks
@_njit
def magnification(u2):
    """PSPL magnification ``A`` of ``u²`` (scalar)."""
    return (u2 + 2.0) / math.sqrt(u2 * (u2 + 4.0))


@_njit_fast
def linfit(g, f, w, fbmin):
    """Weighted LSQ ``f ≈ fs·g + fb`` with ``fb >= fbmin`` -> (fs, fb, χ²); χ² = inf when degenerate."""
    sw = swg = swgg = swf = swgf = 0.0
    for i in range(len(f)):
        wi = w[i]
        sw += wi
        swg += wi * g[i]
        swgg += wi * g[i] * g[i]
        swf += wi * f[i]
        swgf += wi * g[i] * f[i]
    det = sw * swgg - swg * swg
    if not det > 1e-12 * sw * swgg:
        return np.nan, np.nan, np.inf
    fs = (sw * swgf - swg * swf) / det
    fb = (swf - fs * swg) / sw
    if fb < fbmin:  # blend flux at its bound: one-parameter fit of fs
        fb = fbmin
        fs = (swgf - fbmin * swg) / swgg
    chi2 = 0.0
    for i in range(len(f)):
        r = f[i] - fs * g[i] - fb
        chi2 += w[i] * r * r
    return fs, fb, chi2


@_njit
def _basis(model, t, theta, g):
    """Fill ``g`` with the shape of ``model`` (PSPL: A(u); FRED: unit outburst) at ``theta``."""
    if model == MODEL_PSPL:
        t0, u0, tE = theta[0], math.exp(theta[1]), math.exp(theta[2])
        u02 = u0 * u0
        for i in range(len(t)):
            tau = (t[i] - t0) / tE
            g[i] = magnification(u02 + tau * tau)
    else:
        tp, tr, td = theta[0], math.exp(theta[1]), math.exp(theta[2])
        for i in range(len(t)):
            x = (t[i] - tp) / tr if t[i] < tp else -(t[i] - tp) / td
            g[i] = math.exp(x) if x > -50.0 else 0.0


@_njit
def profiled(model, t, f, w, theta, g, fbmin):
    """(χ², fs, fb) of ``model`` at ``theta`` with the linear amplitudes solved; inf if fs <= 0."""
    _basis(model, t, theta, g)
    fs, fb, chi2 = linfit(g, f, w, fbmin)
    if not fs > 0.0:
        return np.inf, fs, fb
    return chi2, fs, fb


@_njit
def _clamp(model, theta, lo_t, hi_t):
    theta[0] = min(max(theta[0], lo_t), hi_t)
    if model == MODEL_PSPL:
        theta[1] = min(max(theta[1], math.log(1e-4)), math.log(3.0))
        theta[2] = min(max(theta[2], math.log(0.1)), math.log(1e4))
    else:
        theta[1] = min(max(theta[1], math.log(0.01)), math.log(1e3))
        theta[2] = min(max(theta[2], theta[1] + math.log(FRED_MIN_RATIO)), math.log(3e3))


@_njit
def solve3(a, b):
    """Solve the 3x3 system ``a x = b`` (Gaussian elimination, partial pivoting); NaN if singular."""
    m = a.copy()
    x = b.copy()
    for c in range(3):
        p = c
        for r in range(c + 1, 3):
            if abs(m[r, c]) > abs(m[p, c]):
                p = r
        if m[p, c] == 0.0:
            x[:] = np.nan
            return x
        if p != c:
            for k in range(3):
                m[c, k], m[p, k] = m[p, k], m[c, k]
            x[c], x[p] = x[p], x[c]
        for r in range(c + 1, 3):
            fct = m[r, c] / m[c, c]
            for k in range(c, 3):
                m[r, k] -= fct * m[c, k]
            x[r] -= fct * x[c]
    for c in range(2, -1, -1):
        s = x[c]
        for k in range(c + 1, 3):
            s -= m[c, k] * x[k]
        x[c] = s / m[c, c]
    return x


@_njit
def lm(model, t, f, w, theta, lo_t, hi_t, iters, fbmin):
    """Levenberg–Marquardt on the profiled residuals of ``model`` from ``theta`` (changed in place).

    Returns (χ², fs, fb) at the final ``theta``.
    """
    n = len(t)
    g = np.empty(n)
    r = np.empty(n)
    r2 = np.empty(n)
    jac = np.empty((n, 3))
    sq = np.sqrt(w)
    chi2, fs, fb = profiled(model, t, f, w, theta, g, fbmin)
    if not np.isfinite(chi2):
        return chi2, fs, fb
    lam = 1e-2
    trial = np.empty(3)
    jtj = np.empty((3, 3))
    jtr = np.empty(3)
    for _ in range(iters):
        for i in range(n):
            r[i] = sq[i] * (f[i] - fs * g[i] - fb)
        if model == MODEL_PSPL:
            h0 = 1e-3 * math.exp(theta[2]) * max(math.exp(theta[1]), 1e-2)
        else:
            h0 = 1e-3 * math.exp(theta[1])
        ok = True
        for j in range(3):
            trial[:] = theta
            h = h0 if j == 0 else 1e-4
            trial[j] += h
            _basis(model, t, trial, g)
            a, b, c2 = linfit(g, f, w, fbmin)
            if not np.isfinite(c2):
                ok = False
                break
            for i in range(n):
                r2[i] = sq[i] * (f[i] - a * g[i] - b)
                jac[i, j] = (r2[i] - r[i]) / h
        if not ok:
            break
        for a_ in range(3):
            jtr[a_] = 0.0
            for b_ in range(3):
                jtj[a_, b_] = 0.0
            for i in range(n):
                jtr[a_] += jac[i, a_] * r[i]
        for a_ in range(3):
            for b_ in range(a_, 3):
                s = 0.0
                for i in range(n):
                    s += jac[i, a_] * jac[i, b_]
                jtj[a_, b_] = s
                jtj[b_, a_] = s
        improved = False
        for _try in range(8):
            m = jtj.copy()
            for k in range(3):
                m[k, k] += lam * max(jtj[k, k], 1e-12)
            step = solve3(m, -jtr)
            if not np.all(np.isfinite(step)):
                lam *= 10.0
                continue
            trial[:] = theta + step
            _clamp(model, trial, lo_t, hi_t)
            c_new, fs_new, fb_new = profiled(model, t, f, w, trial, g, fbmin)
            if c_new < chi2:
                rel = (chi2 - c_new) / max(chi2, 1e-300)
                theta[:] = trial
                chi2, fs, fb = c_new, fs_new, fb_new
                lam = max(lam / 3.0, 1e-7)
                improved = True
                break
            lam *= 4.0
        if not improved or rel < 1e-7:
            break
    profiled(model, t, f, w, theta, g, fbmin)  # leave g consistent with theta for the caller
    return chi2, fs, fb


# ----------------------------------------------------------------------------- global searches
@_njit_fast
def pspl_grid(t, f, w, starts, fbmin):
    """Windowed grid search; ``starts`` (len(TE_GRID), 4) <- best (χ², t0, u0, tE) per tE value."""
    n = len(t)
    sw = swf = swff = 0.0
    for i in range(n):
        sw += w[i]
        swf += w[i] * f[i]
        swff += w[i] * f[i] * f[i]
    tmin, tmax = t[0], t[n - 1]
    for k in range(len(TE_GRID)):
        tE = TE_GRID[k]
        inv = 1.0 / tE
        starts[k, 0] = np.inf
        for ku in range(len(_U0_GRID)):
            u0 = _U0_GRID[ku]
            tab = _TAB[ku]
            step = max(u0, 0.35) * tE
            half = _WINDOW * tE
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
                sa = saa = saf = 0.0
                sc = inv * _TAB_SCALE
                for i in range(lo, hi):
                    a = tab[min(int(abs(t[i] - t0) * sc), _TAB_N)]
                    wa = w[i] * a
                    sa += wa
                    saa += wa * a
                    saf += wa * f[i]
                det = sw * saa - sa * sa
                if det > 1e-12 * sw * saa:
                    fs = (sw * saf - sa * swf) / det
                    fb = (swf - fs * (sw + sa)) / sw
                    if fb < fbmin:  # blend at its bound (see _linfit)
                        fb = fbmin
                        sga = sw + 2.0 * sa + saa
                        sgy = swf + saf - fbmin * (sw + sa)
                        fs = sgy / sga
                        chi2 = swff - 2.0 * fbmin * swf + fbmin * fbmin * sw - fs * sgy
                    else:
                        chi2 = swff - fs * (swf + saf) - fb * swf
                    if fs > 0.0:
                        if chi2 < starts[k, 0]:
                            starts[k, 0] = chi2
                            starts[k, 1] = t0
                            starts[k, 2] = u0
                            starts[k, 3] = tE
                t0 += step


@_njit
def fred_grid(t, f, w, g):
    """Best FRED grid point -> (χ², tp, τr, τd); tp at the three brightest epochs."""
    n = len(t)
    order = np.argsort(-f)
    best = (np.inf, t[order[0]], 1.0, 10.0)
    theta = np.empty(3)
    for c in range(min(2, n)):
        tp = t[order[c]]
        for tr in _TAU_R:
            for td in _TAU_D:
                if td < FRED_MIN_RATIO * tr:
                    continue
                theta[0], theta[1], theta[2] = tp, math.log(tr), math.log(td)
                chi2, _fs, _fb = profiled(MODEL_FRED, t, f, w, theta, g, -np.inf)
                if chi2 < best[0]:
                    best = (chi2, tp, tr, td)
    return best


@_njit
def poly_chi2(t, f, w, deg, tmid, half):
    """χ² of the weighted LSQ polynomial of degree ``deg`` (<= 2) in ``(t - tmid)/half``."""
    k = deg + 1
    a = np.zeros((3, 3))
    b = np.zeros(3)
    p = np.empty(3)
    for i in range(len(t)):
        x = (t[i] - tmid) / half
        p[0], p[1], p[2] = 1.0, x, x * x
        for r in range(k):
            b[r] += w[i] * p[r] * f[i]
            for c in range(k):
                a[r, c] += w[i] * p[r] * p[c]
    for r in range(k, 3):
        a[r, r] = 1.0
    coef = solve3(a, b)
    if not np.all(np.isfinite(coef)):
        return np.inf
    chi2 = 0.0
    for i in range(len(t)):
        x = (t[i] - tmid) / half
        r = f[i] - (coef[0] + coef[1] * x + coef[2] * x * x)
        chi2 += w[i] * r * r
    return chi2


@_njit
def harmonic_chi2(t, f, w, freq):
    """χ² of a constant plus two harmonics at ``freq`` (1/d), weighted LSQ (5 coefficients)."""
    n = len(t)
    k = 5
    a = np.zeros((k, k))
    b = np.zeros(k)
    p = np.empty(k)
    for i in range(n):
        ph = 2.0 * math.pi * freq * t[i]
        p[0], p[1], p[2], p[3], p[4] = 1.0, math.cos(ph), math.sin(ph), math.cos(2 * ph), math.sin(2 * ph)
        for r in range(k):
            b[r] += w[i] * p[r] * f[i]
            for c in range(k):
                a[r, c] += w[i] * p[r] * p[c]
    for r in range(k):
        a[r, r] *= 1.0 + 1e-10
    coef = np.linalg.solve(a, b)
    chi2 = 0.0
    for i in range(n):
        ph = 2.0 * math.pi * freq * t[i]
        m = coef[0] + coef[1] * math.cos(ph) + coef[2] * math.sin(ph) + coef[3] * math.cos(2 * ph) \
            + coef[4] * math.sin(2 * ph)
        r = f[i] - m
        chi2 += w[i] * r * r
    return chi2
