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


def _title(path) -> str:
    from PIL import Image

    with Image.open(path) as im:
        return im.text.get("Title", "")


def test_training_report_is_out_of_fold_and_says_so(fitted, tmp_path):
    clf, X, y, proba = fitted
    written = plots.plot_training_report(clf, tmp_path / "oof", X, y, cv=3)  # no proba: computed out-of-fold
    cm, roc = written[0], written[1]
    assert cm.name == "confusion_matrix.png" and roc.name == "roc.png"
    assert "out-of-fold, 3-fold CV, 150 training lightcurves" in _title(cm)
    assert "out-of-fold, 3-fold CV" in _title(roc)


def test_time_axes_have_units_and_no_offset_text():
    from matplotlib.figure import Figure

    t = np.linspace(2451234.5, 2451600.0, 50)
    ref = plots.time_offset(t)
    assert ref == 2451000.0 and plots.time_offset(t - 2450000) == 0.0
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure()
    ax, raw, bare = fig.add_subplot(131), fig.add_subplot(132), fig.add_subplot(133)
    ax.plot(t - ref, np.ones_like(t))
    plots.set_time_axis(ax, ref, "HJD")
    raw.plot(t, np.ones_like(t))  # full HJD values: matplotlib alone would print an offset
    plots.set_time_axis(raw, 0.0, "HJD")
    bare.plot(t, np.ones_like(t))
    FigureCanvasAgg(fig).draw()
    assert ax.get_xlabel() == "HJD - 2451000 [d]" and raw.get_xlabel() == "time (HJD) [d]"
    assert ax.xaxis.get_offset_text().get_text() == raw.xaxis.get_offset_text().get_text() == ""
    assert bare.xaxis.get_offset_text().get_text() != ""  # what the helper prevents
    assert plots.photometry_label("mag") == "magnitude [mag]"
    assert plots.photometry_label("flux", 31.4) == "flux [nJy]"


def test_candidate_figure_shows_every_band_with_units():
    import pandas as pd

    from lia_dask.batch import LightcurveBatch
    from lia_dask.predict.candidates import candidate_figure

    rng = np.random.default_rng(0)
    t = np.sort(rng.uniform(60000, 60300, 40))
    batch = LightcurveBatch.from_lightcurves(["a", "a", "a"], [t, t + 0.1, t + 0.2],
                                             [rng.normal(1e4, 50, 40) for _ in range(3)], [np.full(40, 50.0)] * 3,
                                             bands=["g", "r", "i"], photometry="flux", zeropoint=31.4)
    bands = {str(lc.band): lc for lc in batch}
    row = pd.Series({"object_id": "a", "band": "r", "prob_ML": 0.9, "fit_t0": 60150.0, "fit_u0": 0.3,
                     "fit_tE": 20.0, "fit_fs": 5e3, "fit_fb": 5e3, "fit_chi2_red": 1.1})
    fig = candidate_figure(row, bands, "flux", 31.4, "MJD-TAI")
    ax = fig.axes[0]
    labels = ax.get_legend_handles_labels()[1]
    assert sum(lab.startswith(("g (", "r (", "i (")) for lab in labels) == 3
    assert any(lab.startswith("PSPL fit to r") for lab in labels)
    assert ax.get_ylabel() == "flux [nJy]" and ax.get_xlabel() == "MJD-TAI - 60000 [d]"
