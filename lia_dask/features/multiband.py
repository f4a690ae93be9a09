"""Multi-band features: one row per object from all its bands.

Columns of the multi-band feature table (``multiband_frame``), in order:

- ``object_id``, ``label`` (when the batch has labels) — not features;
- ``<band>_<feature>`` for every band of :attr:`MultibandSettings.bands` (wavelength order) and
  the 168 statistics of the per-band feature set: computed where the object has at least
  ``min_band_points`` epochs in that band, NaN otherwise (a missing band is a missing value the
  model handles, never a feature of its own; there is no reason column among the features);
- :data:`CROSS_NAMES`: cross-band features from one joint point-lens fit of all bands.

The joint fit (:func:`joint_pspl_features`, numba) models every band ``b`` in flux as
``F_b(t) = fs_b A(u(t)) + fb_b`` with shared ``(t0, u0, tE)`` — microlensing is achromatic, only the
blending differs per band — and ``fs_b >= 0``. Working in flux with a free baseline ``fb_b`` makes it
valid for difference photometry (negative fluxes) as well as for total fluxes. For each
``(t0, u0, tE)`` the per-band ``(fs_b, fb_b)`` are the closed-form weighted least-squares solution,
so the search is over three parameters only: a grid (t0 at the most significant epochs, log tE,
log u0), then Nelder-Mead (restarted once). From the fit:

``mb_log_tE``, ``mb_log_u0``, ``mb_t0_frac`` (t0 within the observed span), ``mb_chi2_red_pspl``,
``mb_chi2_red_flat`` (per-band constants), ``mb_dchi2_frac`` (share of the flat model's chi² the
point lens removes), ``mb_log_dchi2``; consistency across bands: ``mb_t0_spread`` (std of the
per-band peak times, each fitted with the joint u0 and tE, in units of tE), ``mb_u0_spread``
(std of log10 of the per-band u0 with the joint t0 and tE: the magnification must agree across
bands), ``mb_band_chi2_max`` (worst band's reduced chi² over the joint one), ``mb_blend_spread``
(std of the fitted source fraction fs/(fs+fb) across bands, total fluxes only); colour during vs
outside the event: ``mb_colour_change_mean`` / ``mb_colour_change_absmax`` over adjacent band
pairs of ``(c_in - c_out)``, ``c = -2.5 log10(F_b1 / F_b2)`` from the weighted mean flux within
``|t - t0| < tE / 2`` and the median outside ``|t - t0| > 2 tE`` (NaN where a flux is not positive,
e.g. difference fluxes); ``mb_peak_z``: largest excess over the band median in units of the error.
"""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, fields, replace
from functools import partial

import numba
import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import ConfigError, InputError

#: name stored as ``feature_set`` in artifacts trained on this table
MULTIBAND_FEATURE_SET = "multiband"
#: wavelength order of the known bands; other bands follow in name order
BAND_ORDER = ("u", "g", "r", "i", "z", "y")
CROSS_NAMES: tuple[str, ...] = (
    "mb_log_tE", "mb_log_u0", "mb_t0_frac", "mb_chi2_red_pspl", "mb_chi2_red_flat", "mb_dchi2_frac",
    "mb_log_dchi2", "mb_t0_spread", "mb_u0_spread", "mb_band_chi2_max", "mb_blend_spread",
    "mb_colour_change_mean", "mb_colour_change_absmax", "mb_peak_z",
)
#: quarantine reason of an object without any computable feature
NO_FEATURES = "no band with min_band_points epochs and too few epochs for the joint fit"


def sort_bands(bands) -> tuple[str, ...]:
    """Bands in wavelength order (u g r i z y), then any others by name."""
    bands = sorted(set(map(str, bands)))
    rank = {b: k for k, b in enumerate(BAND_ORDER)}
    return tuple(sorted(bands, key=lambda b: (rank.get(b, len(BAND_ORDER)), b)))


