"""The joint point-lens fit of all bands of an object (numba; pure: arrays in, arrays out).

``F_b(t) = fs_b A(u(t)) + fb_b`` with shared ``(t0, u0, tE)`` and per-band ``fs_b >= 0``, ``fb_b``
in closed form for each ``(t0, u0, tE)``; valid for difference fluxes. Search: a grid (t0 at the
most significant epochs, log tE, log u0; each trial visits only the epochs within 3 tE of t0 per
band), then the physical block's Levenberg–Marquardt (:func:`lia_dask.features.physical_fit.lm_fit`,
the one point-lens kernel of the package: the same bases and linear amplitudes, one set per band).
The features it returns (:data:`CROSS_NAMES`) are described in :mod:`lia_dask.features.multiband`.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel
from .physical_fit import FAST, FS_CLIP, MODEL_PSPL, NS, amplitudes, lm_fit, profiled_chi2

CROSS_NAMES: tuple[str, ...] = (
    "mb_log_tE", "mb_log_u0", "mb_t0_frac", "mb_chi2_red_pspl", "mb_chi2_red_flat", "mb_dchi2_frac",
    "mb_log_dchi2", "mb_t0_spread", "mb_u0_spread", "mb_band_chi2_max", "mb_blend_spread",
    "mb_colour_change_mean", "mb_colour_change_absmax", "mb_peak_z",
)

#: grid of the joint fit: tE log10-spaced 1 .. 316 d, u0 log10-spaced 0.01 .. 1, t0 at the most significant epochs
_LOG_TE_GRID = np.arange(11) * 0.25
_LOG_U0_GRID = np.array([-2.0, -1.5, -1.0, -0.6, -0.3, 0.0])
_N_T0 = 5
#: half width (in tE) of a grid trial's window; outside it A - 1 is neglected in the grid only
_WINDOW = 3.0
#: search box of LM: t0 within a span of the data, log10 u0 in [-3, 0.5], log10 tE in [-0.5, 3.5]
_LN10 = math.log(10.0)
_LM_ITERS = 30


@kernel(fastmath=FAST)
def _window_sums(t, f, w, lo, hi, t0, u02, itE):
    """Σ w a, Σ w a², Σ w a f over the epochs ``lo:hi`` with ``a = A - 1`` (exact)."""
    sa = saa = saf = 0.0
    for i in range(lo, hi):
        tau = (t[i] - t0) * itE
        q = u02 + tau * tau
        a = (q + 2.0) / math.sqrt(q * (q + 4.0)) - 1.0
        wa = w[i] * a
        sa += wa
        saa += wa * a
        saf += wa * f[i]
    return sa, saa, saf


@kernel
def _joint_grid(t, f, w, bo, cand):
    """Best grid point (χ², t0, ln u0, ln tE) of the joint fit; ``t`` sorted within each band."""
    nb = len(bo) - 1
    base = np.zeros((nb, 3))  # Σ w, Σ w f, Σ w f² per band
    for b in range(nb):
        for i in range(bo[b], bo[b + 1]):
            base[b, 0] += w[i]
            base[b, 1] += w[i] * f[i]
            base[b, 2] += w[i] * f[i] * f[i]
    best = (np.inf, cand[0], math.log(0.1), math.log(10.0))
    for c in range(len(cand)):
        t0 = cand[c]
        for g in range(len(_LOG_TE_GRID)):
            tE = 10.0 ** _LOG_TE_GRID[g]
            half = _WINDOW * tE
            lo = np.empty(nb, np.int64)
            hi = np.empty(nb, np.int64)
            for b in range(nb):
                seg = t[bo[b]:bo[b + 1]]
                lo[b] = bo[b] + np.searchsorted(seg, t0 - half)
                hi[b] = bo[b] + np.searchsorted(seg, t0 + half, side="right")
            for lu in _LOG_U0_GRID:
                u02 = 10.0 ** (2.0 * lu)
                total = 0.0
                for b in range(nb):
                    sw, swf, swff = base[b, 0], base[b, 1], base[b, 2]
                    sa, saa, saf = _window_sums(t, f, w, lo[b], hi[b], t0, u02, 1.0 / tE)
                    _fs, _fb, c2, _free = amplitudes(sw, sw + sa, sw + 2.0 * sa + saa, swf, swf + saf, swff,
                                                     -np.inf, FS_CLIP)
                    total += c2
                if total < best[0]:
                    best = (total, t0, lu * _LN10, _LOG_TE_GRID[g] * _LN10)
    return best


@kernel
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
    tmin = tt.min()
    tmax = tt.max()
    # band-major, time-sorted within a band: band b owns bo[b]:bo[b + 1]
    o = np.argsort(bb * (tmax - tmin + 1.0) + (tt - tmin), kind="mergesort")
    tt, ff, ww, bb = tt[o], ff[o], ww[o], bb[o]
    nband = np.zeros(nb, np.int64)
    for j in range(n):
        nband[bb[j]] += 1
    bo = np.zeros(nb + 1, np.int64)
    for k in range(nb):
        bo[k + 1] = bo[k] + nband[k]
    used = 0
    for k in range(nb):
        if nband[k] > 0:
            used += 1
    span = max(tmax - tmin, 1.0)
    med = np.full(nb, np.nan)
    for k in range(nb):
        if nband[k] > 0:
            med[k] = np.median(ff[bo[k]:bo[k + 1]])
    z = np.empty(n)
    for j in range(n):
        z[j] = (ff[j] - med[bb[j]]) * np.sqrt(ww[j])
    order = np.argsort(-z)
    S = np.empty((nb, NS))
    amp = np.empty((nb, 4))
    # flat model: per-band weighted mean
    chi_flat = 0.0
    for k in range(nb):
        sw = 0.0
        sf = 0.0
        for j in range(bo[k], bo[k + 1]):
            sw += ww[j]
            sf += ww[j] * ff[j]
        if sw > 0.0:
            m = sf / sw
            for j in range(bo[k], bo[k + 1]):
                chi_flat += ww[j] * (ff[j] - m) ** 2
    # grid over (t0 at the most significant epochs, log tE, log u0), then LM (the physical block's)
    cand = np.empty(min(_N_T0, n))
    for a in range(len(cand)):
        cand[a] = tt[order[a]]
    g0 = _joint_grid(tt, ff, ww, bo, cand)
    th = np.array([g0[1], g0[2], g0[3]])
    lo = np.array([tmin - span, -3.0 * _LN10, -0.5 * _LN10])
    hi = np.array([tmax + span, 0.5 * _LN10, 3.5 * _LN10])
    chi = lm_fit(MODEL_PSPL, tt, ff, ww, bo, th, lo, hi, _LM_ITERS, -np.inf, FS_CLIP, S, amp)
    bt0 = th[0]
    blu = th[1] / _LN10
    blt = th[2] / _LN10
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
            r = amp[k, 2] / nband[k]
            if r > worst:
                worst = r
            fsk, fbk = amp[k, 0], amp[k, 1]
            tot = fsk + fbk
            if fsk > 0.0 and tot > 0.0 and fbk > -0.5 * tot:
                x = fsk / tot
                fr_n += 1
                fr_s += x
                fr_ss += x * x
    out[9] = worst / (chi / n) if chi > 0.0 else np.nan
    out[10] = np.sqrt(max(fr_ss / fr_n - (fr_s / fr_n) ** 2, 0.0)) if fr_n >= 2 else np.nan
    # per-band peak time (joint u0, tE) and per-band u0 (joint t0, tE)
    t0s = np.full(nb, np.nan)
    u0s = np.full(nb, np.nan)
    S1 = np.empty((1, NS))
    amp1 = np.empty((1, 4))
    bo1 = np.zeros(2, np.int64)
    x3 = np.empty(3)
    for k in range(nb):
        if nband[k] < min_band:
            continue
        tk, fk, wk = tt[bo[k]:bo[k + 1]], ff[bo[k]:bo[k + 1]], ww[bo[k]:bo[k + 1]]
        bo1[1] = nband[k]
        bestk = np.inf
        for g in range(21):
            x3[0], x3[1], x3[2] = bt0 + (g - 10) * 0.2 * tE, th[1], th[2]
            c2 = profiled_chi2(MODEL_PSPL, tk, fk, wk, bo1, x3, -np.inf, FS_CLIP, S1, amp1)
            if c2 < bestk:
                bestk = c2
                t0s[k] = x3[0]
        bestk = np.inf
        for g in range(16):
            lu = -2.5 + g * 0.2
            x3[0], x3[1], x3[2] = bt0, lu * _LN10, th[2]
            c2 = profiled_chi2(MODEL_PSPL, tk, fk, wk, bo1, x3, -np.inf, FS_CLIP, S1, amp1)
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
        for j in range(bo[k], bo[k + 1]):
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
            for j in range(bo[k], bo[k + 1]):
                if abs(tt[j] - bt0) > 2.0 * tE:
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


@kernel
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
