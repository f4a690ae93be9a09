"""Kernels never raise on one bad lightcurve: NaN entries plus a counted reason; property tests."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lia_dask.batch import LightcurveBatch
from lia_dask.features import FeatureSettings, extract_batch, extract_batch_with_reasons, extract_one, reason_one
from lia_dask.features.preprocess import REASON_EMPTY, REASON_MASK1, REASON_ONE, REASONS, preprocess_batch

RNG = np.random.default_rng(7)


def _lc(n, seed=0, mag=18.0, err=0.02):
    r = np.random.default_rng(seed)
    t = np.sort(r.uniform(0, 500, n))
    return t, mag + r.normal(0, 0.2, n), np.full(n, err)


def _batch(lcs, photometry="mag"):
    return LightcurveBatch.from_lightcurves(list(range(len(lcs))), [a[0] for a in lcs], [a[1] for a in lcs],
                                            [a[2] for a in lcs], photometry=photometry)


def test_degenerate_lightcurves_give_nan_rows_and_reasons():
    t, m, e = _lc(40)
    cases = [
        (t[:0], m[:0], e[:0]),                       # 0 points
        (t[:1], m[:1], e[:1]),                       # 1 point
        (t[:2], m[:2], e[:2]),                       # 2 points: computable
        (t, np.full(40, 17.0), e),                   # constant flux: every derivative is 0
        (t, m, np.zeros(40)),                        # zero errors
        (t, m, -e),                                  # negative errors
        (np.full(3, np.nan), m[:3], e[:3]),          # no finite epoch
        (t, m, e),                                   # normal
    ]
    for w in (True, False):
        vals, names, reason = extract_batch_with_reasons(_batch(cases), FeatureSettings(apply_weights=w))
        assert vals.shape == (len(cases), 168)
        assert list(reason) == [REASON_EMPTY, REASON_ONE, 0, REASON_MASK1, 0, 0, REASON_EMPTY, 0]
        for i in (0, 1, 3, 6):
            assert np.isnan(vals[i]).all()
        assert np.isfinite(vals[2]).sum() > 20         # two points still give many values
        assert np.isfinite(vals[7]).sum() > 150
        assert np.isfinite(vals[4]).sum() > 50 and np.isfinite(vals[5]).sum() > 50
        assert not np.isinf(vals).any()
        assert (np.abs(vals[np.isfinite(vals)]) <= 1e10).all()
    assert set(REASONS) == {0, REASON_EMPTY, REASON_ONE, REASON_MASK1}


def test_reason_one_names_the_problem():
    assert reason_one([], [], []) == REASONS[REASON_EMPTY]
    assert "one epoch" in reason_one([1.0], [18.0], [0.1])
    assert reason_one(*_lc(10)) == "ok"


def test_negative_and_zero_flux_without_conversion():
    t, _, e = _lc(60, seed=3)
    f = np.sin(t / 20.0)            # negative values, maximum > 0
    g = -np.abs(f) - 0.1            # all negative: max < 0 flips the normalised series
    z = f.copy()
    z[5] = 0.0                      # zero flux: NaN normalised error at that point
    for y in (f, g, z):
        for w in (True, False):
            r = extract_one(t, y, e, convert=False, apply_weights=w)
            v = np.array(list(r.values()))
            assert len(v) == 168 and not np.isinf(v).any()
            assert np.isfinite(v).sum() > 100


def test_non_finite_rows_are_dropped_like_the_reference():
    t, m, e = _lc(80, seed=5)
    t2, m2, e2 = t.copy(), m.copy(), e.copy()
    m2[[3, 17]] = np.nan
    e2[40] = np.inf
    t2[60] = np.nan
    keep = np.ones(80, bool)
    keep[[3, 17, 40, 60]] = False
    a = np.array(list(extract_one(t2, m2, e2).values()))
    b = np.array(list(extract_one(t[keep], m[keep], e[keep]).values()))
    np.testing.assert_array_equal(a, b)
    p = preprocess_batch(np.array([0, 80]), t2, m2, e2)
    assert p.n_dropped[0] == 4


def test_unsorted_times_are_sorted_first():
    t, m, e = _lc(50, seed=9)
    perm = RNG.permutation(50)
    a = np.array(list(extract_one(t[perm], m[perm], e[perm]).values()))
    b = np.array(list(extract_one(t, m, e).values()))
    np.testing.assert_array_equal(a, b)


def test_extract_one_rejects_mismatched_lengths():
    from lia_dask.errors import InputError

    with pytest.raises(InputError, match="equal lengths"):
        extract_one([1.0, 2.0], [18.0], [0.1])


# ---------------------------------------------------------------- property tests
@st.composite
def ragged(draw):
    n_obj = draw(st.integers(1, 6))
    lcs = []
    for _ in range(n_obj):
        n = draw(st.integers(0, 30))
        seed = draw(st.integers(0, 2**31 - 1))
        r = np.random.default_rng(seed)
        t = np.sort(r.uniform(0, 100, n))
        if n > 3 and draw(st.booleans()):
            t[1] = t[2]                               # duplicate epoch
        m = 17 + r.normal(0, draw(st.sampled_from([0.0, 0.01, 0.5])), n)
        e = np.abs(r.normal(0.02, 0.01, n))
        if n > 2 and draw(st.booleans()):
            m[r.integers(n)] = np.nan
        if n > 2 and draw(st.booleans()):
            e[r.integers(n)] = 0.0
        lcs.append((t, np.round(m, draw(st.sampled_from([2, 3, 6]))), e))
    return lcs


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(lcs=ragged(), weighted=st.booleans(), seed=st.integers(0, 1000))
def test_property_shape_permutation_dtype(lcs, weighted, seed):
    s = FeatureSettings(apply_weights=weighted)
    b = _batch(lcs)
    vals, names, reason = extract_batch_with_reasons(b, s)
    assert vals.shape == (len(lcs), 168) and len(names) == 168 and reason.shape == (len(lcs),)
    assert np.isnan(vals[reason != 0]).all()
    assert not np.isinf(vals).any()
    perm = np.random.default_rng(seed).permutation(len(lcs))
    pv, _ = extract_batch(b.take(perm), s)
    np.testing.assert_array_equal(pv, vals[perm])
    v32, _ = extract_batch(b.astype(np.float32), s)
    v64, _ = extract_batch(b.astype(np.float32).astype(np.float64), s)
    np.testing.assert_array_equal(v32, v64)


def test_threads_give_the_same_values():
    from concurrent.futures import ThreadPoolExecutor

    b = _batch([_lc(n, seed=n) for n in (5, 40, 120, 300)])
    ref, _ = extract_batch(b)
    with ThreadPoolExecutor(4) as ex:
        outs = list(ex.map(lambda _: extract_batch(b)[0], range(8)))
    for o in outs:
        np.testing.assert_array_equal(o, ref)


def _hostile_series(n_obj=600, seed=14):
    """Ragged (offsets, t, y, e) of short and long series whose derivative mask 1 is hard to decide."""
    r = np.random.default_rng(seed)
    lens = r.integers(0, 60, n_obj)
    lens[:8] = [0, 1, 2, 3, 4, 5, 200, 400]
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    t = r.uniform(0, 3000, off[-1])
    y = r.normal(17, 1, off[-1])
    e = r.uniform(0.001, 0.3, off[-1])
    for j, (a, b) in enumerate(zip(off[:-1], off[1:])):
        t[a:b] = np.sort(t[a:b])
        if b - a < 2:
            continue
        kind = j % 10
        if kind == 1:
            y[a:b] = 16.0                                   # constant: every derivative 0
        elif kind == 2:
            y[a:b] = 16.0
            y[b - 1] = 16.5                                 # constant but the last epoch
        elif kind == 3:
            t[a:b] = np.round(t[a:b] / 500) * 500           # repeated times: infinite gradients
        elif kind == 4:
            e[a:b:2] = 1e300                                # overflowing derivative errors
        elif kind == 5:
            t[a:b] = a + np.arange(b - a, dtype=float)      # uniform steps (np.gradient's other rule)
            y[a + 1:b] = y[a]
        elif kind == 6:
            y[a] = np.nan
            e[a + 1] = np.inf
        elif kind == 7:
            t[a:b] = t[a:b][::-1]                           # unsorted times
        elif kind == 8:
            e[a:b] = 0.0
    return off, t, y, e


@pytest.mark.parametrize("convert", [True, False])
def test_reasons_without_the_derivative_series_are_the_reasons_with_it(convert):
    off, t, y, e = _hostile_series()
    full = preprocess_batch(off, t, y, e, 22.0, convert)
    flux_only = preprocess_batch(off, t, y, e, 22.0, convert, with_deriv=False)
    assert set(np.unique(full.reason)) == {0, REASON_EMPTY, REASON_ONE, REASON_MASK1}  # every branch is exercised
    np.testing.assert_array_equal(flux_only.reason, full.reason)
    np.testing.assert_array_equal(flux_only.n_dropped, full.n_dropped)
    for a, b in ((flux_only.flux, full.flux), (flux_only.flux_raw, full.flux_raw)):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u.view(np.uint64) if u.dtype == float else u,
                                          v.view(np.uint64) if v.dtype == float else v)
    assert len(flux_only.deriv.value) == 0 and not flux_only.deriv.offsets.any()


def test_order_of_the_normalised_derivative_carried_over_is_numpys():
    """The driver reads the normalised derivative's argsort off the raw derivative's: NumPy's permutation, ties too."""
    from lia_dask.features import driver
    from lia_dask.features.order_stats import order_through

    off, t, y, e = _hostile_series(seed=15)
    y = np.where(np.arange(len(y)) % 3 == 0, np.round(y, 2), y)  # quantised values: tied derivatives
    for a, b in zip(off[9:-1:10], off[10::10]):  # fading: every derivative < 0, the map reverses the order
        y[a:b] = 15.0 + np.linspace(0.0, 1.0, b - a) ** 1.5
    e = np.where(np.isfinite(e), e, 0.01)
    p = preprocess_batch(off, t, y, e)
    raw = driver._orders(p.deriv_raw.offsets, p.deriv_raw.value)
    want = driver._orders(p.deriv.offsets, p.deriv.value)
    got = driver._order_carried_over(p, raw)[4]
    np.testing.assert_array_equal(got, want)
    redo = order_through(p.deriv_raw.offsets, raw, p.deriv.offsets, p.deriv_source, p.deriv.value,
                         np.empty(len(want), np.int64))
    lens = np.diff(p.deriv.offsets)
    assert redo.any() and (~redo & (lens > 1)).sum() > 100  # both ways are exercised
    fading = [i for i in range(9, len(lens), 10) if lens[i] > 2 and not redo[i]]
    d = p.deriv_raw
    assert fading and all((d.value[d.offsets[i]:d.offsets[i + 1]] < 0).all() for i in fading)  # the reversed case
