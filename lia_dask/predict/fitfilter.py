"""The microlensing candidate flag: a PSPL fit that must beat every competing model.

An object the classifier calls ``ML`` (or one of ``FitFilterConfig.classes``) becomes a candidate (``passes_fit``) when the physical model
stage (:mod:`lia_dask.features.physical`, the one PSPL fit of the code base, here with the
periodic model) finds that

* the point lens is a significant event: ``ΔBIC(constant - PSPL) >= dbic_const_min`` (20), or
  ``>= dbic_const_short_min`` (50) when the fitted ``tE < short_tE`` (3 d). On the BIC scale 10 is
  already "very strong" evidence and the BIC's ``k ln n`` term (4 ln n ≈ 24 for 400 epochs) is
  charged on top, so 20 asks for ``Δχ²/s² ≈ 45`` — about what a 300-epoch survey lightcurve shows
  from three to five magnified epochs at 3σ, the weakest event a survey detects. The former 50 cut
  rejected half of the events the alert found and the flag lost on the development survey (seed 202,
  true Δχ² 45-300, sparse or faint). An event shorter than a few days is sampled by one or two
  epochs at a daily cadence, so one or two outliers mimic it: there the stricter 50 is kept (the
  constant stars among the alerts on the development survey were fitted with tE of 2-3 d);
* it is clearly better than a smooth trend and than a periodic variable:
  ``ΔBIC >= dbic_min`` against each (10 is "very strong" evidence on the BIC scale, Kass & Raftery 1995);
* no outburst is clearly better, neither the fast-rise / exponential-decline (``ΔBIC(FRED - PSPL)
  >= -dbic_min``) nor the flat-topped dwarf-nova outburst (``ΔBIC(burst - PSPL) >= -dbic_min``,
  ``phys_dbic_burst`` of :mod:`lia_dask.features.physical_outburst`). The two outburst shapes are
  judged by the same rule because they answer the same question — is this brightening an outburst
  rather than a lens? A sparsely sampled event is fitted about equally well by a lens and by an
  outburst (a handful of epochs across the peak cannot tell a symmetric Paczyński curve from a fast
  rise and decline, or from a short plateau), so a tie or a modest outburst preference keeps the
  event; only "very strong" evidence for an outburst (10 on the BIC scale) rejects it. A
  dwarf-nova outburst with its plateau and exponential decline sampled is fitted far better by the
  burst model than by any point lens (a lens has no plateau: its peak is as wide as its wings allow),
  and it is often fitted *worse* by the FRED (no plateau either), which is why the FRED alone let
  such outbursts through. Both ΔBIC use the physical block's shared error scale ``s²`` (the smallest
  reduced χ² of any model, at least 1), so underestimated error bars do not turn a small shape
  difference into "very strong" evidence;
* nothing else happens on the baseline: no three consecutive epochs outside the event all
  ``>= excursion_max`` robust σ above (or all below) the model (``phys_baseline_excursion``: a single
  lens does not repeat; a recurrent outburst, an eclipse or a second variable phase does);
* the lens brightens once: on the residuals of the point-lens fit outside the event (``|t - t0| >= 2 tE``)
  no second bump is found beyond its own mirrored null, ``phys_second_bump <= max(second_bump_max,
  second_bump_rel · ΔBIC(constant - PSPL))`` — the relative term because the residuals of a very
  strong event (ΔBIC in the thousands) carry misfit and outliers at a level proportional to its
  signal, a bump of 1 % of the event's evidence is no second outburst (a recurrent dwarf nova's
  second outburst is comparable to the first); the absolute 25 holds for every ordinary event
  (:mod:`lia_dask.features.physical_nulls`; a dwarf nova recurs, a sparse recurrence that the
  three-consecutive-epoch excursion misses is seen here);
* its parameters are physical: ``tE_min <= tE <= tE_max`` days, ``u0 <= u0_max`` (3: a blended
  low-magnification event has ``u0`` degenerate with ``f_s`` and ``tE``, Woźniak & Paczyński 1997, and
  its fitted ``u0`` wanders beyond 2 while the shape is a lens; the trend and periodic comparisons,
  not ``u0``, rule out slow variables), ``f_s > 0``, and
  optionally a reduced χ² cut (MicroLIA's was 10; off by default, since survey error bars are
  underestimated and the comparisons above already measure the misfit).

Columns added to the predictions: :data:`FIT_COLUMNS`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: columns the flag adds (fit_* NaN for objects not predicted ML or not fittable)
FIT_COLUMNS = ("fit_t0", "fit_u0", "fit_tE", "fit_fs", "fit_fb", "fit_chi2_red", "fit_dbic_const",
               "fit_dbic_trend", "fit_dbic_fred", "fit_dbic_burst", "fit_dbic_periodic", "fit_baseline_excursion", "fit_second_bump",
               "passes_fit")
_SOURCE = ("t0", "phys_u0", "tE", "fs", "fb", "phys_chi2r_pspl", "phys_dbic_const", "phys_dbic_trend",
           "phys_dbic_fred", "phys_dbic_burst", "phys_dbic_periodic", "phys_baseline_excursion", "phys_second_bump")


@dataclass(frozen=True)
class FitFilterConfig:
    """Settings of the candidate flag.

    Attributes
    ----------
    dbic_const_min : float
        Smallest ΔBIC of the constant model against PSPL (the event's significance).
    dbic_const_short_min : float
        The same for an event fitted with ``tE < short_tE`` (one or two epochs can mimic it).
    short_tE : float
        Einstein time (days) below which ``dbic_const_short_min`` applies.
    dbic_min : float
        Smallest ΔBIC of the trend and periodic models against PSPL; each outburst model (FRED, flat-
        topped burst) may be at most this much better than PSPL.
    excursion_max : float
        Largest allowed baseline excursion (robust σ, three consecutive epochs).
    second_bump_max : float
        Largest allowed second bump on the residuals, ``(Δχ²(bump) - Δχ²(dip))/s²`` (25: a 5σ
        brightening beyond its mirrored null; the 47 shared OGLE-II events reach 16).
    second_bump_rel : float
        The allowed second bump grows to this fraction of ``ΔBIC(constant - PSPL)`` for strong events.
    tE_min, tE_max : float
        Allowed Einstein time range, days.
    u0_max : float
        Largest allowed impact parameter (Einstein radii).
    chi2_red_max : float or None
        Largest allowed reduced χ² of the PSPL fit; None: no cut.
    zeropoint : float or None
        Zero point for magnitude -> flux; None: the archive's.
    classes : tuple of str
        Predicted classes the flag vets: ``("ML",)``, or e.g. ``("ML", "CV", "LPV")`` to also rescue
        events the classifier calls an outburst or a long-period variable (where missed events go).
    """

    dbic_const_min: float = 20.0
    dbic_const_short_min: float = 50.0
    short_tE: float = 3.0
    dbic_min: float = 10.0
    excursion_max: float = 5.0
    second_bump_max: float = 25.0
    second_bump_rel: float = 0.01
    tE_min: float = 0.0
    tE_max: float = 1000.0
    u0_max: float = 3.0
    chi2_red_max: float | None = None
    zeropoint: float | None = None
    classes: tuple[str, ...] = ("ML",)


def fit_batch(offsets: np.ndarray, time: np.ndarray, y: np.ndarray, yerr: np.ndarray, rows: np.ndarray, *,
              zp: float, convert: bool) -> np.ndarray:
    """Flag parameters of the objects ``rows`` of a ragged batch.

    Parameters
    ----------
    offsets, time, y, yerr : ndarray
        The batch (days; magnitudes with ``convert=True``, else fluxes).
    rows : ndarray of int64, shape (k,)

    Returns
    -------
    ndarray of float64, shape (k, len(FIT_COLUMNS) - 1)
        ``fit_t0`` (d), ``fit_u0``, ``fit_tE`` (d), ``fit_fs``, ``fit_fb`` (input flux unit),
        ``fit_chi2_red``, the five ΔBIC (constant, trend, FRED, burst, periodic), the baseline excursion and the second bump; NaN where not fittable.
    """
    from ..features.physical import COL, physical_block  # the physical stage's kernels, only when fitting

    rows = np.asarray(rows, dtype=np.int64)
    block = physical_block(offsets, time, y, yerr, zp=zp, convert=convert, periodic=True, rows=rows)
    return block[rows][:, [COL[c] for c in _SOURCE]]


def passes(params: np.ndarray, cfg: FitFilterConfig) -> np.ndarray:
    """Boolean (n,) of which objects pass the flag; ``params`` (n, 13) from :func:`fit_batch`."""
    return cut_results(params, cfg).all(axis=1)


#: names of the flag's cuts, the columns of :func:`cut_results`
CUTS = ("dbic_const", "dbic_trend", "dbic_periodic", "dbic_fred", "dbic_burst", "tE", "u0", "excursion",
        "second_bump", "fs", "chi2_red")


def cut_results(params: np.ndarray, cfg: FitFilterConfig) -> np.ndarray:
    """Boolean (n, len(CUTS)): which of the flag's cuts each object passes (NaN fails every cut it enters).

    Parameters
    ----------
    params : ndarray of float64, shape (n, 13)
        From :func:`fit_batch`.
    cfg : FitFilterConfig

    Returns
    -------
    ndarray of bool, shape (n, len(CUTS))
        Column ``j`` is cut :data:`CUTS` ``[j]``; ``chi2_red`` is True everywhere when the cut is off.
    """
    t0, u0, tE, fs, fb, chi2, d_const, d_trend, d_fred, d_burst, d_per, excursion, second = np.asarray(params).T
    with np.errstate(invalid="ignore"):
        chi2_ok = np.ones(len(t0), bool) if cfg.chi2_red_max is None else chi2 <= cfg.chi2_red_max
        const_min = np.where(tE < cfg.short_tE, cfg.dbic_const_short_min, cfg.dbic_const_min)
        bump_max = np.maximum(cfg.second_bump_max, cfg.second_bump_rel * d_const)
        return np.column_stack([
            d_const >= const_min, d_trend >= cfg.dbic_min, d_per >= cfg.dbic_min,
            d_fred >= -cfg.dbic_min, d_burst >= -cfg.dbic_min, (tE >= cfg.tE_min) & (tE <= cfg.tE_max),
            u0 <= cfg.u0_max, excursion <= cfg.excursion_max, second <= bump_max, fs > 0, chi2_ok])
