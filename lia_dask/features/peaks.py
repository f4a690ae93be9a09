"""Peaks: peak counts by prominence and width, windowed peak fraction, mean of the largest values.

MicroLIA 2.8.1 feature kernels, declared with :func:`lia_dask.features.registry.feature` (the
kernel contract, the notation of the docstrings and the series each feature receives are described
there). Formulas: ``shared/spec/FEATURES.md`` §2.
"""
from __future__ import annotations

import math

import numpy as np

from .common import given_sw, given_weights
from .special import find_peaks_prom_width, peakutils_count
from .registry import feature

NAN = np.nan


@feature("number_cwt_like_peaks", index=56, series="normalised", needs_order=False)
def f_number_cwt_like_peaks(t, x, s, weighted, order):
    """Number of peaks with prominence >= 0.5 and width >= 5 samples, divided by n.

    Signal y = x (U) or y_i = x_i · (1/max(σ_i, 1e-6)) (W, product with the reciprocal);
    peaks as ``scipy.signal.find_peaks(y, prominence=0.5, width=5)``. n = 0 -> 0.0.
    """
    n = x.shape[0]
    if n == 0:
        return 0.0
    y = np.empty(n)
    for i in range(n):
        if weighted:
            si = s[i]
            d = si if (si > 1e-6 or si != si) else 1e-6
            y[i] = x[i] * (1.0 / d)
        else:
            y[i] = x[i]
    return find_peaks_prom_width(y, 0.5, 5.0) / n


@feature("prominence_peaks", index=59, series="normalised", needs_order=False, needs=("weights", "sw"))
def f_prominence_peaks(t, x, s, weighted, order, w=None, sw=None):
    """peakutils-style peak count (thres 0.3 relative, min_dist 25), divided by n.

    Ranking amplitude a = x·w (W, x if S_w = 0) or x (U); level L = min a + 0.3 (max a - min a).
    Slopes δ_i = Δx_i with zero blocks filled from their non-zero neighbours (§2.59); a candidate
    i has δ'_{i-1} > 0 > δ'_i and a_i > L; candidates are thinned, highest a first, by removing
    others within 25 samples. All δ = 0 (or n = 1) -> 0.0; n = 0 -> NaN.
    """
    n = x.shape[0]
    if n == 0:
        return NAN
    a = x.copy()
    if weighted:
        w = given_weights(s, w)
        if given_sw(w, sw) != 0.0:
            for i in range(n):
                a[i] = x[i] * w[i]
    amin = a[0]
    amax = a[0]
    for i in range(1, n):
        if a[i] < amin:
            amin = a[i]
        if a[i] > amax:
            amax = a[i]
    level = 0.3 * (amax - amin) + amin
    return peakutils_count(x, a, level, 25) / n


@feature("windowed_peak_fraction", index=83, series="normalised", needs_order=False)
def f_windowed_peak_fraction(t, x, s, weighted, order):
    """Fraction of points above all 7 neighbours on each side; divided by n (all points).

    U: x_c > x_{c±j}, j = 1..7. W: x_c - x_{c±j} > √(σ_c² + σ_{c±j}²). n < 15 -> 0.0.
    """
    n = x.shape[0]
    if n < 15:
        return 0.0
    cnt = 0
    for c in range(7, n - 7):
        ok = True
        for j in range(1, 8):
            for k in (c - j, c + j):
                if weighted:
                    if not (x[c] - x[k] > math.sqrt(s[c] * s[c] + s[k] * s[k])):
                        ok = False
                else:
                    if not (x[c] > x[k]):
                        ok = False
            if not ok:
                break
        if ok:
            cnt += 1
    return cnt / n


@feature("mean_n_abs_max", index=51, series="normalised", needs_order=False, needs=("weights",))
def f_mean_n_abs_max(t, x, s, weighted, order, w=None):
    """Mean of the 10 largest |x_i|.

    U: mean |x_i| over I (the 10 largest; ties at the 10th place go to the earlier index).
    W: ``Σ_I w |x| / Σ_I w`` (safe weights); U if Σ_I w = 0. n < 10 -> NaN.
    """
    n = x.shape[0]
    if n < 10:
        return NAN
    a = np.abs(x)
    if weighted:
        w = given_weights(s, w)
    # the 10 largest |x| in selection order: NaN counts as largest (as in NumPy's argpartition),
    # ties go to the earlier index; one pass keeping them in that order
    top = np.empty(10, np.int64)
    k = 0
    for i in range(n):
        # i (later than every kept index) goes below every kept entry it does not beat
        pos = k
        while pos > 0 and (a[i] > a[top[pos - 1]] or (np.isnan(a[i]) and not np.isnan(a[top[pos - 1]]))):
            pos -= 1
        if pos >= 10:
            continue
        last = k if k < 10 else 9
        for q in range(last, pos, -1):
            top[q] = top[q - 1]
        top[pos] = i
        if k < 10:
            k += 1
    acc = 0.0
    num = 0.0
    den = 0.0
    for q in range(10):
        b = top[q]
        acc += a[b]
        if weighted:
            num += w[b] * a[b]
            den += w[b]
    if weighted and den != 0.0:
        return num / den
    return acc / 10.0
