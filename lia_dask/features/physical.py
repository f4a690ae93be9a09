"""Physical model stage: a point-lens fit with blending against the models a careful astronomer tries.

For every lightcurve of a batch (in flux; magnitudes are converted with the feature zero point)
the kernels fit

* ``pspl``      point-source point-lens with blending, ``F(t) = f_s A(u(t)) + f_b``,
  ``u = sqrt(u0² + ((t - t0)/tE)²)``, ``A(u) = (u² + 2) / (u sqrt(u² + 4))`` — 5 parameters;
* ``const``     a constant — 1 parameter;
* ``trend``     a quadratic polynomial in time — 3 parameters;
* ``fred``      a fast-rise / exponential-decline outburst (CV-like),
  ``F = f_b + a·exp((t - tp)/τr)`` before ``tp`` and ``f_b + a·exp(-(t - tp)/τd)`` after — 5;
* ``burst``     a flat-topped dwarf-nova outburst, ``f_b + a·g`` with an exponential rise to ``t1``, a
  plateau to ``t2`` and an exponential decline — 6 (brute force near the most significant epoch,
  :mod:`~lia_dask.features.physical_outburst`; its plateau-free subset also corrects the FRED);
* ``periodic``  (feature set ``...+ls`` and the candidate flag only) a two-harmonic sinusoid at the
  best Lomb–Scargle frequency of nifty-ls — 6 parameters (with the frequency).

The amplitude parameters (``f_s, f_b``; ``a, f_b``) are linear and solved exactly by weighted least
squares at every trial, so the searches are over three non-linear parameters only.

PSPL search: a global grid — ``tE`` 7 values log-spaced 1–1000 d, ``u0`` in {0.12, 0.6}, ``t0`` stepped by
``max(u0, 0.35)·tE`` from ``tE`` before the first to ``tE`` after the last epoch, so peaks in gaps,
at season edges and outside the data are tried — evaluated with windowed sums (only epochs with
``|t - t0| < 2 tE`` are visited, with a tabulated ``A - 1``; a trial whose Cauchy–Schwarz bound on the
χ² it can remove cannot beat the best of its ``tE`` is skipped), then Levenberg–Marquardt from the
best grid point of each of the two most promising ``tE`` values: analytic derivatives of ``A``, the
amplitudes profiled out (variable projection), one pass over the epochs per trial. FRED: a grid over
``tp`` (two brightest epochs) and (τr, τd), the rise and decline summed separately, then the same LM.
The kernels (:mod:`~lia_dask.features.physical_fit`, ``physical_search``, ``physical_competitors``,
``physical_outburst``, ``physical_residuals``, ``physical_nulls``, driver in ``physical_models``) are one point-lens kernel with the multi-band
joint fit (:mod:`lia_dask.features.multiband_fit`).

Emitted: :func:`physical_block` gives every column of :data:`COL`; the feature sets carry only
:data:`CORE_NAMES` (+ :data:`PERIODIC_NAMES` in ``+ls``) — ΔBIC of every competitor against PSPL
(``BIC = χ²/s² + k ln n``, ``s²`` = the smallest reduced χ² of any model, at least 1, so
underestimated error bars do not inflate the comparisons; positive: PSPL preferred), the fraction of
the constant model's χ² each model explains (``r2_*``), the runs-test z and lag-1 autocorrelation of
the PSPL residuals, the event's residual asymmetry, the share of the event's signal the point lens
explains better than the outburst (``phys_burst_frac``), the null tests of
:mod:`~lia_dask.features.physical_nulls` (the event's bump against the same search on the lightcurve
mirrored in flux; a second bump on the residuals outside the event against its mirrored dip; rise
vs fall time asymmetry), and ``phys_reason``. The fit parameters
(t0, u0, tE, source fraction, peak magnification), reduced χ², residual scale and outliers, and the
epochs on the rise / peak / fall (:data:`RAW_EXTRA`) are for the candidate flag and the plots: as
classifier inputs they would teach the model the simulation's priors on u0, tE and blending and
the simulation's exact error bars. A lightcurve that cannot be fitted gets NaN and a non-zero
``phys_reason`` (:data:`PHYS_REASONS`); nothing raises per lightcurve.

The numba kernels are compiled by :func:`lia_dask.features.common.kernel`; their cache stamp is the
digest of all the physical kernel files (``common.PHYSICAL_GROUP``), so an edit of a helper in one of
them recompiles every caller. This module holds the batch entry point, the nifty-ls periodogram and
the registry hook.

Kernels are pure (arrays in, arrays out) and ``nogil``; :func:`physical_block` is the batch entry
point (it calls nifty-ls for the periodogram when asked). The candidate flag
(:mod:`lia_dask.predict.fitfilter`) reuses :func:`physical_block`: one PSPL fit in the code base.
"""
from __future__ import annotations

