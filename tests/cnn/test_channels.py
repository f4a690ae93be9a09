"""Colour-residual input channels (lia_dask.cnn.channels) and the input representation they make."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.cnn.channels import (band_indices, channel_names, colour_residuals, core_mask, gaussian_blur,
                                   psf_match_sigmas, residual_pairs, with_residuals)
from lia_dask.cnn.data import Normalization, fit_normalization
from lia_dask.errors import InputError


def _galaxy(size=32, reff=3.0):
    """A round de Vaucouleurs-like profile (peak 1) centred in a size x size image."""
    r = np.hypot(*(np.mgrid[:size, :size] - (size - 1) / 2.0))
    g = np.exp(-7.67 * ((r + 0.5) / reff) ** 0.25)
    return g / g.max()


def _arc(size=32, radius=6.0, width=1.0, angle=(0.3, 2.2)):
    """A thin circular arc at ``radius`` pixels spanning ``angle`` (radians)."""
    yy, xx = np.mgrid[:size, :size] - (size - 1) / 2.0
    r, phi = np.hypot(yy, xx), np.arctan2(yy, xx)
    return np.exp(-0.5 * ((r - radius) / width) ** 2) * ((phi > angle[0]) & (phi < angle[1]))


def _scene(colour_lens=(0.2, 0.5, 1.0), colour_arc=(1.0, 0.8, 0.6), arc_amp=0.0, noise=0.0, seed=0):
    rng = np.random.default_rng(seed)
    g, a = _galaxy(), _arc()
    img = 500.0 * g[..., None] * np.asarray(colour_lens) + arc_amp * a[..., None] * np.asarray(colour_arc)
    return (img + rng.normal(0.0, noise, img.shape))[None].astype(np.float32)


def test_lens_free_elliptical_leaves_a_residual_near_zero():
    x = _scene()  # red elliptical of uniform colour, no noise
    res = colour_residuals(x, residual_pairs(["g", "r", "i"]))
    assert res.shape == (1, 32, 32, 2)
    assert np.max(np.abs(res)) < 1e-3 * np.max(x)  # the lens light is gone in g and in r


def test_injected_blue_arc_survives_and_the_lens_does_not():
    x = _scene(arc_amp=40.0)
    res = colour_residuals(x, [(0, 2)])[0, ..., 0]
    arc = _arc() > 0.5
    # the arc's g flux survives less k x its i flux, with k = the lens's g/i = 0.2 measured in the
    # core (where the arc is absent): 1.0 - 0.2 x 0.6 = 88 % of it
    assert res[arc].sum() == pytest.approx(40.0 * (1.0 - 0.2 * 0.6) * _arc()[arc].sum(), rel=0.01)
    # ... while the lens, 12x brighter than the arc in g at the centre, is removed
    centre = core_mask(32, 32, 2.0)
    assert np.abs(res[centre]).max() < 0.05 * x[0, ..., 0][centre].max()
    # a red "arc" with the lens's own colour would vanish with the lens: the channel measures colour
    red = colour_residuals(_scene(arc_amp=40.0, colour_arc=(0.2, 0.5, 1.0)), [(0, 2)])
    assert np.abs(red).max() < 0.02 * np.abs(res).max()


def test_residual_separates_arc_from_noise_at_moderate_snr():
    # arc flux summed over its pixels at S/N ~ 10 against the noise of the same sum
    stat = lambda x: colour_residuals(x, [(0, 2)])[0, ..., 0][_arc() > 0.5].sum()  # noqa: E731
    plain = np.array([stat(_scene(noise=3.0, seed=s)) for s in range(30)])
    lensed = np.array([stat(_scene(arc_amp=10.0, noise=3.0, seed=s)) for s in range(30)])
    assert abs(plain.mean()) < 3 * plain.std()  # no lens light left: the plain galaxy's sum is noise
    assert lensed.min() > plain.max()


def test_gaussian_blur_keeps_flux_and_has_the_width_asked():
    x = np.zeros((2, 41, 41), np.float32)
    x[:, 20, 20] = 1.0
    b = gaussian_blur(x, 1.5)
    rr, cc = np.mgrid[:41, :41] - 20.0
    assert b.sum(axis=(1, 2)) == pytest.approx([1.0, 1.0], rel=1e-5)
    assert float((b[0] * rr**2).sum()) == pytest.approx(1.5**2, rel=0.01)  # variance per axis = sigma^2
    assert np.array_equal(gaussian_blur(x, 0.0), x)


def test_psf_match_sigmas_from_band_seeing():
    # g (0.87") against i (0.80") at 0.2" pixels: sqrt(0.87^2 - 0.80^2) / 2.3548 / 0.2 = 0.726 px
    s = psf_match_sigmas(["g", "r", "i"], [(0, 2), (1, 2)], 0.2)
    assert s == pytest.approx([0.7260, 0.4695], abs=1e-3)
    assert psf_match_sigmas(["g", "i"], [(0, 1)], 0.4)[0] == pytest.approx(0.363, abs=1e-3)  # coarser pixels
    assert psf_match_sigmas(["band0", "band1"], [(0, 1)]) == [0.0]  # unknown seeing: no blur
    assert psf_match_sigmas(["y", "i"], [(0, 1)]) == [0.0]  # the reference is the broader band
    assert psf_match_sigmas(["G", "I"], [(0, 1)], fwhm={"g": 1.0, "i": 0.6})[0] == pytest.approx(0.8 / 2.3548 / 0.2)


def test_psf_matching_removes_the_ring_of_a_plain_elliptical():
    # an elliptical of one colour seen through a broader PSF in g than in i (Gaussians, pixels)
    sg, si = 2.0, 1.6
    gal = _galaxy(48, 4.0)
    g, i = gaussian_blur(0.25 * gal[None] * 500, sg)[0], gaussian_blur(gal[None] * 500, si)[0]
    x = np.stack([g, i], axis=-1)[None]
    plain = colour_residuals(x, [(0, 1)])[0, ..., 0]
    matched = colour_residuals(x, [(0, 1)], match_sigma=[np.sqrt(sg**2 - si**2)])[0, ..., 0]
    r = np.hypot(*(np.mgrid[:48, :48] - 23.5))
    ring = (r > 2.5) & (r < 8)
    assert plain[ring].sum() > 0.02 * g.sum()  # the mismatch leaves a positive ring ...
    assert abs(matched[ring].sum()) < 0.1 * plain[ring].sum()  # ... which the matched PSF removes
    assert np.abs(matched).max() < 0.1 * np.abs(plain).max()
    with pytest.raises(InputError, match="one non-negative sigma"):
        colour_residuals(x, [(0, 1)], match_sigma=[0.5, 0.5])


def test_pairs_names_and_bad_input():
    assert residual_pairs(["i", "g", "r"]) == [(1, 0), (2, 0)]  # the reddest band by name
    assert residual_pairs(["b0", "b1"]) == [(0, 1)]  # unknown names: the last channel
    assert channel_names(["g", "r", "i"], [(0, 2), (1, 2)]) == ["g", "r", "i", "g-k*i", "r-k*i"]
    with pytest.raises(InputError, match="two different channels"):
        colour_residuals(np.zeros((1, 8, 8, 2)), [(0, 2)])
    with pytest.raises(InputError, match="at least two bands"):
        residual_pairs(["i"])
    with pytest.raises(InputError, match=r"lacks band\(s\) \['z'\]"):
        band_indices(["g", "r", "i"], ["g", "z"], "cutout store s.zarr")
    assert band_indices(["g", "r", "i"], ["i", "g"], "x") == [2, 0]
    # NaN pixels stay NaN, the rest is computed; no core flux in the reference gives k = 0
    x = _scene()
    x[0, 0, 0, :] = np.nan
    out = with_residuals(x, [(0, 2)])
    assert out.shape[-1] == 4 and np.isnan(out[0, 0, 0, 3]) and np.isfinite(out[0, 1:, 1:, 3]).all()
    z = np.zeros((1, 8, 8, 2), np.float32)
    z[..., 0] = 1.0
    assert np.allclose(colour_residuals(z, [(0, 1)]), 1.0)


def test_normalization_with_residuals_fits_and_round_trips():
    from lia_dask.cnn.data import ArraySource

    x = np.concatenate([_scene(arc_amp=a, noise=2.0, seed=s) for s, a in enumerate([0, 30] * 8)])
    norm = fit_normalization(ArraySource(x, chunk=4), residual_pairs=[[0, 2], [1, 2]], stretch="asinh")
    assert norm.n_bands == 3 and len(norm.min_pixel) == 5
    out = norm(x)
    assert out.shape == (16, 32, 32, 5) and out.min() >= 0 and out.max() <= 1
    again = Normalization(**norm.to_dict())
    assert np.array_equal(again(x), out)
    matched = fit_normalization(ArraySource(x, chunk=4), residual_pairs=[[0, 2], [1, 2]], match_sigma=[0.7, 0.5])
    assert Normalization(**matched.to_dict()).match_sigma == [0.7, 0.5]
    assert not np.array_equal(matched(x)[..., 3:], Normalization(**{**matched.to_dict(), "match_sigma": None})(x)[..., 3:])
    old = {k: v for k, v in norm.to_dict().items() if k != "match_sigma"}  # an artifact from before: no matching
    assert Normalization(**old).match_sigma is None
    with pytest.raises(InputError, match="one non-negative sigma per colour residual pair"):
        Normalization(**{**norm.to_dict(), "match_sigma": [0.5]})
    with pytest.raises(InputError, match="expects 3"):
        norm(x[..., :2])


def test_model_trains_and_predicts_with_residual_channels_and_checks_bands(tmp_path, tiny):
    pytest.importorskip("tensorflow")
    import json

    from lia_dask.archive import open_cutouts, write_cutouts
    from lia_dask.cnn import CNNClassifier, CNNConfig, LensSimConfig, simulate_lens_store
    from lia_dask.predict.cutouts import predict_cutouts

    store = simulate_lens_store(tmp_path / "s.zarr", 32, LensSimConfig(image_size=20), seed=5, chunk=16)
    clf = CNNClassifier(CNNConfig(epochs=1, image_size=16, colour_residuals=True, stretch="asinh", **tiny)).fit(store)
    assert clf.input_shape_ == (16, 16, 5) and clf.model_.input_shape[-1] == 5
    p = clf.predict_positive(store)
    assert p.shape == (32,) and np.isfinite(p).all()
    clf.save(tmp_path / "m")
    rep = json.loads((tmp_path / "m" / "manifest.json").read_text())["settings"]["input"]
    assert rep["channels"] == ["g", "r", "i", "g-k*i", "r-k*i"] and rep["stretch"] == "asinh"
    assert rep["psf_match_sigma_pixels"] == pytest.approx(psf_match_sigmas(["g", "r", "i"], [(0, 2), (1, 2)],
                                                                           store.pixel_scale))
    loaded = CNNClassifier.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict_positive(store), p)
    # bands are matched by name: the same cutouts stored as i, r, g give the same scores
    x = np.asarray(open_cutouts(store.path).zarr_images[:])
    ids = np.asarray(store.object_id)
    swapped = write_cutouts(tmp_path / "irg.zarr", x[..., ::-1], ids, bands=["i", "r", "g"], chunk=16)
    np.testing.assert_allclose(loaded.predict_positive(swapped), p, atol=1e-6)
    # a store without the i band is refused, naming the band, by both prediction paths
    noi = write_cutouts(tmp_path / "grz.zarr", x, ids, bands=["g", "r", "z"], chunk=16)
    with pytest.raises(InputError, match=r"lacks band\(s\) \['i'\]"):
        loaded.predict_positive(noi)
    with pytest.raises(InputError, match=r"lacks band\(s\) \['i'\]"):
        predict_cutouts(noi, tmp_path / "m", tmp_path / "out")
