"""Point-source point-lens (PSPL) fit filter for microlensing candidates (pure kernels).

Model, in flux: ``F(t) = f_s A(u(t)) + f_b`` with ``u(t) = sqrt(u0² + ((t - t0)/tE)²)`` and
``A(u) = (u² + 2) / (u sqrt(u² + 4))``. For fixed ``(t0, u0, tE)`` the source and blend fluxes
``f_s, f_b`` are linear and solved exactly by weighted least squares (weights 1/σ²), so the
search is over three non-linear parameters only: a coarse grid (``t0`` at the brightest epochs,
``u0`` and ``tE`` log-spaced), then Nelder–Mead in ``(t0, log u0, log tE)``.

Default cuts are MicroLIA's for its candidates: 0 <= tE <= 1000 d, u0 <= 2, reduced χ² <= 10,
and a positive source flux.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

FIT_COLUMNS = ("fit_t0", "fit_u0", "fit_tE", "fit_fs", "fit_fb", "fit_chi2_red", "passes_fit")


@dataclass(frozen=True)
class FitFilterConfig:
    """Cuts of the PSPL fit filter.

    Attributes
    ----------
    tE_min, tE_max : float
        Allowed Einstein time range, days.
    u0_max : float
        Largest allowed impact parameter (Einstein radii).
    chi2_red_max : float
        Largest allowed reduced χ² of the PSPL fit.
    zeropoint : float or None
        Zero point for magnitude -> flux; None: the archive's.
    """

    tE_min: float = 0.0
    tE_max: float = 1000.0
    u0_max: float = 2.0
    chi2_red_max: float = 10.0
    zeropoint: float | None = None


@numba.njit(cache=True, nogil=True)
def _chi2(t, f, w, t0, u0, tE, out):
    """Weighted χ² of the best linear (fs, fb) for given (t0, u0, tE); out <- (fs, fb)."""
    n = len(t)
    sw = swa = swaa = swf = swaf = 0.0
    for i in range(n):
        tau = (t[i] - t0) / tE
        u2 = u0 * u0 + tau * tau
        a = (u2 + 2.0) / np.sqrt(u2 * (u2 + 4.0))
        wi = w[i]
        sw += wi
        swa += wi * a
        swaa += wi * a * a
        swf += wi * f[i]
        swaf += wi * a * f[i]
    det = sw * swaa - swa * swa
    if det <= 0.0 or not np.isfinite(det):
        return np.inf
    fs = (sw * swaf - swa * swf) / det
    fb = (swf - fs * swa) / sw
    chi2 = 0.0
    for i in range(n):
        tau = (t[i] - t0) / tE
        u2 = u0 * u0 + tau * tau
        a = (u2 + 2.0) / np.sqrt(u2 * (u2 + 4.0))
        r = f[i] - fs * a - fb
        chi2 += w[i] * r * r
    out[0] = fs
    out[1] = fb
    if fs <= 0.0:
        return chi2 * 1e3 + 1e30  # unphysical: a negative source flux is a dip, not a magnification
    return chi2


@numba.njit(cache=True, nogil=True)
def _objective(t, f, w, p, out):
    return _chi2(t, f, w, p[0], np.exp(p[1]), np.exp(p[2]), out)


@numba.njit(cache=True, nogil=True)
def _nelder_mead(t, f, w, start, steps, iters):
    simplex = np.empty((4, 3))
    vals = np.empty(4)
    tmp = np.empty(2)
    for k in range(4):
        simplex[k] = start
        if k > 0:
            simplex[k, k - 1] += steps[k - 1]
        vals[k] = _objective(t, f, w, simplex[k], tmp)
    for _ in range(iters):
        order = np.argsort(vals)
        simplex = simplex[order]
        vals = vals[order]
        if abs(vals[3] - vals[0]) <= 1e-9 * (abs(vals[0]) + 1e-12):
            break
        centroid = (simplex[0] + simplex[1] + simplex[2]) / 3.0
        xr = centroid + (centroid - simplex[3])
        fr = _objective(t, f, w, xr, tmp)
        if fr < vals[0]:
            xe = centroid + 2.0 * (centroid - simplex[3])
            fe = _objective(t, f, w, xe, tmp)
            if fe < fr:
                simplex[3], vals[3] = xe, fe
            else:
                simplex[3], vals[3] = xr, fr
        elif fr < vals[2]:
            simplex[3], vals[3] = xr, fr
        else:
            xc = centroid + 0.5 * (simplex[3] - centroid)
            fc = _objective(t, f, w, xc, tmp)
            if fc < vals[3]:
                simplex[3], vals[3] = xc, fc
            else:
                for k in range(1, 4):
                    simplex[k] = simplex[0] + 0.5 * (simplex[k] - simplex[0])
                    vals[k] = _objective(t, f, w, simplex[k], tmp)
    best = np.argmin(vals)
    return simplex[best], vals[best]


@numba.njit(cache=True, nogil=True)
def fit_pspl(t, f, ferr):
    """Fit a PSPL model to one lightcurve in flux.

    Parameters
    ----------
    t, f, ferr : ndarray, shape (n,)
        Times (days), fluxes and flux errors (any consistent unit).

    Returns
    -------
    ndarray, shape (6,)
        ``t0`` (days), ``u0``, ``tE`` (days), ``f_s``, ``f_b``, reduced χ² (``χ²/(n - 5)``);
        all NaN when fewer than 6 usable epochs.
    """
    res = np.full(6, np.nan)
    good = np.isfinite(t) & np.isfinite(f) & np.isfinite(ferr) & (ferr > 0)
    t, f, ferr = t[good], f[good], ferr[good]
    n = len(t)
    if n < 6:
        return res
    w = 1.0 / (ferr * ferr)
    span = t.max() - t.min()
    if span <= 0:
        return res
    # t0 candidates: the three brightest epochs (a running median of 3 resists single outliers)
    sm = f.copy()
    for i in range(1, n - 1):
        a, b, c = f[i - 1], f[i], f[i + 1]
        sm[i] = max(min(a, b), min(max(a, b), c))
    cand = np.argsort(-sm)[:3]
    u0s = np.exp(np.linspace(np.log(0.01), np.log(2.0), 9))
    tEs = np.exp(np.linspace(np.log(1.0), np.log(max(2.0, min(1000.0, span))), 14))
    out = np.empty(2)
    best = np.inf
    bt0, bu0, btE = t[cand[0]], 1.0, 20.0
    for ci in range(len(cand)):
        t0 = t[cand[ci]]
        for u0 in u0s:
            for tE in tEs:
                c2 = _chi2(t, f, w, t0, u0, tE, out)
                if c2 < best:
                    best, bt0, bu0, btE = c2, t0, u0, tE
    start = np.array([bt0, np.log(bu0), np.log(btE)])
    steps = np.array([max(0.5, 0.1 * btE), 0.5, 0.5])
    p, val = _nelder_mead(t, f, w, start, steps, 300)
    chi2 = _objective(t, f, w, p, out)
    res[0] = p[0]
    res[1] = np.exp(p[1])
    res[2] = np.exp(p[2])
    res[3] = out[0]
    res[4] = out[1]
    res[5] = chi2 / (n - 5) if out[0] > 0 else np.nan
    return res


@numba.njit(cache=True, nogil=True)
def fit_pspl_batch(offsets, time, flux, flux_err, rows):
    """PSPL fits of the lightcurves ``rows`` of a ragged batch; shape (len(rows), 6), see :func:`fit_pspl`."""
    out = np.full((len(rows), 6), np.nan)
    for k in range(len(rows)):
        i = rows[k]
        a, b = offsets[i], offsets[i + 1]
        out[k] = fit_pspl(time[a:b], flux[a:b], flux_err[a:b])
    return out


def passes(params: np.ndarray, cfg: FitFilterConfig) -> np.ndarray:
    """Boolean (n,) of which fits pass the cuts; ``params`` (n, 6) from :func:`fit_pspl_batch`."""
    t0, u0, tE, fs, fb, chi2 = params.T
    with np.errstate(invalid="ignore"):
        return ((tE >= cfg.tE_min) & (tE <= cfg.tE_max) & (u0 <= cfg.u0_max) & (chi2 <= cfg.chi2_red_max)
                & (fs > 0) & np.isfinite(chi2))
