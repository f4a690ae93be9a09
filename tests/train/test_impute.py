"""KNN imputer: equals scikit-learn's KNNImputer on unscaled data, keeps the caller's array, portable state."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.impute import KNNImputer as SkKNN

from lia_dask.errors import InputError
from lia_dask.train.impute import KNNImputer, clean_features, nan_euclidean


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(200, 6)) * [1, 10, 100, 1, 1, 1]
    X[rng.random(X.shape) < 0.1] = np.nan
    return X


def test_matches_sklearn_unscaled():
    X = _data()
    ours = KNNImputer(n_neighbors=3, scale=False).fit_transform(X)
    ref = SkKNN(n_neighbors=3).fit_transform(X)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    assert not np.isnan(ours).any()


def test_nan_euclidean_matches_sklearn():
    from sklearn.metrics.pairwise import nan_euclidean_distances

    X = _data(1)
    np.testing.assert_allclose(nan_euclidean(X[:20], X), nan_euclidean_distances(X[:20], X), rtol=1e-9, atol=1e-4)


def test_mostly_nan_column_filled_and_input_untouched():
    X = _data(2)
    X[:150, 2] = np.nan
    before = X.copy()
    with pytest.warns(UserWarning, match="more than 50% NaN"):
        imp = KNNImputer().fit(X)
    out = imp.transform(X)
    np.testing.assert_array_equal(np.isnan(X), np.isnan(before))  # caller's array unchanged
    assert np.all(out[:, 2] == 0.0)
    assert imp.constant_.tolist() == [False, False, True, False, False, False]


def test_scaled_distances_impute_from_informative_neighbours():
    # column 0 decides the neighbours; column 1 is huge noise that dominates unscaled distances
    rng = np.random.default_rng(3)
    a = np.repeat([0.0, 1.0], 100)
    X = np.column_stack([a + rng.normal(0, 0.01, 200), rng.normal(0, 1e6, 200), a * 10])
    X[::10, 2] = np.nan
    scaled = KNNImputer(scale=True).fit_transform(X)
    raw = KNNImputer(scale=False).fit_transform(X)
    err_scaled = np.abs(scaled[::10, 2] - a[::10] * 10).mean()
    err_raw = np.abs(raw[::10, 2] - a[::10] * 10).mean()
    assert err_scaled < 0.5 < err_raw


def test_state_roundtrip_and_width_check():
    X = _data(4)
    imp = KNNImputer().fit(X)
    again = KNNImputer.from_state(imp.state())
    np.testing.assert_array_equal(again.transform(X[:30]), imp.transform(X[:30]))
    with pytest.raises(InputError, match="fitted on 6 features"):
        imp.transform(X[:, :5])


def test_clean_features_clips_like_microlia():
    X = np.array([[np.inf, 1e12, -1e12, 1e-12, -1e-12, 0.0]])
    out = clean_features(X)
    assert np.isnan(out[0, 0])
    assert out[0, 1:].tolist() == [1e10, -1e10, 1e-10, -1e-12, 0.0]
