"""Quality cuts for simulated microlensing events and CV outbursts (pure: arrays in, arrays out).

A simulated ML or CV lightcurve is only useful for training if the event is actually sampled
and visible above the noise; the cuts below decide that, and the caller redraws the failures.
"""
from __future__ import annotations

import numba
import numpy as np


def ml_quality(t: np.ndarray, mag_obs: np.ndarray, magerr: np.ndarray, obj: np.ndarray, m0: np.ndarray,
               t0: np.ndarray, tE: np.ndarray, *, n_min: int = 7, min_z: float = 3.0, frac_significant: float = 0.33,
               min_brightening: float = 0.05) -> np.ndarray:
    """MicroLIA's microlensing check (spec §2.1), after noise.

    Window ``W = {i : |t_i - t0| <= tE}``; ``z_i = (m0 - m_obs,i) / σ_i``. Pass iff
    ``|W| >= n_min``, some ``z_i >= min_z``, the mean observed magnitude in ``W`` is brighter than
    ``m0 - min_brightening``, ``#{z_i > min_z} >= frac_significant |W|``, and every window value
    is finite. (MicroLIA's vacuous condition ``1/u0 > blend`` is not applied.)

    Parameters
    ----------
    t, mag_obs, magerr, obj : ndarray, shape (m,)
        Epochs (days), observed magnitudes, errors and the object index per epoch.
    m0, t0, tE : ndarray, shape (n,)
        Baseline magnitude, peak time and Einstein time (days) per object.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    n = len(m0)
    win = np.abs(t - t0[obj]) <= tE[obj]
    ow = obj[win]
    mw = mag_obs[win]
    finite = np.isfinite(mw) & np.isfinite(magerr[win])
    z = np.where(finite, (m0[ow] - mw) / np.where(finite, magerr[win], 1.0), -np.inf)
    count = np.bincount(ow, minlength=n)
    bad = np.bincount(ow, weights=~finite, minlength=n)
    n_ge = np.bincount(ow, weights=z >= min_z, minlength=n)
    n_gt = np.bincount(ow, weights=z > min_z, minlength=n)
    total = np.bincount(ow, weights=np.where(finite, mw, 0.0), minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / count
    return ((count >= n_min) & (bad == 0) & (n_ge >= 1) & (mean < m0 - min_brightening)
            & (n_gt >= frac_significant * count))


def ml_detected(t: np.ndarray, mag_obs: np.ndarray, sigma: np.ndarray, obj: np.ndarray, m0: np.ndarray,
                t0: np.ndarray, tE: np.ndarray, *, n_detect: int = 3, min_z: float = 3.0,
                window: float = 2.0, consecutive: bool = True, mag_model: np.ndarray | None = None,
                min_dchi2: float = 0.0) -> np.ndarray:
    """A survey's detection of a microlensing event (after noise, before systematics and outliers).

    ``z_i = (m0 - m_obs,i) / σ_i`` on the true σ. With ``consecutive`` (the default) the event is
    detected iff some ``n_detect`` *consecutive* epochs of the lightcurve (in time order, no epoch
    between them) all lie within ``|t - t0| <= window · tE`` and all have ``z >= min_z``: the
    few-point excursion that OGLE's searches, KMTNet's AlertFinder (N consecutive ≥ 3σ points) and
    Gaia DR3's Extractor require before any model fit (docs/simulation.md). Three scattered 3σ
    points are not a detection: a constant star with ~200 Gaussian epochs has them with
    probability ~2×10⁻³, three consecutive ones with ~5×10⁻⁷. ``consecutive=False`` counts
    significant epochs anywhere in the window (the earlier, looser rule).

    With ``mag_model`` and ``min_dchi2 > 0`` the event must also improve the fit over the constant
    baseline by ``Δχ² = Σ_i [z_i² - (z_i - μ_i)²] >= min_dchi2`` on the observed epochs, with
    ``μ_i = (m0 - mag_model,i) / σ_i`` the noise-free model (KMTNet's AlertFinder asks Δχ² > 250 of
    its rising-event fit, Gaia DR3 a 50σ peak): the significance of the whole event, not only of
    its three best points.

    Parameters
    ----------
    t, mag_obs, sigma, obj : ndarray, shape (m,)
        Epochs (days, sorted within each object), observed magnitudes, their true σ (mag) and the
        object index per epoch (objects contiguous).
    m0, t0, tE : ndarray, shape (n,)
        Baseline magnitude, peak time and Einstein time (days) per object.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    near = np.abs(t - t0[obj]) <= window * tE[obj]
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (m0[obj] - mag_obs) / sigma
    hit = near & np.isfinite(z) & (z >= min_z)
    if not consecutive:
        ok = np.bincount(obj[hit], minlength=len(m0)) >= n_detect
    else:
        ok = longest_run(hit, obj, len(m0)) >= n_detect
    if mag_model is not None and min_dchi2 > 0:
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = (m0[obj] - mag_model) / sigma
            d = np.where(np.isfinite(z) & np.isfinite(mu), 2.0 * z * mu - mu * mu, 0.0)
        ok &= np.bincount(obj, weights=d, minlength=len(m0)) >= min_dchi2
    return ok


