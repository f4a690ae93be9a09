"""Numba kernels of the physical stage (pure; the stage is described in :mod:`lia_dask.features.physical`).

Also the block's column names (:data:`COL`, compile-time index constants ``_I_<name>``), the
per-lightcurve driver :func:`fit_models` and its batch loop :func:`fit_models_batch`.

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
#: prior upper bound of the fitted tE (days): heavily blended, sparsely covered events are degenerate
#: along u0 -> 0, f_s -> 0, tE -> infinity (only u0·tE is constrained); the fit stays in the physical range
TE_MAX = 1000.0
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
        theta[2] = min(max(theta[2], math.log(0.1)), math.log(TE_MAX))
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


# ----------------------------------------------------------------------------- names and one lightcurve
MIN_POINTS = 8
PHYS_OK, PHYS_FEW, PHYS_SPAN, PHYS_FAIL = 0, 1, 2, 3
#: phys_reason code -> one-line explanation
PHYS_REASONS = {
    PHYS_OK: "ok",
    PHYS_FEW: f"fewer than {MIN_POINTS} epochs with finite time, flux and positive error",
    PHYS_SPAN: "all epochs at the same time",
    PHYS_FAIL: "no PSPL model with a positive source flux fits (e.g. a constant or fading lightcurve)",
}

#: the feature block the classifier gets, in order (periodic columns only in the ``+ls`` variant): model
#: comparisons and residual shapes only, all invariant to a rescaling of the error bars (survey
#: pipelines underestimate them) and free of the simulation's priors on u0, tE and blending
CORE_NAMES: tuple[str, ...] = (
    "phys_dbic_const", "phys_dbic_trend", "phys_dbic_fred", "phys_r2_pspl", "phys_r2_trend", "phys_r2_fred",
    "phys_resid_runs_z", "phys_resid_acf1", "phys_event_asym", "phys_baseline_excursion", "phys_reason",
)
PERIODIC_NAMES: tuple[str, ...] = ("phys_dbic_periodic", "phys_r2_periodic", "phys_log_period", "phys_ls_power")
#: further columns of :func:`physical_block` (not in the feature sets): the fit parameters and coverage
#: used by the candidate flag and the plots — absolute t0 (days), tE (days), f_s and f_b in the input
#: flux unit, the error scale sqrt(s²) applied to the ΔBIC, number of epochs used
RAW_EXTRA: tuple[str, ...] = (
    "phys_t0_frac", "phys_u0", "phys_log_tE", "phys_log_Amax", "phys_source_frac", "phys_chi2r_pspl",
    "phys_chi2r_const", "phys_err_scale", "phys_fred_log_ratio", "phys_resid_mad", "phys_resid_outlier_frac",
    "phys_frac_in_event", "phys_n_peak", "phys_n_rise", "phys_n_fall", "t0", "tE", "fs", "fb", "n_used",
)
NCORE, NPER = len(CORE_NAMES), len(PERIODIC_NAMES)
NRAW = NCORE + NPER + len(RAW_EXTRA)
COL = {name: k for k, name in enumerate(CORE_NAMES + PERIODIC_NAMES + RAW_EXTRA)}
# column indices (numba compile-time constants), equal to COL[name]
_I_phys_dbic_const = 0
_I_phys_dbic_trend = 1
_I_phys_dbic_fred = 2
_I_phys_r2_pspl = 3
_I_phys_r2_trend = 4
_I_phys_r2_fred = 5
_I_phys_resid_runs_z = 6
_I_phys_resid_acf1 = 7
_I_phys_event_asym = 8
_I_phys_baseline_excursion = 9
_I_phys_reason = 10
_I_phys_dbic_periodic = 11
_I_phys_r2_periodic = 12
_I_phys_log_period = 13
_I_phys_ls_power = 14
_I_phys_t0_frac = 15
_I_phys_u0 = 16
_I_phys_log_tE = 17
_I_phys_log_Amax = 18
_I_phys_source_frac = 19
_I_phys_chi2r_pspl = 20
_I_phys_chi2r_const = 21
_I_phys_err_scale = 22
_I_phys_fred_log_ratio = 23
_I_phys_resid_mad = 24
_I_phys_resid_outlier_frac = 25
_I_phys_frac_in_event = 26
_I_phys_n_peak = 27
_I_phys_n_rise = 28
_I_phys_n_fall = 29
_I_t0 = 30
_I_tE = 31
_I_fs = 32
_I_fb = 33
_I_n_used = 34

@_njit
def _baseline_excursion(z, base, scale):
    """Largest excursion on the baseline: max over 3 consecutive baseline epochs of the smallest
    same-sign residual, in robust σ (``scale``). A second brightening (a recurrent outburst) or a
    dip gives a large value; isolated outliers do not (microlensing by a single lens does not repeat)."""
    best = 0.0
    if not scale > 0:
        return np.nan
    for i in range(len(z) - 2):
        if base[i] and base[i + 1] and base[i + 2]:
            lo = min(z[i], min(z[i + 1], z[i + 2]))
            hi = max(z[i], max(z[i + 1], z[i + 2]))
            best = max(best, max(lo, -hi))
    return best / scale


@_njit
def _residual_stats(z, out):
    """Runs-test z, lag-1 autocorrelation, robust scale (MAD/0.6745), fraction |z| > 4 of residuals."""
    n = len(z)
    npos = 0
    runs = 1
    for i in range(n):
        if z[i] > 0:
            npos += 1
        if i > 0 and (z[i] > 0) != (z[i - 1] > 0):
            runs += 1
    nneg = n - npos
    if npos > 0 and nneg > 0:
        mu = 2.0 * npos * nneg / n + 1.0
        var = (mu - 1.0) * (mu - 2.0) / (n - 1.0)
        out[_I_phys_resid_runs_z] = (runs - mu) / math.sqrt(var) if var > 0 else 0.0
    else:
        out[_I_phys_resid_runs_z] = -math.sqrt(n)
    s2 = s1 = 0.0
    for i in range(n):
        s2 += z[i] * z[i]
        if i > 0:
            s1 += z[i] * z[i - 1]
    out[_I_phys_resid_acf1] = s1 / s2 if s2 > 0 else 0.0
    out[_I_phys_resid_mad] = np.median(np.abs(z - np.median(z))) / 0.6744897501960817
    big = 0
    for i in range(n):
        if abs(z[i]) > 4.0:
            big += 1
    out[_I_phys_resid_outlier_frac] = big / n


@_njit
def fit_models(t, flux, ferr, freq, out):
    """Fit every model to one lightcurve and fill ``out`` (NRAW,), see the module docstring.

    Parameters
    ----------
    t, flux, ferr : ndarray, shape (n,)
        Times (days), fluxes and flux errors (any flux unit; difference fluxes work too).
    freq : float
        Best Lomb–Scargle frequency (1/d) for the periodic model; NaN: not fitted (columns NaN).
    out : ndarray, shape (NRAW,)
        Written in place; NaN where undefined. Returns the ``phys_reason`` code.
    """
    out[:] = np.nan
    good = np.isfinite(t) & np.isfinite(flux) & np.isfinite(ferr) & (ferr > 0)
    t, flux, ferr = t[good], flux[good], ferr[good]
    n = len(t)
    out[_I_n_used] = n
    if n < MIN_POINTS:
        out[_I_phys_reason] = PHYS_FEW
        return PHYS_FEW
    if not np.all(t[1:] >= t[:-1]):
        o = np.argsort(t, kind="mergesort")
        t, flux, ferr = t[o], flux[o], ferr[o]
    tmin, tmax = t[0], t[n - 1]
    span = tmax - tmin
    if not span > 0:
        out[_I_phys_reason] = PHYS_SPAN
        return PHYS_SPAN
    # normalise: centre on the median flux, unit = median error (works for difference fluxes too)
    c = np.median(flux)
    s = np.median(ferr)
    f = (flux - c) / s
    e = ferr / s
    w = 1.0 / (e * e)
    g = np.empty(n)
    lnn = math.log(n)
    # physical blending: the source cannot be much brighter than the baseline (f_b >= -BLEND_TOL·median);
    # no bound for fluxes around zero (difference imaging)
    fbmin = -(1.0 + BLEND_TOL) * c / s if c > 0 else -np.inf
    sw = swf = 0.0
    for i in range(n):
        sw += w[i]
        swf += w[i] * f[i]
    mu = swf / sw
    chi_c = 0.0
    for i in range(n):
        chi_c += w[i] * (f[i] - mu) ** 2
    chi_c = max(chi_c, 1e-12)
    tmid, half = 0.5 * (tmin + tmax), 0.5 * span
    chi_t = min(poly_chi2(t, f, w, 2, tmid, half), chi_c)
    # PSPL: grid, then LM from the best point of the three best tE values
    starts = np.empty((len(TE_GRID), 4))
    pspl_grid(t, f, w, starts, fbmin)
    order = np.argsort(starts[:, 0])
    lo_t, hi_t = tmin - span, tmax + span
    best = np.inf
    bth = np.empty(3)
    bfs = bfb = np.nan
    th = np.empty(3)
    for j in range(N_STARTS):
        k = order[j]
        if not np.isfinite(starts[k, 0]):
            continue
        th[0], th[1], th[2] = starts[k, 1], math.log(starts[k, 2]), math.log(starts[k, 3])
        chi2, fs, fb = lm(MODEL_PSPL, t, f, w, th, lo_t, hi_t, 20, fbmin)
        if chi2 < best:
            best, bfs, bfb = chi2, fs, fb
            bth[:] = th
    # FRED
    fb_best = fred_grid(t, f, w, g)
    chi_f = np.inf
    fred_th = np.empty(3)
    if np.isfinite(fb_best[0]):
        fred_th[0], fred_th[1], fred_th[2] = fb_best[1], math.log(fb_best[2]), math.log(fb_best[3])
        chi_f, _a, _b = lm(MODEL_FRED, t, f, w, fred_th, lo_t, hi_t, 20, -np.inf)
    chi_f = min(chi_f, chi_c)  # a FRED can always fall back to the constant (a -> 0)
    out[_I_phys_chi2r_const] = chi_c / (n - K_CONST)
    out[_I_phys_r2_trend] = 1.0 - chi_t / chi_c
    out[_I_phys_r2_fred] = 1.0 - chi_f / chi_c
    if np.isfinite(chi_f) and chi_f < chi_c:
        out[_I_phys_fred_log_ratio] = (fred_th[2] - fred_th[1]) / math.log(10.0)
    if np.isfinite(freq) and freq > 0:
        chi_p = min(harmonic_chi2(t, f, w, freq), chi_c)
        out[_I_phys_r2_periodic] = 1.0 - chi_p / chi_c
        out[_I_phys_log_period] = -math.log10(freq)
    else:
        chi_p = np.nan
    if not np.isfinite(best):
        out[_I_phys_reason] = PHYS_FAIL
        return PHYS_FAIL
    t0, u0, tE = bth[0], math.exp(bth[1]), math.exp(bth[2])
    # error scale: survey error bars are often underestimated; s² = the smallest reduced χ² of any model
    # (at least 1) rescales every χ² so the comparisons do not grow with the misestimate
    s2 = min(chi_c / (n - K_CONST), chi_t / (n - K_TREND))
    if n > K_PSPL:
        s2 = min(s2, best / (n - K_PSPL), chi_f / (n - K_FRED))
    if np.isfinite(chi_p) and n > K_PERIODIC:
        s2 = min(s2, chi_p / (n - K_PERIODIC))
    s2 = max(s2, 1.0)
    out[_I_phys_err_scale] = math.sqrt(s2)
    out[_I_phys_t0_frac] = (t0 - tmin) / span
    out[_I_phys_u0] = u0
    out[_I_phys_log_tE] = math.log10(tE)
    a0 = magnification(u0 * u0)
    out[_I_phys_log_Amax] = math.log10(a0)
    fs_abs = bfs * s
    fb_abs = bfb * s + c
    out[_I_phys_source_frac] = fs_abs / (fs_abs + fb_abs) if fs_abs + fb_abs != 0 else np.nan
    out[_I_phys_chi2r_pspl] = best / (n - K_PSPL) if n > K_PSPL else np.nan
    out[_I_phys_dbic_const] = (chi_c - best) / s2 + (K_CONST - K_PSPL) * lnn
    out[_I_phys_dbic_trend] = (chi_t - best) / s2 + (K_TREND - K_PSPL) * lnn
    out[_I_phys_dbic_fred] = (chi_f - best) / s2 + (K_FRED - K_PSPL) * lnn
    out[_I_phys_r2_pspl] = 1.0 - best / chi_c
    if np.isfinite(chi_p):
        out[_I_phys_dbic_periodic] = (chi_p - best) / s2 + (K_PERIODIC - K_PSPL) * lnn
    out[_I_t0] = t0
    out[_I_tE] = tE
    out[_I_fs] = fs_abs
    out[_I_fb] = fb_abs
    # residuals and event coverage
    z = np.empty(n)
    u02 = u0 * u0
    half_amp = 0.5 * (a0 - 1.0)
    tenth_amp = 0.1 * (a0 - 1.0)
    n_in = n_peak = n_rise = n_fall = 0
    asym = 0.0
    n_ev = 0
    base = np.empty(n, np.bool_)
    for i in range(n):
        tau = (t[i] - t0) / tE
        a = magnification(u02 + tau * tau)
        z[i] = (f[i] - bfs * a - bfb) * math.sqrt(w[i] / s2)
        base[i] = a - 1.0 < tenth_amp
        if abs(tau) < 1.0:
            n_in += 1
        if a - 1.0 >= half_amp:
            n_peak += 1
        elif a - 1.0 >= tenth_amp:
            if t[i] < t0:
                n_rise += 1
            else:
                n_fall += 1
        if a - 1.0 >= tenth_amp:
            n_ev += 1
            asym += z[i] if t[i] < t0 else -z[i]
    _residual_stats(z, out)
    out[_I_phys_baseline_excursion] = _baseline_excursion(z, base, out[_I_phys_resid_mad])
    out[_I_phys_event_asym] = asym / math.sqrt(n_ev) if n_ev > 0 else 0.0
    out[_I_phys_frac_in_event] = n_in / n
    out[_I_phys_n_peak] = n_peak
    out[_I_phys_n_rise] = n_rise
    out[_I_phys_n_fall] = n_fall
    out[_I_phys_reason] = PHYS_OK
    return PHYS_OK


@_njit
def fit_models_batch(offsets, time, flux, ferr, freqs, rows):
    """:func:`fit_models` for the lightcurves ``rows`` of a ragged batch -> (len(rows), NRAW)."""
    out = np.full((len(rows), NRAW), np.nan)
    for k in range(len(rows)):
        i = rows[k]
        a, b = offsets[i], offsets[i + 1]
        fit_models(time[a:b], flux[a:b], ferr[a:b], freqs[i], out[k])
    return out


@_njit
def mag_to_flux(y, yerr, zp):
    """Magnitudes -> (flux, flux error) at zero point ``zp`` (``f = 10**(-(m - zp)/2.5)``)."""
    f = np.empty(len(y))
    fe = np.empty(len(y))
    for i in range(len(y)):
        f[i] = 10.0 ** (-(y[i] - zp) / 2.5)
        fe[i] = yerr[i] * f[i] * math.log(10.0) / 2.5
    return f, fe
