"""The one fitting machinery of the point-lens (and FRED) models: bases, linear amplitudes, Levenberg–Marquardt.

Used by the single-band physical block (:mod:`lia_dask.features.physical_models`) and by the multi-band
joint fit (:mod:`lia_dask.features.multiband_fit`): a model shared over the bands of an object with
per-band linear amplitudes, ``F(t) = fs_b g(t; θ) + fb_b`` for the epochs of band ``b`` (a single band is
the case ``nb = 1``). Pure numba kernels: arrays in, arrays out.

Conventions
-----------
* ``t, f, w`` : float64 arrays, shape (n,): times (days), fluxes and weights ``1/σ²`` (any unit), grouped
  by band: band ``b`` owns ``bo[b]:bo[b + 1]`` (``bo`` int64, shape (nb + 1,)); any order within a band for the
  PSPL, sorted in time for the FRED (its sums visit only the epochs where its basis is not 0).
* ``theta`` : float64, shape (3,): PSPL ``(t0 [d], ln u0, ln tE [d])`` with
  ``g = A(u) = (u² + 2) / (u sqrt(u² + 4))``, ``u² = u0² + ((t - t0)/tE)²``; FRED ``(tp [d], ln τr, ln τd)``
  with ``g = exp((t - tp)/τr)`` before ``tp`` and ``exp(-(t - tp)/τd)`` after.
* ``S`` : float64, shape (nb, NS): per-band weighted sums at ``theta`` (:func:`model_sums`), from which the
  amplitudes, the χ² and the Gauss–Newton system follow without another pass over the epochs.
* ``amp`` : float64, shape (nb, 4): per band ``fs, fb, χ²_b, free`` (``free``: 1 both amplitudes free,
  2 ``fb`` at its bound, 3 ``fs`` clipped at 0, 0 band without epochs).

The derivatives of ``g`` are analytic; the θ-step of LM is the Gauss–Newton step of all parameters
(θ and every band's amplitudes) reduced to θ by the Schur complement of the amplitude blocks, and the
amplitudes are solved exactly at every trial (variable projection), so each LM trial is one pass.
"""
from __future__ import annotations

import math

import numpy as np

from .common import kernel

#: hot loops: reassociation lets LLVM vectorise the sums (inputs are finite; inf/NaN semantics kept)
FAST = {"reassoc", "contract", "arcp"}
MODEL_PSPL, MODEL_FRED = 0, 1
#: sums per band in ``S``: w, wg, wgg, wf, wgf, wff, then wd_j, wd_j g, wd_j f (j = 0..2), then wd_j d_k (j <= k)
NS = 21
_SW, _SG, _SGG, _SF, _SGF, _SFF, _SD, _SDG, _SDF, _SDD = 0, 1, 2, 3, 4, 5, 6, 9, 12, 15
#: the FRED's decline is at least this many times slower than its rise
FRED_MIN_RATIO = 2.0
#: amplitude policies (``clip``): a non-positive source flux rejects θ (single band), or is clipped to 0 (per band)
FS_REJECT, FS_CLIP = False, True
#: LM stops when an iteration lowers χ² by less than this (absolute, χ² units) or by a relative 1e-7
LM_TOL = 1e-3
#: ``amp[b, 3]`` codes
FREE_NONE, FREE_BOTH, FREE_FS, FREE_FB = 0, 1, 2, 3


@kernel
def magnification(u2):
    """PSPL magnification ``A`` of ``u²`` (scalar)."""
    return (u2 + 2.0) / math.sqrt(u2 * (u2 + 4.0))


#: the FRED basis is 0 (below e^-FRED_CUT ~ 1e-13 of its peak) further than FRED_CUT rise / decline times away
FRED_CUT = 30.0


@kernel(fastmath=FAST)
def _pspl_basis(x, u02, itE):
    """(A, dA/dt0, dA/dln u0, dA/dln tE) at ``x = t - t0`` (days)."""
    tau = x * itE
    q = u02 + tau * tau
    rs = 1.0 / math.sqrt(q * (q + 4.0))
    dq = -4.0 * rs * rs * rs     # dA/d(u²)
    return (q + 2.0) * rs, -2.0 * tau * itE * dq, 2.0 * u02 * dq, -2.0 * tau * tau * dq


@kernel(fastmath=FAST)
def _fred_basis(x, itr, itd):
    """(g, dg/dtp, dg/dln τr, dg/dln τd) of the unit FRED at ``x = t - tp`` (days)."""
    if x < 0.0:
        y = x * itr
        if y <= -FRED_CUT:
            return 0.0, 0.0, 0.0, 0.0
        g = math.exp(y)
        return g, -g * itr, -g * y, 0.0
    y = x * itd
    if y >= FRED_CUT:
        return 0.0, 0.0, 0.0, 0.0
    g = math.exp(-y)
    return g, g * itd, 0.0, g * y


