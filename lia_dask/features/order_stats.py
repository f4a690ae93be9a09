"""Order statistics of the feature kernels (spec ``FEATURES.md`` §1.7), each written once: sorted copies,
medians, NumPy percentiles and quantiles, weighted percentiles.

Compiled by :func:`lia_dask.features.common.kernel` (conventions of :mod:`lia_dask.features.common`:
``order`` is the int64 ascending sort permutation of ``x`` from ``numpy.argsort(x)``, default kind).

Function index (name -> what it returns)
----------------------------------------
Order statistics (NumPy conventions)
    ``take_sorted(x, order) -> xs``               x[order] (copy)
    ``given_sorted(x, order, xs) -> xs``          the shared sorted copy ``xs``, or ``take_sorted(x, order)`` if None
    ``median_sorted(xs)``                          ``np.median`` of a sorted array (NaN if empty)
    ``median_ordered(x, order)``                   ``np.median`` of x through its sort permutation, O(1)
    ``median(x)``                                  ``np.median`` of an unsorted array (selection on a copy, O(n))
    ``median_of_sqrt(q)``                          ``median(np.sqrt(q))`` with two roots (q >= 0)
    ``given_median(x, order, med)``                the shared median ``med``, or ``median_ordered(x, order)`` if None
    ``batch_medians(offsets, x) -> (med, redo)``   per object ``median_ordered`` by selection; ``redo`` where not exact
    ``percentile_sorted(xs, p)``                   ``np.percentile(x, p)`` linear, numpy lerp (NaN if empty)
    ``quantile_sorted(xs, q)``                     ``np.quantile(x, q)``
    ``lerp(a, b, g)``                              NumPy's ``_lerp``
Weighted percentiles (§1.7 WP / WM / WS)
    ``wp_cumulative(x, w, order) -> (xs, ws, C, S_w)``  sorted values, weights, cumulative C_k
    ``given_wp(x, w, order, wp)``                   the shared ``wp``, or ``wp_cumulative(x, w, order)``
    ``np_interp(q, C, y) -> float``                 numpy.interp(q, C, y) exactly (NaN-retry rule)
    ``weighted_percentile(x, w, order, q, wp)``      WP(q) (NaN if n = 0 or S_w = 0)
    ``weighted_median(x, w, order, wp)``             WM = WP(0.5)
    ``step_percentile(xs, ws, p)``                 WS(p) on sorted values / weights
Orders carried over
    ``order_through(off1, o1, off2, src2, v2, out) -> redo``  argsort of a monotone map of kept rows, tie-free objects
"""
from __future__ import annotations

import numpy as np

from .common import kernel, wsum


# ------------------------------------------------------------------ order statistics
@kernel
def take_sorted(x, order):
    """``x[order]`` as a new array."""
    n = order.shape[0]
    out = np.empty(n, np.float64)
    for i in range(n):
        out[i] = x[order[i]]
    return out


@kernel
def given_sorted(x, order, xs):
    """``xs`` as the driver shares it (the series' :func:`take_sorted`; never written to), or computed when None."""
    if xs is None:
        return take_sorted(x, order)
    return xs


@kernel
def lerp(a, b, g):
    """NumPy's ``_lerp``: ``a + (b-a)·g`` for g < 0.5, else ``b - (b-a)·(1-g)``."""
    d = b - a
    if g >= 0.5:
        return b - d * (1.0 - g)
    return a + d * g


@kernel
def quantile_sorted(xs, q):
    """``np.quantile`` (method 'linear') of an ascending array; NaN if empty (NumPy raises)."""
    n = xs.shape[0]
    if n == 0:
        return np.nan
    vi = (n - 1) * q
    if vi >= n - 1:
        return xs[n - 1]
    if vi <= 0.0:
        # numpy clips the index to 0; gamma = vi - 0
        lo = 0
    else:
        lo = int(np.floor(vi))
    g = vi - lo
    return lerp(xs[lo], xs[lo + 1], g)


