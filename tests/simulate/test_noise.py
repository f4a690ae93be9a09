"""Noise models: the constant class scatters as the noise model says."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.batch import LightcurveBatch
from lia_dask.errors import InputError
from lia_dask.simulate import NoiseModel, SimulationConfig, simulate_range
from lia_dask.simulate.noise import lightcurve_scatter


def test_fit_recovers_cubic_and_clips_outside_range():
    m = np.linspace(13, 20, 40)
    coeffs = np.polynomial.polynomial.polyfromroots([15.0, 15.0, 5.0])[::-1] * 1e-3  # ~(m-15)^2 (m-5)
    coeffs[-1] += 0.02
    s = np.polyval(coeffs, m)
    assert s.min() > 0
    model = NoiseModel.fit(m, s)
    np.testing.assert_allclose(model.sigma(m), s, rtol=1e-8)
    assert model.sigma(np.array([10.0]))[0] == pytest.approx(model.sigma(np.array([13.0]))[0])
    ext = NoiseModel.fit(m, s, extrapolate=True)
    assert ext.sigma(np.array([21.0]))[0] == pytest.approx(np.polyval(coeffs, 21.0), rel=1e-6)


def test_fit_from_real_lightcurves(ogle_dir):
    from lia_dask.archive import read_text_lightcurve

    files = sorted(ogle_dir.glob("*.dat"))
    lcs = [read_text_lightcurve(f) for f in files]
    batch = LightcurveBatch.from_lightcurves([f.stem for f in files], [x[0] for x in lcs], [x[1] for x in lcs],
                                             [x[2] for x in lcs])
    med, rms = lightcurve_scatter(batch)
    model = NoiseModel.from_batch(batch)
    assert model.mag_range == (med.min(), med.max())
    # a least-squares cubic: residuals orthogonal to the basis
    resid = rms[np.argsort(med)] - model.sigma(np.sort(med))
    assert abs(np.sum(resid)) < 1e-8
    assert np.all(model.sigma(med) > 0)


@pytest.mark.parametrize("kind", ["empirical", "photon"])
def test_constant_scatter_matches_noise_model(dense_pool, kind):
    if kind == "empirical":
        noise = NoiseModel.fit(np.linspace(14, 20, 10), 0.01 + 0.02 * (np.linspace(14, 20, 10) - 14))
        cfg = SimulationConfig(classes=("CONSTANT",), seed=4, noise=noise, min_mag=14, max_mag=20).without_systematics()
    else:
        cfg = SimulationConfig(classes=("CONSTANT",), seed=4, noise_zeropoint=22, exptime=30, min_mag=14,
                               max_mag=20).without_systematics()
    b = simulate_range([("CONSTANT", 40)], 0, 40, dense_pool, cfg)
    m0 = b.extra["sim_m0"]
    nm = cfg.noise_model
    for i in range(len(b)):
        lc = b[i]
        if kind == "empirical":
            expect = nm.sigma(np.array([m0[i]]))[0]
        else:
            expect = 2.5 / np.log(10) / np.sqrt(nm.expected_counts(np.array([m0[i]]))[0])
        # ~1100 epochs: the sample std is within ~10 % of sigma
        assert np.std(lc.y) == pytest.approx(expect, rel=0.12)
        assert np.median(lc.yerr) == pytest.approx(expect, rel=0.05)
        assert abs(np.median(lc.y) - m0[i]) < 4 * expect / np.sqrt(len(lc.y)) + 1e-3


def test_flux_output_is_consistent_with_magnitudes(dense_pool):
    cfg = SimulationConfig(classes=("CONSTANT", "ML"), seed=9, noise_zeropoint=25)
    bm = simulate_range([("CONSTANT", 5), ("ML", 5)], 0, 10, dense_pool, cfg)
    bf = simulate_range([("CONSTANT", 5), ("ML", 5)], 0, 10, dense_pool, cfg.replace(photometry="flux"))
    assert bf.photometry == "flux" and bf.zeropoint == pytest.approx(31.4)
    np.testing.assert_allclose(31.4 - 2.5 * np.log10(bf.y), bm.y, atol=1e-9)
    np.testing.assert_allclose(bf.yerr / bf.y * 2.5 / np.log(10), bm.yerr, rtol=1e-6)


def test_bad_noise_settings():
    with pytest.raises(InputError, match="at least 4"):
        NoiseModel.fit(np.array([15.0, 16.0]), np.array([0.01, 0.02]))
    with pytest.raises(InputError, match="exptime"):
        NoiseModel.photon(24, 0)
