"""Checks and lossless repairs of single lightcurves and cutouts (pure: arrays in, arrays out).

A check either returns repaired arrays, or a reason string saying why the object goes to
quarantine. Lossless repairs: sorting epochs by time, dropping exact duplicate rows. Rules (in this order):
no epochs; NaN / infinite time, value or error; an error <= 0; duplicate epochs (per policy);
too few points; non-positive flux (flux archives, unless allowed).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError


@dataclass(frozen=True)
class ValidationConfig:
    """How strict ingest is.

    Attributes
    ----------
    min_points : int
        Lightcurves with fewer epochs (after lossless repairs) are quarantined.
    duplicate_epochs : {"keep", "drop-exact", "quarantine"}
        Epochs sharing one time stamp. "keep" (default) keeps them all in their original order
        after a stable sort by time, as MicroLIA does (real OGLE data have them: two exposures
        in one night); "drop-exact" drops rows identical to a kept one and keeps the rest;
        "quarantine" keeps the lightcurve out.
    allow_nonpositive_flux : bool
        Keep lightcurves with flux <= 0 (difference-image photometry); by default they are
        quarantined because the MicroLIA features need positive flux.
    """

    min_points: int = 5
    allow_nonpositive_flux: bool = False
    duplicate_epochs: str = "keep"

    def __post_init__(self) -> None:
        if self.duplicate_epochs not in ("keep", "drop-exact", "quarantine"):
            raise InputError(f"duplicate_epochs must be 'keep', 'drop-exact' or 'quarantine', got {self.duplicate_epochs!r}.")
        if isinstance(self.min_points, bool) or not isinstance(self.min_points, (int, np.integer)) or self.min_points < 1:
            raise InputError(f"min_points must be a positive integer (--min-points 1 or more), got {self.min_points!r}.")


def check_lightcurve(
    time: np.ndarray, y: np.ndarray, yerr: np.ndarray, photometry: str, config: ValidationConfig
) -> tuple[np.ndarray, np.ndarray, np.ndarray, str | None]:
    """Validate one lightcurve, repairing it where that is lossless.

    Parameters
    ----------
    time, y, yerr : ndarray, shape (n,)
        Epochs (days), magnitudes or fluxes, and their errors.
    photometry : {"mag", "flux"}
    config : ValidationConfig

    Returns
    -------
    time, y, yerr : ndarray
        Sorted by time, exact duplicate rows removed.
    reason : str or None
        Why the lightcurve must be quarantined, or None when it is good.
    """
    t = np.asarray(time, dtype=np.float64)
    m = np.asarray(y, dtype=np.float64)
    e = np.asarray(yerr, dtype=np.float64)
    n = len(t)
    if n == 0:
        return t, m, e, "empty lightcurve (no epochs)"
    bad = ~(np.isfinite(t) & np.isfinite(m) & np.isfinite(e))
    if bad.any():
        return t, m, e, f"{int(bad.sum())} of {n} epochs have NaN or infinite time/value/error"
    nonpos = e <= 0
    if nonpos.any():  # a zero or negative error has no meaning; weighted features would divide by it
        return t, m, e, f"{int(nonpos.sum())} of {n} epochs have a non-positive error (<= 0)"
    if np.any(np.diff(t) <= 0):
        order = np.argsort(t, kind="stable")  # lossless: ties keep their original order
        t, m, e = t[order], m[order], e[order]
        same_t = np.diff(t) == 0
        if same_t.any() and config.duplicate_epochs == "quarantine":
            return t, m, e, f"{int(same_t.sum())} duplicate epochs (duplicate_epochs='quarantine')"
        if same_t.any() and config.duplicate_epochs == "drop-exact":
            keep = np.ones(len(t), dtype=bool)
            for i in np.flatnonzero(same_t) + 1:
                j = i - 1
                while j >= 0 and t[j] == t[i]:
                    if keep[j] and m[j] == m[i] and e[j] == e[i]:
                        keep[i] = False
                        break
                    j -= 1
            t, m, e = t[keep], m[keep], e[keep]
    if len(t) < config.min_points:
        return t, m, e, f"too few points ({len(t)} < min_points={config.min_points})"
    if photometry == "flux" and not config.allow_nonpositive_flux and np.any(m <= 0):
        return t, m, e, f"{int(np.sum(m <= 0))} epochs have non-positive flux"
    return t, m, e, None


def check_cutout(image: np.ndarray, shape: tuple[int, ...] | None) -> str | None:
    """Reason a cutout (H, W, C) must be quarantined, or None when it is good."""
    if shape is not None and tuple(image.shape) != tuple(shape):
        return f"shape {tuple(image.shape)} differs from the store's image shape {tuple(shape)}"
    n_nan = int(np.count_nonzero(~np.isfinite(image)))
    if n_nan:
        return f"{n_nan} NaN or infinite pixels"
    return None