@kernel
def percentile_sorted(xs, p):
    """``np.percentile(x, p)`` (linear) of an ascending array; q = p / 100 as NumPy divides."""
    return quantile_sorted(xs, p / 100.0)


@kernel
def median_sorted(xs):
    """``np.median`` of an ascending array: middle value, or ``(a + b) / 2``; NaN if empty."""
    n = xs.shape[0]
    if n == 0:
        return np.nan
    h = n // 2
    if n % 2 == 1:
        return xs[h]
    return (xs[h - 1] + xs[h]) / 2.0


@kernel
def median_ordered(x, order):
    """``np.median(x)`` in O(1) from the ascending permutation ``order`` of the kernel contract.

    Middle value, or ``(a + b) / 2`` for even n (as :func:`median_sorted`); NaN if n == 0 or x
    holds a NaN (``numpy.argsort`` puts NaN last, and ``np.median`` then gives NaN).
    """
    n = order.shape[0]
    if n == 0 or np.isnan(x[order[n - 1]]):
        return np.nan
    h = n // 2
    if n % 2 == 1:
        return x[order[h]]
    return (x[order[h - 1]] + x[order[h]]) / 2.0


@kernel
def _select(a, k):
    """Partially order ``a`` in place so that ``a[k]`` is its k-th smallest value and ``a[:k] <= a[k]``.

    Quickselect (Hoare partition, median-of-three pivot); ``a`` must hold no NaN.
    """
    lo = 0
    hi = a.shape[0] - 1
    while hi > lo:
        mid = (lo + hi) >> 1
        x, y, z = a[lo], a[mid], a[hi]
        pivot = max(min(x, y), min(max(x, y), z))
        i = lo
        j = hi
        while i <= j:
            while a[i] < pivot:
                i += 1
            while a[j] > pivot:
                j -= 1
            if i <= j:
                tmp = a[i]
                a[i] = a[j]
                a[j] = tmp
                i += 1
                j -= 1
        if k <= j:
            hi = j
        elif k >= i:
            lo = i
        else:
            return


@kernel
def _median_select(x, root):
    """``np.median(x)`` (``root`` False) or ``np.median(np.sqrt(x))`` (True, x >= 0 or NaN) by selection."""
    n = x.shape[0]
    if n == 0:
        return np.nan
    h = n // 2
    has_nan = False
    for i in range(n):
        if np.isnan(x[i]):
            has_nan = True
            break
    if has_nan:  # the sort, NaN last (as np.sort(np.sqrt(x)) puts them): median_sorted's values
        a = np.sort(x)
        lower = a[h - 1] if h > 0 else a[0]
    else:
        a = x.copy()
        _select(a, h)
        lower = a[0]
        for i in range(1, h):
            if a[i] > lower:
                lower = a[i]
    hi = np.sqrt(a[h]) if root else a[h]
    if n % 2 == 1:
        return hi
    return ((np.sqrt(lower) if root else lower) + hi) / 2.0


@kernel
def median(x):
    """``np.median`` of an unsorted array, as :func:`median_sorted` of ``np.sort(x)`` gives it.

    Selection on a copy (O(n)) instead of a full sort: the middle order statistic(s) are the same
    values, combined by the same ``(a + b) / 2`` (a zero may come back as the other signed zero of a
    tie between +0 and -0). An array holding a NaN takes the sort.
    """
    return _median_select(x, False)


@kernel
def median_of_sqrt(q):
    """``median(np.sqrt(q))`` for q >= 0 (NaN allowed) with two square roots instead of n.

    √ is correctly rounded, hence non-decreasing, so the k-th smallest of √q_i is √ of the k-th
    smallest q_i (ties included) and NaN stays NaN in the same places: the same middle values,
    combined by the same ``(a + b) / 2``.
    """
    return _median_select(q, True)


