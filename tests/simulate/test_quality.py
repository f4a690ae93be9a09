"""Quality cuts, redraws and the errors when cadences can never satisfy them."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.errors import InputError
from lia_dask.simulate import CadencePool, SimulationConfig, simulate_range
from lia_dask.simulate import quality


def test_ml_quality_conditions():
    t = np.arange(20.0)
    obj = np.zeros(20, np.int64)
    m0, t0, tE = np.array([18.0]), np.array([10.0]), np.array([5.0])
    err = np.full(20, 0.01)
    bright = np.where(np.abs(t - 10) <= 5, 17.5, 18.0)
    kw = dict(n_min=7, min_z=3, frac_significant=0.33, min_brightening=0.05)
    assert quality.ml_quality(t, bright, err, obj, m0, t0, tE, **kw)[0]
    assert not quality.ml_quality(t, bright, err, obj, m0, t0, tE, **{**kw, "n_min": 12})[0]  # 11 in window
    flat = np.full(20, 18.0)
    assert not quality.ml_quality(t, flat, err, obj, m0, t0, tE, **kw)[0]
    noisy = bright.copy()
    noisy[10] = np.nan
    assert not quality.ml_quality(t, noisy, err, obj, m0, t0, tE, **kw)[0]
    # brightening visible but below 3 sigma in most window points
    faint = np.where(np.abs(t - 10) <= 5, 17.9, 18.0)
    faint[10] = 17.0
    assert not quality.ml_quality(t, faint, np.full(20, 0.05), obj, m0, t0, tE, **kw)[0]


def test_longest_run_per_object():
    hit = np.array([1, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1], bool)
    obj = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2])
    assert quality.longest_run(hit, obj, 4).tolist() == [2, 3, 1, 0]  # a run does not cross objects


def test_detection_needs_consecutive_significant_epochs():
    t = np.arange(30.0)
    obj = np.zeros(30, np.int64)
    sig = np.full(30, 0.01)
    m0, t0, tE = np.array([18.0]), np.array([15.0]), np.array([10.0])
    scattered = np.full(30, 18.0)
    scattered[[5, 10, 20]] = 17.9  # three 10σ points, never two in a row
    kw = dict(n_detect=3, min_z=3.0, window=2.0)
    assert not quality.ml_detected(t, scattered, sig, obj, m0, t0, tE, **kw)[0]
    assert quality.ml_detected(t, scattered, sig, obj, m0, t0, tE, consecutive=False, **kw)[0]
    run = np.full(30, 18.0)
    run[[14, 15, 16]] = 17.96  # 4σ, consecutive
    assert quality.ml_detected(t, run, sig, obj, m0, t0, tE, **kw)[0]
    assert not quality.ml_detected(t, run, sig, obj, m0, np.array([40.0]), np.array([2.0]), **kw)[0]  # outside 2 tE
    # the whole event's significance: three 4σ points give Δχ² = 3 (2·4·4 - 16) = 48 against the baseline
    model = run.copy()
    assert quality.ml_detected(t, run, sig, obj, m0, t0, tE, mag_model=model, min_dchi2=40, **kw)[0]
    assert not quality.ml_detected(t, run, sig, obj, m0, t0, tE, mag_model=model, min_dchi2=100, **kw)[0]


def test_event_signal_of_a_noise_free_event():
    t = np.arange(10.0)
    obj = np.repeat([0, 1], 5)
    m0 = np.array([18.0, 18.0])
    mag = np.where(obj == 0, 18.0, 18.0 - 2.5 * np.log10(1.1))  # object 1: every epoch 10 % brighter
    sigma = np.full(10, 0.01)
    d2, run = quality.event_signal(t, obj, m0, mag, sigma)
    z = 0.1 / (np.log(10) / 2.5 * 0.01 * 1.1)
    assert d2[0] == 0 and d2[1] == pytest.approx(5 * z * z) and run.tolist() == [0, 5]


def test_cv_structure_counts_epochs_in_outburst():
    t = np.arange(0.0, 100.0, 1.0)
    off = np.array([0, 100])
    ok, k = quality.cv_structure(t, off, np.array([0, 2]), np.array([10.5, 50.0]), np.array([11.0, 51.0]),
                                 np.array([12.0, 53.0]), np.array([13.0, 60.0]), n1=7, n2=1)
    assert ok[0] and k[0] == 1  # the first outburst has 3 epochs, the second 11
    ok, _ = quality.cv_structure(t, off, np.array([0, 1]), np.array([10.5]), np.array([11.0]), np.array([12.0]),
                                 np.array([13.0]), n1=7, n2=1)
    assert not ok[0]


def test_accepted_events_pass_the_cuts(ogle_pool):
    cfg = SimulationConfig.microlia(classes=("ML", "CV"), seed=21, ml_n1=10, cv_n1=8)
    b = simulate_range([("ML", 40), ("CV", 40)], 0, 80, ogle_pool, cfg)
    e = b.extra
    ml = np.flatnonzero(b.label == "ML")
    for i in ml:
        lc = b[i]
        win = np.abs(lc.time - e["sim_t0"][i]) <= e["sim_tE"][i]
        assert win.sum() >= 10
        z = (e["sim_m0"][i] - lc.y[win]) / lc.yerr[win]
        assert z.max() >= 3 and lc.y[win].mean() < e["sim_m0"][i] - 0.05
    assert e["sim_attempts"][ml].max() > 1  # OGLE cadences need redraws (pass rate ~0.6)
    cv = np.flatnonzero(b.label == "CV")
    for i in cv:
        lc = b[i]
        assert np.max((e["sim_m0"][i] - lc.y) / lc.yerr) >= 3
        assert e["sim_period"][i] >= cfg.cv_period_min and e["sim_n_outbursts"][i] >= 1


def test_impossible_cuts_raise_clear_errors():
    sparse = CadencePool.from_arrays([np.arange(5.0) * 30] * 3, min_epochs=3)
    with pytest.raises(InputError, match="no cadence has the 7 epochs a ML event needs"):
        simulate_range([("ML", 2)], 0, 2, sparse, SimulationConfig.microlia(classes=("ML",)))
    with pytest.raises(InputError, match="cv_n1"):
        simulate_range([("CV", 2)], 0, 2, sparse, SimulationConfig.microlia(classes=("CV",)))
    with pytest.raises(InputError, match="no cadence has the 6 epochs a ML event needs .ml_n_detect."):
        simulate_range([("ML", 2)], 0, 2, sparse, SimulationConfig(classes=("ML",), ml_n_detect=6))
    # enough epochs overall, but a 1-day event never gets 3 of them within 2 tE at a 30-day cadence
    pool = CadencePool.from_arrays([np.arange(40.0) * 30] * 3)
    cfg = SimulationConfig(classes=("ML",), tE_distribution="normal", tE_mean=1.0, tE_std=0.0, max_attempts=5)
    with pytest.raises(InputError, match="failed the quality cuts in 5 attempts"):
        simulate_range([("ML", 2)], 0, 2, pool, cfg)