def longest_run(hit: np.ndarray, obj: np.ndarray, n: int) -> np.ndarray:
    """Longest run of consecutive true values of ``hit`` within each object.

    Parameters
    ----------
    hit : ndarray of bool, shape (m,)
    obj : ndarray of int, shape (m,)
        Object index per element, objects contiguous.
    n : int
        Number of objects.

    Returns
    -------
    ndarray of int64, shape (n,)
    """
    m = len(hit)
    best = np.zeros(n, np.int64)
    if m == 0:
        return best
    idx = np.arange(m)
    first = np.ones(m, bool)
    first[1:] = obj[1:] != obj[:-1]
    # index of the last epoch before j that breaks a run (a miss, or the object's start - 1)
    brk = np.where(~hit, idx, np.where(first, idx - 1, -1))
    last = np.maximum.accumulate(brk)
    run = np.where(hit, idx - last, 0)
    np.maximum.at(best, obj, run)
    return best


@numba.njit(cache=True, nogil=True)
def _cv_structure(t, offsets, out_offsets, start, rise_end, high_end, end, n1, n2):  # pragma: no cover - numba
    n = offsets.shape[0] - 1
    ok = np.zeros(n, np.bool_)
    which = np.full(n, -1, np.int64)
    for i in range(n):
        ti = t[offsets[i]:offsets[i + 1]]
        for k in range(out_offsets[i], out_offsets[i + 1]):
            n_sig = np.searchsorted(ti, end[k], side="right") - np.searchsorted(ti, start[k], side="left")
            n_rise = np.searchsorted(ti, rise_end[k], side="right") - np.searchsorted(ti, start[k], side="left")
            n_dec = 0
            if high_end[k] <= end[k]:
                n_dec = np.searchsorted(ti, end[k], side="right") - np.searchsorted(ti, high_end[k], side="left")
            if n_sig >= n1 and (n_rise >= n2 or n_dec >= n2):
                ok[i] = True
                which[i] = k
                break
    return ok, which


def cv_structure(t: np.ndarray, offsets: np.ndarray, out_offsets: np.ndarray, start: np.ndarray,
                 rise_end: np.ndarray, high_end: np.ndarray, end: np.ndarray, *, n1: int = 7,
                 n2: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """MicroLIA's CV sampling check (spec §2.2), before noise, with the documented intent for ``n2``.

    Pass at the first outburst with at least ``n1`` epochs in ``[start, end]`` and at least ``n2``
    epochs in its rise ``[start, rise_end]`` or its decline ``[high_end, end]``. (MicroLIA's
    operator precedence makes the rise test "at least one"; here both parts use ``n2``.)

    Parameters
    ----------
    t : ndarray, shape (m,)
        Epochs (days), sorted within each object.
    offsets : ndarray of int64, shape (n + 1,)
    out_offsets : ndarray of int64, shape (n + 1,)
        Outbursts of object ``i`` are ``out_offsets[i]:out_offsets[i + 1]``.
    start, rise_end, high_end, end : ndarray, shape (K,)

    Returns
    -------
    passed : ndarray of bool, shape (n,)
    outburst : ndarray of int64, shape (n,)
        Index of the first outburst that passed (-1 where none did).
    """
    return _cv_structure(np.ascontiguousarray(t, np.float64), np.asarray(offsets, np.int64),
                         np.asarray(out_offsets, np.int64), np.asarray(start, np.float64),
                         np.asarray(rise_end, np.float64), np.asarray(high_end, np.float64),
                         np.asarray(end, np.float64), int(n1), int(n2))


def cv_visible(t: np.ndarray, mag_obs: np.ndarray, magerr: np.ndarray, obj: np.ndarray, m0: np.ndarray,
               start: np.ndarray, end: np.ndarray, *, min_z: float = 3.0, n_min: int = 1) -> np.ndarray:
    """Visible outburst (after noise): at least ``n_min`` epochs in ``[start, end]`` of the accepted
    outburst are brighter than the quiescent level by ``min_z`` σ (not in MicroLIA, which accepts
    outbursts buried in noise).

    Parameters
    ----------
    t, mag_obs, magerr, obj : ndarray, shape (m,)
    m0, start, end : ndarray, shape (n,)
        Quiescent magnitude and the accepted outburst's start and end per object.

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    inside = (t >= start[obj]) & (t <= end[obj])
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (m0[obj] - mag_obs) / magerr
    hit = inside & (z >= min_z)
    return np.bincount(obj[hit], minlength=len(m0)) >= n_min


def event_signal(t: np.ndarray, obj: np.ndarray, m0: np.ndarray, mag_model: np.ndarray, sigma: np.ndarray,
                 min_z: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """True signal of simulated events: what a perfect search could see, independent of the noise draw.

    ``z_i = (F_i / F_0 - 1) / (σ_F,i / F_i)`` is the expected significance of epoch ``i``'s brightening
    over the baseline (noise-free model flux ``F_i``, baseline ``F_0``, flux error
    ``σ_F,i / F_i = (ln 10 / 2.5) σ_i``). Returns ``Δχ² = Σ z_i²`` (the noise-free event against a
    constant baseline) and the longest run of consecutive epochs with ``z_i >= min_z``.

    Parameters
    ----------
    t, obj : ndarray, shape (m,)
        Epochs (days, sorted within each object) and the object index per epoch (contiguous).
    m0 : ndarray, shape (n,)
        Baseline magnitude per object.
    mag_model, sigma : ndarray, shape (m,)
        Noise-free model magnitudes and their true σ (mag).

    Returns
    -------
    dchi2 : ndarray, shape (n,)
    run : ndarray of int64, shape (n,)
    """
    ratio = 10.0 ** (-0.4 * (mag_model - m0[obj]))
    z = (ratio - 1.0) / (np.log(10.0) / 2.5 * sigma * ratio)
    dchi2 = np.bincount(obj, weights=z * z, minlength=len(m0))
    return dchi2, longest_run(z >= min_z, obj, len(m0))
