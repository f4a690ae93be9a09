"""KNN imputer: equals scikit-learn's KNNImputer on unscaled data, keeps the caller's array, portable state."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn.impute import KNNImputer as SkKNN

from lia_dask.errors import InputError
from lia_dask.train.impute import KNNImputer, clean_features, draw_reference, nan_euclidean


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


# -- impute14: the pattern-grouped transform equals the three-product algorithm ---------------------
def _old_transform(imp, X):
    """The algorithm before impute14 (distances to every reference row, three products), as a reference."""
    X = clean_features(X)
    X[:, imp.constant_] = imp.fill_value
    missing = np.isnan(X)
    rows = np.flatnonzero(missing.any(axis=1))
    F = imp.fit_X_.copy()
    F[:, imp.constant_] = imp.fill_value
    Fs, fmask = (F - imp.center_) / imp.scale_, ~np.isnan(F)
    D = nan_euclidean((X[rows] - imp.center_) / imp.scale_, Fs)
    for j in np.flatnonzero(missing[rows].any(axis=0)):
        need, donors = np.flatnonzero(missing[rows, j]), np.flatnonzero(fmask[:, j])
        if donors.size == 0:
            X[rows[need], j] = imp.fill_[j]
            continue
        d = D[np.ix_(need, donors)]
        kk = min(imp.n_neighbors, donors.size)
        idx = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        dd, vals = np.take_along_axis(d, idx, axis=1), F[donors[idx], j]
        ok = np.isfinite(dd)
        with np.errstate(invalid="ignore", divide="ignore"):
            est = np.where(ok, vals, 0.0).sum(axis=1) / ok.sum(axis=1)
        X[rows[need], j] = np.where(ok.sum(axis=1) > 0, est, imp.fill_[j])
    return X


def _hostile(seed, n=300, d=9):
    """Several NaN columns per row, donors with NaNs, all-NaN rows, a column > 50 % NaN, exact ties."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * np.geomspace(1, 1e4, d)
    X[rng.random(X.shape) < 0.15] = np.nan
    X[:, 3][rng.random(n) < 0.7] = np.nan  # > 50 % NaN: a constant column
    X[rng.random(n) < 0.3, 5:8] = np.nan  # a pattern with three NaN columns
    X[::37] = np.nan  # all-NaN rows
    X[1::50] = X[0::50][: len(X[1::50])]  # duplicated rows: ties with equal values
    X[::41, 0] = np.inf
    return X


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("scale", [True, False])
def test_transform_equals_three_product_algorithm(seed, scale):
    X = _hostile(seed)
    with pytest.warns(UserWarning, match="more than 50% NaN"):
        imp = KNNImputer(scale=scale, max_reference=None).fit(X)
    Q = _hostile(seed + 10, n=200)
    np.testing.assert_allclose(imp.transform(Q), _old_transform(imp, Q), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(imp.transform(X), _old_transform(imp, X), rtol=1e-10, atol=1e-9)
    small = KNNImputer(scale=scale, max_reference=None, chunk=7)  # blocks inside a pattern group
    with pytest.warns(UserWarning):
        small.fit(X)
    np.testing.assert_array_equal(small.transform(Q), imp.transform(Q))


def test_matches_sklearn_with_donor_nans_and_several_missing_columns():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(400, 7)) * [1, 3, 10, 1, 5, 1, 2]
    X[rng.random(X.shape) < 0.25] = np.nan
    ours = KNNImputer(n_neighbors=4, scale=False, max_reference=None).fit_transform(X)
    np.testing.assert_allclose(ours, SkKNN(n_neighbors=4).fit_transform(X), rtol=1e-10, atol=1e-10)


