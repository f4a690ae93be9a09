"""Contract tests generated from the ``@feature`` table: every kernel, the same checks.

For each of the 84 declared kernels (both passes, weighted and unweighted):

* its declaration is complete (docstring stating the formula and the weighted variant, series,
  index, compiled nogil with numpy's error model and the package-stamped cache);
* it agrees with MicroLIA 2.8.1 on the 61 conformance lightcurves (``../shared/conformance``);
* the batch driver's column equals the kernel called on one lightcurve at a time;
* float32 input gives exactly the float64 result of the same values;
* threads computing concurrently agree with one thread;
* edge cases (n = 0..3, ties, constant series, zero / huge / mixed errors) never raise and give a
  float that is NaN or finite after post-processing, the same on every call;
* non-finite epochs (NaN / inf in time, value or error) are dropped, as if they were not there.
"""
from __future__ import annotations

import dis
import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from numba.core.caching import FunctionCache

from lia_dask.batch import LightcurveBatch
from lia_dask.features import FeatureSettings, extract_batch_with_reasons, get_feature_set
from lia_dask.features.common import post_value
from lia_dask.features.preprocess import preprocess_batch
from lia_dask.features.registry import kernel_table

from .conftest import call_kernel

TABLE = kernel_table()
IDS = [sp.name for sp in TABLE]
NAMES = list(get_feature_set().names)


