"""Microlensing candidates from prediction outputs: ranking (optionally only flagged ones), lightcurves and
PSPL-fit plots with the model comparison of the candidate flag (:mod:`lia_dask.predict.fitfilter`)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import InputError
from .lightcurves import ML_CLASS, read_predictions


def top_candidates(out: str | os.PathLike, top: int = 20, require_fit: bool | None = None,
                   target: str = ML_CLASS) -> pd.DataFrame:
    """The ``top`` objects most probably of class ``target``, best first.

    Parameters
    ----------
    out : path
        Prediction output directory.
    require_fit : bool, optional
        Keep only objects with the candidate flag (``passes_fit``: PSPL beats constant, trend, FRED
        and periodic models); default: when the outputs have ``passes_fit``.
    """
    pred = read_predictions(out)
    col = f"{S.PROB_PREFIX}{target}"
    if col not in pred.columns:
        raise InputError(f"predictions in {out} have no column {col}; the model has no class {target!r}.")
    # a calibrated model flags alerts at its false-alert-rate threshold (prediction == target there too)
    base = pred["alert"].astype(bool) if "alert" in pred.columns and target == ML_CLASS \
        else pred[S.PREDICTION] == target
    if require_fit is None:
        require_fit = "passes_fit" in pred.columns
    if require_fit:
        if "passes_fit" not in pred.columns:
            raise InputError(f"predictions in {out} were made without --fit-filter; rerun predict with it.")
        # flagged: the base set with the flag, plus objects the flag rescued from another vetted class
        # (FitFilterConfig.classes, e.g. predicted CV or LPV)
        flag = pred["passes_fit"].astype(bool)
        cand = pred[flag & (base | (pred[S.PREDICTION] != target))]
    else:
        cand = pred[base]
    return cand.sort_values(col, ascending=False).head(top).reset_index(drop=True)


def plot_candidates(cands: pd.DataFrame, archive, directory: str | os.PathLike) -> list[Path]:
    """One PNG per candidate: its lightcurve in every band of the archive and, if fitted, the PSPL model.

    Parameters
    ----------
    cands : pandas.DataFrame
        Rows of :func:`top_candidates` (``object_id``, ``band``, ``prob_ML``, optional ``fit_*``).
    archive : lia_dask.archive.Archive
        The archive that was classified.
    directory : path-like
        Where ``candidate_<object_id>_<band>.png`` files are written.

    Returns
    -------
    list of Path
        One per candidate found in the archive. Axes: time relative to a round epoch in days
        (``HJD - 2451000 [d]``), magnitudes in mag or fluxes with their unit; the PSPL fit is drawn
        on the band it was fitted to.
    """
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    want = {str(o) for o in cands[S.OBJECT_ID]}
    found: dict[str, dict[str, object]] = {}  # object id -> band -> lightcurve
    for batch in archive.batches():
        for lc in batch:
            if str(lc.object_id) in want:
                found.setdefault(str(lc.object_id), {})[str(lc.band)] = lc
    paths = []
    for _, row in cands.iterrows():
        oid, band = str(row[S.OBJECT_ID]), str(row[S.BAND])
        if not found.get(oid):
            continue
        fig = candidate_figure(row, found[oid], archive.photometry, archive.zeropoint, archive.time_system)
        p = d / f"candidate_{oid}_{band}.png"
        fig.savefig(p, dpi=90)
        paths.append(p)
    return paths


def candidate_figure(row: pd.Series, bands: dict, photometry: str, zeropoint: float, time_system: str):
    """The figure of one candidate: every band's lightcurve, the PSPL fit on the fitted band.

    Parameters
    ----------
    row : pandas.Series
        A row of :func:`top_candidates`.
    bands : dict of str to lia_dask.batch.Lightcurve
        The object's lightcurve per band.
    photometry, zeropoint, time_system
        Of the archive (axis labels with units; magnitudes from the fitted flux).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from ..plots import _figure, photometry_label, set_time_axis, time_offset

    mag = photometry == "mag"
    oid, fitted_band = str(row[S.OBJECT_ID]), str(row[S.BAND])
    fig = _figure(7, 4)  # no pyplot: no global state, works under any backend (notebooks too)
    ax = fig.add_subplot()
    t_ref = time_offset(np.concatenate([lc.time for lc in bands.values()]))
    for k, (band, lc) in enumerate(sorted(bands.items())):
        ax.errorbar(lc.time - t_ref, lc.y, lc.yerr, fmt=".", ms=3, alpha=0.7, color=f"C{k}" if len(bands) > 1 else "k",
                    label=f"{band} ({len(lc.time)} epochs)")
    lc = bands.get(fitted_band)
    if lc is not None and "fit_t0" in row and np.isfinite(row.get("fit_t0", np.nan)):
        tt = np.linspace(lc.time.min(), lc.time.max(), 2000)
        u = np.sqrt(row.fit_u0 ** 2 + ((tt - row.fit_t0) / row.fit_tE) ** 2)
        f = row.fit_fs * (u ** 2 + 2) / (u * np.sqrt(u ** 2 + 4)) + row.fit_fb
        y = zeropoint - 2.5 * np.log10(np.clip(f, 1e-30, None)) if mag else f
        label = f"PSPL fit to {fitted_band}: u0={row.fit_u0:.2f} tE={row.fit_tE:.1f} d χ²ᵣ={row.fit_chi2_red:.1f}"
        if np.isfinite(row.get("fit_dbic_fred", np.nan)):
            label += (f"\nΔBIC vs const {row.fit_dbic_const:.0f}, trend {row.fit_dbic_trend:.0f}, "
                      f"FRED {row.fit_dbic_fred:.0f}, periodic {row.fit_dbic_periodic:.0f}")
        ax.plot(tt - t_ref, y, "r-", lw=1, label=label)
    if mag:
        ax.invert_yaxis()
    set_time_axis(ax, t_ref, time_system)
    ax.set_ylabel(photometry_label(photometry, zeropoint))
    ax.set_title(f"candidate {oid}: P(ML) = {row[f'{S.PROB_PREFIX}{ML_CLASS}']:.3f} ({fitted_band} band)")
    ax.legend(fontsize=8)
    return fig