# -- impute14: a bounded reference set ----------------------------------------------------------------
def test_max_reference_bounds_the_reference_and_is_deterministic():
    X = _data(5)  # 200 rows
    a = KNNImputer(max_reference=50, seed=3).fit(X)
    b = KNNImputer(max_reference=50, seed=3).fit(X)
    c = KNNImputer(max_reference=50, seed=4).fit(X)
    assert a.fit_X_.shape == (50, 6) and a.n_train_ == 200
    np.testing.assert_array_equal(a.fit_X_, b.fit_X_)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    assert not np.array_equal(a.fit_X_, c.fit_X_)
    full = KNNImputer(max_reference=None).fit(X)
    np.testing.assert_array_equal(a.center_, full.center_)  # statistics from every training row
    np.testing.assert_array_equal(a.scale_, full.scale_)
    # the reference rows are training rows, and imputed values come only from them
    rows = {tuple(np.nan_to_num(r, nan=-999)) for r in clean_features(X)}
    assert all(tuple(np.nan_to_num(r, nan=-999)) in rows for r in a.fit_X_)
    assert a.state()["fit_X"].shape == (50, 6)


def test_small_training_set_keeps_todays_result():
    X = _hostile(3, n=120)
    with pytest.warns(UserWarning):
        bounded = KNNImputer(max_reference=120).fit(X)
    with pytest.warns(UserWarning):
        full = KNNImputer(max_reference=None).fit(X)
    np.testing.assert_array_equal(bounded.fit_X_, full.fit_X_)
    np.testing.assert_array_equal(bounded.transform(X), _old_transform(full, X))


def test_stratified_reference_keeps_class_shares():
    rng = np.random.default_rng(6)
    y = np.repeat(["ML", "CONSTANT", "CV"], [30, 900, 70])
    X = rng.normal(size=(len(y), 4))
    idx = draw_reference(len(y), 100, seed=1, y=y)
    assert idx.size == 100 and np.unique(idx).size == 100
    counts = dict(zip(*np.unique(y[idx], return_counts=True)))
    assert counts == {"CONSTANT": 90, "CV": 7, "ML": 3}
    imp = KNNImputer(max_reference=100, seed=1).fit(X, y)
    np.testing.assert_array_equal(imp.fit_X_, X[idx])
    with pytest.raises(InputError, match="labels have 3 rows"):
        KNNImputer().fit(X, y[:3])


def test_state_roundtrip_keeps_max_reference_and_old_state_loads_unbounded():
    X = _data(8)
    imp = KNNImputer(max_reference=60, seed=2).fit(X)
    again = KNNImputer.from_state(imp.state())
    assert (again.max_reference, again.seed, again.n_train_) == (60, 2, 200)
    np.testing.assert_array_equal(again.transform(X), imp.transform(X))
    old = KNNImputer(max_reference=None).fit(X).state()
    old["params"] = old["params"][:4]  # a state written before max_reference
    loaded = KNNImputer.from_state(old)
    assert loaded.max_reference is None and loaded.fit_X_.shape == (200, 6)
    np.testing.assert_allclose(loaded.transform(X), _old_transform(loaded, X), rtol=1e-10, atol=1e-9)


def test_pickled_imputer_ships_without_the_derived_reference():
    import pickle

    X = _data(9)
    imp = KNNImputer().fit(X)
    again = pickle.loads(pickle.dumps(imp))
    assert "_ref" not in again.__dict__ and len(pickle.dumps(imp)) < 3 * X.nbytes
    np.testing.assert_array_equal(again.transform(X), imp.transform(X))


def test_artifact_records_the_bounded_reference(tmp_path):
    from .conftest import make_table

    from lia_dask import artifact
    from lia_dask.train.ensemble import EnsembleClassifier
    from lia_dask.train.impute import MAX_REFERENCE

    df, y = make_table(n=MAX_REFERENCE + 300, d=5, seed=4)
    clf = EnsembleClassifier(model="rf", random_state=0, cv=2).fit(df, y)
    clf.save(tmp_path / "m")
    info = artifact.describe(tmp_path / "m")["imputer"]
    assert (info["max_reference"], info["reference_rows"], info["training_rows"]) == (
        MAX_REFERENCE, MAX_REFERENCE, MAX_REFERENCE + 300)
    loaded = EnsembleClassifier.load(tmp_path / "m")
    assert loaded.imputer_.fit_X_.shape == (MAX_REFERENCE, 5) and loaded.imputer_.max_reference == MAX_REFERENCE
    np.testing.assert_array_equal(loaded.predict_proba(df[:200]), clf.predict_proba(df[:200]))