@dataclass(frozen=True)
class MultibandSettings:
    """Settings of the multi-band feature extraction (one dataclass for the stage).

    Attributes
    ----------
    bands : tuple of str or None
        Bands that get ``<band>_<feature>`` columns, wavelength order; None: the bands in the data
        (an archive's summary). A model keeps the bands it was trained on; data with more bands
        runs through it (the extra bands are not used), data with fewer gives NaN columns.
    min_band_points : int
        A band with fewer epochs gets NaN per-band features (it still enters the joint fit).
    zp : float or None
        Zero point of magnitude data (None: the batch's own); fluxes are used as given.
    apply_weights : bool
        MicroLIA's weighted variants of the per-band statistics.
    band_feature_set : str
        Registered per-band feature set (default MicroLIA 2.8.1's 168).
    """

    bands: tuple[str, ...] | None = None
    min_band_points: int = 5
    zp: float | None = None
    apply_weights: bool = True
    band_feature_set: str = "microlia-2.8.1"

    def __post_init__(self) -> None:
        if self.bands is not None:
            object.__setattr__(self, "bands", sort_bands(self.bands))
            if not self.bands:
                raise ConfigError("MultibandSettings.bands is empty; give at least one band or None.")
        if int(self.min_band_points) < 2:
            raise ConfigError(f"min_band_points must be >= 2, got {self.min_band_points}.")

    def to_dict(self) -> dict:
        """JSON-able dict as stored in artifacts (``feature_set`` = ``"multiband"``)."""
        d = asdict(self)
        d["bands"] = None if self.bands is None else list(self.bands)
        return {"feature_set": MULTIBAND_FEATURE_SET, **d}

    @classmethod
    def from_dict(cls, d: dict) -> "MultibandSettings":
        d = {k: v for k, v in d.items() if k != "feature_set"}
        unknown = set(d) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown multi-band settings {sorted(unknown)}.")
        if d.get("bands") is not None:
            d["bands"] = tuple(d["bands"])
        return cls(**d)

    def feature_names(self, bands: tuple[str, ...] | None = None) -> list[str]:
        """Feature columns for ``bands`` (default: ``self.bands``)."""
        from .registry import get_feature_set

        bands = bands if bands is not None else self.bands
        if bands is None:
            raise ConfigError("multi-band feature names need the bands; set MultibandSettings.bands.")
        names = get_feature_set(self.band_feature_set).names
        return [f"{b}_{n}" for b in bands for n in names] + list(CROSS_NAMES)


def is_multiband(feature_settings: dict | None) -> bool:
    """True for the feature settings of a model trained on the multi-band table."""
    return bool(feature_settings) and feature_settings.get("feature_set") == MULTIBAND_FEATURE_SET


# ------------------------------------------------------------------------ the joint fit (numba)
_njit = numba.njit(cache=True, nogil=True, error_model="numpy")


@_njit
def _magnification(t, t0, u0, tE, out):
    for j in range(t.shape[0]):
        tau = (t[j] - t0) / tE
        u2 = u0 * u0 + tau * tau
        u = np.sqrt(u2)
        out[j] = (u2 + 2.0) / (u * np.sqrt(u2 + 4.0))


@_njit
def _linear_chi2(A, f, w, bidx, nb, fs, fb, chi_b):
    """Per-band weighted least squares of f = fs A + fb (fs >= 0); returns the total chi²."""
    S = np.zeros((nb, 6))
    for j in range(f.shape[0]):
        k = bidx[j]
        wj = w[j]
        S[k, 0] += wj
        S[k, 1] += wj * A[j]
        S[k, 2] += wj * A[j] * A[j]
        S[k, 3] += wj * f[j]
        S[k, 4] += wj * A[j] * f[j]
        S[k, 5] += wj * f[j] * f[j]
    total = 0.0
    for k in range(nb):
        sw, sa, saa, sf, saf, sff = S[k, 0], S[k, 1], S[k, 2], S[k, 3], S[k, 4], S[k, 5]
        if sw <= 0.0:
            fs[k] = np.nan
            fb[k] = np.nan
            chi_b[k] = 0.0
            continue
        det = sw * saa - sa * sa
        a = 0.0
        if det > 1e-12 * sw * saa:
            a = (sw * saf - sa * sf) / det
        if a > 0.0:
            b = (saa * sf - sa * saf) / det
        else:
            a = 0.0
            b = sf / sw
        c = sff - 2.0 * a * saf - 2.0 * b * sf + a * a * saa + 2.0 * a * b * sa + b * b * sw
        if c < 0.0:
            c = 0.0
        fs[k] = a
        fb[k] = b
        chi_b[k] = c
        total += c
    return total


