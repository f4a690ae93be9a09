"""Physical model stage: a point-lens fit with blending against the models a careful astronomer tries.

For every lightcurve of a batch (in flux; magnitudes are converted with the feature zero point)
the kernels fit

* ``pspl``      point-source point-lens with blending, ``F(t) = f_s A(u(t)) + f_b``,
  ``u = sqrt(u0² + ((t - t0)/tE)²)``, ``A(u) = (u² + 2) / (u sqrt(u² + 4))`` — 5 parameters;
* ``const``     a constant — 1 parameter;
* ``trend``     a quadratic polynomial in time — 3 parameters;
* ``fred``      a fast-rise / exponential-decline outburst (CV-like),
  ``F = f_b + a·exp((t - tp)/τr)`` before ``tp`` and ``f_b + a·exp(-(t - tp)/τd)`` after — 5;
* ``periodic``  (feature set ``...+ls`` and the candidate flag only) a two-harmonic sinusoid at the
  best Lomb–Scargle frequency of nifty-ls — 6 parameters (with the frequency).

The amplitude parameters (``f_s, f_b``; ``a, f_b``) are linear and solved exactly by weighted least
squares at every trial, so the searches are over three non-linear parameters only.

PSPL search: a global grid — ``tE`` log-spaced 1–1000 d, ``u0`` in {0.1, 0.4, 1.0}, ``t0`` stepped by
``max(u0, 0.3)·tE`` from ``tE`` before the first to ``tE`` after the last epoch, so peaks in gaps,
at season edges and outside the data are tried — evaluated with windowed sums (only epochs with
``|t - t0| < 3 tE`` are visited; outside it ``A - 1 < 0.02`` is neglected during the grid only),
then Levenberg–Marquardt (profiled amplitudes, forward-difference Jacobian) from the best grid
point of each of the three most promising ``tE`` values. FRED: a grid over ``tp`` (three brightest
epochs) and (τr, τd), then the same LM.

Emitted (:data:`BLOCK_NAMES`): fit parameters, reduced χ², ΔBIC of every competitor against PSPL
(``BIC = χ² + k ln n``; positive: PSPL preferred), the fraction of the constant model's χ² each
model explains (``r2_*``), residual statistics of the PSPL fit (runs test z, lag-1 autocorrelation,
robust scale, outlier fraction), the event's residual asymmetry, the fraction of epochs inside
``|t - t0| < tE``, the numbers of epochs on the rise, around the peak and on the fall, and the
source flux fraction ``f_s / (f_s + f_b)``. A lightcurve that cannot be fitted gets NaN and a
non-zero ``phys_reason`` (:data:`PHYS_REASONS`); nothing raises per lightcurve.

Kernels are pure (arrays in, arrays out) and ``nogil``; :func:`physical_block` is the batch entry
point (it calls nifty-ls for the periodogram when asked). The candidate flag
(:mod:`lia_dask.predict.fitfilter`) reuses :func:`physical_block`: one PSPL fit in the code base.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from .common import KERNEL_OPTIONS
from .physical_models import (
    BLEND_TOL, K_CONST, K_FRED, K_PERIODIC, K_PSPL, K_TREND, MODEL_FRED, MODEL_PSPL, N_STARTS, TE_GRID,
    fred_grid, harmonic_chi2, lm, magnification, poly_chi2, pspl_grid,
)

_njit = numba.njit(**KERNEL_OPTIONS)

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
    "phys_resid_runs_z", "phys_resid_acf1", "phys_event_asym", "phys_reason",
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
_I_phys_reason = 9
_I_phys_dbic_periodic = 10
_I_phys_r2_periodic = 11
_I_phys_log_period = 12
_I_phys_ls_power = 13
_I_phys_t0_frac = 14
_I_phys_u0 = 15
_I_phys_log_tE = 16
_I_phys_log_Amax = 17
_I_phys_source_frac = 18
_I_phys_chi2r_pspl = 19
_I_phys_chi2r_const = 20
_I_phys_err_scale = 21
_I_phys_fred_log_ratio = 22
_I_phys_resid_mad = 23
_I_phys_resid_outlier_frac = 24
_I_phys_frac_in_event = 25
_I_phys_n_peak = 26
_I_phys_n_rise = 27
_I_phys_n_fall = 28
_I_t0 = 29
_I_tE = 30
_I_fs = 31
_I_fb = 32
_I_n_used = 33

# ----------------------------------------------------------------------------- one lightcurve
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
    for i in range(n):
        tau = (t[i] - t0) / tE
        a = magnification(u02 + tau * tau)
        z[i] = (f[i] - bfs * a - bfb) * math.sqrt(w[i] / s2)
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


# ----------------------------------------------------------------------------- batch entry point
#: Lomb–Scargle search range: periods from 1/FMAX_LS d to the time span; 2 samples per peak
FMAX_LS = 3.0
SAMPLES_PER_PEAK_LS = 2


def best_frequencies(offsets: np.ndarray, time: np.ndarray, flux: np.ndarray, ferr: np.ndarray,
                     rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best Lomb–Scargle frequency (1/d) and its power per lightcurve (nifty-ls, one thread).

    Returns arrays of shape (n_objects,), NaN for objects not in ``rows`` or with < MIN_POINTS epochs.
    """
    import nifty_ls

    n_obj = len(offsets) - 1
    freq = np.full(n_obj, np.nan)
    power = np.full(n_obj, np.nan)
    kw = dict(samples_per_peak=SAMPLES_PER_PEAK_LS, backend="finufft", nthreads=1,
              finufft_kwargs=dict(fftw=nifty_ls.finufft.FFTW_ESTIMATE, eps=1e-4))
    for i in rows:
        a, b = offsets[i], offsets[i + 1]
        t, f, e = time[a:b], flux[a:b], ferr[a:b]
        ok = np.isfinite(t) & np.isfinite(f) & np.isfinite(e) & (e > 0)
        if ok.sum() < MIN_POINTS:
            continue
        t, f, e = t[ok], f[ok], e[ok]
        o = np.argsort(t, kind="stable")
        t, f, e = t[o], f[o], e[o]
        span = t[-1] - t[0]
        if not span > 0:
            continue
        res = nifty_ls.lombscargle(t, f, e, fmin=1.0 / span, fmax=FMAX_LS, **kw)
        if len(res.power) == 0 or not np.isfinite(res.power).any():
            continue
        k = int(np.nanargmax(res.power))
        freq[i] = res.fmin + k * res.df
        power[i] = res.power[k]
    return freq, power


