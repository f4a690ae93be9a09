"""Optuna search: one shared study, folds as tasks on a real LocalCluster, pruning, failures."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.errors import ConfigError
from lia_dask.train.tune import score, tune

from .conftest import make_table


@pytest.fixture(scope="module")
def data():
    df, y = make_table(n=150, d=6, informative=3, nan_frac=0.0, seed=3)
    return df.to_numpy(), np.unique(y, return_inverse=True)[1]


def _check_history(res, cv):
    states = {t["state"] for t in res.trials}
    assert states <= {"COMPLETE", "PRUNED", "FAIL"}
    for t in res.trials:
        if t["state"] == "COMPLETE":
            assert len(t["intermediate"]) == cv
            assert t["value"] == pytest.approx(t["intermediate"][str(cv - 1)])  # running mean over folds
        if t["state"] == "PRUNED":
            assert len(t["intermediate"]) < cv


def test_local_tuning_xgb(data):
    X, y = data
    from distributed import default_client

    try:  # another test module's session client may be active: tune() then uses it, as documented
        default_client()
        expected = "dask"
    except ValueError:
        expected = "threads"
    res = tune(X, y, "xgb", n_trials=3, cv=3, random_state=0, n_jobs=1)
    assert res.settings["fixed_params"] == {}
    assert len(res.trials) == 3 and res.settings["executor"] == expected
    _check_history(res, 3)
    assert 100 <= res.best_params["n_estimators"] <= 300 and 3 <= res.best_params["max_depth"] <= 10
    assert 0.5 < res.best_value <= 1.0


def test_dask_tuning_runs_trials_on_workers(data, inproc_client):
    X, y = data
    res = tune(X, y, "rf", n_trials=8, cv=3, random_state=1, client=inproc_client, limit_search=True,
               fixed_params={"n_estimators": 20})
    assert res.best_params["n_estimators"] == 20
    assert res.settings["executor"] == "dask" and res.settings["n_parallel"] == 2
    assert len(res.trials) == 8
    _check_history(res, 3)
    assert res.best_value == max(t["value"] for t in res.trials if t["state"] == "COMPLETE")
    assert set(res.importances) <= {"criterion", "max_depth", "min_samples_split",
                                    "min_samples_leaf", "max_features", "bootstrap", "class_weight", "max_samples"}
    # fold results are released afterwards (release is asynchronous: poll briefly)
    import time

    for _ in range(50):
        tasks = inproc_client.run_on_scheduler(lambda dask_scheduler: [k for k in dask_scheduler.tasks
                                                                        if "lia-tune" in str(k)])
        if not tasks:
            break
        time.sleep(0.1)
    assert tasks == []


def test_nn_on_nan_data_fails_every_trial(data):
    X, y = data
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ConfigError, match="every tuning trial failed"):
        tune(Xn, y, "nn", n_trials=2, cv=2, random_state=0, n_jobs=1)


def test_bad_settings_and_score():
    X = np.zeros((10, 2))
    y = np.array([0] * 8 + [1] * 2)
    with pytest.raises(ConfigError, match="fewer than cv"):
        tune(X, y, "xgb", n_trials=1, cv=3)
    with pytest.raises(ConfigError, match="cv must be >= 2"):
        tune(X, y, "xgb", n_trials=1, cv=1)
    p = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]])
    assert score(np.array([0, 1, 1]), p, "accuracy") == pytest.approx(2 / 3)
    with pytest.raises(ConfigError, match="scoring"):
        score(np.array([0, 1, 1]), p, "nope")