@_njit
def _chi2(t, f, w, bidx, nb, t0, lu0, ltE, A, fs, fb, chi_b):
    _magnification(t, t0, 10.0 ** lu0, 10.0 ** ltE, A)
    return _linear_chi2(A, f, w, bidx, nb, fs, fb, chi_b)


@_njit
def _bounded_chi2(t, f, w, bidx, nb, x, lo, hi, A, fs, fb, chi_b):
    for k in range(3):
        if x[k] < lo[k] or x[k] > hi[k]:
            return np.inf
    return _chi2(t, f, w, bidx, nb, x[0], x[1], x[2], A, fs, fb, chi_b)


@_njit
def _nelder_mead(t, f, w, bidx, nb, x0, step, lo, hi, A, fs, fb, chi_b):
    """Minimise the chi² over (t0, log u0, log tE) within bounds; returns (x, chi²)."""
    P = np.empty((4, 3))
    F = np.empty(4)
    for i in range(4):
        P[i] = x0
        if i > 0:
            P[i, i - 1] += step[i - 1]
        F[i] = _bounded_chi2(t, f, w, bidx, nb, P[i], lo, hi, A, fs, fb, chi_b)
    for it in range(300):
        o = np.argsort(F)
        P = P[o].copy()
        F = F[o].copy()
        if F[3] - F[0] <= 1e-7 * (abs(F[0]) + 1e-12):
            break
        c = (P[0] + P[1] + P[2]) / 3.0
        xr = c + (c - P[3])
        fr = _bounded_chi2(t, f, w, bidx, nb, xr, lo, hi, A, fs, fb, chi_b)
        if fr < F[0]:
            xe = c + 2.0 * (c - P[3])
            fe = _bounded_chi2(t, f, w, bidx, nb, xe, lo, hi, A, fs, fb, chi_b)
            if fe < fr:
                P[3] = xe
                F[3] = fe
            else:
                P[3] = xr
                F[3] = fr
        elif fr < F[2]:
            P[3] = xr
            F[3] = fr
        else:
            xc = c + 0.5 * (P[3] - c)
            fc = _bounded_chi2(t, f, w, bidx, nb, xc, lo, hi, A, fs, fb, chi_b)
            if fc < F[3]:
                P[3] = xc
                F[3] = fc
            else:
                for i in range(1, 4):
                    P[i] = P[0] + 0.5 * (P[i] - P[0])
                    F[i] = _bounded_chi2(t, f, w, bidx, nb, P[i], lo, hi, A, fs, fb, chi_b)
    k = np.argmin(F)
    return P[k].copy(), F[k]


@_njit
def _weighted_median_per_band(f, bidx, nb):
    med = np.zeros(nb)
    for k in range(nb):
        cnt = 0
        for j in range(f.shape[0]):
            if bidx[j] == k:
                cnt += 1
        if cnt == 0:
            med[k] = np.nan
            continue
        v = np.empty(cnt)
        c = 0
        for j in range(f.shape[0]):
            if bidx[j] == k:
                v[c] = f[j]
                c += 1
        med[k] = np.median(v)
    return med


