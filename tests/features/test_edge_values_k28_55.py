"""Kernels k = 28..55 (from the ``@feature`` table): expected values at the edges of their definitions.

Expected values of each kernel at the edges of its definition (the agreement with MicroLIA on the
61 conformance lightcurves is in ``test_contract.py``, for all 84). Direct edge-case calls follow.
"""
from __future__ import annotations


import numpy as np
import pytest
from numba.core.caching import FunctionCache

from lia_dask.features.registry import kernel_table

#: the kernels k = 28..55 by name, from the @feature table
FEATURES = {sp.name: sp.kernel for sp in kernel_table()[28:56]}

FIRST_K = 28  # output index of check_min_last_loc



def _call(name, t, x, s, weighted):
    x = np.ascontiguousarray(x, dtype=np.float64)
    return FEATURES[name](np.ascontiguousarray(t, dtype=np.float64), x,
                          np.ascontiguousarray(s, dtype=np.float64), weighted, np.argsort(x))


def test_feature_names_and_order(conformance):
    assert list(FEATURES) == conformance["names"][FIRST_K:FIRST_K + 28]
    assert len(conformance["keys"]) == 61


# ----------------------------------------------------------------------------- edge cases
#: value at n = 0 (spec §2): NaN except the con_* family (n < 3 -> 0.0) and integrate (n <= 1 -> 0.0)
ZERO_AT_N0 = {"con_above1", "con_above3", "con_above5", "con_below1", "con_below3", "con_below5",
              "integrate"}

#: value at n = 1 with x = [0.7], σ = [0.01], per the spec sections
AT_N1 = {
    "check_min_last_loc": 1.0, "complexity": np.nan, "count_above": 0.0, "count_below": 0.0,
    "cusum": 0.0, "first_loc_max": 0.0, "first_loc_min": 0.0, "half_mag_amplitude_ratio": np.nan,
    "index_mass_quantile": 1.0, "integrate": 0.0, "kurtosis": np.nan,
    "large_standard_deviation": 0.0, "longest_strike_above": 0.0, "longest_strike_below": 0.0,
    "meanMag": 0.7, "mean_abs_change": np.nan, "mean_change": np.nan, "mean_n_abs_max": np.nan,
    "mean_second_derivative": np.nan, "medianAbsDev": 0.0, "median_buffer_range": 0.0,
    "median_distance": np.nan, "con_above1": 0.0, "con_above3": 0.0, "con_above5": 0.0,
    "con_below1": 0.0, "con_below3": 0.0, "con_below5": 0.0,
}


def _eq(a, b):
    return (np.isnan(a) and np.isnan(b)) or a == b


@pytest.mark.parametrize("weighted", [True, False])
def test_empty_and_single_point(weighted):
    e = np.empty(0)
    for name, fn in FEATURES.items():
        v = fn(e, e, e, weighted, np.empty(0, np.int64))
        want = 0.0 if name in ZERO_AT_N0 else np.nan
        assert _eq(v, want), (name, v)
        v1 = _call(name, np.array([1.0]), np.array([0.7]), np.array([0.01]), weighted)
        assert _eq(v1, AT_N1[name]), (name, weighted, v1)
    assert set(AT_N1) == set(FEATURES)


def test_two_points():
    t = np.array([0.0, 2.0])
    x = np.array([0.5, 1.0])
    s = np.array([0.1, 0.2])
    u = {name: _call(name, t, x, s, False) for name in FEATURES}
    w = {name: _call(name, t, x, s, True) for name in FEATURES}
    assert u["complexity"] == 0.5 and w["complexity"] == 0.5
    assert u["mean_change"] == 0.5 and u["mean_abs_change"] == 0.5
    assert w["mean_change"] == pytest.approx(0.5)
    assert u["integrate"] == w["integrate"] == 1.5
    assert u["median_distance"] == pytest.approx(np.hypot(0.5, 2.0))
    assert w["median_distance"] == pytest.approx(np.hypot(0.5, 2.0) / np.sqrt(0.05))
    assert u["first_loc_max"] == 0.5 and u["first_loc_min"] == 0.0
    # x·w = 50 and 25: the weighted argmax is the first point
    assert w["first_loc_max"] == 0.0 and w["first_loc_min"] == 0.5
    assert u["meanMag"] == 0.75 and w["meanMag"] == pytest.approx((0.5 * 100 + 1.0 * 25) / 125)
    assert u["count_above"] == 0.5 and u["count_below"] == 0.5
    assert u["half_mag_amplitude_ratio"] == pytest.approx(1.0)
    for name in ("kurtosis", "mean_n_abs_max", "mean_second_derivative"):
        assert np.isnan(u[name]) and np.isnan(w[name]), name
    for name in ("con_above1", "con_below1"):
        assert u[name] == 0.0 and w[name] == 0.0


def test_constant_series():
    n = 20
    t = np.arange(n, dtype=float)
    x = np.full(n, 0.5)  # a power of two: sums and means are exact, so the variance is exactly 0
    s = np.full(n, 0.01)
    for kappa in ("1", "3", "5"):
        # threshold κ·std₁ = 0: every point is flagged, one run -> 1/n (spec §2.30)
        assert _call("con_above" + kappa, t, x, s, False) == 1.0 / n
        assert _call("con_below" + kappa, t, x, s, False) == 1.0 / n
        assert _call("con_above" + kappa, t, x, s, True) == 0.0
    assert np.isnan(_call("kurtosis", t, x, s, False))  # SciPy: zero variance -> NaN
    assert _call("kurtosis", t, x, s, True) == 0.0  # weighted: v_w = 0 -> 0.0 (Quirk 12)
    for weighted in (True, False):
        assert _call("cusum", t, x, s, weighted) == 0.0
        assert np.isnan(_call("half_mag_amplitude_ratio", t, x, s, weighted))
        assert _call("median_buffer_range", t, x, s, weighted) == 0.0
        assert _call("large_standard_deviation", t, x, s, weighted) == 0.0
        assert _call("medianAbsDev", t, x, s, weighted) == 0.0
        assert _call("mean_n_abs_max", t, x, s, weighted) == 0.5
        assert _call("check_min_last_loc", t, x, s, weighted) == pytest.approx(1.0 / n, rel=1e-12)
        assert _call("index_mass_quantile", t, x, s, weighted) == 10 / n