@kernel(fastmath=FAST)
def _add(a, wi, fi, g, d0, d1, d2, derivs):
    """The running sums ``a`` (a 21-tuple in the order of ``S``) plus one epoch; the derivative sums
    only with ``derivs``."""
    wg = wi * g
    if not derivs:
        return (a[0] + wi, a[1] + wg, a[2] + wg * g, a[3] + wi * fi, a[4] + wg * fi, a[5] + wi * fi * fi,
                a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14], a[15], a[16], a[17], a[18], a[19], a[20])
    w0, w1, w2 = wi * d0, wi * d1, wi * d2
    return (a[0] + wi, a[1] + wg, a[2] + wg * g, a[3] + wi * fi, a[4] + wg * fi, a[5] + wi * fi * fi,
            a[6] + w0, a[7] + w1, a[8] + w2, a[9] + w0 * g, a[10] + w1 * g, a[11] + w2 * g,
            a[12] + w0 * fi, a[13] + w1 * fi, a[14] + w2 * fi,
            a[15] + w0 * d0, a[16] + w0 * d1, a[17] + w0 * d2, a[18] + w1 * d1, a[19] + w1 * d2, a[20] + w2 * d2)


_ZERO = (0.0,) * NS


@kernel(fastmath=FAST)
def band_sums(model, t, f, w, i0, i1, c0, c1, c2, derivs, s):
    """The sums of ``S`` (:data:`NS`) of ``model`` over the epochs ``i0:i1`` into ``s``; ``c0 = θ0`` (days),
    PSPL: ``c1 = u0²``, ``c2 = 1/tE``; FRED: ``c1 = 1/τr``, ``c2 = 1/τd`` (``t[i0:i1]`` sorted). Without ``derivs``
    only the first six.

    The FRED's basis terms are summed over :func:`_fred_support` only and Σw, Σwf, Σwff of the epochs
    outside it added after: the same sums up to rounding (the order of the additions changes; on the
    3,000 survey lightcurves of ``benchmarks/physical_cost.py`` the block moves less than it does between
    two CPUs, benchmarks/README.md "cost11"), at a third of the epochs.
    """
    a = _ZERO
    if model == MODEL_PSPL and derivs:
        for i in range(i0, i1):
            g, d0, d1, d2 = _pspl_basis(t[i] - c0, c1, c2)
            a = _add(a, w[i], f[i], g, d0, d1, d2, True)
    elif model == MODEL_PSPL:
        for i in range(i0, i1):
            g, d0, d1, d2 = _pspl_basis(t[i] - c0, c1, c2)
            a = _add(a, w[i], f[i], g, d0, d1, d2, False)
    else:
        # the FRED basis is exactly 0 outside [tp - FRED_CUT τr, tp + FRED_CUT τd] (``t`` sorted): the
        # epochs there add only to Σw, Σwf, Σwff, summed on their own without the basis
        j0, j1 = _fred_support(t, i0, i1, c0, c1, c2)
        if derivs:
            for i in range(j0, j1):
                g, d0, d1, d2 = _fred_basis(t[i] - c0, c1, c2)
                a = _add(a, w[i], f[i], g, d0, d1, d2, True)
        else:
            for i in range(j0, j1):
                g, d0, d1, d2 = _fred_basis(t[i] - c0, c1, c2)
                a = _add(a, w[i], f[i], g, d0, d1, d2, False)
        sw, swf, swff = _const_sums(w, f, i0, j0)
        sw1, swf1, swff1 = _const_sums(w, f, j1, i1)
        a = (a[0] + sw + sw1, a[1], a[2], a[3] + swf + swf1, a[4], a[5] + swff + swff1) + a[6:]
    for k in range(NS if derivs else 6):
        s[k] = a[k]


@kernel
def _fred_support(t, i0, i1, tp, itr, itd):
    """Epochs ``j0:j1`` of the sorted ``t[i0:i1]`` outside which the FRED basis at ``tp`` is exactly 0.

    A slightly wider range than ``(t - tp)/τr > -FRED_CUT`` and ``(t - tp)/τd < FRED_CUT`` (the basis
    tests them again per epoch), so rounding never drops an epoch whose basis is not 0.
    """
    if i1 <= i0:
        return i0, i0
    lo = tp - (1.0 + 1e-6) * FRED_CUT / itr
    hi = tp + (1.0 + 1e-6) * FRED_CUT / itd
    j0 = i0 + np.searchsorted(t[i0:i1], lo) if lo > t[i0] else i0
    j1 = i0 + np.searchsorted(t[i0:i1], hi, side="right") if hi < t[i1 - 1] else i1
    return j0, max(j0, j1)


