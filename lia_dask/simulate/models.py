"""Class light-curve models: noise-free magnitudes on ragged epoch arrays (pure: arrays in, arrays out).

Every model takes the flat epoch times ``t`` (shape (m,), days), the per-epoch object index
``obj`` (shape (m,), int64, values in [0, n)) and per-object parameters (shape (n,) or (n, k)),
and returns the noise-free magnitude per epoch, shape (m,). The CV model works per object on
sorted epochs and takes ``offsets`` (shape (n + 1,)) instead of ``obj``.
"""
from __future__ import annotations

import numba
import numpy as np

from .templates import RRLyraeTemplates


def pspl_magnification(u: np.ndarray) -> np.ndarray:
    """Point-source point-lens magnification ``A(u) = (u² + 2) / (u sqrt(u² + 4))``.

    Parameters
    ----------
    u : ndarray
        Lens-source separation in Einstein radii (> 0).
    """
    u = np.asarray(u, dtype=np.float64)
    return (u * u + 2.0) / (u * np.sqrt(u * u + 4.0))


def pspl_magnitudes(t: np.ndarray, obj: np.ndarray, m0: np.ndarray, t0: np.ndarray, u0: np.ndarray,
                    tE: np.ndarray, blend: np.ndarray) -> np.ndarray:
    """Blended point-source point-lens microlensing lightcurve.

    ``m(t) = m0 - 2.5 log10((A(u(t)) + b) / (1 + b))`` with ``u(t)² = u0² + ((t - t0)/tE)²``:
    the baseline ``m0`` is the total (source + blend) magnitude, ``b = f_blend / f_source``.

    Parameters
    ----------
    t, obj : ndarray, shape (m,)
        Epochs (days) and the object index of each epoch.
    m0, t0, u0, tE, blend : ndarray, shape (n,)
        Baseline magnitude, time of peak (days), impact parameter (Einstein radii, > 0),
        Einstein time (days, > 0) and blend ratio ``f_blend / f_source`` (>= 0).
    """
    tau = (t - t0[obj]) / tE[obj]
    u = np.sqrt(u0[obj] ** 2 + tau * tau)
    b = blend[obj]
    return m0[obj] - 2.5 * np.log10((pspl_magnification(u) + b) / (1.0 + b))


@numba.njit(cache=True, nogil=True)
def _cv_kernel(t, offsets, m0, amp, out_offsets, start, rise_end, high_end, end):  # pragma: no cover - numba
    out = np.empty(t.shape[0])
    for i in range(offsets.shape[0] - 1):
        a, b = offsets[i], offsets[i + 1]
        for j in range(a, b):
            out[j] = 0.0
        for k in range(out_offsets[i], out_offsets[i + 1]):
            A = amp[k]
            s, er, eh, e = start[k], rise_end[k], high_end[k], end[k]
            rise = er - s
            dec = e - eh
            last = max(e, eh)
            j0 = a + np.searchsorted(t[a:b], s)
            for j in range(j0, b):
                tj = t[j]
                if tj > last:
                    break
                if tj <= er:
                    out[j] = -A * (tj - s) / rise
                elif tj <= eh:
                    out[j] = -A
                elif tj <= e:
                    out[j] = -A + A * (tj - eh) / dec
        for j in range(a, b):
            out[j] += m0[i]
    return out