def test_zero_errors_do_not_raise():
    rng = np.random.default_rng(3)
    n = 30
    t = np.cumsum(rng.uniform(0.5, 2.0, n))
    x = rng.normal(1.0, 0.1, n)
    s = np.zeros(n)
    w = {name: _call(name, t, x, s, True) for name in FEATURES}
    u = {name: _call(name, t, x, s, False) for name in FEATURES}
    # unguarded weights: 1/0 = inf, then inf/inf = NaN
    for name in ("mean_abs_change", "mean_change", "mean_second_derivative"):
        assert np.isnan(w[name]), name
    assert np.isnan(w["median_distance"])  # no pair with σ_i² + σ_{i+1}² > 0
    assert w["index_mass_quantile"] == 1.0 / n  # all-NaN cdf -> j = 0
    # safe weights are all 0: these fall back to U
    for name in ("complexity", "count_above", "count_below", "cusum", "meanMag", "medianAbsDev",
                 "large_standard_deviation"):
        assert w[name] == u[name], name
    assert np.isnan(w["kurtosis"])  # S_w = 0 -> NaN
    assert w["longest_strike_above"] == 0.0  # WM is NaN: nothing flagged
    assert w["first_loc_max"] == 0.0  # x·w = 0 everywhere
    assert np.isnan(w["half_mag_amplitude_ratio"])


def test_nan_and_negative_errors_do_not_raise():
    # flux = 0 with convert=False gives σ̂ = NaN (spec §1.2); negative errors stay in the data
    rng = np.random.default_rng(5)
    n = 25
    t = np.cumsum(rng.uniform(0.5, 2.0, n))
    x = rng.normal(1.0, 0.1, n)
    for bad in (np.nan, -0.05):
        s = rng.uniform(0.01, 0.05, n)
        s[::3] = bad
        for name in FEATURES:
            v = _call(name, t, x, s, True)
            assert isinstance(v, float), name
        # safe weights ignore the bad points: the weighted mean uses only the others
        good = ~(np.arange(n) % 3 == 0)
        assert _call("meanMag", t, x, s, True) == pytest.approx(
            np.average(x[good], weights=1.0 / s[good] ** 2), rel=1e-12)


def test_against_numpy_and_scipy_on_random_data():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(11)
    for n in (4, 5, 17, 200):
        t = np.sort(rng.uniform(0, 100, n))
        x = rng.lognormal(0.0, 0.5, n)
        s = rng.uniform(0.01, 0.1, n)
        assert _call("kurtosis", t, x, s, False) == pytest.approx(
            scipy_stats.kurtosis(x, fisher=True, bias=True), rel=1e-9)
        assert _call("integrate", t, x, s, True) == pytest.approx(np.trapezoid(x, t), rel=1e-12)
        assert _call("medianAbsDev", t, x, s, False) == np.median(np.abs(x - np.median(x)))
        assert _call("median_distance", t, x, s, False) == pytest.approx(
            np.median(np.hypot(np.diff(x), np.diff(t))), rel=1e-12)
        assert _call("first_loc_min", t, x, s, False) == np.argmin(x) / n
        assert _call("count_below", t, x, s, False) == np.mean(x < np.median(x))
        w = 1.0 / s**2
        assert _call("meanMag", t, x, s, True) == pytest.approx(np.average(x, weights=w), rel=1e-12)
        mu = np.average(x, weights=w)
        v = np.average((x - mu) ** 2, weights=w)
        assert _call("kurtosis", t, x, s, True) == pytest.approx(
            np.average((x - mu) ** 4, weights=w) / v**2 - 3.0, rel=1e-9)


def test_order_based_medians_equal_numpy_with_ties():
    # the kernels take med(x) and med(|x - med(x)|) from the caller's argsort, without sorting
    rng = np.random.default_rng(7)
    t = np.arange(60.0)
    for n in range(1, 60):
        x = rng.integers(0, 6, n).astype(float) * 0.25  # many exact ties
        s = np.full(n, 0.1)
        med = np.median(x)
        assert _call("medianAbsDev", t[:n], x, s, False) == np.median(np.abs(x - med)), n
        assert _call("count_above", t[:n], x, s, False) == np.mean(x > med), n
        assert _call("count_below", t[:n], x, s, False) == np.mean(x < med), n
        longest = max((len(r) for r in "".join("1" if v > med else "0" for v in x).split("0")),
                      default=0)
        assert _call("longest_strike_above", t[:n], x, s, False) == longest / n, n


def test_kernels_follow_the_contract():
    for name, fn in FEATURES.items():
        assert fn.targetoptions.get("nogil") is True, name
        assert fn.targetoptions.get("error_model") == "numpy", name  # 1/0 -> inf, never raises
        assert isinstance(fn._cache, FunctionCache), name  # compiled with an on-disk cache
        assert fn.__doc__ and len(fn.__doc__.strip()) > 20, name
