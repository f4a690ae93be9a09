"""The physical block's column names and its driver (numba, pure; the stage is described in :mod:`lia_dask.features.physical`).

:data:`COL` (compile-time index constants ``_I_<name>``), the per-lightcurve driver :func:`fit_models`
and its batch loop :func:`fit_models_batch`, :func:`mag_to_flux`. The kernels it drives live in topic
modules: the one point-lens / FRED fitting machinery (:mod:`~lia_dask.features.physical_fit`: bases,
linear amplitudes, Levenberg–Marquardt; shared with the multi-band joint fit), the global searches
(:mod:`~lia_dask.features.physical_search`), the competitors without non-linear parameters
(:mod:`~lia_dask.features.physical_competitors`) and the residual statistics
(:mod:`~lia_dask.features.physical_residuals`). All are compiled by :func:`lia_dask.features.common.kernel`,
whose cache stamp covers every kernel source of the package, so an edit of a helper recompiles its callers.

Parameter vectors ``theta``: PSPL ``(t0 [d], ln u0, ln tE [d])``; FRED ``(tp [d], ln τr, ln τd)``.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel
from .physical_competitors import harmonic_chi2, poly_chi2
from .physical_fit import FRED_MIN_RATIO, FS_REJECT, MODEL_FRED, MODEL_PSPL, NS, lm_fit, magnification
from .physical_nulls import bump_scan, nearest_u0, rise_fall
from .physical_outburst import outburst_chi2
from .physical_residuals import baseline_excursion, residual_stats
from .physical_search import TE_GRID, fred_grid, pspl_grid

K_PSPL, K_CONST, K_TREND, K_FRED, K_PERIODIC, K_BURST = 5, 1, 3, 5, 6, 6
#: prior upper bound of the fitted tE (days): heavily blended, sparsely covered events are degenerate
#: along u0 -> 0, f_s -> 0, tE -> infinity (only u0·tE is constrained); the fit stays in the physical range
TE_MAX = 1000.0
#: LM starts: the best grid point of this many tE values
N_STARTS = 2
#: LM iterations at most
LM_ITERS = 20
#: allowed negative blend flux, as a fraction of the median flux (noise in the baseline)
BLEND_TOL = 0.2
#: second-bump search: residual epochs at least this many tE from t0 (outside the event)
SECOND_EXCLUDE = 2.0
#: the outburst competitor is searched when the point lens removes at least this χ² from the constant's
#: (in units of the constant's reduced χ², at least 1): a brightening worth telling apart from an outburst
BURST_GATE = 30.0


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
    "phys_resid_runs_z", "phys_resid_acf1", "phys_event_asym", "phys_baseline_excursion",
    "phys_bump_dip", "phys_bump_dip_ratio", "phys_second_bump", "phys_second_ratio", "phys_rise_fall",
    "phys_rise_fall_dchi2", "phys_dbic_burst", "phys_r2_burst", "phys_burst_frac", "phys_reason",
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
_I_phys_bump_dip = 10
_I_phys_bump_dip_ratio = 11
_I_phys_second_bump = 12
_I_phys_second_ratio = 13
_I_phys_rise_fall = 14
_I_phys_rise_fall_dchi2 = 15
_I_phys_dbic_burst = 16
_I_phys_r2_burst = 17
_I_phys_burst_frac = 18
_I_phys_reason = 19
_I_phys_dbic_periodic = 20
_I_phys_r2_periodic = 21
_I_phys_log_period = 22
_I_phys_ls_power = 23
_I_phys_t0_frac = 24
_I_phys_u0 = 25
_I_phys_log_tE = 26
_I_phys_log_Amax = 27
_I_phys_source_frac = 28
_I_phys_chi2r_pspl = 29
_I_phys_chi2r_const = 30
_I_phys_err_scale = 31
_I_phys_fred_log_ratio = 32
_I_phys_resid_mad = 33
_I_phys_resid_outlier_frac = 34
_I_phys_frac_in_event = 35
_I_phys_n_peak = 36
_I_phys_n_rise = 37
_I_phys_n_fall = 38
_I_t0 = 39
_I_tE = 40
_I_fs = 41
_I_fb = 42
_I_n_used = 43

@kernel
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
    # PSPL: grid, then LM from the best grid point of the N_STARTS best tE values
    bo = np.array([0, n], np.int64)
    S = np.empty((1, NS))
    amp = np.empty((1, 4))
    starts = np.empty((len(TE_GRID), 4))
    pspl_grid(t, f, w, starts, fbmin)
    order = np.argsort(starts[:, 0])
    lo = np.array([tmin - span, math.log(1e-4), math.log(0.1)])
    hi = np.array([tmax + span, math.log(3.0), math.log(TE_MAX)])
    best = np.inf
    bth = np.empty(3)
    bfs = bfb = np.nan
    th = np.empty(3)
    for j in range(min(N_STARTS, len(order))):
        k = order[j]
        if not np.isfinite(starts[k, 0]):
            continue
        th[0], th[1], th[2] = starts[k, 1], math.log(starts[k, 2]), math.log(starts[k, 3])
        chi2 = lm_fit(MODEL_PSPL, t, f, w, bo, th, lo, hi, LM_ITERS, fbmin, FS_REJECT, S, amp)
        if chi2 < best:
            best, bfs, bfb = chi2, amp[0, 0], amp[0, 1]
            bth[:] = th
    # FRED
    fb_best = fred_grid(t, f, w)
    chi_f = np.inf
    fred_th = np.empty(3)
    if np.isfinite(fb_best[0]):
        fred_th[0], fred_th[1], fred_th[2] = fb_best[1], math.log(fb_best[2]), math.log(fb_best[3])
        lo[1], lo[2] = math.log(0.01), math.log(0.01 * FRED_MIN_RATIO)
        hi[1], hi[2] = math.log(1e3), math.log(3e3)
        chi_f = lm_fit(MODEL_FRED, t, f, w, bo, fred_th, lo, hi, LM_ITERS, -np.inf, FS_REJECT, S, amp)
    # the flat-topped outburst, brute force near the most significant epoch, when the point lens finds a
    # significant brightening (otherwise the FRED stands in for it); its FRED subset also corrects a FRED
    # fit that LM left in the wrong gap of a sparsely caught outburst
    chi_fb = chi_b = np.inf
    fred_log_ratio = (fred_th[2] - fred_th[1]) / math.log(10.0) if np.isfinite(chi_f) else np.nan
    if np.isfinite(best) and chi_c - best >= BURST_GATE * max(chi_c / (n - K_CONST), 1.0):
        swff = 0.0
        for i in range(n):
            swff += w[i] * f[i] * f[i]
        chi_b, chi_fb, fb_log_ratio = outburst_chi2(t, f, w, sw, swf, swff)
        if chi_fb < chi_f:  # the FRED columns describe the better of the two FRED fits, shape included
            fred_log_ratio = fb_log_ratio
    chi_f = min(chi_f, chi_fb, chi_c)  # a FRED can always fall back to the constant (a -> 0)
    chi_b = min(chi_b, chi_f)          # the outburst includes the FRED (no plateau)
    out[_I_phys_r2_burst] = 1.0 - chi_b / chi_c
    out[_I_phys_chi2r_const] = chi_c / (n - K_CONST)
    out[_I_phys_r2_trend] = 1.0 - chi_t / chi_c
    out[_I_phys_r2_fred] = 1.0 - chi_f / chi_c
    if np.isfinite(chi_f) and chi_f < chi_c:
        out[_I_phys_fred_log_ratio] = fred_log_ratio
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
    if n > K_BURST:
        s2 = min(s2, chi_b / (n - K_BURST))
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
    out[_I_phys_dbic_burst] = (chi_b - best) / s2 + (K_BURST - K_PSPL) * lnn
    out[_I_phys_burst_frac] = (chi_b - best) / max(chi_c - best, s2)
    out[_I_phys_r2_pspl] = 1.0 - best / chi_c
    if np.isfinite(chi_p):
        out[_I_phys_dbic_periodic] = (chi_p - best) / s2 + (K_PERIODIC - K_PSPL) * lnn
    out[_I_t0] = t0
    out[_I_tE] = tE
    out[_I_fs] = fs_abs
    out[_I_fb] = fb_abs
    # residuals and event coverage
    z = np.empty(n)
    r = np.empty(n)  # residuals in normalised flux (the null tests' second-bump scan reads them)
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
        r[i] = f[i] - bfs * a - bfb
        z[i] = r[i] * math.sqrt(w[i] / s2)
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
    runs_z, acf1, mad, outl = residual_stats(z)
    out[_I_phys_resid_runs_z] = runs_z
    out[_I_phys_resid_acf1] = acf1
    out[_I_phys_resid_mad] = mad
    out[_I_phys_resid_outlier_frac] = outl
    out[_I_phys_baseline_excursion] = baseline_excursion(z, base, mad)
    out[_I_phys_event_asym] = asym / math.sqrt(n_ev) if n_ev > 0 else 0.0
    out[_I_phys_frac_in_event] = n_in / n
    out[_I_phys_n_peak] = n_peak
    out[_I_phys_n_rise] = n_rise
    out[_I_phys_n_fall] = n_fall
    null_tests(t, f, w, r, t0, u0, tE, bfs, bfb, s2, out)
    out[_I_phys_reason] = PHYS_OK
    return PHYS_OK


@kernel
def null_tests(t, f, w, r, t0, u0, tE, fs, fb, s2, out):
    """The null tests of :mod:`~lia_dask.features.physical_nulls` for the fit ``(t0, u0, tE, fs, fb)`` into ``out``.

    ``r`` (n,) holds the residuals ``f - fs·A - fb`` of that fit (normalised flux).

    With ``D`` the χ² a bump / dip removes (:func:`~lia_dask.features.physical_nulls.bump_scan` at the
    fitted ``tE`` and the grid ``u0`` nearest the fitted one) and ``s²`` the error scale:

    * ``phys_bump_dip = (D_bump - D_dip)/s²`` and ``phys_bump_dip_ratio = log10((1 + D_bump/s²)/(1 + D_dip/s²))``
      on the lightcurve (a dip is the mirrored null of an event);
    * on the residuals of the point-lens fit at the epochs ``|t - t0| >= 2 tE``:
      ``phys_second_bump = (D2_bump - D2_dip)/s²`` and ``phys_second_ratio = log10((1 + D2_bump/s²)/(1 + D_bump/s²))``
      (a recurrent outburst: large and near 0; a single lens: small and very negative);
    * ``phys_rise_fall = log10(k_fall/k_rise)`` and ``phys_rise_fall_dchi2 = ± Δχ²/s²`` (signed as
      ``phys_rise_fall``) of :func:`~lia_dask.features.physical_nulls.rise_fall`.
    """
    n = len(t)
    ku = nearest_u0(u0)
    keep = np.ones(n, np.bool_)
    d_b, d_d = bump_scan(t, f, w, keep, tE, ku)
    out[_I_phys_bump_dip] = (d_b - d_d) / s2
    out[_I_phys_bump_dip_ratio] = math.log10((1.0 + d_b / s2) / (1.0 + d_d / s2))
    for i in range(n):
        keep[i] = abs((t[i] - t0) / tE) >= SECOND_EXCLUDE
    d2_b, d2_d = bump_scan(t, r, w, keep, tE, ku)
    out[_I_phys_second_bump] = (d2_b - d2_d) / s2
    out[_I_phys_second_ratio] = math.log10((1.0 + d2_b / s2) / (1.0 + d_b / s2))
    lr, dc = rise_fall(t, f, w, t0, u0, tE, fs, fb)
    out[_I_phys_rise_fall] = lr
    out[_I_phys_rise_fall_dchi2] = math.copysign(dc / s2, lr) if lr != 0.0 else 0.0


@kernel
def fit_models_batch(offsets, time, flux, ferr, freqs, rows):
    """:func:`fit_models` for the lightcurves ``rows`` of a ragged batch -> (len(rows), NRAW)."""
    out = np.full((len(rows), NRAW), np.nan)
    for k in range(len(rows)):
        i = rows[k]
        a, b = offsets[i], offsets[i + 1]
        fit_models(time[a:b], flux[a:b], ferr[a:b], freqs[i], out[k])
    return out


@kernel
def mag_to_flux(y, yerr, zp):
    """Magnitudes -> (flux, flux error) at zero point ``zp`` (``f = 10**(-(m - zp)/2.5)``)."""
    f = np.empty(len(y))
    fe = np.empty(len(y))
    for i in range(len(y)):
        f[i] = 10.0 ** (-(y[i] - zp) / 2.5)
        fe[i] = yerr[i] * f[i] * math.log(10.0) / 2.5
    return f, fe
