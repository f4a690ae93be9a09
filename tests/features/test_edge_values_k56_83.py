"""Kernels k = 56..83 (from the ``@feature`` table) and the ports of ``special``: edge values, SciPy agreement.

Expected values of each kernel at the edges of its definition (the agreement with MicroLIA on the
61 conformance lightcurves is in ``test_contract.py``, for all 84). The numba ports of SciPy algorithms
(``special``) are checked against SciPy itself, and direct edge-case calls follow.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal
import scipy.special
import scipy.stats

from lia_dask.features.special import (
    find_peaks_prom_width,
    invgauss_cdf,
    log_ndtr,
    peakutils_count,
    shapiro_w,
)
from lia_dask.features.registry import kernel_table

from .conftest import call_kernel

#: the kernels k = 56..83 by name, from the @feature table
FEATURES = {sp.name: sp.kernel for sp in kernel_table()[56:84]}


def _call(name, t, x, s, weighted):
    return call_kernel(FEATURES[name], t, x, s, weighted)


# ------------------------------------------------------------------ ports against SciPy
def test_log_ndtr_matches_scipy():
    x = np.concatenate([np.linspace(-3000.0, 38.0, 3001), np.linspace(-45.0, 8.0, 1061),
                        [-37.0, -1.0, 0.0]])
    got = np.array([log_ndtr(v) for v in x])
    np.testing.assert_allclose(got, scipy.special.log_ndtr(x), rtol=1e-12, atol=1e-300)
    assert log_ndtr(-np.inf) == -np.inf and np.isnan(log_ndtr(np.nan))


def test_invgauss_cdf_matches_scipy():
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.uniform(-1.0, 5.0, 300), 10 ** rng.uniform(-5, 3, 300), [0.0, np.inf]])
    for eta in (1e-3, 0.05, 1.0, 50.0, np.inf):
        got = np.array([invgauss_cdf(v, eta) for v in y])
        np.testing.assert_allclose(got, scipy.stats.invgauss.cdf(y, eta), rtol=1e-11, atol=1e-15)
    assert np.isnan(invgauss_cdf(1.0, -0.5)) and np.isnan(invgauss_cdf(np.nan, 1.0))


def test_shapiro_w_matches_scipy():
    rng = np.random.default_rng(5)
    for n in list(range(3, 16)) + [50, 333]:
        for power in (1, 2, 3):
            x = rng.standard_normal(n) ** power
            if power == 3:
                x = np.round(x, 1)  # ties
            got = shapiro_w(x, np.argsort(x))
            assert got == pytest.approx(scipy.stats.shapiro(x)[0], rel=1e-12), (n, power)
    assert shapiro_w(np.full(7, 2.5), np.arange(7)) == 1.0
    assert np.isnan(shapiro_w(np.array([1.0, 2.0]), np.arange(2)))


def test_find_peaks_count_matches_scipy():
    rng = np.random.default_rng(7)
    for _ in range(400):
        n = int(rng.integers(0, 60))
        y = np.round(rng.standard_normal(n).cumsum(), int(rng.integers(0, 2)))  # plateaus
        want = len(scipy.signal.find_peaks(y, prominence=0.5, width=5)[0])
        assert find_peaks_prom_width(y, 0.5, 5.0) == want


def test_peakutils_plateau_goes_to_the_block_median():
    # x: rise, three equal values (zero slopes at positions 2, 3), fall. peakutils' np.median rule
    # sends the slope before to positions < 2.5 and the slope after to positions >= 2.5, so the
    # peak is the middle sample (index 3); only that sample passes the level on ``a``.
    x = np.array([0.0, 1.0, 2.0, 2.0, 2.0, 1.0, 0.0])
    a = np.array([0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0])
    assert peakutils_count(x, a, 1.0, 25) == 1
    a_first = np.array([0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0])
    assert peakutils_count(x, a_first, 1.0, 25) == 0
    # two peaks 3 samples apart: the lower one is removed by min_dist, kept with min_dist = 2
    x2 = np.array([0.0, 2.0, 0.0, 0.0, 3.0, 0.0])
    x2[3] = 0.5
    assert peakutils_count(x2, x2, 0.1, 25) == 1
    assert peakutils_count(x2, x2, 0.1, 2) == 2


# ------------------------------------------------------------------ edge cases
_EMPTY = {  # n = 0 (spec §2)
    "number_cwt_like_peaks": 0.0, "number_of_crossings": 0.0, "ratio_recurring_points": 0.0,
    "shannon_entropy": 0.0, "windowed_peak_fraction": 0.0,
}
_ONE = {  # n = 1, x = 0.7 (spec §2 minimum lengths)
    "number_cwt_like_peaks": 0.0, "number_of_crossings": 0.0, "prominence_peaks": 0.0,
    "quantile_25": 0.7, "quantile_5": 0.7, "quantile_50": 0.7, "quantile_75": 0.7,
    "quantile_95": 0.7, "ratio_recurring_points": 0.0, "root_mean_squared": 0.0,
    "std_over_mean": 0.0, "sum_values": 0.7, "symmetry_looking": 1.0, "variance": 0.0,
    "variance_larger_than_standard_deviation": 0.0, "variation_coefficient": 0.0,
    "windowed_peak_fraction": 0.0,
}


@pytest.mark.parametrize("weighted", [True, False])
def test_empty_input(weighted):
    e = np.empty(0)
    for name in FEATURES:
        got = _call(name, e, e, e, weighted)
        if name in _EMPTY:
            assert got == _EMPTY[name], name
        else:
            assert np.isnan(got), name
    assert math.copysign(1.0, _call("shannon_entropy", e, e, e, weighted)) == -1.0


@pytest.mark.parametrize("weighted", [True, False])
def test_one_point(weighted):
    t, x, s = np.array([1.0]), np.array([0.7]), np.array([0.01])
    for name in FEATURES:
        got = _call(name, t, x, s, weighted)
        if name in _ONE:
            assert got == pytest.approx(_ONE[name], abs=0), name
        else:
            assert np.isnan(got), name


@pytest.mark.parametrize("weighted", [True, False])
def test_two_points_return_floats(weighted):
    t, x, s = np.array([1.0, 2.0]), np.array([0.5, 1.0]), np.array([0.01, 0.02])
    out = {name: _call(name, t, x, s, weighted) for name in FEATURES}
    assert all(isinstance(v, float) for v in out.values())
    for name in ("permutation_entropy", "sample_entropy", "shapiro_wilk", "skewness",
                 "time_reversal_asymmetry", "time_reversal_asymmetry_normalized"):
        assert np.isnan(out[name]), name  # n < 3 (n < 4) -> NaN
    assert out["quantile_50"] == 0.75 and out["sum_values"] > 0.5
    assert out["vonNeumannRatio"] == pytest.approx((0.25 / 1) / out["variance"])


def test_constant_series():
    n = 20
    t = np.arange(n, dtype=float)
    x = np.full(n, 0.5)   # exactly representable sums: the means are exactly 0.5
    s = np.full(n, 0.25)
    for weighted in (True, False):
        assert _call("permutation_entropy", t, x, s, weighted) == 0.0
        assert _call("sample_entropy", t, x, s, weighted) == pytest.approx(
            -math.log((n - 3) / (n - 1)), rel=1e-12)
        assert _call("shapiro_wilk", t, x, s, weighted) == 1.0
        assert np.isnan(_call("stetsonK", t, x, s, weighted))
        assert np.isnan(_call("stetsonL", t, x, s, weighted))
        assert _call("symmetry_looking", t, x, s, weighted) == 1.0
        assert _call("time_reversal_asymmetry_normalized", t, x, s, weighted) == 0.0
        assert np.isnan(_call("shannon_entropy", t, x, s, weighted))
        assert _call("ratio_recurring_points", t, x, s, weighted) == 1.0
        assert not np.isfinite(_call("vonNeumannRatio", t, x, s, weighted))
    assert np.isnan(_call("skewness", t, x, s, False))  # SciPy: zero variance -> NaN
    assert _call("skewness", t, x, s, True) == 0.0      # weighted: v = 0 -> 0.0


def test_zero_errors_do_not_raise_and_fall_back():
    rng = np.random.default_rng(11)
    n = 40
    t = np.arange(n, dtype=float)
    x = rng.uniform(0.1, 1.0, n)
    s = np.zeros(n)
    for name in FEATURES:  # no exception, a float for every kernel
        assert isinstance(_call(name, t, x, s, True), float), name
    # safe weights all zero -> the W variants fall back to U
    for name in ("root_mean_squared", "std_over_mean", "sum_values", "variance",
                 "variation_coefficient", "vonNeumannRatio", "symmetry_looking"):
        assert _call(name, t, x, s, True) == _call(name, t, x, s, False), name
    assert np.isnan(_call("skewness", t, x, s, True))  # S_w = 0 -> NaN
    # flag-ignoring features are unchanged
    for name in ("permutation_entropy", "quantile_5", "sample_entropy", "shapiro_wilk"):
        assert _call(name, t, x, s, True) == _call(name, t, x, s, False), name


def test_weighted_variants_use_errors():
    rng = np.random.default_rng(13)
    n = 200
    t = np.arange(n, dtype=float)
    x = 1.0 + 0.1 * rng.standard_normal(n)
    s = rng.uniform(0.01, 0.2, n)
    w = 1.0 / s**2
    mu = np.sum(w * x) / np.sum(w)
    var = np.sum(w * (x - mu) ** 2) / np.sum(w)
    assert _call("sum_values", t, x, s, True) == pytest.approx(mu, rel=1e-12)
    assert _call("variance", t, x, s, True) == pytest.approx(var, rel=1e-12)
    assert _call("variance", t, x, s, False) == pytest.approx(np.var(x), rel=1e-12)
    assert _call("skewness", t, x, s, False) == pytest.approx(
        scipy.stats.skew(x, bias=False), rel=1e-10)
    for q, name in ((0.05, "quantile_5"), (0.25, "quantile_25"), (0.5, "quantile_50"),
                    (0.75, "quantile_75"), (0.95, "quantile_95")):
        assert _call(name, t, x, s, True) == np.quantile(x, q)
    # crossings: only those with |Δx| > σ count in W
    med = np.median(x)
    c = (x[:-1] > med) != (x[1:] > med)
    assert _call("number_of_crossings", t, x, s, False) == c.sum() / n
    assert _call("number_of_crossings", t, x, s, True) == (c & (np.abs(np.diff(x)) > s[:-1])).sum() / n


def test_never_raises_on_bad_values():
    """NaN/inf values, zero/negative/NaN/inf errors and ties: every kernel returns a float."""
    rng = np.random.default_rng(17)
    for rep in range(240):
        n = int(rng.integers(0, 40))
        t = np.sort(rng.uniform(0.0, 100.0, n))
        x = rng.standard_normal(n)
        s = np.abs(rng.standard_normal(n)) * 0.1
        kind = rep % 5
        if kind == 1:
            x = np.round(x, 0)
        elif kind == 2 and n:
            x[rng.integers(0, n, 3)] = rng.choice([np.nan, np.inf, -np.inf], 3)
        elif kind == 3 and n:
            s[rng.integers(0, n, 3)] = rng.choice([0.0, -1.0, np.nan, np.inf], 3)
        elif kind == 4:
            x = np.full(n, float(rng.choice([0.0, 1.0, -2.0])))
            s = np.zeros(n)
        order = np.argsort(x)
        for name, f in FEATURES.items():
            for weighted in (True, False):
                assert isinstance(f(t, x, s, weighted, order), float), name


# ------------------------------------------------------------------ sort-based kernels vs all pairs
def _sampen_all_pairs(x: np.ndarray) -> float:
    """Spec §2.67 literally: Chebyshev distances of all ordered pairs of windows (NumPy)."""
    r = 0.2 * np.std(x)
    counts = []
    for m in (2, 3):
        win = np.lib.stride_tricks.sliding_window_view(x, m)
        close = np.ones((len(win), len(win)), bool)
        for j in range(m):
            close &= np.abs(win[:, None, j] - win[None, :, j]) <= r
        counts.append(int(close.sum()) - len(win))
    b, a = counts
    return -math.log(a / b) if a > 0 and b > 0 else math.nan


def _recurring_all_pairs(x: np.ndarray, s: np.ndarray, weighted: bool) -> float:
    """Spec §2.65 literally: ``numpy.isclose(x, u, atol=σ)`` for every distinct value u."""
    u, counts = np.unique(x, return_counts=True)
    if not weighted:
        return float(np.sum(counts > 1) / len(u))
    rec = sum(int(np.sum(np.abs(x - v) <= s + 1e-5 * abs(v)) > 1) for v in u)
    return rec / len(u)


def _tied_series(rng, n):
    kind = rng.integers(0, 4)
    x = rng.normal(rng.choice([0.0, 1.0, 20.0]), 10 ** rng.uniform(-2, 1), n)
    if kind == 1:
        x = np.round(x, int(rng.integers(0, 3)))
    elif kind == 2:
        x = rng.integers(0, 6, n) * 0.1 + 1.0
    elif kind == 3:
        x[rng.random(n) < 0.05] *= 30.0
    s = np.abs(rng.normal(0.0, 10 ** rng.uniform(-3, 0), n))
    if rng.random() < 0.3:
        s[rng.random(n) < 0.05] *= 100.0     # a few large errors (wide W tolerances)
    if rng.random() < 0.2:
        s[rng.random(n) < 0.1] = 0.0
    return np.ascontiguousarray(x), np.ascontiguousarray(s)


def test_sort_based_kernels_equal_all_pairs_definitions():
    """sample_entropy (sweep) and ratio_recurring_points (sorted scan) are exact: == the literal
    all-pairs formulas on random series with ties, outliers, zero and large errors."""
    rng = np.random.default_rng(7)
    for _ in range(150):
        n = int(rng.integers(0, 12)) if rng.random() < 0.3 else int(rng.integers(4, 400))
        x, s = _tied_series(rng, n)
        t = np.arange(n, dtype=np.float64)
        order = np.argsort(x)
        for weighted in (True, False):
            got = FEATURES["ratio_recurring_points"](t, x, s, weighted, order)
            want = _recurring_all_pairs(x, s, weighted) if n else 0.0
            assert got == want, (n, weighted)
            got = FEATURES["sample_entropy"](t, x, s, weighted, order)
            want = _sampen_all_pairs(x) if n >= 4 else math.nan
            assert got == want or (math.isnan(got) and math.isnan(want)), (n, weighted)


def test_shannon_saturation_shortcuts_are_exact():
    """The shortcuts of shannon_entropy (erf = ±1 for |z| >= 6, log_ndtr = -0 where erfc
    underflows) give the same bits as the libm expressions they replace."""
    from lia_dask.features.entropies import _half_1p_erf

    z = np.concatenate([np.linspace(-50.0, 50.0, 20001), [np.nextafter(6.0, 0.0), 6.0, -6.0, 1e300]])
    for v in z:
        assert _half_1p_erf(v) == 0.5 * (1.0 + math.erf(v))
    for v in np.linspace(-0.99, 80.0, 5001):
        want = math.log1p(-0.5 * math.erfc(v * math.sqrt(0.5)))  # the kernel multiplies by 1/√2
        got = log_ndtr(v)
        assert got == want and math.copysign(1.0, got) == math.copysign(1.0, want)


def test_sample_entropy_bit_rows_in_column_blocks_equal_all_pairs():
    """The bit-row counts of sample_entropy do not depend on the column blocks the rows are built
    in (down to one 64-column word per block), and equal the all-pairs counts."""
    from lia_dask.features.entropies import SAMPEN_BLOCK_WORDS, _sampen_pairs

    rng = np.random.default_rng(11)
    for _ in range(40):
        n = int(rng.integers(4, 700))
        x, _s = _tied_series(rng, n)
        r = 0.2 * float(np.std(x))
        order = np.argsort(x)
        win2 = np.lib.stride_tricks.sliding_window_view(x, 2)
        win3 = np.lib.stride_tricks.sliding_window_view(x, 3)
        want = []
        for win in (win3, win2):
            close = np.ones((len(win), len(win)), bool)
            for j in range(win.shape[1]):
                close &= np.abs(win[:, None, j] - win[None, :, j]) <= r
            want.append((int(close.sum()) - len(win)) // 2)
        for words in (1, 2, 3, 7, SAMPEN_BLOCK_WORDS):
            assert tuple(_sampen_pairs(x, order, r, words)) == tuple(want), (n, words)


def _mean_n_abs_max_literal(x, s, weighted):
    """§2.51 as ten selections: the largest |x| not yet taken, NaN first, ties to the earlier index."""
    a = np.abs(x)
    w = np.where(np.isfinite(s) & (s > 0), 1.0 / np.where(s > 0, s, 1.0) ** 2, 0.0)
    taken = []
    for _ in range(10):
        rest = [i for i in range(len(a)) if i not in taken]
        nan = [i for i in rest if np.isnan(a[i])]
        taken.append(nan[0] if nan else max(rest, key=lambda i: (a[i], -i)))
    acc = num = den = 0.0
    for i in taken:
        acc += a[i]
        num += w[i] * a[i]
        den += w[i]
    return num / den if weighted and den != 0.0 else acc / 10.0


def test_mean_n_abs_max_one_pass_equals_ten_selections():
    kern = {sp.name: sp.kernel for sp in kernel_table()}["mean_n_abs_max"]
    rng = np.random.default_rng(5)
    for _ in range(300):
        n = int(rng.integers(10, 60))
        x, s = _tied_series(rng, n)
        if rng.random() < 0.3:
            x = np.round(x, 0)                      # many ties at the 10th place
        if rng.random() < 0.2:
            x[rng.integers(0, n, 3)] = np.nan
        t = np.arange(n, dtype=np.float64)
        for weighted in (True, False):
            got = kern(t, x, s, weighted, np.argsort(x))
            want = _mean_n_abs_max_literal(x, s, weighted)
            assert got == want or (math.isnan(got) and math.isnan(want)), (n, weighted)


def _peakutils_thin_literal(cand, a, min_dist):
    """Thinning as written in peakutils: visit candidates by descending a (ties: later index
    first), each kept one removes every other candidate within min_dist."""
    rank = sorted(range(len(cand)), key=lambda j: (a[cand[j]], j))
    alive = [True] * len(cand)
    for j in reversed(rank):
        if alive[j]:
            for k in range(len(cand)):
                if k != j and abs(cand[k] - cand[j]) <= min_dist:
                    alive[k] = False
    return sum(alive)


def test_peakutils_thinning_equals_all_candidates_scan():
    """The neighbour scan of the thinning keeps the peaks the scan over all candidates keeps
    (slopes without zero blocks, so the candidates are the sign changes; ranking amplitudes with ties)."""
    rng = np.random.default_rng(9)
    for _ in range(200):
        n = int(rng.integers(3, 800))
        x = rng.normal(0, 1, n).cumsum() * 0.1 + rng.normal(0, 1, n)
        a = np.round(x * rng.choice([1.0, -1.0, 0.5]), int(rng.integers(0, 2)))
        level = float(np.min(a) + rng.uniform(0, 0.6) * (np.max(a) - np.min(a)))
        min_dist = int(rng.integers(0, 40))
        d = np.diff(x)
        assert np.all(d != 0)
        cand = [i for i in range(1, n - 1) if d[i - 1] > 0 > d[i] and a[i] > level]
        want = len(cand) if len(cand) <= 1 else _peakutils_thin_literal(cand, a, min_dist)
        assert peakutils_count(x, a, level, min_dist) == want, (n, min_dist)


def test_benford_decade_table_holds_the_kernels_powers():
    """benford_correlation's table of 10**e equals the expression it replaces, compiled alike, for
    every decade a finite double falls in."""
    import numba

    from lia_dask.features.common import KERNEL_OPTIONS
    from lia_dask.features.entropies import _POW10, _POW10_LO

    @numba.njit(**KERNEL_OPTIONS)
    def direct(e):
        return 10.0 ** float(e)

    for k, v in enumerate(_POW10):
        want = direct(k + _POW10_LO)
        assert v == want or (v == 0.0 and want == 0.0), k + _POW10_LO
    assert math.floor(math.log10(5e-324)) - _POW10_LO >= 0
    assert math.floor(math.log10(1.7976931348623157e308)) - _POW10_LO < len(_POW10)
