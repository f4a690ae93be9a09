"""Boruta-SHAP: informative features accepted, noise rejected, history kept."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.errors import InputError
from lia_dask.train.select import SelectionResult, boruta_shap, shap_importance

from .conftest import make_table


def test_informative_accepted_noise_rejected():
    df, y = make_table(n=300, d=12, informative=4, nan_frac=0.02, seed=1)
    codes = np.unique(y, return_inverse=True)[1]
    res = boruta_shap(df.to_numpy(), codes, list(df.columns), n_trials=10, random_state=0, n_estimators=40, n_jobs=1)
    informative = {"feat_0", "feat_1", "feat_2", "feat_3"}
    assert len(res.accepted) >= 3 and set(res.accepted) <= informative  # no noise column accepted
    assert np.sum(res.decision[4:] == "rejected") >= 5
    assert res.history.shape == (10, 12)
    # rejected features stop being scored: NaN after their rejection
    rej = np.flatnonzero(res.decision == "rejected")
    assert np.isnan(res.history[-1, rej]).all()
    acc = np.flatnonzero(res.decision == "accepted")
    assert np.isfinite(res.history[:, acc]).all()
    assert (res.hits[acc] >= 9).all()
    again = SelectionResult.from_state(res.state())
    assert again.accepted == res.accepted and again.history.shape == res.history.shape


def test_too_few_trials_accept_nothing():
    df, y = make_table(n=150, d=40, informative=3, seed=2)
    codes = np.unique(y, return_inverse=True)[1]
    res = boruta_shap(df.to_numpy(), codes, n_trials=3, random_state=0, n_estimators=20, n_jobs=1)
    # 40 * 2**-3 > 0.05: no feature can be significant after 3 trials
    assert res.accepted == []


def test_shap_importance_binary_and_errors():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 1] > 0).astype(int)
    imp = shap_importance(X, y, X, 2, 0, n_estimators=20, n_jobs=1)
    assert imp.shape == (3,) and imp.argmax() == 1
    with pytest.raises(InputError, match="at least 10 rows"):
        boruta_shap(X[:5], y[:5])


def test_selection_shows_a_progress_bar_over_its_trials(capsys):
    """Feature selection is a long step: with progress on, a text bar counts its trials on stderr."""
    import dask

    df, y = make_table(n=120, d=6, informative=2, seed=3)
    codes = np.unique(y, return_inverse=True)[1]
    with dask.config.set({"lia_dask.progress": True}):
        boruta_shap(df.to_numpy(), codes, n_trials=3, random_state=0, n_estimators=10, n_jobs=1)
    err = capsys.readouterr().err
    assert "feature selection (Boruta-SHAP trials)" in err and "3/3" in err