import numpy as np

from .physical_models import (
    COL, CORE_NAMES, MIN_POINTS, NCORE, NPER, NRAW, PERIODIC_NAMES, PHYS_FAIL, PHYS_FEW, PHYS_OK, PHYS_REASONS,
    PHYS_SPAN, RAW_EXTRA, fit_models, fit_models_batch, mag_to_flux,
)

__all__ = [
    "COL", "CORE_NAMES", "MIN_POINTS", "NCORE", "NPER", "NRAW", "PERIODIC_NAMES", "PHYSICAL_LS_SET", "PHYSICAL_SET",
    "PHYS_FAIL", "PHYS_FEW", "PHYS_OK", "PHYS_REASONS", "PHYS_SPAN", "RAW_EXTRA", "best_frequencies", "fit_models",
    "fit_models_batch", "mag_to_flux", "physical_block", "register_physical_sets",
]

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


def _combined(periodic: bool, cols: tuple[str, ...] | None = None):
    """``compute`` of MicroLIA's 168 then the block; with ``cols``, only those columns (in set order).

    The 168 part goes through :func:`lia_dask.features.driver.microlia_subset` (only the selected
    kernels run); the model fits run only when a block column is selected, and the periodogram
    only when a periodic column is.
    """
    from .driver import NAMES, compute_microlia, microlia_subset

    block_names = CORE_NAMES + (PERIODIC_NAMES if periodic else ())
    base_cols = tuple(NAMES) if cols is None else tuple(c for c in NAMES if c in set(cols))
    want = block_names if cols is None else tuple(c for c in block_names if c in set(cols))
    base_fn = compute_microlia if cols is None else microlia_subset(base_cols)
    need_periodic = periodic and any(c in PERIODIC_NAMES for c in want)
    idx = [COL[c] for c in want]

    def compute(offsets, time, y, yerr, *, zp: float = 22.0, convert: bool = True, apply_weights: bool = True):
        base, reason = base_fn(offsets, time, y, yerr, zp=zp, convert=convert, apply_weights=apply_weights)
        if not want:
            return base, reason
        block = physical_block(offsets, time, y, yerr, zp=zp, convert=convert, periodic=need_periodic)
        return np.concatenate([base, block[:, idx]], axis=1), reason
    return compute


#: revision of the physical block's values (:attr:`~lia_dask.features.registry.FeatureSet.revision`),
#: bumped whenever a column's definition changes: 1 the block, 2 the flat-topped outburst competitor
#: (``phys_dbic_burst``, ``phys_r2_burst``, ``phys_burst_frac``), 3 the FRED columns describe the
#: outburst grid's plateau-free subset when it beats the LM fit (456d5a4).
PHYSICAL_REVISION = "physical-3"


def register_physical_sets() -> None:
    """Register :data:`PHYSICAL_SET` (168 + the block) and :data:`PHYSICAL_LS_SET` (+ periodic model)."""
    from .driver import NAMES
    from .preprocess import REASONS
    from .registry import FeatureSet, FeatureSettings, register_feature_set

    for name, periodic in ((PHYSICAL_SET, False), (PHYSICAL_LS_SET, True)):
        block = CORE_NAMES + (PERIODIC_NAMES if periodic else ())
        register_feature_set(FeatureSet(
            name=name, names=tuple(NAMES) + block, compute=_combined(periodic), reasons=dict(REASONS),
            select=(lambda cols, periodic=periodic: _combined(periodic, tuple(cols))),
            description="MicroLIA 2.8.1's 168 statistics, then the physical model block (PSPL with blending "
                        "against constant, trend, FRED" + (", periodic" if periodic else "") + "; "
                        "lia_dask.features.physical).",
            default_settings=FeatureSettings(feature_set=name), revision=PHYSICAL_REVISION), replace=True)
