"""Each class model against its defining property."""
from __future__ import annotations

import numpy as np
import pytest
from astropy.timeseries import LombScargle

from lia_dask.simulate import SimulationConfig, simulate_range
from lia_dask.simulate import models
from lia_dask.simulate.templates import mira_table, rrlyrae_templates


def test_pspl_peak_magnification_matches_formula():
    u0 = np.array([0.01, 0.1, 0.5, 1.0, 2.0])
    t0 = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    tE = np.full(5, 25.0)
    m0 = np.full(5, 18.0)
    obj = np.arange(5)
    expected = (u0 ** 2 + 2) / (u0 * np.sqrt(u0 ** 2 + 4))
    m = models.pspl_magnitudes(t0, obj, m0, t0, u0, tE, np.zeros(5))
    np.testing.assert_allclose(10 ** (-0.4 * (m - m0)), expected, rtol=1e-12)
    # blended: F = f_s A + f_b with f_s + f_b = F0 and b = f_b / f_s
    b = np.array([0.0, 0.5, 1.0, 2.0, 9.0])
    mb = models.pspl_magnitudes(t0, obj, m0, t0, u0, tE, b)
    np.testing.assert_allclose(10 ** (-0.4 * (mb - m0)), (expected + b) / (1 + b), rtol=1e-12)
    # far from the peak the lightcurve returns to the total baseline
    far = models.pspl_magnitudes(t0 + 1e4, obj, m0, t0, u0, tE, b)
    np.testing.assert_allclose(far, m0, atol=1e-6)
    # symmetric about t0
    np.testing.assert_allclose(models.pspl_magnitudes(t0 - 7, obj, m0, t0, u0, tE, b),
                               models.pspl_magnitudes(t0 + 7, obj, m0, t0, u0, tE, b), rtol=0, atol=1e-12)


def test_simulated_ml_truth_reproduces_lightcurve_peak(dense_pool):
    cfg = SimulationConfig(classes=("ML",), seed=5, min_mag=15, max_mag=16, noise_zeropoint=30).without_systematics()  # tiny photon noise
    b = simulate_range([("ML", 30)], 0, 30, dense_pool, cfg)
    e = b.extra
    for i in range(len(b)):
        lc = b[i]
        expect = models.pspl_magnitudes(lc.time, np.zeros(len(lc.time), np.int64), e["sim_m0"][i:i + 1],
                                        e["sim_t0"][i:i + 1], e["sim_u0"][i:i + 1], e["sim_tE"][i:i + 1],
                                        e["sim_blend"][i:i + 1])
        assert np.max(np.abs(lc.y - expect)) < 0.01
        near = np.abs(lc.time - e["sim_t0"][i]) <= cfg.ml_detect_window * e["sim_tE"][i]
        assert np.sum(near & (lc.y <= e["sim_m0"][i] - cfg.ml_min_z * lc.yerr)) >= cfg.ml_n_detect  # detect cut
    assert np.all(e["sim_tE"] >= cfg.tE_min) and np.all((e["sim_u0"] > 0) & (e["sim_u0"] <= 1))


def test_cv_outburst_shape():
    t = np.linspace(0, 100, 1001)
    off = np.array([0, len(t)])
    start, rise_end, high_end, end = (np.array([10.0, 60.0]), np.array([11.0, 61.0]), np.array([14.0, 62.0]),
                                      np.array([20.0, 66.0]))
    m = models.cv_magnitudes(t, off, np.array([18.0]), np.array([3.0]), np.array([0, 2]), start, rise_end,
                             high_end, end)
    assert np.all(m[(t < 10) | ((t > 20) & (t < 60)) | (t > 66)] == 18.0)
    plateau = (t > 11) & (t <= 14)
    np.testing.assert_allclose(m[plateau], 15.0)
    np.testing.assert_allclose(m[np.isclose(t, 10.5)], 16.5)  # half way up the rise
    np.testing.assert_allclose(m[np.isclose(t, 17.0)], 16.5)  # half way down the decline
    assert m.min() == pytest.approx(15.0)


def test_mira_period_recovered_by_lomb_scargle(dense_pool):
    cfg = SimulationConfig(classes=("LPV",), seed=11, min_mag=14, max_mag=15)
    b = simulate_range([("LPV", 12)], 0, 12, dense_pool, cfg)
    table = mira_table()
    recovered = 0
    for i in range(len(b)):
        lc = b[i]
        row = int(b.extra["sim_template"][i])
        P1 = b.extra["sim_period"][i]
        assert P1 == table[row, 0]
        freq, power = LombScargle(lc.time, lc.y).autopower(minimum_frequency=1 / 1500, maximum_frequency=1 / 50,
                                                          samples_per_peak=20)
        best = 1 / freq[np.argmax(power)]
        recovered += abs(best - P1) / P1 < 0.05
    # the primary dominates except when a secondary period is long and comparable in amplitude
    assert recovered >= 10


def test_rrlyrae_amplitude_scaling_and_mean():
    tpl = rrlyrae_templates("i")
    n = len(tpl.ids)
    t = np.linspace(0, 1, 20001)[:-1]  # one cycle for P = 1
    obj = np.repeat(np.arange(n), len(t))
    tt = np.tile(t, n)
    amp = np.linspace(0.2, 1.3, n)
    m0 = np.full(n, 17.0)
    m = models.rrlyrae_magnitudes(tt, obj, m0, np.ones(n), np.zeros(n), amp, np.arange(n), tpl).reshape(n, -1)
    np.testing.assert_allclose(m.max(axis=1) - m.min(axis=1), amp, rtol=1e-3)
    np.testing.assert_allclose(m.mean(axis=1), m0, atol=1e-3 * amp.max())
    # maximum light (minimum magnitude) at phase 0 as in the templates
    assert np.all(np.abs(np.argmin(m, axis=1) / len(t) - 0.5) > 0.45)
    # doubling the amplitude doubles the deviation from the mean
    m2 = models.rrlyrae_magnitudes(tt, obj, m0, np.ones(n), np.zeros(n), 2 * amp, np.arange(n), tpl).reshape(n, -1)
    np.testing.assert_allclose(m2 - 17.0, 2 * (m - 17.0), atol=1e-12)


def test_simulated_variable_uses_drawn_period_and_amplitude(dense_pool):
    cfg = SimulationConfig(classes=("VARIABLE",), seed=2, min_mag=14, max_mag=15, noise_zeropoint=32).without_systematics()
    b = simulate_range([("VARIABLE", 20)], 0, 20, dense_pool, cfg)
    e = b.extra
    assert set(np.unique(e["sim_template"])) <= set(rrlyrae_templates().ids.tolist())
    for i in range(len(b)):
        lo, hi = (cfg.rrab_amplitude if e["sim_template"][i] >= 100 else cfg.rrc_amplitude)
        assert lo <= e["sim_amplitude"][i] <= hi
        lc = b[i]
        # nightly sampling of a < 1 d period covers the phases: peak-to-peak close to the amplitude
        assert 0.85 * e["sim_amplitude"][i] < np.ptp(lc.y) < 1.1 * e["sim_amplitude"][i] + 0.02