@kernel
def given_median(x, order, med):
    """``med`` as the driver shares it (``median_ordered(x, order)`` of the series), or computed when None."""
    if med is None:
        return median_ordered(x, order)
    return med


@kernel
def batch_medians(offsets, x):
    """``median_ordered(x_i, numpy.argsort(x_i))`` of every object of a ragged batch, without the sort.

    Parameters
    ----------
    offsets : ndarray of int64, shape (n_objects + 1,)
    x : ndarray of float64, shape (>= offsets[-1],)
        Object ``i`` is ``x[offsets[i]:offsets[i+1]]``.

    Returns
    -------
    med : ndarray of float64, shape (n_objects,)
        NaN for an empty object or one holding a NaN (as ``median_ordered``: NumPy sorts NaN
        last); else the middle order statistic(s) by quickselect on a copy, combined as
        ``(a + b) / 2``.
    redo : ndarray of bool, shape (n_objects,)
        True where ``med`` is a zero: the middle values may be a tie of +0 and -0, whose sign the
        argsort's tie order decides; the caller takes those objects' medians from NumPy's order.
        Everywhere else ``med`` has the bits of ``median_ordered``: equal non-zero floats are
        identical, and a signed zero operand of ``a + b`` does not change a non-zero sum.
    """
    nobj = offsets.shape[0] - 1
    med = np.empty(max(nobj, 0), np.float64)
    redo = np.zeros(max(nobj, 0), np.bool_)
    longest = 0
    for i in range(nobj):
        longest = max(longest, offsets[i + 1] - offsets[i])
    a = np.empty(longest, np.float64)
    for i in range(nobj):
        lo = offsets[i]
        n = offsets[i + 1] - lo
        m = np.nan
        for k in range(n):
            v = x[lo + k]
            if np.isnan(v):
                n = 0
                break
            a[k] = v
        if n > 0:
            sel = a[:n]
            h = n // 2
            _select(sel, h)
            if n % 2 == 1:
                m = sel[h]
            else:
                lower = sel[0]
                for k in range(1, h):
                    if sel[k] > lower:
                        lower = sel[k]
                m = (lower + sel[h]) / 2.0
            redo[i] = m == 0.0
        med[i] = m
    return med, redo


# ------------------------------------------------------------------ weighted percentiles
@kernel
def wp_cumulative(x, w, order):
    """Inputs of WP: (xs, ws, C, S_w) with xs = x[order], ws = w[order], C_k = cumsum(ws)_k / S_w.

    S_w is the total of ``w`` (sequential); C is all-NaN when S_w == 0 (WP is then NaN).
    """
    n = order.shape[0]
    xs = np.empty(n, np.float64)
    ws = np.empty(n, np.float64)
    for i in range(n):
        xs[i] = x[order[i]]
        ws[i] = w[order[i]]
    sw = wsum(w)
    c = np.empty(n, np.float64)
    acc = 0.0
    for i in range(n):
        acc += ws[i]
        c[i] = acc / sw
    return xs, ws, c, sw


@kernel
def _search_right(c, q):
    """Largest j with c[j] <= q (c non-decreasing); -1 if q < c[0]."""
    lo = 0
    hi = c.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if q >= c[mid]:
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


@kernel
def np_interp(q, c, y):
    """``numpy.interp(q, c, y)`` for one q, including NumPy's NaN retry rule; NaN if empty."""
    n = c.shape[0]
    if n == 0 or np.isnan(q):
        return np.nan
    if n == 1:
        # numpy: left value for q < c0, right value for q > c0, y0 at equality
        return y[0]
    if q > c[n - 1]:
        return y[n - 1]
    if q < c[0]:
        return y[0]
    j = _search_right(c, q)
    if j >= n - 1:
        return y[n - 1]
    if c[j] == q:
        return y[j]
    slope = (y[j + 1] - y[j]) / (c[j + 1] - c[j])
    r = slope * (q - c[j]) + y[j]
    if np.isnan(r):
        r = slope * (q - c[j + 1]) + y[j + 1]
        if np.isnan(r) and y[j] == y[j + 1]:
            r = y[j]
    return r


