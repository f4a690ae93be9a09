"""The lens-cutout and flux-series simulators (no TensorFlow needed)."""
from __future__ import annotations

import numpy as np

from lia_dask.archive import open_cutouts
from lia_dask.cnn.simulate_lenses import LensSimConfig, simulate_lens_store, simulate_lenses, sie_deflection
from lia_dask.cnn.simulate_series import SeriesSimConfig, simulate_series, transit_model


def test_lens_cutouts_shapes_labels_and_seed():
    cfg = LensSimConfig(image_size=24)
    im, lab, truth = simulate_lenses(40, cfg, seed=2)
    assert im.shape == (40, 24, 24, 3) and im.dtype == np.float32 and np.isfinite(im).all()
    assert set(lab) == {"LENS", "NONLENS"} and len(truth) == 40
    lens = truth.is_lens.to_numpy()
    assert np.array_equal(lens, lab == "LENS")
    assert truth.magnification[lens].median() > 2 and truth.theta_e[lens].between(0.8, 2.0).all()
    assert truth.theta_e[~lens].isna().all()
    np.testing.assert_array_equal(im, simulate_lenses(40, cfg, seed=2)[0])
    one = simulate_lenses(5, LensSimConfig(image_size=16, bands=("i",)), seed=0)[0]
    assert one.shape == (5, 16, 16, 1)


def test_lensed_source_is_blue_and_off_centre():
    cfg = LensSimConfig(image_size=32, max_companions=0, sky_sigma=0.01, lens_fraction=0.5)
    im, lab, _ = simulate_lenses(30, cfg, seed=4)
    g_over_i = im[..., 0].sum(axis=(1, 2)) / im[..., 2].sum(axis=(1, 2))
    assert g_over_i[lab == "LENS"].mean() > g_over_i[lab == "NONLENS"].mean() + 0.1


def test_sie_deflection_is_isothermal_for_round_lens():
    x = np.array([1.0, 0.0, -2.0, 3.0])
    y = np.array([0.0, 2.0, 0.0, 4.0])
    ax, ay = sie_deflection(x, y, theta_e=1.3, q=0.999, phi=0.3)
    np.testing.assert_allclose(np.hypot(ax, ay), 1.3, rtol=2e-3)


def test_store_equals_in_memory(tmp_path):
    cfg = LensSimConfig(image_size=16)
    st = simulate_lens_store(tmp_path / "s", 20, cfg, seed=9, chunk=8)
    st = open_cutouts(tmp_path / "s")
    assert st.chunk == 8 and st.bands == ["g", "r", "i"] and st.pixel_scale == 0.2
    im, lab, _ = simulate_lenses(20, cfg, seed=9)
    np.testing.assert_array_equal(np.asarray(st.images), im)
    np.testing.assert_array_equal(st.label.astype(str), lab)


def test_series_have_transits_where_labelled():
    flux, lab, truth = simulate_series(30, SeriesSimConfig(length=256), seed=1)
    assert flux.shape == (30, 256) and set(lab) <= {"TRANSIT", "NONTRANSIT"}
    for f, t in zip(flux, truth.itertuples()):
        if t.is_transit:
            model = transit_model(256, t.period, t.phase, t.duration, t.depth)
            assert f[model < 1 - t.depth / 2].mean() < f[model == 1].mean() - t.depth / 3
    m = transit_model(100, 50, 10, 8, 0.01)
    assert m.min() == 0.99 and m[10] == 0.99 and m[60] == 0.99 and m[35] == 1.0


def test_cnn_package_imports_without_tensorflow_and_names_the_extra(monkeypatch):
    import subprocess
    import sys

    code = "import sys, lia_dask, lia_dask.cnn, lia_dask.cnn.augment; print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    import pytest

    from lia_dask.cnn._tf import tf
    from lia_dask.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "tensorflow", None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=r"lia-dask\[cnn\]"):
        tf()
