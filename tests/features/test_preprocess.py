"""The flux pass (§1.2) of ``preprocess_batch``: every object bit for bit a NumPy reference and ``flux_pass``.

``_flux_rows`` indexes the ragged buffers with unsigned positions from the batch's offsets (no
slices); these tests hold it to the arithmetic of §1.2 written independently in NumPy, on batches
whose offsets do not start at 0, with unsorted and repeated times, non-finite rows, empty and
one-point objects, magnitudes and fluxes.
"""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.features.preprocess import LN10, REASON_EMPTY, REASON_ONE, flux_pass, preprocess_batch


def _reference(t, y, e, zp, convert):
    """§1.2 in NumPy: finite rows, stable sort by time if not strictly increasing, flux, normalisation."""
    keep = np.isfinite(t) & np.isfinite(y) & np.isfinite(e)
    t, f, sf = t[keep], y[keep].copy(), e[keep].copy()
    if len(t) > 1 and not np.all(np.diff(t) > 0.0):
        o = np.argsort(t, kind="mergesort")
        t, f, sf = t[o], f[o], sf[o]
    if convert:
        # libm's pow element by element, as the compiled pass (NumPy's SIMD pow may differ in the last bit)
        fi = np.array([10.0 ** float(v) for v in (-(f - zp)) / 2.5])
        f, sf = fi, ((sf * fi) / 2.5) * LN10
    if len(f) == 0:
        return t, f, sf, f.copy(), sf.copy()
    x = f / np.max(f)
    return t, f, sf, x, sf * (x / f)


def _hostile(seed: int):
    r = np.random.default_rng(seed)
    lens = np.concatenate([[0, 1, 2, 3, 7], r.integers(0, 250, 60)])
    series = []
    for i, n in enumerate(lens):
        t = r.uniform(0, 900, n)
        if i % 2 == 0:
            t = np.sort(t)
        if i % 5 == 1 and n > 3:
            t[1] = t[2]  # a repeated time: not strictly increasing
        m = 17.0 + r.normal(0, 0.2, n)
        e = r.uniform(0.005, 0.05, n)
        if i % 3 == 0 and n > 4:
            m[r.integers(0, n)] = np.nan
            e[r.integers(0, n)] = np.inf
            t[r.integers(0, n)] = -np.inf
        if i % 7 == 2:
            m = np.round(m, 2)
        series.append((t, m, e))
    return series


@pytest.mark.parametrize("convert", [True, False])
@pytest.mark.parametrize("seed", [0, 1])
def test_batch_flux_pass_is_the_numpy_reference_bit_for_bit(seed, convert):
    series = _hostile(seed)
    lead = 5  # rows before the first object: offsets that do not start at 0
    t = np.concatenate([np.full(lead, 1.0)] + [s[0] for s in series])
    y = np.concatenate([np.full(lead, 2.0)] + [s[1] for s in series])
    e = np.concatenate([np.full(lead, 3.0)] + [s[2] for s in series])
    off = lead + np.concatenate([[0], np.cumsum([len(s[0]) for s in series])]).astype(np.int64)
    y_in = y if convert else 10.0 ** (-(y - 22.0) / 2.5)  # fluxes: any values will do
    p = preprocess_batch(off, t, y_in, e, 22.0, convert, with_deriv=False)
    assert p.flux.offsets[0] == 0 and len(p.flux.offsets) == len(series) + 1
    for i, (ti, yi, ei) in enumerate(series):
        yi = yi if convert else 10.0 ** (-(yi - 22.0) / 2.5)
        want = _reference(ti, yi, ei, 22.0, convert)
        a, b = p.flux.offsets[i], p.flux.offsets[i + 1]
        got = (p.flux.time[a:b], p.flux_raw.value[a:b], p.flux_raw.error[a:b], p.flux.value[a:b], p.flux.error[a:b])
        alone = flux_pass(ti, yi, ei, 22.0, convert)
        alone = (alone[0], alone[3], alone[4], alone[1], alone[2])
        for name, g, w, o in zip(("t", "f", "sf", "x", "s"), got, want, alone):
            assert g.view(np.uint64).tolist() == w.view(np.uint64).tolist(), (i, name)
            assert o.view(np.uint64).tolist() == w.view(np.uint64).tolist(), (i, name, "flux_pass")
        assert p.n_dropped[i] == len(ti) - (b - a)
        assert p.reason[i] == (REASON_EMPTY if b == a else REASON_ONE if b - a == 1 else p.reason[i])
