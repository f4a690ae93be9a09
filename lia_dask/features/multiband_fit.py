"""The joint point-lens fit of all bands of an object (numba; pure: arrays in, arrays out).

``F_b(t) = fs_b A(u(t)) + fb_b`` with shared ``(t0, u0, tE)`` and per-band ``fs_b >= 0``, ``fb_b``
in closed form for each ``(t0, u0, tE)``; valid for difference fluxes. Search: a grid (t0 at the
most significant epochs, log tE, log u0), then Nelder-Mead, restarted once. The features it
returns (:data:`CROSS_NAMES`) are described in :mod:`lia_dask.features.multiband`.
"""
from __future__ import annotations

import numba
import numpy as np

CROSS_NAMES: tuple[str, ...] = (
    "mb_log_tE", "mb_log_u0", "mb_t0_frac", "mb_chi2_red_pspl", "mb_chi2_red_flat", "mb_dchi2_frac",
    "mb_log_dchi2", "mb_t0_spread", "mb_u0_spread", "mb_band_chi2_max", "mb_blend_spread",
    "mb_colour_change_mean", "mb_colour_change_absmax", "mb_peak_z",
)

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