def _lightcurves(seed: int = 3, k: int = 12):
    """Small varied lightcurves: sinusoids, an outburst, ties, tiny and huge errors, 4..300 points."""
    r = np.random.default_rng(seed)
    out = []
    for i in range(k):
        n = int(r.integers(4, 300))
        t = np.sort(r.uniform(0, 500, n))
        m = 17 + 0.3 * np.sin(t / (5 + i)) + r.normal(0, 0.03, n)
        if i % 3 == 0:
            m = np.round(m, 2)  # ties
        if i % 4 == 1:
            m[n // 2:n // 2 + 3] -= 1.5  # a brightening
        e = np.abs(r.normal(0.02, 0.01, n)) + (1e4 if i == 5 else 0.0)
        if i == 7:
            e[::3] = 0.0  # zero errors among normal ones
        out.append((t, m, e))
    return out


LCS = _lightcurves()


def _batch(lcs, dtype=np.float64):
    off = np.concatenate([[0], np.cumsum([len(a[0]) for a in lcs])]).astype(np.int64)
    return off, *(np.concatenate([a[j] for a in lcs]).astype(dtype) for j in range(3))


@pytest.fixture(scope="module")
def full():
    """{weighted: (values (k, 168), reason)} of the driver on LCS, computed once."""
    fs = get_feature_set()
    off, t, y, e = _batch(LCS)
    return {w: fs.compute(off, t, y, e, zp=22.0, convert=True, apply_weights=w) for w in (True, False)}


def _series(p, i, pas, series):
    """(t, x, s) of object i in a pass (0 flux, 1 derivative) and series, from a Prepared batch."""
    sr = {(0, "normalised"): p.flux, (0, "raw"): p.flux_raw, (1, "raw"): p.deriv_raw, (1, "normalised"): p.deriv}
    s = sr[(pas, series)]
    a, b = s.offsets[i], s.offsets[i + 1]
    return s.time[a:b].copy(), s.value[a:b].copy(), s.error[a:b].copy()


def _call(sp, t, x, s, w):
    return call_kernel(sp.kernel, t, x, s, w, None if sp.needs_order else np.empty(0, np.int64))


def _same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


# ------------------------------------------------------------------ declaration
@pytest.mark.parametrize("sp", TABLE, ids=IDS)
def test_declaration(sp):
    assert NAMES[sp.index] == sp.name and NAMES[sp.index + 84] == sp.name + "_deriv"
    assert sp.series in ("normalised", "raw") and sp.module.startswith("lia_dask.features.")
    doc = sp.doc.strip()
    assert len(doc) > 30, f"{sp.name}: the docstring must state the formula"
    assert re.search(r"\bW\b|[Ww]eight", doc), f"{sp.name}: the docstring must state the weighted (W) variant"
    opts = sp.kernel.targetoptions
    assert opts.get("nogil") is True and opts.get("error_model") == "numpy"
    assert isinstance(sp.kernel._cache, FunctionCache)
    reads = any(ins.opname.startswith("LOAD") and ins.argval == "order" for ins in dis.get_instructions(sp.kernel.py_func))
    assert reads == sp.needs_order, f"{sp.name}: needs_order={sp.needs_order} but the body {'reads' if reads else 'ignores'} order"
    # pass fusion: the safe weights come from the driver (needs=("weights",)), never recomputed in a kernel
    loads = {ins.argval for ins in dis.get_instructions(sp.kernel.py_func) if ins.opname.startswith("LOAD")}
    assert "safe_weights" not in loads, f"{sp.name}: declare needs=('weights',) and use given_weights(s, w)"
    assert ("given_weights" in loads or "mean_var" in loads or "w" in loads) or "weights" not in sp.needs
    assert "weighted_mean_var" not in loads, f"{sp.name}: declare needs=('weights', 'moments'), use given_moments"
    assert "wp_cumulative" not in loads, f"{sp.name}: declare needs=(..., 'wp'), use given_wp"


def test_needs_declaration_matches_signature():
    """A kernel declaring a shared quantity must take it as the parameter of that name (default None)."""
    from lia_dask.errors import ConfigError
    from lia_dask.features.registry import feature

    def f_bad(t, x, s, weighted, order):
        """W: nothing; U: nothing (a declaration test)."""
        return 0.0

    with pytest.raises(ConfigError, match="needs"):
        feature("__bad_needs", index=999, needs=("weights",))(f_bad)
    with pytest.raises(ConfigError, match="unknown shared"):
        feature("__bad_needs", index=999, needs=("nope",))
    with pytest.raises(ConfigError, match="order of"):  # moments are computed from the weights
        feature("__bad_needs", index=999, needs=("moments",))
    weighted = [sp.name for sp in TABLE if "weights" in sp.needs]
    assert len(weighted) >= 40  # the weights are computed once per series for all of these


# ------------------------------------------------------------------ MicroLIA agreement
@pytest.mark.parametrize("sp", TABLE, ids=IDS)
def test_agrees_with_microlia(sp, conformance, kernel_mismatches):
    checked, bad = kernel_mismatches(sp.kernel, sp.index, raw=sp.series == "raw")
    assert checked == 61 * 4
    assert not bad, f"{sp.name}: {len(bad)} of {checked} differ from MicroLIA 2.8.1, first: {bad[:3]}"


# ------------------------------------------------------------------ batch, dtype, threads
SORTED = [sp for sp in TABLE if "sorted" in sp.needs]


def _series_with_order(sp):
    """(i, pass, t, x, s, numpy argsort of x) of every test lightcurve and pass, on the series ``sp`` reads."""
    off, t, y, e = _batch(LCS)
    p = preprocess_batch(off, t, y, e)
    for i in range(len(LCS)):
        for pas in (0, 1):
            tt, x, sg = _series(p, i, pas, sp.series)
            yield i, pas, tt, x, sg, np.argsort(x)


def _same_bits(sp, i, pas, w, alone, shared):
    assert np.float64(alone).view(np.uint64) == np.float64(shared).view(np.uint64) or (
        math.isnan(alone) and math.isnan(shared)), (sp.name, i, pas, w, alone, shared)


@pytest.mark.parametrize("sp", SORTED, ids=[sp.name for sp in SORTED])
def test_shared_sorted_copy_gives_the_same_bits_and_is_never_written(sp):
    """A kernel given the driver's sorted copy (needs "sorted") returns what it computes alone, and leaves it as it was."""
    from lia_dask.features.registry import SHARED, SHARED_PARAMS, SHARED_REQUIRES

    assert SHARED_PARAMS["sorted"] == "xs" and "sorted" in SHARED and not SHARED_REQUIRES.get("sorted")
    for i, pas, tt, x, sg, order in _series_with_order(sp):
        xs = x[order]
        before = xs.copy()
        for w in (True, False):
            alone = float(sp.kernel(tt, x, sg, w, order))
            extra = [None] * (len(sp.needs) - 1)  # the other shared quantities: computed by the kernel
            _same_bits(sp, i, pas, w, alone, float(sp.kernel(tt, x, sg, w, order, *extra, xs)))
        assert np.array_equal(xs, before), f"{sp.name} wrote to the shared sorted copy"


MEDIAN = [sp for sp in TABLE if "median" in sp.needs]


@pytest.mark.parametrize("sp", MEDIAN, ids=[sp.name for sp in MEDIAN])
def test_shared_median_is_all_a_median_only_kernel_takes_from_the_order(sp):
    """A kernel declaring "median" and neither "wp" nor "sorted" reads the order for its median only.

    Given the median and a wrong permutation (reversed), it returns the bits it computes alone with
    NumPy's: what lets the driver hand it the batch's medians by selection and sort nothing.
    """
    from lia_dask.features.order_stats import median_ordered
    from lia_dask.features.registry import SHARED_PARAMS

    assert SHARED_PARAMS["median"] == "med"
    assert sp.kernel.py_func.__code__.co_varnames.index("med") == 5 + sp.needs.index("median")
    assert not sp.reads_order and sp.needs_order
    for i, pas, tt, x, sg, order in _series_with_order(sp):
        rest = [float(median_ordered(x, order)) if q == "median" else None for q in sp.needs]  # others: by the kernel
        wrong = order[::-1].copy()
        for w in (True, False):
            alone = float(sp.kernel(tt, x, sg, w, order))
            _same_bits(sp, i, pas, w, alone, float(sp.kernel(tt, x, sg, w, wrong, *rest)))


@pytest.mark.parametrize("sp", TABLE, ids=IDS)
def test_batch_equals_one_at_a_time(sp, full):
    off, t, y, e = _batch(LCS)
    p = preprocess_batch(off, t, y, e)
    for w in (True, False):
        vals, reason = full[w]
        assert (reason == 0).all()
        for i in range(len(LCS)):
            for pas in (0, 1):
                one = float(post_value(_call(sp, *_series(p, i, pas, sp.series), w)))
                got = vals[i, sp.index + 84 * pas]
                assert _same(one, got), (sp.name, i, pas, w, one, got)


def test_float32_input_equals_float64_of_the_same_values(full):
    """Input precision is the caller's business: float32 arrays are upcast exactly once."""
    fs = get_feature_set()
    off, t, y, e = _batch(LCS, np.float32)
    for w in (True, False):
        v32, _ = fs.compute(off, t, y, e, zp=22.0, convert=True, apply_weights=w)
        v64, _ = fs.compute(off, t.astype(np.float64), y.astype(np.float64), e.astype(np.float64),
                            zp=22.0, convert=True, apply_weights=w)
        np.testing.assert_array_equal(v32.view(np.uint64), v64.view(np.uint64))


def test_threads_agree(full):
    fs = get_feature_set()
    off, t, y, e = _batch(LCS)

    def run(w):
        return fs.compute(off, t, y, e, zp=22.0, convert=True, apply_weights=w)[0]

    with ThreadPoolExecutor(4) as ex:
        results = list(ex.map(run, [True, False] * 4))
    for k, v in enumerate(results):
        ref = full[k % 2 == 0][0]
        np.testing.assert_array_equal(v.view(np.uint64), ref.view(np.uint64))


# ------------------------------------------------------------------ edge cases
def _edge_cases():
    r = np.random.default_rng(0)
    cases = {}
    for n in range(4):
        cases[f"n={n}"] = (np.arange(float(n)), 0.5 + 0.1 * np.arange(float(n)), np.full(n, 0.01))
    x = np.round(r.normal(1.0, 0.1, 40), 1)
    cases["ties"] = (np.arange(40.0), x, np.full(40, 0.01))
    cases["constant"] = (np.arange(30.0), np.full(30, 0.8), np.full(30, 0.01))
    x = 1.0 + 0.1 * np.sin(np.arange(50.0))
    cases["zero errors"] = (np.arange(50.0), x, np.zeros(50))
    cases["huge errors"] = (np.arange(50.0), x, np.full(50, 1e150))
    cases["tiny errors"] = (np.arange(50.0), x, np.full(50, 1e-150))
    cases["negative values"] = (np.arange(50.0), x - 1.05, np.full(50, 0.01))
    cases["huge values"] = (np.arange(50.0), x * 1e200, np.full(50, 0.01))
    cases["repeated times"] = (np.repeat(np.arange(25.0), 2), x, np.full(50, 0.01))
    return cases


EDGES = _edge_cases()


@pytest.mark.parametrize("sp", TABLE, ids=IDS)
def test_edge_cases_never_raise_and_are_deterministic(sp):
    for case, (t, x, s) in EDGES.items():
        for w in (True, False):
            a = _call(sp, t, x, s, w)
            assert isinstance(a, float), (sp.name, case, type(a))
            b = _call(sp, t, x, s, w)
            assert _same(a, b), (sp.name, case, w)
            v = float(post_value(a))
            assert math.isnan(v) or (math.isfinite(v) and abs(v) <= 1e10), (sp.name, case, v)


def test_non_finite_epochs_are_dropped_as_if_absent(full):
    """NaN / inf in time, value or error: those epochs are removed before any kernel (§1.2)."""
    dirty, counts = [], []
    r = np.random.default_rng(5)
    for t, m, e in LCS:
        t, m, e = t.copy(), m.copy(), e.copy()
        k = r.choice(len(t), 3, replace=False)
        t[k[0]], m[k[1]], e[k[2]] = np.nan, np.inf, -np.inf
        dirty.append((t, m, e))
        counts.append(len(t) - 3)
    clean = [(t[np.isfinite(t) & np.isfinite(m) & np.isfinite(e)], m[np.isfinite(t) & np.isfinite(m) & np.isfinite(e)],
              e[np.isfinite(t) & np.isfinite(m) & np.isfinite(e)]) for t, m, e in dirty]
    assert [len(c[0]) for c in clean] == counts
    for w in (True, False):
        bd = LightcurveBatch.from_lightcurves(list(range(len(dirty))), *zip(*dirty), zeropoint=22.0)
        bc = LightcurveBatch.from_lightcurves(list(range(len(clean))), *zip(*clean), zeropoint=22.0)
        vd = extract_batch_with_reasons(bd, FeatureSettings(apply_weights=w))[0]
        vc = extract_batch_with_reasons(bc, FeatureSettings(apply_weights=w))[0]
        np.testing.assert_array_equal(vd.view(np.uint64), vc.view(np.uint64))


def test_short_lightcurves_through_the_driver():
    """n = 0, 1: all-NaN row with its reason; n = 2, 3: each column is the kernel's own value."""
    lcs = [(np.arange(float(n)), 17 + 0.1 * np.arange(float(n)), np.full(n, 0.02)) for n in range(4)]
    b = LightcurveBatch.from_lightcurves([0, 1, 2, 3], *zip(*lcs), zeropoint=22.0)
    vals, _, reason = extract_batch_with_reasons(b)
    assert reason.tolist() == [1, 2, 0, 0] and np.isnan(vals[:2]).all()
    off, t, y, e = _batch(lcs)
    p = preprocess_batch(off, t, y, e)
    for sp in TABLE:
        for i in (2, 3):
            for pas in (0, 1):
                one = float(post_value(_call(sp, *_series(p, i, pas, sp.series), True)))
                assert _same(one, vals[i, sp.index + 84 * pas]), (sp.name, i, pas)


# ------------------------------------------------------------------ special functions: exact shortcuts
def _log_ndtr_py(x):
    """``special.log_ndtr`` written with Python's ``math`` (the same libm), no shortcut."""
    if x > -1.0:
        return math.log1p(-0.5 * math.erfc(x * math.sqrt(0.5)))
    if x >= -37.0:
        return math.log(0.5 * math.erfc(-x * math.sqrt(0.5)))
    z = 1.0 / (x * x)
    series = 1.0 + z * (-1.0 + z * (3.0 + z * (-15.0 + z * (105.0 + z * -945.0))))
    return -0.5 * x * x - math.log(-x) - 0.5 * math.log(2.0 * math.pi) + math.log(series)


def test_invgauss_cdf_saturated_tail_shortcut_is_the_formula_value():
    """``invgauss_cdf`` (with its shortcuts) gives the bits of the plain formula, also where it returns 1 early."""
    from lia_dask.features.special import invgauss_cdf

    rng = np.random.default_rng(68)
    y = np.concatenate([rng.uniform(0.3, 3.0, 20000), 10 ** rng.uniform(-3, 3, 20000)])
    eta = np.concatenate([10 ** rng.uniform(-2.5, -0.3, 20000), 10 ** rng.uniform(-5, 0, 20000)])
    early = 0
    for yi, ei in zip(y.tolist(), eta.tolist()):
        fac = 1.0 / math.sqrt(yi)
        za, zb = fac * ((yi / ei) - 1.0), -fac * ((yi / ei) + 1.0)
        a = _log_ndtr_py(za)
        d = (2.0 / ei + _log_ndtr_py(zb)) - a
        full = math.exp(a + (math.log1p(math.exp(d)) if d >= -746.0 else 0.0))
        assert invgauss_cdf(yi, ei) == full, (yi, ei, full)
        early += za >= 10.0 and (2.0 / ei + (-0.5 * zb * zb)) < -44.0
    assert 5000 < early < 35000  # the early return is sampled, and so is the rest near its boundary