def physical_block(offsets: np.ndarray, time: np.ndarray, y: np.ndarray, yerr: np.ndarray, *,
                   zp: float = 22.0, convert: bool = True, periodic: bool = False,
                   rows: np.ndarray | None = None) -> np.ndarray:
    """The physical model block of a ragged batch.

    Parameters
    ----------
    offsets : ndarray of int64, shape (n_objects + 1,)
    time, y, yerr : ndarray of float64, shape (offsets[-1],)
        Days; magnitudes (``convert=True``, converted with ``zp``) or fluxes and errors.
    periodic : bool
        Also fit the periodic model (a nifty-ls periodogram per lightcurve; ~0.5 ms each).
    rows : ndarray of int64, optional
        Objects to fit (default: all); the others get NaN rows.

    Returns
    -------
    ndarray of float64, shape (n_objects, NRAW)
        Columns ``CORE_NAMES + PERIODIC_NAMES + RAW_EXTRA`` (index :data:`COL`).
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    time = np.ascontiguousarray(time, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    yerr = np.ascontiguousarray(yerr, dtype=np.float64)
    n_obj = len(offsets) - 1
    rows = np.arange(n_obj, dtype=np.int64) if rows is None else np.asarray(rows, dtype=np.int64)
    flux, ferr = mag_to_flux(y, yerr, float(zp)) if convert else (y, yerr)
    freq = np.full(n_obj, np.nan)
    power = np.full(n_obj, np.nan)
    if periodic:
        freq, power = best_frequencies(offsets, time, flux, ferr, rows)
    out = np.full((n_obj, NRAW), np.nan)
    if len(rows):
        out[rows] = fit_models_batch(offsets, time, flux, ferr, freq, rows)
        out[rows, COL["phys_ls_power"]] = power[rows]
    return out


# ----------------------------------------------------------------------------- registry hook
#: registered feature sets: MicroLIA's 168 followed by the physical block
PHYSICAL_SET = "microlia-2.8.1+physical"
PHYSICAL_LS_SET = "microlia-2.8.1+physical+ls"


def _combined(periodic: bool):
    def compute(offsets, time, y, yerr, *, zp: float = 22.0, convert: bool = True, apply_weights: bool = True):
        from .driver import compute_microlia

        base, reason = compute_microlia(offsets, time, y, yerr, zp=zp, convert=convert, apply_weights=apply_weights)
        block = physical_block(offsets, time, y, yerr, zp=zp, convert=convert, periodic=periodic)
        k = NCORE + (NPER if periodic else 0)
        cols = block[:, :k] if periodic else block[:, :NCORE]
        return np.concatenate([base, cols], axis=1), reason
    return compute


def register_physical_sets() -> None:
    """Register :data:`PHYSICAL_SET` (168 + the block) and :data:`PHYSICAL_LS_SET` (+ periodic model)."""
    from .driver import NAMES
    from .preprocess import REASONS
    from .registry import FeatureSet, FeatureSettings, register_feature_set

    for name, periodic in ((PHYSICAL_SET, False), (PHYSICAL_LS_SET, True)):
        block = CORE_NAMES + (PERIODIC_NAMES if periodic else ())
        register_feature_set(FeatureSet(
            name=name, names=tuple(NAMES) + block, compute=_combined(periodic), reasons=dict(REASONS),
            description="MicroLIA 2.8.1's 168 statistics, then the physical model block (PSPL with blending "
                        "against constant, trend, FRED" + (", periodic" if periodic else "") + "; "
                        "lia_dask.features.physical).",
            default_settings=FeatureSettings(feature_set=name)), replace=True)