@_njit
def _fit_one(t, f, e, bidx, nb, min_band, out):
    n = t.shape[0]
    ok = 0
    for j in range(n):
        if np.isfinite(t[j]) and np.isfinite(f[j]) and np.isfinite(e[j]) and e[j] > 0.0:
            ok += 1
    if ok < 6:
        return
    tt = np.empty(ok)
    ff = np.empty(ok)
    ww = np.empty(ok)
    bb = np.empty(ok, np.int64)
    c = 0
    for j in range(n):
        if np.isfinite(t[j]) and np.isfinite(f[j]) and np.isfinite(e[j]) and e[j] > 0.0:
            tt[c] = t[j]
            ff[c] = f[j]
            ww[c] = 1.0 / (e[j] * e[j])
            bb[c] = bidx[j]
            c += 1
    n = ok
    nband = np.zeros(nb, np.int64)
    for j in range(n):
        nband[bb[j]] += 1
    used = 0
    for k in range(nb):
        if nband[k] > 0:
            used += 1
    tmin = tt.min()
    tmax = tt.max()
    span = max(tmax - tmin, 1.0)
    med = _weighted_median_per_band(ff, bb, nb)
    z = np.empty(n)
    for j in range(n):
        z[j] = (ff[j] - med[bb[j]]) * np.sqrt(ww[j])
    order = np.argsort(-z)
    A = np.empty(n)
    fs = np.empty(nb)
    fb = np.empty(nb)
    chi_b = np.empty(nb)
    # flat model: per-band weighted mean
    chi_flat = 0.0
    for k in range(nb):
        sw = 0.0
        sf = 0.0
        for j in range(n):
            if bb[j] == k:
                sw += ww[j]
                sf += ww[j] * ff[j]
        if sw > 0.0:
            m = sf / sw
            for j in range(n):
                if bb[j] == k:
                    chi_flat += ww[j] * (ff[j] - m) ** 2
    # grid over (t0 at the most significant epochs, log tE, log u0)
    best = np.inf
    bt0 = tt[order[0]]
    blu = -1.0
    blt = 1.0
    n_t0 = min(5, n)
    for a in range(n_t0):
        t0 = tt[order[a]]
        for g in range(11):
            lt = 0.25 * g
            for lu in (-2.0, -1.5, -1.0, -0.6, -0.3, 0.0):
                c2 = _chi2(tt, ff, ww, bb, nb, t0, lu, lt, A, fs, fb, chi_b)
                if c2 < best:
                    best = c2
                    bt0 = t0
                    blu = lu
                    blt = lt
    # Nelder-Mead on (t0, log u0, log tE), restarted once from its own optimum
    lo = np.array([tmin - span, -3.0, -0.5])
    hi = np.array([tmax + span, 0.5, 3.5])
    x = np.array([bt0, blu, blt])
    for restart in range(2):
        step = np.array([0.3 * 10.0 ** x[2], 0.3, 0.2])
        x, best = _nelder_mead(tt, ff, ww, bb, nb, x, step, lo, hi, A, fs, fb, chi_b)
    bt0 = x[0]
    blu = x[1]
    blt = x[2]
    chi = _chi2(tt, ff, ww, bb, nb, bt0, blu, blt, A, fs, fb, chi_b)
    tE = 10.0 ** blt
    out[0] = blt
    out[1] = blu
    out[2] = (bt0 - tmin) / span
    dof = n - 3 - 2 * used
    out[3] = chi / dof if dof > 0 else np.nan
    out[4] = chi_flat / (n - used) if n > used else np.nan
    out[5] = (chi_flat - chi) / chi_flat if chi_flat > 0.0 else np.nan
    out[6] = np.log10(max(chi_flat - chi, 1e-3))
    # worst band and blending across bands
    worst = 0.0
    fr_n = 0
    fr_s = 0.0
    fr_ss = 0.0
    for k in range(nb):
        if nband[k] >= min_band:
            r = chi_b[k] / nband[k]
            if r > worst:
                worst = r
            tot = fs[k] + fb[k]
            if fs[k] > 0.0 and tot > 0.0 and fb[k] > -0.5 * tot:
                x = fs[k] / tot
                fr_n += 1
                fr_s += x
                fr_ss += x * x
    out[9] = worst / (chi / n) if chi > 0.0 else np.nan
    out[10] = np.sqrt(max(fr_ss / fr_n - (fr_s / fr_n) ** 2, 0.0)) if fr_n >= 2 else np.nan
    # per-band peak time (joint u0, tE) and per-band u0 (joint t0, tE)
    t0s = np.full(nb, np.nan)
    u0s = np.full(nb, np.nan)
    for k in range(nb):
        if nband[k] < min_band:
            continue
        m = nband[k]
        tk = np.empty(m)
        fk = np.empty(m)
        wk = np.empty(m)
        c = 0
        for j in range(n):
            if bb[j] == k:
                tk[c] = tt[j]
                fk[c] = ff[j]
                wk[c] = ww[j]
                c += 1
        bk = np.zeros(m, np.int64)
        Ak = np.empty(m)
        fs1 = np.empty(1)
        fb1 = np.empty(1)
        cb1 = np.empty(1)
        bestk = np.inf
        for g in range(21):
            t0 = bt0 + (g - 10) * 0.2 * tE
            c2 = _chi2(tk, fk, wk, bk, 1, t0, blu, blt, Ak, fs1, fb1, cb1)
            if c2 < bestk:
                bestk = c2
                t0s[k] = t0
        bestk = np.inf
        for g in range(16):
            lu = -2.5 + g * 0.2
            c2 = _chi2(tk, fk, wk, bk, 1, bt0, lu, blt, Ak, fs1, fb1, cb1)
            if c2 < bestk:
                bestk = c2
                u0s[k] = lu
    cnt = 0
    s1 = 0.0
    s2 = 0.0
    q1 = 0.0
    q2 = 0.0
    for k in range(nb):
        if np.isfinite(t0s[k]):
            cnt += 1
            x = (t0s[k] - bt0) / tE
            s1 += x
            s2 += x * x
            q1 += u0s[k]
            q2 += u0s[k] * u0s[k]
    if cnt >= 2:
        out[7] = np.sqrt(max(s2 / cnt - (s1 / cnt) ** 2, 0.0))
        out[8] = np.sqrt(max(q2 / cnt - (q1 / cnt) ** 2, 0.0))
    # colour during vs outside the event, adjacent band pairs (bands are in wavelength order)
    fin = np.full(nb, np.nan)
    fout = np.full(nb, np.nan)
    for k in range(nb):
        sw = 0.0
        sf = 0.0
        no = 0
        for j in range(n):
            if bb[j] == k:
                dt = abs(tt[j] - bt0)
                if dt < 0.5 * tE:
                    sw += ww[j]
                    sf += ww[j] * ff[j]
                elif dt > 2.0 * tE:
                    no += 1
        if sw > 0.0:
            fin[k] = sf / sw
        if no >= 3:
            v = np.empty(no)
            c = 0
            for j in range(n):
                if bb[j] == k and abs(tt[j] - bt0) > 2.0 * tE:
                    v[c] = ff[j]
                    c += 1
            fout[k] = np.median(v)
    npair = 0
    csum = 0.0
    cmax = 0.0
    prev = -1
    for k in range(nb):
        if not (fin[k] > 0.0 and fout[k] > 0.0):
            continue
        if prev >= 0:
            d = -2.5 * np.log10(fin[prev] / fin[k]) + 2.5 * np.log10(fout[prev] / fout[k])
            npair += 1
            csum += d
            if abs(d) > abs(cmax):
                cmax = d
        prev = k
    if npair > 0:
        out[11] = csum / npair
        out[12] = cmax
    out[13] = z[order[0]]


