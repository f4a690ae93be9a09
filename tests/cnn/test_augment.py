"""Geometry of every augmentation on known images (pure NumPy; no TensorFlow needed)."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.cnn.augment import (AugmentConfig, affine, augment_images, blend, blend_set, center_crop,
                                  circular_masks, disk, flip, random_transform)
from lia_dask.errors import InputError


@pytest.fixture
def img():
    rng = np.random.default_rng(3)
    return rng.normal(size=(16, 20, 3)).astype(np.float32)


def test_flips(img):
    np.testing.assert_array_equal(flip(img, horizontal=True), img[:, ::-1])
    np.testing.assert_array_equal(flip(img, vertical=True), img[::-1])
    np.testing.assert_array_equal(flip(img, True, True), img[::-1, ::-1])


@pytest.mark.parametrize("k", [1, 3])
def test_k_pixel_shift_in_each_fill_mode(img, k):
    wrap = affine(img, (0, k), fill_mode="wrap")
    np.testing.assert_allclose(wrap, np.roll(img, k, axis=1), atol=1e-6)
    down = affine(img, (k, 0), fill_mode="wrap")
    np.testing.assert_allclose(down, np.roll(img, k, axis=0), atol=1e-6)
    const = affine(img, (0, k), fill_mode="constant", fill_value=-7.0)
    np.testing.assert_allclose(const[:, k:], img[:, :-k], atol=1e-6)
    assert np.all(const[:, :k] == -7.0)
    near = affine(img, (0, k), fill_mode="nearest")
    np.testing.assert_allclose(near[:, :k], np.repeat(img[:, :1], k, axis=1), atol=1e-6)
    refl = affine(img, (0, k), fill_mode="reflect")
    np.testing.assert_allclose(refl[:, :k], img[:, :k][:, ::-1], atol=1e-6)  # abcd -> (b a)|abcd for k=2


def test_rotation_by_90_degrees_is_rot90():
    a = np.arange(15 * 15 * 2, dtype=np.float32).reshape(15, 15, 2)
    r = affine(a, rotation=90.0)
    np.testing.assert_allclose(r, np.rot90(a, k=1, axes=(0, 1)), atol=1e-3)
    np.testing.assert_allclose(affine(a, rotation=360.0), a, atol=1e-3)


def test_zoom_magnifies_about_the_centre():
    cols = np.tile(np.arange(21, dtype=np.float32), (21, 1))[..., None]
    z = affine(cols, zoom=2.0)
    # output column c shows input column 10 + (c - 10) / 2
    np.testing.assert_allclose(z[:, 4:17], 10 + (cols[:, 4:17] - 10) / 2, atol=1e-5)


def test_skew_shears_a_vertical_line():
    a = np.zeros((21, 21, 1), np.float32)
    a[:, 10] = 1.0
    s = affine(a, skew=45.0, fill_mode="constant")
    for r in range(3, 18):
        assert np.argmax(s[r, :, 0]) == 10 + (r - 10)


def test_circular_mask_zeroes_a_disk_of_the_right_radius():
    a = np.ones((32, 32, 3), np.float32)
    m = circular_masks(a, [(12.0, 17.0)], radius=5.0)
    zero = m[..., 0] == 0
    rr, cc = np.nonzero(zero)
    assert np.all((rr - 12) ** 2 + (cc - 17) ** 2 <= 25) and zero.sum() == disk((32, 32), (12, 17), 5).sum()
    assert zero.sum() == 81  # lattice points of a radius-5 disk
    assert np.array_equal(m[..., 0], m[..., 2])  # same mask in every band


def test_random_masks_same_in_every_band_and_disk_shaped():
    a = np.ones((64, 64, 2), np.float32)
    cfg = AugmentConfig(mask_size=10, num_masks=1, seed=0)
    m = random_transform(a, cfg, np.random.default_rng(5))
    zero = m[..., 0] == 0
    assert np.array_equal(zero, m[..., 1] == 0) and zero.any()
    rr, cc = np.nonzero(zero)
    ctr = (rr.mean(), cc.mean())
    if 6 < ctr[0] < 57 and 6 < ctr[1] < 57:  # disk fully inside: radius 5 exactly
        assert np.max(np.hypot(rr - ctr[0], cc - ctr[1])) <= 5.0 + 0.5
        assert abs(zero.sum() - np.pi * 25) < 12


def test_blending_of_two_constant_images():
    ones, threes = np.ones((1, 8, 8, 2), np.float32), np.full((1, 8, 8, 2), 3.0, np.float32)
    pair = np.concatenate([ones, threes])
    assert np.all(blend(pair, "mean") == 2.0) and np.all(blend(pair, "max") == 3.0) and np.all(blend(pair, "min") == 1.0)
    cfg = AugmentConfig(num_images_to_blend=2, blend_multiplier=2.0, blending_func="mean")
    out = blend_set(pair, cfg, np.random.default_rng(0))
    assert out.shape == (4, 8, 8, 2) and np.all(out == 2.0)
    rnd = blend_set(pair, AugmentConfig(num_images_to_blend=2, blend_multiplier=5.0, blending_func="random"),
                    np.random.default_rng(1))
    assert set(np.unique(rnd)) <= {1.0, 2.0, 3.0} and len(np.unique(rnd)) > 1


def test_center_crop_and_errors():
    a = np.arange(10 * 10, dtype=np.float32).reshape(10, 10, 1)
    np.testing.assert_array_equal(center_crop(a, 6), a[2:8, 2:8])
    with pytest.raises(InputError, match="image_size 12"):
        center_crop(a, 12)
    with pytest.raises(InputError, match="fill_mode"):
        AugmentConfig(fill_mode="mirror")


def test_offline_augmentation_shapes_and_seeding(img):
    stack = np.stack([img, img * 2, img * 3])
    cfg = AugmentConfig(batch=4, width_shift=2, height_shift=2, horizontal_flip=True, vertical_flip=True,
                        rotation=30, zoom_range=(0.9, 1.1), skew=5, image_size=12, mask_size=4, num_masks=1,
                        num_images_to_blend=2, blend_multiplier=0.5, blending_func="random", seed=7)
    out = augment_images(stack, cfg)
    assert out.shape == (3 * 4 + 6, 12, 12, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out, augment_images(stack, cfg))
    assert not np.array_equal(out, augment_images(stack, cfg, seed=8))
    flips = augment_images(stack[:1], AugmentConfig(batch=40, horizontal_flip=True, seed=1))
    kinds = {0 if np.array_equal(f, img) else 1 if np.array_equal(f, img[:, ::-1]) else 2 for f in flips}
    assert kinds == {0, 1}  # every copy is the image or its mirror, both occur
