"""The 8 orientations of a square cutout: dihedral views, rot90 augmentation (NumPy and TF), averaging."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.cnn.augment import AugmentConfig, dihedral_views, random_transform
from lia_dask.errors import InputError


def _asymmetric(size: int = 7, bands: int = 2) -> np.ndarray:
    """(size, size, bands) image with no rotation or mirror symmetry (distinct pixel values)."""
    return np.arange(size * size * bands, dtype=np.float32).reshape(size, size, bands) ** 1.5


def _key(a: np.ndarray) -> bytes:
    return np.ascontiguousarray(a, np.float32).tobytes()


def _group(img: np.ndarray) -> set:
    """The 8 images of the square's symmetry group, built independently of dihedral_views."""
    out = set()
    for m in (img, img.swapaxes(0, 1)):  # a transpose is a reflection; with the 4 rotations, all 8
        for k in range(4):
            out.add(_key(np.rot90(m, k)))
    return out


def test_the_8_views_are_distinct_and_are_the_symmetry_group():
    img = _asymmetric()
    v = dihedral_views(img[None])
    assert v.shape == (8, 1, 7, 7, 2) and v.dtype == np.float32
    np.testing.assert_array_equal(v[0, 0], img)
    keys = [_key(a[0]) for a in v]
    assert len(set(keys)) == 8
    assert set(keys) == _group(img)
    # closed: the views of any view are the same 8 images (the group acting on itself)
    for a in v:
        assert {_key(b[0]) for b in dihedral_views(a)} == set(keys)


def test_views_refuse_non_square_images():
    with pytest.raises(InputError, match="square"):
        dihedral_views(np.zeros((2, 6, 7, 1), np.float32))


def test_numpy_rot90_augmentation_draws_all_four_rotations():
    img = _asymmetric()
    rng = np.random.default_rng(0)
    cfg = AugmentConfig(rot90=True)
    rots = {_key(np.rot90(img, k)): k for k in range(4)}
    seen = [rots.get(_key(random_transform(img, cfg, rng))) for _ in range(80)]
    assert None not in seen and set(seen) == {0, 1, 2, 3}
    with pytest.raises(InputError, match="square"):
        random_transform(np.zeros((6, 7, 1), np.float32), cfg, rng)


def test_tf_rot90_with_flips_draws_all_8_orientations_seeded():
    pytest.importorskip("tensorflow")
    import tensorflow as tf

    from lia_dask.cnn.augment_tf import augment_batch

    img = _asymmetric()
    x = tf.constant(np.repeat(img[None], 96, axis=0))
    seed = tf.constant([5, 1], tf.int64)
    rot_only = augment_batch(x, seed, AugmentConfig(rot90=True)).numpy()
    rots = {_key(np.rot90(img, k)): k for k in range(4)}
    k = [rots.get(_key(a)) for a in rot_only]
    assert None not in k and set(k) == {0, 1, 2, 3}  # np.rot90's sense, every k drawn
    cfg = AugmentConfig(rot90=True, horizontal_flip=True, vertical_flip=True)
    out = augment_batch(x, seed, cfg).numpy()
    keys = [_key(a) for a in out]
    assert set(keys) == _group(img)  # all 8 orientations, nothing else
    np.testing.assert_array_equal(out, augment_batch(x, seed, cfg).numpy())
    assert not np.array_equal(out, augment_batch(x, tf.constant([6, 1], tf.int64), cfg).numpy())
    # the flips' draws are those of a configuration without rot90 (same seeds as before rot90 existed)
    flips = AugmentConfig(horizontal_flip=True, vertical_flip=True)
    f_old = augment_batch(x, seed, flips).numpy()
    undo = [np.rot90(a, -kk) for a, kk in zip(out, k)]
    np.testing.assert_array_equal(np.stack(undo), f_old)


def test_orientation_averaged_prediction_is_invariant_to_rotating_the_input(tiny_lens_model):
    from lia_dask.cnn.train import predict_block

    store, _, clf = tiny_lens_model
    raw = store.images[:12].compute().astype(np.float32)
    S = clf.input_shape_[0]

    def p(x, avg):
        return predict_block(clf.model_, x, clf.norm_, S, average_orientations=avg)

    base = p(raw, True)
    assert base.shape == (12,) and np.all((base >= 0) & (base <= 1))
    for turned in (np.rot90(raw, 1, axes=(1, 2)), np.rot90(raw, 2, axes=(1, 2)), raw[:, :, ::-1], raw[:, ::-1]):
        np.testing.assert_allclose(p(np.ascontiguousarray(turned), True), base, atol=2e-6)
    # the average is the mean of the 8 single-orientation predictions
    views = dihedral_views(raw)
    np.testing.assert_allclose(np.mean([p(v, False) for v in views], axis=0), base, atol=2e-6)
    assert len(p(raw[:0], True)) == 0