@kernel
def given_wp(x, w, order, wp):
    """``wp`` as the driver shares it (``wp_cumulative(x, w, order)`` of the series), or computed when None."""
    if wp is None:
        return wp_cumulative(x, w, order)
    return wp


@kernel
def weighted_percentile(x, w, order, q, wp=None):
    """WP(q) of §1.7 (q in [0, 1]); NaN if n == 0 or S_w == 0. ``wp``: shared :func:`wp_cumulative`."""
    if order.shape[0] == 0:
        return np.nan
    xs, ws, c, sw = given_wp(x, w, order, wp)
    if sw == 0.0:
        return np.nan
    return np_interp(q, c, xs)


@kernel
def weighted_median(x, w, order, wp=None):
    """WM = WP(0.5)."""
    return weighted_percentile(x, w, order, 0.5, wp)


@kernel
def step_percentile(xs, ws, p):
    """WS(p) of §1.7 on ascending ``xs`` with weights ``ws``: x at the first R_k >= (p/100)·R_n."""
    n = xs.shape[0]
    if n == 0:
        return np.nan
    r = np.empty(n, np.float64)
    acc = 0.0
    for i in range(n):
        acc += ws[i]
        r[i] = acc
    cutoff = (p / 100.0) * r[n - 1]
    # left-sided search: smallest k with r[k] >= cutoff
    lo = 0
    hi = n
    while lo < hi:
        mid = (lo + hi) >> 1
        if r[mid] < cutoff:
            lo = mid + 1
        else:
            hi = mid
    if lo >= n:
        lo = n - 1  # numpy would index out of range only if cutoff > r[-1]; not reachable for p <= 100
    return xs[lo]


# ------------------------------------------------------------------ orders carried over from another series
@kernel
def order_through(off1, o1, off2, src2, v2, out):
    """Ascending orders of the ragged series ``v2`` read off the orders ``o1`` of the series it was taken from.

    Object i's ``v2`` rows are the rows ``src2`` (local positions, ascending) of a series whose
    ascending order is ``o1`` (local indices), mapped by a monotone function (the normalised
    derivative: D / max D). Walking ``o1`` over the kept rows gives v2 in non-decreasing (or, for
    a decreasing map, non-increasing) order; where v2 is then *strictly* increasing (or decreasing,
    reversed) that permutation is the only ascending one, so it is what ``numpy.argsort`` gives.
    Writes it into ``out`` (local indices, shape (len(v2),)) and returns a bool per object: True
    where v2 has ties (or NaN) and the caller must sort the object itself.
    """
    nobj = off1.shape[0] - 1
    redo = np.zeros(nobj, np.bool_)
    longest = 0
    for i in range(nobj):
        longest = max(longest, off1[i + 1] - off1[i])
    inv = np.empty(longest, np.int64)
    for i in range(nobj):
        a1 = off1[i]
        n1 = off1[i + 1] - a1
        a2 = off2[i]
        m = off2[i + 1] - a2
        if m == 0:
            continue
        for q in range(n1):
            inv[q] = -1
        for k in range(m):
            inv[src2[a2 + k]] = k
        c = 0
        for q in range(n1):
            k = inv[o1[a1 + q]]
            if k >= 0:
                out[a2 + c] = k
                c += 1
        up = True
        down = True
        for q in range(m - 1):
            u = v2[a2 + out[a2 + q]]
            w = v2[a2 + out[a2 + q + 1]]
            up = up and u < w
            down = down and u > w
        if down and not up:
            for q in range(m // 2):
                tmp = out[a2 + q]
                out[a2 + q] = out[a2 + m - 1 - q]
                out[a2 + m - 1 - q] = tmp
        elif not up:
            redo[i] = True
    return redo
