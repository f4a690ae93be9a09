"""Preprocessing of one lightcurve and of a whole batch (spec ``FEATURES.md`` §1.2 and §1.4).

Per lightcurve (numba, ``nogil``; callable from Python and from other kernels)
-------------------------------------------------------------------------------
``flux_pass(time, mag, magerr, zp, convert) -> (t, x, s, f, sf)``
    §1.2: finite mask, stable sort by time when the times are not strictly increasing,
    magnitude -> flux (``convert=True``; exact operation order of the reference) and
    normalisation by the signed maximum flux. ``t`` times; ``f, sf`` un-normalised flux and
    error (what ``amplitude`` / ``median_buffer_range`` receive); ``x, s`` the normalised flux
    and error (what every other flux-pass feature receives). All float64, length n (finite rows).
    n == 0 gives five empty arrays.

``deriv_pass(t, f, sf, s_norm) -> (t1, D1, E1, t2, N2, E2)``
    §1.4: derivative ``D = gradient(f)/gradient(t)``, error ``E = sqrt((grad_t(D)/D)² · sf²)``,
    mask 1 -> ``(t1, D1, E1)`` (what ``amplitude_deriv`` / ``median_buffer_range_deriv``
    receive); ``N = D1 / max(D1)``, its error from the compressed series and ``s_norm[M1]``,
    mask 2 -> ``(t2, N2, E2)`` (what every other ``*_deriv`` feature receives).
    n < 2 gives empty arrays; ``len(t1) < 2`` gives empty ``t2, N2, E2`` (the reference fails
    the whole call then: reason :data:`REASON_MASK1`).

Batch (ragged arrays: ``offsets`` (n_objects + 1,), flat values)
---------------------------------------------------------------
``preprocess_batch(offsets, time, y, yerr, zp, convert, with_deriv=True) -> Prepared``
    One numba loop over all objects; the flux pass is written in place into the batch arrays
    (same arithmetic as ``flux_pass``). ``Prepared`` holds the four ragged :class:`Series` the
    kernels receive: ``flux`` (normalised flux and error), ``flux_raw`` (un-normalised flux and
    error; same offsets and times as ``flux``), ``deriv_raw`` (the derivative after mask 1) and
    ``deriv`` (the normalised derivative after mask 2), plus ``reason`` (int8 per object, see
    :data:`REASONS`) and ``n_dropped`` (non-finite rows removed by the finite mask, per object).
    ``with_deriv=False`` (a selection without derivative-pass columns) leaves the two derivative
    series empty and decides reason 3 with :func:`mask1_has_two`, which evaluates the derivative
    and its error only up to the second kept epoch.

Reason codes (:data:`REASONS`): 0 ok; 1 no finite epoch; 2 one finite epoch; 3 fewer than two
points with a finite derivative and error (mask 1). Objects with a non-zero reason get all-NaN
feature rows; the reference raises for them (§1.10).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .common import gradient_coords_at, gradient_unit_at, kernel, uniform_steps

REASON_OK = 0
REASON_EMPTY = 1
REASON_ONE = 2
REASON_MASK1 = 3
#: reason code -> one-line explanation
REASONS = {
    REASON_OK: "ok",
    REASON_EMPTY: "no epoch with finite time, value and error",
    REASON_ONE: "only one epoch with finite time, value and error (two are needed)",
    REASON_MASK1: ("fewer than two epochs with a finite derivative and derivative error "
                   "(constant flux, or every epoch next to a repeated time)"),
}

LN10 = float(np.log(10.0))

@kernel
def mag_to_flux(m, e, zp):
    """(flux, flux error) of one magnitude ``m`` ± ``e`` with zero point ``zp`` (the reference's operation order)."""
    fi = 10.0 ** ((-(m - zp)) / 2.5)
    return fi, ((e * fi) / 2.5) * LN10


@kernel
def _resort_by_time(t, f, sf):
    """Sort the rows ``(t, f, sf)`` stably by ``t`` in place (``numpy.argsort(t, kind="mergesort")``)."""
    o = np.argsort(t, kind="mergesort")
    t[:] = t[o]
    f[:] = f[o]
    sf[:] = sf[o]


@kernel
def _flux_rows(time, mag, magerr, a, b, c, zp, convert, t, f, sf, x, s):
    """§1.2 on rows ``a:b`` of (time, mag, magerr), written from row ``c`` of the buffers; returns n (finite rows).

    Finite rows (time, mag, magerr) -> ``(t, f, sf)[c:c + n]``, sorted stably by time when not
    strictly increasing; magnitudes -> flux in place (``convert``); ``x, s`` = flux and error
    normalised by the signed maximum flux. Positions are unsigned inside: with signed indices numba
    adds a negative-index wrap-around test to every access of a loop that does not start at 0
    (~0.2 µs per OGLE-sized lightcurve, a fifth of this pass); the arithmetic is the same either way.
    """
    one = np.uint64(1)
    lo = np.uint64(c)
    n = lo
    for k in range(np.uint64(a), np.uint64(b)):
        if np.isfinite(time[k]) and np.isfinite(mag[k]) and np.isfinite(magerr[k]):
            t[n] = time[k]
            f[n] = mag[k]
            sf[n] = magerr[k]
            n += one
    for k in range(lo + one, n):
        if not (t[k] - t[k - one] > 0.0):
            _resort_by_time(t[lo:n], f[lo:n], sf[lo:n])
            break
    if convert:
        for k in range(lo, n):
            f[k], sf[k] = mag_to_flux(f[k], sf[k], zp)
    if n > lo:
        fmax = f[lo]
        for k in range(lo + one, n):
            if f[k] > fmax:
                fmax = f[k]
        for k in range(lo, n):
            xk = f[k] / fmax
            x[k] = xk
            s[k] = sf[k] * (xk / f[k])
    return np.int64(n - lo)


@kernel
def flux_pass(time, mag, magerr, zp, convert):
    """§1.2 on one lightcurve -> (t, x, s, f, sf); see the module docstring."""
    m = time.shape[0]
    t = np.empty(m, np.float64)
    f = np.empty(m, np.float64)
    sf = np.empty(m, np.float64)
    x = np.empty(m, np.float64)
    s = np.empty(m, np.float64)
    n = _flux_rows(time, mag, magerr, 0, m, 0, zp, convert, t, f, sf, x, s)
    return t[:n], x[:n], s[:n], f[:n], sf[:n]


@kernel
def _deriv_error_at(g, d, sig):
    """The derivative error of one epoch, ``sqrt((g/d)² · sig²)`` evaluated literally (square, multiply, root)."""
    r = g / d
    return np.sqrt((r * r) * (sig * sig))


@kernel
def _deriv_error_into(t, d, sig, out):
    """``out_i = sqrt((grad_t(d)_i / d_i)² · sig_i²)`` evaluated literally (square, multiply, root); n >= 2."""
    n = d.shape[0]
    uniform, h0 = uniform_steps(t)
    for i in range(n):
        g = gradient_coords_at(d[i - 1] if i > 0 else 0.0, d[i], d[i + 1] if i + 1 < n else 0.0, t, i, uniform, h0)
        out[i] = _deriv_error_at(g, d[i], sig[i])


@kernel
def _deriv_into(t, f, sf, s_norm, t1, d1, e1, sn1, t2, n2, e2, src2):
    """§1.4 on one lightcurve of n = len(t) >= 2 epochs, written into buffers of length >= n.

    Returns (n1, n2): ``t1, d1, e1 [:n1]`` the rows mask 1 keeps, ``t2, n2, e2 [:n2]`` the rows
    mask 2 keeps and ``src2[:n2]`` their positions in the mask-1 series; ``sn1`` is scratch.
    Each buffer is computed in place (compaction never overtakes the rows it reads).
    """
    n = t.shape[0]
    for i in range(n):
        d1[i] = gradient_unit_at(f, i) / gradient_unit_at(t, i)
    _deriv_error_into(t, d1[:n], sf, e1)
    n1 = 0
    for i in range(n):
        if np.isfinite(t[i]) and np.isfinite(d1[i]) and np.isfinite(e1[i]):
            t1[n1] = t[i]
            d1[n1] = d1[i]
            e1[n1] = e1[i]
            sn1[n1] = s_norm[i]
            n1 += 1
    if n1 < 2:
        return n1, 0
    dmax = d1[0]
    for i in range(1, n1):
        if d1[i] > dmax:
            dmax = d1[i]
    for i in range(n1):
        n2[i] = d1[i] / dmax
    _deriv_error_into(t1[:n1], n2[:n1], sn1, e2)
    k = 0
    for i in range(n1):
        if np.isfinite(t1[i]) and np.isfinite(n2[i]) and np.isfinite(e2[i]):
            t2[k] = t1[i]
            n2[k] = n2[i]
            e2[k] = e2[i]
            src2[k] = i
            k += 1
    return n1, k


@kernel
def deriv_pass(t, f, sf, s_norm):
    """§1.4 on one lightcurve -> (t1, D1, E1, t2, N2, E2); see the module docstring."""
    n = t.shape[0]
    empty = np.empty(0, np.float64)
    if n < 2:
        return empty, empty, empty, empty, empty, empty
    t1 = np.empty(n, np.float64)
    d1 = np.empty(n, np.float64)
    e1 = np.empty(n, np.float64)
    t2 = np.empty(n, np.float64)
    n2 = np.empty(n, np.float64)
    e2 = np.empty(n, np.float64)
    n1, k = _deriv_into(t, f, sf, s_norm, t1, d1, e1, np.empty(n, np.float64), t2, n2, e2, np.empty(n, np.int64))
    return t1[:n1], d1[:n1], e1[:n1], t2[:k], n2[:k], e2[:k]


class Series(NamedTuple):
    """One ragged series of a batch: object ``i`` is ``time[offsets[i]:offsets[i+1]]`` etc."""

    offsets: np.ndarray
    time: np.ndarray
    value: np.ndarray
    error: np.ndarray


class Prepared(NamedTuple):
    """Ragged preprocessed series of a batch (see the module docstring)."""

    flux: Series
    flux_raw: Series
    deriv_raw: Series
    deriv: Series
    reason: np.ndarray
    n_dropped: np.ndarray
    #: int64, shape (len(deriv.value),): position of each ``deriv`` row in its object's ``deriv_raw`` series
    deriv_source: np.ndarray


@kernel
def mask1_has_two(t, f, sf):
    """Whether mask 1 of :func:`deriv_pass` keeps at least two rows (reason :data:`REASON_MASK1` if not).

    The same element-wise arithmetic as :func:`deriv_pass` (``D_i``, then ``E_i`` from
    ``D_{i-1}, D_i, D_{i+1}``), evaluated from the first epoch on and stopped at the second kept
    row, so a selection without derivative-pass columns decides the reason code without the
    derivative series (usually after two epochs).
    """
    n = t.shape[0]
    if n < 2:
        return False
    uniform, h0 = uniform_steps(t)
    kept = 0
    dm = 0.0
    d0 = gradient_unit_at(f, 0) / gradient_unit_at(t, 0)
    for i in range(n):
        dp = gradient_unit_at(f, i + 1) / gradient_unit_at(t, i + 1) if i + 1 < n else 0.0
        e = _deriv_error_at(gradient_coords_at(dm, d0, dp, t, i, uniform, h0), d0, sf[i])
        if np.isfinite(t[i]) and np.isfinite(d0) and np.isfinite(e):
            kept += 1
            if kept == 2:
                return True
        dm = d0
        d0 = dp
    return False


@kernel
def _preprocess_batch(offsets, time, y, yerr, zp, convert, with_deriv):
    nobj = offsets.shape[0] - 1
    total = offsets[nobj] - offsets[0] if nobj > 0 else 0
    nd = total if with_deriv else 0
    off0 = np.zeros(nobj + 1, np.int64)
    off1 = np.zeros(nobj + 1, np.int64)
    off2 = np.zeros(nobj + 1, np.int64)
    t0 = np.empty(total, np.float64)
    x0 = np.empty(total, np.float64)
    s0 = np.empty(total, np.float64)
    f0 = np.empty(total, np.float64)
    sf0 = np.empty(total, np.float64)
    t1 = np.empty(nd, np.float64)
    d1 = np.empty(nd, np.float64)
    e1 = np.empty(nd, np.float64)
    t2 = np.empty(nd, np.float64)
    n2 = np.empty(nd, np.float64)
    e2 = np.empty(nd, np.float64)
    src2 = np.empty(nd, np.int64)
    longest = 0
    for i in range(nobj):
        longest = max(longest, offsets[i + 1] - offsets[i])
    scratch = np.empty(longest if with_deriv else 0, np.float64)
    reason = np.zeros(nobj, np.int8)
    dropped = np.zeros(nobj, np.int64)
    c0 = 0
    c1 = 0
    c2 = 0
    for i in range(nobj):
        a = offsets[i]
        b = offsets[i + 1]
        n = _flux_rows(time, y, yerr, a, b, c0, zp, convert, t0, f0, sf0, x0, s0)
        t = t0[c0:c0 + n]
        f = f0[c0:c0 + n]
        sf = sf0[c0:c0 + n]
        s = s0[c0:c0 + n]
        dropped[i] = (b - a) - n
        if n == 0:
            reason[i] = REASON_EMPTY
        elif n == 1:
            reason[i] = REASON_ONE
        c0 += n
        off0[i + 1] = c0
        if n >= 2 and not with_deriv:
            if not mask1_has_two(t, f, sf):
                reason[i] = REASON_MASK1
        elif n >= 2:
            k1, k2 = _deriv_into(t, f, sf, s, t1[c1:], d1[c1:], e1[c1:], scratch[:n], t2[c2:], n2[c2:], e2[c2:],
                                 src2[c2:])
            if k1 < 2:
                reason[i] = REASON_MASK1
            c1 += k1
            c2 += k2
        off1[i + 1] = c1
        off2[i + 1] = c2
    return (off0, t0[:c0], x0[:c0], s0[:c0], f0[:c0], sf0[:c0], off1, t1[:c1], d1[:c1], e1[:c1],
            off2, t2[:c2], n2[:c2], e2[:c2], src2[:c2], reason, dropped)


def preprocess_batch(offsets, time, y, yerr, zp: float = 22.0, convert: bool = True,
                     with_deriv: bool = True) -> Prepared:
    """§1.2 + §1.4 for every object of a ragged batch in one numba loop.

    Parameters
    ----------
    offsets : ndarray of int, shape (n_objects + 1,)
        Lightcurve ``i`` is ``time[offsets[i]:offsets[i+1]]``.
    time, y, yerr : ndarray, shape (>= offsets[-1],)
        Days; magnitudes (``convert=True``) or fluxes (``convert=False``) and their errors.
        Any float dtype; computed in float64.
    zp : float
        Zero point of the magnitude -> flux conversion.
    convert : bool
        True: ``y`` are magnitudes; False: ``y`` are fluxes used as given.
    with_deriv : bool
        Build the derivative series (``deriv_raw``, ``deriv``). False: they are empty (offsets all
        0) and only the reason code is decided (:func:`mask1_has_two`), for selections without
        derivative-pass columns; the flux series and reasons are the same either way.

    Returns
    -------
    Prepared
    """
    offsets = np.ascontiguousarray(offsets, dtype=np.int64)
    time = np.ascontiguousarray(time, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    yerr = np.ascontiguousarray(yerr, dtype=np.float64)
    (off0, t0, x0, s0, f0, sf0, off1, t1, d1, e1, off2, t2, n2, e2, src2, reason, dropped) = _preprocess_batch(
        offsets, time, y, yerr, float(zp), bool(convert), bool(with_deriv))
    return Prepared(Series(off0, t0, x0, s0), Series(off0, t0, f0, sf0), Series(off1, t1, d1, e1),
                    Series(off2, t2, n2, e2), reason, dropped, src2)