@kernel(fastmath=FAST)
def _const_sums(w, f, i0, i1):
    """Σw, Σwf, Σwff over the epochs ``i0:i1``."""
    sw = swf = swff = 0.0
    for i in range(i0, i1):
        sw += w[i]
        swf += w[i] * f[i]
        swff += w[i] * f[i] * f[i]
    return sw, swf, swff


@kernel
def model_sums(model, t, f, w, bo, theta, S, derivs):
    """Fill ``S`` (nb, NS) with the per-band sums of ``model`` at ``theta``.

    With ``derivs`` the derivative sums too (the Gauss–Newton system), else only the first six
    (enough for amplitudes and χ²).
    """
    if model == MODEL_PSPL:
        c1, c2 = math.exp(2.0 * theta[1]), math.exp(-theta[2])   # u0², 1/tE
    else:
        c1, c2 = math.exp(-theta[1]), math.exp(-theta[2])        # 1/τr, 1/τd
    for b in range(len(bo) - 1):
        band_sums(model, t, f, w, bo[b], bo[b + 1], theta[0], c1, c2, derivs, S[b])


@kernel
def amplitudes(sw, sg, sgg, sf, sgf, sff, fbmin, clip):
    """Weighted LSQ ``f ≈ fs·g + fb`` from the sums, ``fb >= fbmin`` -> (fs, fb, χ², free code).

    ``clip`` (FS_CLIP): a negative ``fs`` is set to 0 (``fb`` the weighted mean); otherwise (FS_REJECT) a
    non-positive or degenerate ``fs`` gives χ² = inf.
    """
    if not sw > 0.0:
        return np.nan, np.nan, 0.0, FREE_NONE
    det = sw * sgg - sg * sg
    free = FREE_BOTH
    if det > 1e-12 * sw * sgg:
        fs = (sw * sgf - sg * sf) / det
        fb = (sf - fs * sg) / sw
        if fb < fbmin:  # blend flux at its bound: one-parameter fit of fs
            fb = fbmin
            fs = (sgf - fbmin * sg) / sgg
            free = FREE_FS
    elif clip:
        fs = 0.0
        fb = sf / sw
    else:
        return np.nan, np.nan, np.inf, FREE_NONE
    if not fs > 0.0:
        if not clip:
            return fs, fb, np.inf, free
        fs = 0.0
        fb = max(sf / sw, fbmin)
        free = FREE_FB
    chi2 = sff - 2.0 * fs * sgf - 2.0 * fb * sf + fs * fs * sgg + 2.0 * fs * fb * sg + fb * fb * sw
    return fs, fb, max(chi2, 0.0), free


@kernel
def profile(S, fbmin, clip, amp):
    """Amplitudes of every band from ``S`` into ``amp`` (nb, 4); returns the total χ² (inf: rejected)."""
    total = 0.0
    for b in range(S.shape[0]):
        s = S[b]
        fs, fb, c2, free = amplitudes(s[0], s[1], s[2], s[3], s[4], s[5], fbmin, clip)
        amp[b, 0], amp[b, 1], amp[b, 2], amp[b, 3] = fs, fb, c2, free
        total += c2
    return total


@kernel
def solve3(a, b):
    """Solve the 3x3 system ``a x = b`` (Gaussian elimination, partial pivoting); NaN if singular."""
    m = a.copy()
    x = b.copy()
    solve3_inplace(m, x)
    return x


@kernel
def solve3_inplace(m, x):
    """:func:`solve3` without copies: ``m`` (3, 3) is overwritten, ``x`` (3,) holds ``b`` in and the solution out."""
    for c in range(3):
        p = c
        for r in range(c + 1, 3):
            if abs(m[r, c]) > abs(m[p, c]):
                p = r
        if m[p, c] == 0.0:
            x[:] = np.nan
            return
        if p != c:
            for k in range(3):
                m[c, k], m[p, k] = m[p, k], m[c, k]
            x[c], x[p] = x[p], x[c]
        for r in range(c + 1, 3):
            fac = m[r, c] / m[c, c]
            for k in range(c, 3):
                m[r, k] -= fac * m[c, k]
            x[r] -= fac * x[c]
    for c in range(2, -1, -1):
        s = x[c]
        for k in range(c + 1, 3):
            s -= m[c, k] * x[k]
        x[c] = s / m[c, c]


