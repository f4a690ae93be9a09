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
    """One PNG per candidate: its lightcurve (magnitudes) and, if fitted, the PSPL model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    want = {(str(o), str(b)) for o, b in zip(cands[S.OBJECT_ID], cands[S.BAND])}
    found = {}
    for batch in archive.batches():
        for lc in batch:
            key = (str(lc.object_id), str(lc.band))
            if key in want:
                found[key] = lc
        if len(found) == len(want):
            break
    paths = []
    for _, row in cands.iterrows():
        key = (str(row[S.OBJECT_ID]), str(row[S.BAND]))
        lc = found.get(key)
        if lc is None:
            continue
        fig, ax = plt.subplots(figsize=(7, 4))
        mag = archive.photometry == "mag"
        ax.errorbar(lc.time, lc.y, lc.yerr, fmt=".", ms=3, color="k", alpha=0.7, label="data")
        if "fit_t0" in row and np.isfinite(row.get("fit_t0", np.nan)):
            tt = np.linspace(lc.time.min(), lc.time.max(), 2000)
            u = np.sqrt(row.fit_u0 ** 2 + ((tt - row.fit_t0) / row.fit_tE) ** 2)
            f = row.fit_fs * (u ** 2 + 2) / (u * np.sqrt(u ** 2 + 4)) + row.fit_fb
            y = archive.zeropoint - 2.5 * np.log10(np.clip(f, 1e-30, None)) if mag else f
            label = f"PSPL u0={row.fit_u0:.2f} tE={row.fit_tE:.1f} d χ²ᵣ={row.fit_chi2_red:.1f}"
            if np.isfinite(row.get("fit_dbic_fred", np.nan)):
                label += (f"\nΔBIC vs const {row.fit_dbic_const:.0f}, trend {row.fit_dbic_trend:.0f}, "
                          f"FRED {row.fit_dbic_fred:.0f}, periodic {row.fit_dbic_periodic:.0f}")
            ax.plot(tt, y, "r-", lw=1, label=label)
        if mag:
            ax.invert_yaxis()
        ax.set_xlabel(f"time [{archive.time_system}]")
        ax.set_ylabel("magnitude" if mag else "flux")
        ax.set_title(f"{key[0]} ({key[1]}): P(ML) = {row[f'{S.PROB_PREFIX}{ML_CLASS}']:.3f}")
        ax.legend(fontsize=8)
        p = d / f"candidate_{key[0]}_{key[1]}.png"
        fig.tight_layout()
        fig.savefig(p, dpi=90)
        plt.close(fig)
        paths.append(p)
    return paths
