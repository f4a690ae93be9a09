"""Survey realism of the simulation: the documented distributions, the detection cut, CV outbursts, systematics."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from lia_dask.errors import InputError
from lia_dask.simulate import quality
from lia_dask.simulate import SimulationConfig
from lia_dask.simulate import models
from lia_dask.simulate.simulate import simulate_range


def _fs(e):
    return 1.0 / (1.0 + e["sim_blend"])


def test_ml_parameter_distributions_are_the_documented_ones(dense_pool):
    # a cut every event passes (>= 1 epoch within 2 tE at z >= -inf): the drawn parameters, unselected
    cfg = SimulationConfig(classes=("ML",), seed=3, ml_n_detect=1, ml_min_z=-1e9, ml_detect_dchi2=0.0)
    n = 1500
    e = simulate_range([("ML", n)], 0, n, dense_pool, cfg).extra
    assert (e["sim_attempts"] == 1).all()
    # fs: half log-uniform, half uniform on [0.05, 1]
    lo, hi = cfg.fs_range

    def cdf(x):
        x = np.clip(x, lo, hi)
        return 0.5 * np.log(x / lo) / np.log(hi / lo) + 0.5 * (x - lo) / (hi - lo)

    fs = _fs(e)
    assert stats.kstest(fs, cdf).pvalue > 0.01
    assert np.quantile(fs, 0.25) == pytest.approx(0.12, abs=0.04)  # strongly blended quarter
    assert np.mean(fs < 0.2) > 0.25
    # log10 tE ~ N(1.35, 0.45) truncated to [0, 3]
    a, b = (0 - 1.35) / 0.45, (3 - 1.35) / 0.45
    assert stats.kstest(np.log10(e["sim_tE"]), stats.truncnorm(a, b, 1.35, 0.45).cdf).pvalue > 0.01
    # t0 ~ U(tmin - tE, tmax + tE) of the object's cadence
    tmin = dense_pool.stats["tmin"][e["sim_cadence"]]
    tmax = dense_pool.stats["tmax"][e["sim_cadence"]]
    x = (e["sim_t0"] - (tmin - e["sim_tE"])) / (tmax - tmin + 2 * e["sim_tE"])
    assert stats.kstest(x, "uniform").pvalue > 0.01
    outside = (e["sim_t0"] < tmin) | (e["sim_t0"] > tmax)
    expect = np.mean(2 * e["sim_tE"] / (tmax - tmin + 2 * e["sim_tE"]))
    assert np.mean(outside) == pytest.approx(expect, abs=0.03)
    assert 0 <= e["sim_u0"].min() and e["sim_u0"].max() <= 1


def test_detection_cut_keeps_sparse_and_edge_events(ogle_pool):
    cfg = SimulationConfig(classes=("ML",), seed=8).without_systematics()
    n = 300
    b = simulate_range([("ML", n)], 0, n, ogle_pool, cfg)
    e = b.extra
    n_window, unsampled_peak, outside = [], [], []
    for i in range(n):
        lc = b[i]
        t0, tE = e["sim_t0"][i], e["sim_tE"][i]
        near = np.abs(lc.time - t0) <= cfg.ml_detect_window * tE
        z = (e["sim_m0"][i] - lc.y) / lc.yerr
        hit = near & (z >= cfg.ml_min_z)
        assert quality.longest_run(hit, np.zeros(len(hit), np.int64), 1)[0] >= cfg.ml_n_detect  # consecutive
        n_window.append(np.sum(np.abs(lc.time - t0) <= tE))
        unsampled_peak.append(np.min(np.abs(lc.time - t0)) > 0.25 * tE)
        outside.append(t0 < lc.time.min() or t0 > lc.time.max())
    n_window = np.asarray(n_window)
    # MicroLIA's cut (>= 7 epochs in t0 ± tE) would have rejected these
    assert np.mean(n_window < cfg.ml_n1) > 0.10
    assert np.mean(unsampled_peak) > 0.05 and np.mean(outside) > 0.03


def test_microlia_preset_keeps_the_old_cut(ogle_pool):
    cfg = SimulationConfig.microlia(classes=("ML",), seed=8)
    b = simulate_range([("ML", 60)], 0, 60, ogle_pool, cfg)
    e = b.extra
    assert not cfg.systematics and (e["sim_blend"] <= 1).all()
    for i in range(len(b)):
        lc = b[i]
        assert np.sum(np.abs(lc.time - e["sim_t0"][i]) <= e["sim_tE"][i]) >= cfg.ml_n1


def test_dwarf_nova_outbursts(dense_pool):
    # one outburst: linear rise, plateau, decline at a fixed rate in magnitude (exponential in flux)
    t = np.linspace(0, 20, 2001)
    m = models.cv_magnitudes(t, np.array([0, len(t)]), np.array([18.0]), np.array([3.0]), np.array([0, 1]),
                             np.array([2.0]), np.array([3.0]), np.array([4.0]), np.array([4.0 + 3.0 / 0.75]),
                             per_outburst=True)
    dec = (t > 4.2) & (t < 7.8)
    assert np.allclose(np.diff(m[dec]) / np.diff(t[dec]), 0.75)
    assert m.min() == pytest.approx(15.0) and m[0] == 18.0 and m[-1] == 18.0
    cfg = SimulationConfig(classes=("CV",), seed=2).without_systematics()
    n = 200
    b = simulate_range([("CV", n)], 0, n, dense_pool, cfg)
    e = b.extra
    lo, hi = cfg.cv_recurrence_range
    assert (e["sim_period"] >= lo).all() and (e["sim_period"] <= hi).all()
    assert (e["sim_n_outbursts"] >= 1).all()
    assert np.median(e["sim_n_outbursts"]) >= 3  # recurrent within ~3 years of nightly data
    for i in range(n):
        lc = b[i]
        z = (e["sim_m0"][i] - lc.y) / lc.yerr
        assert np.sum(z >= cfg.cv_min_z) >= cfg.cv_n_detect
    # quiescence dominates: the median stays near the quiescent magnitude
    med = np.array([np.median(b[i].y) for i in range(n)])
    assert np.median(np.abs(med - e["sim_m0"])) < 0.05


def test_superoutbursts_are_longer_and_brighter(dense_pool):
    base = SimulationConfig(classes=("CV",), seed=4, cv_amplitude_range=(3.0, 3.0)).without_systematics()
    su = simulate_range([("CV", 80)], 0, 80, dense_pool, base.replace(cv_su_fraction=1.0))
    normal = simulate_range([("CV", 80)], 0, 80, dense_pool, base.replace(cv_su_fraction=0.0))

    def bright_epochs(b):
        return np.array([np.sum(b[i].y < b.extra["sim_m0"][i] - 2.0) for i in range(len(b))])

    def peak(b):
        return np.array([b.extra["sim_m0"][i] - b[i].y.min() for i in range(len(b))])

    assert np.median(peak(su)) > np.median(peak(normal)) + 0.4
    assert np.mean(bright_epochs(su)) > 1.5 * np.mean(bright_epochs(normal))


def test_constant_star_systematics(dense_pool):
    cfg = SimulationConfig(classes=("CONSTANT",), seed=6, min_mag=16.5, max_mag=18.5, noise_zeropoint=22,
                           exptime=30)  # the OGLE-II recipe: sigma ~ 0.015-0.04 mag
    b = simulate_range([("CONSTANT", 60)], 0, 60, dense_pool, cfg)
    clean = simulate_range([("CONSTANT", 60)], 0, 60, dense_pool, cfg.without_systematics())
    ratio, n_out = [], 0
    for i in range(len(b)):
        lc, c = b[i], clean[i]
        np.testing.assert_array_equal(lc.time, c.time)
        r = lc.y - c.y  # the systematics alone (same noise draws)
        err_ratio = np.median(c.yerr / lc.yerr)  # gamma: reported error = true / gamma
        assert 1.0 <= err_ratio <= 2.0 + 1e-9
        ratio.append(np.std(lc.y) / np.median(lc.yerr))
        n_out += np.sum(np.abs(r) >= 3 * c.yerr)
    ratio = np.asarray(ratio)
    # reported errors underestimate the scatter, as in real OGLE photometry (shared samples: 1.3-2.0)
    assert 1.2 < np.median(ratio) < 2.2
    rate = n_out / sum(len(b[i].y) for i in range(len(b)))
    assert 0.002 < rate < 0.01  # outliers at the documented mean rate 0.005 (plus rare >3σ red noise)
    assert not cfg.without_systematics().systematics and cfg.systematics


def test_zeropoints_are_separate_settings(dense_pool):
    cfg = SimulationConfig(classes=("CONSTANT",), seed=1, noise_zeropoint=25.0, archive_zeropoint=22.0)
    b = simulate_range([("CONSTANT", 3)], 0, 3, dense_pool, cfg)
    assert b.zeropoint == 22.0 and cfg.noise_model.zeropoint == 25.0
    assert SimulationConfig(noise_zeropoint=23.0).output_zeropoint == 23.0


@pytest.mark.parametrize("changes, match", [
    ({"ml_cut": "dense"}, "ml_cut must be one of"),
    ({"fs_range": (0.0, 1.0)}, "fs_range"),
    ({"error_scale_range": (0.5, 1.0)}, "error_scale_range"),
    ({"cv_model": "x"}, "cv_model"),
    ({"outlier_rate": -1}, "outlier_rate"),
])
def test_bad_realism_settings(changes, match):
    with pytest.raises(InputError, match=match):
        SimulationConfig(**changes)


def test_cli_counts_per_class_and_zero_points(ogle_dir, tmp_path, capsys):
    import json

    from lia_dask.archive import open_archive
    from lia_dask.cli import main

    out = tmp_path / "s"
    rc = main(["simulate", "--cadence", str(ogle_dir), "--n-per-class", "ML=3", "CONSTANT=5", "--noise-zp", "22",
               "--exptime", "30", "--archive-zp", "21.5", "--ml-n-detect", "4", "--out", str(out)])
    assert rc == 0
    meta = json.loads((out / "_simulation.json").read_text())
    assert meta["counts"]["per_class"] == {"ML": 3, "CONSTANT": 5}
    assert open_archive(out).zeropoint == 21.5
    assert main(["simulate", "--cadence", str(ogle_dir), "--n-per-class", "ML=x", "--out", str(tmp_path / "t")]) == 2
    assert "--n-per-class takes a number or CLASS=N items" in capsys.readouterr().err
