"""``entropies.decade``: the floor of libm's log10 without calling it, equal on every double tried."""
from __future__ import annotations

import math

import numba
import numpy as np

from lia_dask.features.entropies import _POW10, decade


@numba.njit
def _decades(xs, out):
    for i in range(xs.shape[0]):
        out[i] = decade(xs[i])


def test_decade_is_the_floor_of_libm_log10_everywhere():
    r = np.random.default_rng(7)
    near = np.concatenate([_POW10[1:-1], np.nextafter(_POW10[1:-1], 0.0), np.nextafter(_POW10[1:-1], np.inf),
                           _POW10[1:-1] * (1 + 1e-12), _POW10[1:-1] * (1 - 1e-12), _POW10[1:-1] * (1 + 3e-12)])
    xs = np.concatenate([
        r.uniform(0.01, 1.0, 50_000),                      # normalised fluxes
        10.0 ** r.uniform(-323, 308, 50_000),              # every decade
        np.abs(r.normal(0.0, 1e-3, 20_000)),               # derivatives near 0
        near,                                              # at and next to the powers of ten
        [5e-324, 1e-320, 2.2250738585072014e-308, 1.0, 10.0, 1.7976931348623157e308],
    ])
    xs = xs[np.isfinite(xs) & (xs > 0)]
    got = np.empty(len(xs), np.int64)
    _decades(xs, got)
    want = np.array([math.floor(math.log10(v)) for v in xs.tolist()])
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, (xs[bad[:5]], got[bad[:5]], want[bad[:5]])
