"""Every diagnostic plot writes a non-empty PNG (real matplotlib, real fitted models)."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask import plots
from lia_dask.errors import InputError

PNG = b"\x89PNG\r\n\x1a\n"


def _png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000, path
    return path


@pytest.fixture(scope="module")
def fitted():
    from sklearn.datasets import make_classification

    from lia_dask.train import EnsembleClassifier, cross_val_proba

    X, y = make_classification(n_samples=150, n_features=8, n_informative=3, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, shuffle=False, random_state=0)
    labels = np.array(["CV", "ML", "VARIABLE"])[y]
    clf = EnsembleClassifier(model="xgb", select_trials=8, tune_trials=3, cv=3, random_state=0, n_jobs=1,
                             params={"n_estimators": 20}).fit(X, labels)
    return clf, X, labels, cross_val_proba(clf, X, labels, cv=3)


def test_confusion_matrix_and_roc(fitted, tmp_path):
    clf, X, y, proba = fitted
    pred = clf.classes_[proba.argmax(axis=1)]
    _png(plots.plot_confusion_matrix(y, pred, clf.classes_, tmp_path / "cm.png"))
    _png(plots.plot_confusion_matrix(y, pred, clf.classes_, tmp_path / "cm_counts.png", normalize=False))
    _png(plots.plot_roc(y, proba, clf.classes_, tmp_path / "roc.png"))
    with pytest.raises(InputError, match="proba must have shape"):
        plots.plot_roc(y, proba[:, :2], clf.classes_, tmp_path / "bad.png")


def test_tsne_with_overlaid_real_points(fitted, tmp_path):
    clf, X, y, _ = fitted
    real = X[:12] + np.random.default_rng(0).normal(0, 0.1, (12, X.shape[1]))
    real[0, 0] = np.nan
    _png(plots.plot_tsne(X, y, tmp_path / "tsne.png", extra_X=real, extra_labels=y[:12]))
    emb = plots.tsne_embedding(X[:40])
    assert emb.shape == (40, 2) and np.isfinite(emb).all()
    with pytest.raises(InputError, match="columns"):
        plots.plot_tsne(X, y, tmp_path / "x.png", extra_X=real[:, :3])


def test_selection_tuning_importance(fitted, tmp_path):
    clf, X, y, proba = fitted
    _png(plots.plot_feature_selection(clf.selection_, tmp_path / "sel.png"))
    _png(plots.plot_tuning_history(clf.tuning_.trials, tmp_path / "tune.png"))
    _png(plots.plot_param_importance(clf.tuning_.importances, tmp_path / "imp.png"))
    with pytest.raises(InputError, match="empty"):
        plots.plot_tuning_history([], tmp_path / "none.png")
    with pytest.raises(InputError, match="say what data"):
        plots.plot_training_report(clf, tmp_path / "report", None, y, proba)
    written = plots.plot_training_report(clf, tmp_path / "report", None, y, proba,
                                         data="out-of-fold, 3-fold CV")  # t-SNE tested above
    assert {p.name for p in written} == {"confusion_matrix.png", "roc.png", "feature_selection.png",
                                         "tuning_history.png", "hyperparameter_importance.png"}
    for p in written:
        _png(p)
