"""EnsembleClassifier: fit / predict for xgb, rf, nn; full pipeline; artifacts; xgboost.dask path."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from lia_dask import artifact
from lia_dask.errors import ArtifactError, ConfigError, InputError
from lia_dask.train import EnsembleClassifier, TrainConfig, classification_metrics, cross_val_proba

from .conftest import make_table

FAST = {"xgb": {"n_estimators": 30, "max_depth": 3}, "rf": {"n_estimators": 30}, "nn": {"max_iter": 300}}


@pytest.mark.parametrize("model", ["xgb", "rf", "nn"])
def test_fit_predict_save_load(model, table, tmp_path):
    df, y = table
    clf = EnsembleClassifier(model=model, random_state=0, params=FAST[model], n_jobs=1).fit(df, y)
    assert list(clf.classes_) == ["CV", "ML", "VARIABLE"]
    assert list(clf.feature_names_in_) == list(df.columns)
    proba = clf.predict_proba(df)
    assert proba.shape == (len(df), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert set(clf.predict(df)) <= set(clf.classes_)
    assert clf.score(df, y) > 0.8
    # the held-out half of a split is classified well above chance
    holdout = EnsembleClassifier(model=model, random_state=0, params=FAST[model], n_jobs=1).fit(df[::2], y[::2])
    assert holdout.score(df[1::2], y[1::2]) > 0.6
    m = clf.save(tmp_path / "m")
    assert m["kind"] == "ensemble" and m["classes"] == ["CV", "ML", "VARIABLE"]
    assert m["imputer"]["method"] == "knn" and m["training_digest"] == clf.training_digest_
    assert m["settings"]["model"]["kind"] == model
    loaded = EnsembleClassifier.load(tmp_path / "m")
    np.testing.assert_allclose(loaded.predict_proba(df), proba, rtol=1e-6, atol=1e-7)
    assert loaded.digest_ == m["digest"] and loaded.estimator_ is None
    assert isinstance(artifact.load(tmp_path / "m"), EnsembleClassifier)
    # reordered columns and extra columns are fine; a missing column is a clear error
    shuffled = df[df.columns[::-1]].assign(extra=1.0)
    np.testing.assert_allclose(loaded.predict_proba(shuffled), proba, rtol=1e-6, atol=1e-7)
    with pytest.raises(InputError, match="lacks 1 column"):
        loaded.predict_proba(df.drop(columns=["feat_3"]))
    # no pickle anywhere: every file is JSON, UBJSON or an npz without object arrays
    for name in m["files"]:
        if name.endswith(".npz"):
            artifact.load_arrays(tmp_path / "m", name)


def test_full_pipeline_select_tune(tmp_path):
    df, y = make_table(n=210, d=10, informative=3, nan_frac=0.05, seed=5)
    clf = EnsembleClassifier(model="xgb", select_trials=8, tune_trials=3, cv=3, random_state=0, n_jobs=1,
                             params={"n_estimators": 30})
    clf.fit(df, y)
    assert 1 <= len(clf.selected_features_) < 10
    assert set(clf.selected_features_) <= {"feat_0", "feat_1", "feat_2"}
    assert clf.imputer_.fit_X_.shape[1] == len(clf.selected_features_)
    assert clf.tuning_ is not None and len(clf.tuning_.trials) == 3
    assert clf.best_params_["n_estimators"] == 30  # held fixed during the search
    assert clf.metrics_["tune_cv_f1_macro"] == clf.tuning_.best_value
    clf.save(tmp_path / "m")
    loaded = EnsembleClassifier.load(tmp_path / "m")
    assert loaded.selection_.accepted == clf.selection_.accepted
    assert loaded.tuning_.best_params == clf.tuning_.best_params
    # the selected columns alone are accepted as input, too
    np.testing.assert_allclose(loaded.predict_proba(df[clf.selected_features_].to_numpy()),
                               clf.predict_proba(df), rtol=1e-6)
    oof = cross_val_proba(clf, df, y, cv=3)
    m = classification_metrics(y, oof, clf.classes_)
    assert m["accuracy"] > 0.6 and np.sum(m["confusion_matrix"]) == len(y)


def test_tampered_and_incompatible_artifacts(table, tmp_path):
    df, y = table
    clf = EnsembleClassifier(model="xgb", random_state=0, params=FAST["xgb"], n_jobs=1).fit(df, y)
    clf.save(tmp_path / "m")
    with pytest.raises(ArtifactError, match="not empty"):
        clf.save(tmp_path / "m")
    clf.save(tmp_path / "m", overwrite=True)
    raw = bytearray((tmp_path / "m" / "model.ubj").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (tmp_path / "m" / "model.ubj").write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="tampered"):
        EnsembleClassifier.load(tmp_path / "m")
    clf.save(tmp_path / "m", overwrite=True)
    man = json.loads((tmp_path / "m" / "manifest.json").read_text())
    man["kind"] = "cnn"
    (tmp_path / "m" / "manifest.json").write_text(json.dumps(man))
    with pytest.raises(ArtifactError, match="expected 'ensemble'"):
        EnsembleClassifier.load(tmp_path / "m")


def test_sklearn_api_and_config_errors(table):
    df, y = table
    clf = EnsembleClassifier(model="rf", cv=3, random_state=0)
    assert clone(clf).get_params()["cv"] == 3
    assert clf.config == TrainConfig(model="rf", cv=3, random_state=0)
    with pytest.raises(ConfigError, match="model must be one of"):
        EnsembleClassifier(model="svm").fit(df, y)
    with pytest.raises(InputError, match="NaN values and model 'nn'"):
        EnsembleClassifier(model="nn", impute=False).fit(df, y)
    with pytest.raises(InputError, match="at least two classes"):
        EnsembleClassifier(model="rf").fit(df, np.array(["ML"] * len(df)))
    with pytest.raises(InputError, match="rows"):
        EnsembleClassifier(model="rf").fit(df, y[:-1])
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        EnsembleClassifier().predict(df)
    # xgb without imputation learns with NaNs natively; label given as a column name
    clf = EnsembleClassifier(model="xgb", impute=False, params=FAST["xgb"], n_jobs=1).fit(df.assign(label=y), "label")
    assert clf.imputer_ is None and np.isfinite(clf.predict_proba(df)).all()


def test_sample_weight_changes_model(table):
    df, y = table
    w = np.where(y == "ML", 20.0, 1.0)
    plain = EnsembleClassifier(model="rf", random_state=0, params=FAST["rf"], n_jobs=1).fit(df, y)
    weighted = EnsembleClassifier(model="rf", random_state=0, params=FAST["rf"], n_jobs=1).fit(df, y, sample_weight=w)
    assert weighted.predict_proba(df)[:, 1].mean() > plain.predict_proba(df)[:, 1].mean()
    assert weighted.metrics_["weighted"] is True
    with pytest.raises(InputError, match="sample_weight"):
        EnsembleClassifier(model="rf").fit(df, y, sample_weight=-w)


def test_dask_dataframe_paths(table, inproc_client):
    import dask.dataframe as dd

    df, y = table
    ddf = dd.from_pandas(df.assign(label=y), npartitions=4)
    # larger than the gather limit: imputer / selection on a sample, xgboost.dask on every partition
    big = EnsembleClassifier(model="xgb", random_state=0, gather_limit_bytes=1, sample_rows=150,
                             params={"n_estimators": 30, "max_depth": 3}, n_jobs=1)
    big.fit(ddf, "label", client=inproc_client)
    assert big.metrics_["distributed"] is True and big.metrics_["n_train"] == len(df)
    assert big.metrics_["n_sample"] < len(df)
    assert big.score(df, y) > 0.8
    # small: gathered and trained centrally
    small = EnsembleClassifier(model="rf", random_state=0, params=FAST["rf"], n_jobs=1).fit(ddf, "label",
                                                                                           client=inproc_client)
    assert "distributed" not in small.metrics_ and small.metrics_["n_train"] == len(df)
    with pytest.raises(ConfigError, match="only model 'xgb'"):
        EnsembleClassifier(model="rf", gather_limit_bytes=1).fit(ddf, "label", client=inproc_client)


@pytest.mark.parametrize("model", ["xgb", "rf", "nn"])
def test_imputation_final_fit_and_evaluation_show_progress(model, table, capsys):
    """The long training steps count on stderr with progress on; the bars change no result."""
    import dask

    df, y = table
    quiet = EnsembleClassifier(model=model, random_state=0, params=FAST[model], n_jobs=1).fit(df, y)
    capsys.readouterr()
    with dask.config.set({"lia_dask.progress": True}):
        shown = EnsembleClassifier(model=model, random_state=0, params=FAST[model], n_jobs=1).fit(df, y)
        cross_val_proba(shown, df, y, cv=3)
    cap = capsys.readouterr()
    err = cap.err
    n_missing = int(df.isna().any(axis=1).sum())
    assert n_missing > 0
    assert "KNN imputation (rows)" in err and f"{n_missing}/{n_missing}" in err
    steps = {"xgb": 30, "rf": 30, "nn": 1}[model]
    assert f"final {model} fit" in err and f"{steps}/{steps}" in err
    from lia_dask.train.tune import _executor

    if _executor(None) is None:  # folds run here: lia_dask's bar
        assert "3-fold evaluation (folds)" in err and "3/3" in err
    else:  # folds run as tasks on the active client: Dask's text bar
        assert "100% Completed" in cap.out + cap.err
    # the forest grown in warm-start steps is the forest of one fit
    np.testing.assert_allclose(shown.predict_proba(df), quiet.predict_proba(df), rtol=0, atol=1e-12)
    if model == "rf":
        assert len(shown.estimator_.estimators_) == 30 and shown.estimator_.warm_start is False