def cv_magnitudes(t: np.ndarray, offsets: np.ndarray, m0: np.ndarray, amplitude: np.ndarray,
                  out_offsets: np.ndarray, start: np.ndarray, rise_end: np.ndarray, high_end: np.ndarray,
                  end: np.ndarray, per_outburst: bool = False) -> np.ndarray:
    """Dwarf-nova outbursts: linear rise, flat maximum, linear decline (in magnitude, i.e. an
    exponential decline in flux), repeated.

    For each outburst ``k`` of object ``i`` (applied in order, a later one overwriting an
    earlier one), an epoch in the rise ``[s, e_r]`` gets ``-A (t - s)/(e_r - s)``, on the plateau
    ``(e_r, e_h]`` ``-A``, in the decline ``(e_h, e]`` ``-A + A (t - e_h)/(e - e_h)``; the
    magnitude is ``m0`` plus that offset (negative = brighter).

    Parameters
    ----------
    t : ndarray, shape (m,)
        Epochs in days, sorted within each object.
    offsets : ndarray of int64, shape (n + 1,)
        Object ``i`` owns ``t[offsets[i]:offsets[i + 1]]``.
    m0 : ndarray, shape (n,)
        Quiescent magnitude.
    amplitude : ndarray, shape (n,), or shape (K,) with ``per_outburst``
        Outburst amplitude (mag, > 0) per object, or per outburst (superoutbursts are brighter).
    out_offsets : ndarray of int64, shape (n + 1,)
        Object ``i`` owns outbursts ``out_offsets[i]:out_offsets[i + 1]``.
    start, rise_end, high_end, end : ndarray, shape (K,)
        Outburst start, end of rise, end of plateau and end of decline (days), with
        ``start < rise_end <= high_end < end``.
    per_outburst : bool
        ``amplitude`` is given per outburst rather than per object.
    """
    out_offsets = np.asarray(out_offsets, np.int64)
    amp = np.asarray(amplitude, np.float64)
    if not per_outburst:
        amp = np.repeat(amp, np.diff(out_offsets))
    return _cv_kernel(np.ascontiguousarray(t, np.float64), np.asarray(offsets, np.int64),
                      np.asarray(m0, np.float64), amp,
                      out_offsets, np.asarray(start, np.float64),
                      np.asarray(rise_end, np.float64), np.asarray(high_end, np.float64),
                      np.asarray(end, np.float64))


def mira_magnitudes(t: np.ndarray, obj: np.ndarray, m0: np.ndarray, periods: np.ndarray,
                    semi_amplitudes: np.ndarray, phases: np.ndarray) -> np.ndarray:
    """Mira: a sum of cosines, ``m = m0 + Σ_k a_k cos(2π t / P_k + φ_k)``.

    Parameters
    ----------
    t, obj : ndarray, shape (m,)
        Epochs (days) and object index per epoch.
    m0 : ndarray, shape (n,)
        Mean magnitude.
    periods, semi_amplitudes, phases : ndarray, shape (n, k)
        Periods (days, > 0), semi-amplitudes (mag) and phases (radians) of the k components.
    """
    out = m0[obj].astype(np.float64, copy=True)
    for c in range(periods.shape[1]):
        out += semi_amplitudes[obj, c] * np.cos(2.0 * np.pi * t / periods[obj, c] + phases[obj, c])
    return out


def rrlyrae_magnitudes(t: np.ndarray, obj: np.ndarray, m0: np.ndarray, period: np.ndarray, phase0: np.ndarray,
                       amplitude: np.ndarray, template: np.ndarray, templates: RRLyraeTemplates) -> np.ndarray:
    """RR Lyrae from the Sesar et al. (2010) templates, scaled and centered on the mean magnitude.

    ``m = m0 + A (T_j(φ) - <T_j>)`` with ``φ = frac(t / P + φ0)``, ``T_j`` the normalized
    template ``j`` (0 at maximum, 1 at minimum light, linearly interpolated on its periodic
    500-point phase grid) and ``<T_j>`` its phase average, so ``A`` is the peak-to-peak amplitude
    and ``m0`` the phase-averaged magnitude.

    Parameters
    ----------
    t, obj : ndarray, shape (m,)
        Epochs (days) and object index per epoch.
    m0, period, phase0, amplitude : ndarray, shape (n,)
        Mean magnitude, period (days), phase at t = 0 (cycles) and peak-to-peak amplitude (mag).
    template : ndarray of int64, shape (n,)
        Row of ``templates.shape`` per object.
    templates : RRLyraeTemplates
    """
    shape = templates.shape
    g = shape.shape[1]
    x = t / period[obj] + phase0[obj]
    x = (x - np.floor(x)) * g
    lo = np.minimum(x.astype(np.int64), g - 1)
    w = x - lo
    hi = lo + 1
    hi[hi == g] = 0
    row = template[obj]
    value = shape[row, lo] * (1.0 - w) + shape[row, hi] * w
    return m0[obj] + amplitude[obj] * (value - templates.mean[row])