@kernel
def gauss_newton(S, amp, M, q):
    """The Gauss–Newton system of θ, ``M`` (3, 3) and ``q`` (3,), with the amplitudes profiled out (Schur)."""
    M[:, :] = 0.0
    q[:] = 0.0
    for b in range(S.shape[0]):
        free = amp[b, 3]
        if free == FREE_NONE or free == FREE_FB:  # fs = 0: the band does not depend on θ
            continue
        s = S[b]
        fs, fb = amp[b, 0], amp[b, 1]
        sw, sg, sgg, sf, sgf = s[_SW], s[_SG], s[_SGG], s[_SF], s[_SGF]
        rg = sgf - fs * sgg - fb * sg   # Σ w g r
        r1 = sf - fs * sg - fb * sw     # Σ w r
        cg = (fs * s[_SDG], fs * s[_SDG + 1], fs * s[_SDG + 2])
        c1 = (fs * s[_SD], fs * s[_SD + 1], fs * s[_SD + 2])
        k = 0
        for j in range(3):
            q[j] += fs * (s[_SDF + j] - fs * s[_SDG + j] - fb * s[_SD + j])
            for l in range(j, 3):
                M[j, l] += fs * fs * s[_SDD + k]
                k += 1
        if free == FREE_BOTH:
            det = sgg * sw - sg * sg
            if not det > 0.0:
                continue
            for j in range(3):
                # C B^-1 with B = [[sgg, sg], [sg, sw]]
                pg = (cg[j] * sw - c1[j] * sg) / det
                p1 = (c1[j] * sgg - cg[j] * sg) / det
                q[j] -= pg * rg + p1 * r1
                for l in range(j, 3):
                    M[j, l] -= pg * cg[l] + p1 * c1[l]
        else:  # fb at its bound: only fs free
            for j in range(3):
                pg = cg[j] / sgg
                q[j] -= pg * rg
                for l in range(j, 3):
                    M[j, l] -= pg * cg[l]
    for j in range(3):
        for l in range(j):
            M[j, l] = M[l, j]


@kernel
def clamp(model, theta, lo, hi):
    """Keep ``theta`` within ``[lo, hi]`` (3,) each; a FRED's decline at least FRED_MIN_RATIO x its rise."""
    for k in range(3):
        theta[k] = min(max(theta[k], lo[k]), hi[k])
    if model == MODEL_FRED:
        theta[2] = min(max(theta[2], theta[1] + math.log(FRED_MIN_RATIO)), hi[2])


@kernel
def lm_fit(model, t, f, w, bo, theta, lo, hi, iters, fbmin, clip, S, amp):
    """Levenberg–Marquardt on the profiled χ² of ``model`` from ``theta`` (changed in place).

    Returns the χ² at the final ``theta``; ``S`` (nb, NS) and ``amp`` (nb, 4) are left at it.
    """
    nb = len(bo) - 1
    clamp(model, theta, lo, hi)
    model_sums(model, t, f, w, bo, theta, S, True)
    chi2 = profile(S, fbmin, clip, amp)
    if not np.isfinite(chi2):
        return chi2
    S2 = np.empty((nb, NS))
    amp2 = np.empty((nb, 4))
    M = np.empty((3, 3))
    q = np.empty(3)
    m = np.empty((3, 3))
    trial = np.empty(3)
    step = np.empty(3)
    lam = 1e-2
    for _ in range(iters):
        gauss_newton(S, amp, M, q)
        improved = False
        done = False
        for _try in range(8):
            m[:, :] = M
            for k in range(3):
                m[k, k] += lam * max(M[k, k], 1e-12)
                step[k] = q[k]
            solve3_inplace(m, step)
            if not (np.isfinite(step[0]) and np.isfinite(step[1]) and np.isfinite(step[2])):
                lam *= 10.0
                continue
            for k in range(3):
                trial[k] = theta[k] + step[k]
            clamp(model, trial, lo, hi)
            model_sums(model, t, f, w, bo, trial, S2, True)
            c_new = profile(S2, fbmin, clip, amp2)
            if c_new < chi2:
                gain = chi2 - c_new
                done = gain < LM_TOL or gain < 1e-7 * chi2
                theta[:] = trial
                S[:, :] = S2
                amp[:, :] = amp2
                chi2 = c_new
                lam = max(lam / 3.0, 1e-7)
                improved = True
                break
            lam *= 4.0
        if not improved or done:
            break
    return chi2


@kernel
def profiled_chi2(model, t, f, w, bo, theta, fbmin, clip, S, amp):
    """χ² of ``model`` at ``theta`` with every band's amplitudes solved (``S``, ``amp`` filled)."""
    model_sums(model, t, f, w, bo, theta, S, False)
    return profile(S, fbmin, clip, amp)
