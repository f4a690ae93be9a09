"""GMM re-weighting: weighted training histograms move towards the population."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from lia_dask.errors import InputError
from lia_dask.train import EnsembleClassifier, GMMReweighter, weighted_ks


def _shifted(seed=0):
    rng = np.random.default_rng(seed)
    train = rng.normal(0.0, 1.0, size=(1500, 4))
    pop = np.column_stack([rng.normal(0.8, 0.7, 1200), rng.normal(-0.5, 1.0, 1200),
                           rng.normal(0.0, 1.0, 1200), rng.normal(0.5, 0.5, 1200)])
    return train, pop


def test_weights_reduce_ks_per_feature():
    train, pop = _shifted()
    g = GMMReweighter(n_components=3, random_state=0).fit(train, pop)
    w = g.weights(train, max_weight=20)
    assert w.shape == (len(train),) and np.all(w > 0)
    assert w.mean() == pytest.approx(1.0) and w.max() <= 20 * (1 + 1e-6)
    for j in (0, 1, 3):  # shifted features: KS drops by more than half
        before, after = weighted_ks(train[:, j], None, pop[:, j]), weighted_ks(train[:, j], w, pop[:, j])
        assert after < 0.5 * before, (j, before, after)
    # the unshifted feature stays close
    assert weighted_ks(train[:, 2], w, pop[:, 2]) < 0.08


def test_weighted_ks_equals_scipy_for_unit_weights():
    train, pop = _shifted(1)
    assert weighted_ks(train[:, 0], None, pop[:, 0]) == pytest.approx(ks_2samp(train[:, 0], pop[:, 0]).statistic)


def test_divide_memberships_and_nans():
    train, pop = _shifted(2)
    train[::17, 1] = np.nan
    g = GMMReweighter(n_components=2, random_state=0, n_pca=None).fit(train, pop)
    masks = g.divide(train, threshold=0.5)
    assert masks.shape == (2, len(train)) and masks.dtype == bool
    assert np.all(masks.sum(axis=0) <= 1)  # threshold 0.5: at most one component per row
    soft = g.divide(train, threshold=0.0, weight=True)
    np.testing.assert_allclose(soft.sum(axis=0), 1.0, atol=1e-9)
    assert np.isfinite(g.weights(train)).all()


def test_weighted_training_uses_the_weights():
    train, pop = _shifted(3)
    y = np.where(train[:, 0] + 0.3 * train[:, 1] > 0.6, "ML", "CONSTANT")
    w = GMMReweighter(3, random_state=0).fit(train, pop).weights(train, max_weight=20)
    clf = EnsembleClassifier(model="xgb", params={"n_estimators": 20}, n_jobs=1).fit(train, y, sample_weight=w)
    assert clf.metrics_["weighted"] is True and clf.score(train, y) > 0.9


def test_bad_input():
    train, pop = _shifted(4)
    with pytest.raises(InputError, match="same columns"):
        GMMReweighter().fit(train, pop[:, :3])
    with pytest.raises(InputError, match="at least"):
        GMMReweighter(n_components=4).fit(train[:5], pop)
    g = GMMReweighter(2, random_state=0).fit(train, pop)
    with pytest.raises(InputError, match="max_weight"):
        g.weights(train, max_weight=0)
    with pytest.raises(InputError, match="fitted on 4 features"):
        g.weights(train[:, :2])


def test_degenerate_columns_and_outliers_do_not_break_the_fit():
    # a column constant in training, an outlier at 1e10 and duplicated rows in the population
    rng = np.random.default_rng(5)
    train = np.column_stack([rng.normal(size=300), np.zeros(300), rng.normal(size=300)])
    pop = np.column_stack([rng.normal(0.5, 1, 40), rng.normal(0, 1, 40), np.repeat(rng.normal(size=4), 10)])
    pop[0, 0] = 1e10
    g = GMMReweighter(n_components=3, random_state=0).fit(train, pop)
    w = g.weights(train, max_weight=10)
    assert np.isfinite(w).all() and w.mean() == pytest.approx(1.0)