@_njit
def joint_pspl_features(obj_offsets, time, flux, flux_err, band_index, n_bands, min_band_points):  # pragma: no cover - numba
    """Cross-band features (:data:`CROSS_NAMES`) of many objects.

    Parameters
    ----------
    obj_offsets : ndarray of int64, shape (n + 1,)
        Object ``i`` owns epochs ``obj_offsets[i]:obj_offsets[i + 1]`` of the flat arrays (all bands).
    time, flux, flux_err : ndarray of float64, shape (m,)
        Days and fluxes (any unit; difference fluxes may be negative); epochs need not be sorted.
    band_index : ndarray of int64, shape (m,)
        Band of each epoch, ``0 <= band_index < n_bands``, in wavelength order.
    n_bands : int
    min_band_points : int
        Bands with fewer epochs do not enter the per-band consistency measures.

    Returns
    -------
    ndarray of float64, shape (n, len(CROSS_NAMES))
        NaN where undefined (fewer than 6 usable epochs: the whole row).
    """
    n = obj_offsets.shape[0] - 1
    out = np.full((n, 14), np.nan)
    for i in range(n):
        a = obj_offsets[i]
        b = obj_offsets[i + 1]
        _fit_one(time[a:b], flux[a:b], flux_err[a:b], band_index[a:b], n_bands, min_band_points, out[i])
    return out


# ------------------------------------------------------------------------ a batch -> one row per object
def _group_objects(batch: LightcurveBatch) -> tuple[LightcurveBatch, np.ndarray]:
    """The batch with the rows of each object adjacent (stable), and the row offsets per object."""
    codes, uniq = pd.factorize(pd.Series(batch.object_id))
    if len(codes) and 1 + np.count_nonzero(np.diff(codes)) != len(uniq):  # an object's rows are not adjacent
        order = np.argsort(codes, kind="stable")
        batch, codes = batch.take(order), codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]) if len(codes) else np.zeros(0, np.int64)
    return batch, np.r_[starts, len(codes)].astype(np.int64)


def multiband_frame(batch: LightcurveBatch, settings: MultibandSettings | None = None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Multi-band feature table of a batch: one row per object (layout in the module docstring).

    Parameters
    ----------
    batch : LightcurveBatch
        Rows per (object, band); magnitudes (converted with the zero point) or fluxes.
    settings : MultibandSettings, optional
        ``bands=None`` uses the bands of this batch.

    Returns
    -------
    features : pandas.DataFrame
        One row per object with at least one computable feature: ``object_id``, optional
        ``label``, the feature columns.
    quarantine : pandas.DataFrame
        ``object_id``, ``source``, ``reason`` for the others; ``len(features) + len(quarantine)``
        is the number of distinct objects.
    """
    from .extract import extract_batch_with_reasons
    from .registry import FeatureSettings

    cfg = settings or MultibandSettings()
    bands = cfg.bands if cfg.bands is not None else sort_bands(batch.band)
    batch, obj_off = _group_objects(batch.compact())
    n_obj = len(obj_off) - 1
    fs = FeatureSettings(zp=cfg.zp, convert=None, apply_weights=cfg.apply_weights, feature_set=cfg.band_feature_set)
    rank = {b: k for k, b in enumerate(bands)}
    row_band = np.array([rank.get(str(b), -1) for b in batch.band], dtype=np.int64)
    row_obj = np.repeat(np.arange(n_obj), np.diff(obj_off))
    names = cfg.feature_names(bands)
    n_per = len(names) - len(CROSS_NAMES)
    X = np.full((n_obj, len(names)), np.nan)
    use = np.flatnonzero((row_band >= 0) & (batch.lengths >= cfg.min_band_points))
    if len(use):
        vals, fnames, reason = extract_batch_with_reasons(batch.take(use), fs)
        nf = len(fnames)
        good = reason == 0
        r = use[good]
        cols = row_band[r][:, None] * nf + np.arange(nf)[None, :]
        X[row_obj[r][:, None], cols] = vals[good]
    # joint fit over every band of the model (epochs of other bands are not used)
    sel = np.flatnonzero(row_band >= 0)
    fl = batch.take(sel).to_flux()
    lens = np.zeros(len(batch), np.int64)
    lens[sel] = fl.lengths
    per_obj = np.add.reduceat(lens, obj_off[:-1]) if n_obj else np.zeros(0, np.int64)
    o_off = np.r_[0, np.cumsum(per_obj)].astype(np.int64)
    bidx = np.repeat(row_band[sel], fl.lengths).astype(np.int64)
    X[:, n_per:] = joint_pspl_features(o_off, fl.time.astype(np.float64), fl.y.astype(np.float64),
                                       fl.yerr.astype(np.float64), bidx, len(bands), int(cfg.min_band_points))
    ids = batch.object_id[obj_off[:-1]]
    ok = ~np.all(np.isnan(X), axis=1)
    head = {S.OBJECT_ID: pd.Series(ids[ok], dtype="int64" if ids.dtype.kind in "iu" else "str")}
    if batch.label is not None:
        head[S.LABEL] = pd.Series(batch.label[obj_off[:-1]][ok], dtype="str")
    for k, v in batch.extra.items():
        if k in ("ra", "dec", "_healpix_29"):
            head[k] = v[obj_off[:-1]][ok]
    out = pd.concat([pd.DataFrame(head), pd.DataFrame(X[ok], columns=names)], axis=1)
    bad = np.flatnonzero(~ok)
    quarantine = pd.DataFrame({"object_id": ids[bad].astype(str), "source": "multiband",
                               "reason": [NO_FEATURES + f" (min_band_points={cfg.min_band_points})"] * len(bad)},
                              columns=S.QUARANTINE_SCHEMA.names)
    return out, quarantine


def _frame_with_reasons(batch: LightcurveBatch, settings: MultibandSettings) -> pd.DataFrame:
    """Features plus the quarantined objects as all-NaN rows with ``feature_reason`` 1 (a non-feature column)."""
    from .extract import REASON_COLUMN

    feats, quarantine = multiband_frame(batch, settings)
    feats[REASON_COLUMN] = np.int8(0)
    if len(quarantine):
        ids = pd.Series(batch.object_id).drop_duplicates()
        bad = ids[ids.astype(str).isin(set(quarantine["object_id"]))]
        rows = pd.DataFrame({S.OBJECT_ID: bad.to_numpy()})
        if S.LABEL in feats.columns:
            lab = pd.Series(batch.label, index=batch.object_id).groupby(level=0).first()
            rows[S.LABEL] = lab.reindex(bad.to_numpy()).astype(str).to_numpy()
        rows[REASON_COLUMN] = np.int8(1)
        feats = pd.concat([feats, rows], ignore_index=True)
    return feats


def extract_multiband_archive(archive, settings: MultibandSettings | None = None):
    """Lazy multi-band feature table of an archive, one task per partition (objects never split).

    ``settings.bands=None`` takes the archive's bands. Returns a dask DataFrame and the settings
    used (with the bands filled in).
    """
    from ..archive import open_archive

    arch = open_archive(archive) if isinstance(archive, (str, os.PathLike)) else archive
    cfg = settings or MultibandSettings()
    if cfg.bands is None:
        cfg = replace(cfg, bands=sort_bands(arch.bands))
    import pyarrow as pa

    id_dtype = "int64" if pa.types.is_integer(arch.schema.field(S.OBJECT_ID).type) else "str"
    head = {S.OBJECT_ID: pd.Series([], dtype=id_dtype)}
    if S.LABEL in arch.schema.names:
        head[S.LABEL] = pd.Series([], dtype="str")
    from .extract import REASON_COLUMN

    names = cfg.feature_names()
    meta = pd.concat([pd.DataFrame(head), pd.DataFrame(np.empty((0, len(names))), columns=names)], axis=1)
    meta[REASON_COLUMN] = pd.Series([], dtype=np.int8)
    return arch.map_batches(partial(_frame_with_reasons, settings=cfg), meta=meta, label="multiband-features"), cfg


def load_multiband_features(source, settings: MultibandSettings | None = None, client=None):
    """:class:`~lia_dask.train.data.FeatureTable` of a labelled archive's multi-band features (for training)."""
    from ..train.data import FeatureTable

    from .extract import REASON_COLUMN

    ddf, cfg = extract_multiband_archive(str(source), settings)
    df = ddf.compute() if client is None else client.compute(ddf).result()
    bad = df[REASON_COLUMN].to_numpy() != 0
    df = df.loc[~bad].drop(columns=REASON_COLUMN).reset_index(drop=True)
    if len(df) == 0:
        raise InputError(f"{source} has no object with computable multi-band features.")
    return FeatureTable(df, cfg.feature_names(), int(bad.sum()), cfg.to_dict(), str(source))


__all__ = ["BAND_ORDER", "CROSS_NAMES", "MULTIBAND_FEATURE_SET", "MultibandSettings", "extract_multiband_archive",
           "is_multiband", "joint_pspl_features", "load_multiband_features", "multiband_frame", "sort_bands"]
