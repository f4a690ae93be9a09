"""k-fold evaluation of a fitted EnsembleClassifier and metrics of predictions.

:func:`cross_val_proba` refits the classifier's final estimator (its selected features and best
hyperparameters) on each training fold and predicts the held-out fold; folds run as Dask tasks
when a distributed client is active. The imputer and the feature selection were fitted on the
whole training set before, so these estimates are slightly optimistic (MicroLIA does the same;
spec §7 item 14). For an honest estimate evaluate on data the model never saw.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .models import fit_estimator, make_estimator
from .tune import _executor


def _fold_proba(model: str, params: dict, n_classes: int, X: np.ndarray, y: np.ndarray,
                w: np.ndarray | None, tr: np.ndarray, va: np.ndarray, random_state: int | None,
                n_jobs: int | None) -> np.ndarray:
    from threadpoolctl import threadpool_limits

    est = make_estimator(model, params, n_classes, random_state, n_jobs=n_jobs)
    with warnings.catch_warnings(), threadpool_limits(n_jobs):
        warnings.simplefilter("ignore")
        fit_estimator(est, X[tr], y[tr], None if w is None else w[tr])
        return np.asarray(est.predict_proba(X[va]), dtype=np.float64)


def cross_val_proba(clf: Any, X: Any, y: Any, cv: int = 10, sample_weight: np.ndarray | None = None,
                    random_state: int | None = 42, client: Any = None) -> np.ndarray:
    """Out-of-fold class probabilities, (n, K), columns in ``clf.classes_`` order.

    Parameters
    ----------
    clf : EnsembleClassifier
        Fitted; its model kind, selected features, imputer and best parameters are reused.
    X : DataFrame or ndarray (n, d)
    y : array-like (n,)
        Labels (values of ``clf.classes_``).
    cv : int
        Stratified folds, shuffled with ``random_state``.
    """
    from sklearn.model_selection import StratifiedKFold

    Xs = clf.transform_features(X)
    y = np.asarray(y)
    codes = np.searchsorted(clf.classes_, y)
    if not np.array_equal(clf.classes_[np.clip(codes, 0, len(clf.classes_) - 1)], y):
        raise ValueError("labels passed to cross_val_proba are not all among the classifier's classes.")
    folds = list(StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state).split(Xs, codes))
    K = len(clf.classes_)
    out = np.zeros((len(codes), K))
    client = _executor(client)
    model, params = clf.model, dict(clf.best_params_)
    if client is not None:
        Xf, yf, wf = client.scatter([Xs, codes, sample_weight], broadcast=True, hash=False)
        futs = [client.submit(_fold_proba, model, params, K, Xf, yf, wf, tr, va, clf.random_state, 1, pure=False)
                for tr, va in folds]
        for (tr, va), f in zip(folds, futs):
            out[va] = f.result()
        client.cancel([Xf, yf, wf])
    else:
        for tr, va in folds:
            out[va] = _fold_proba(model, params, K, Xs, codes, sample_weight, tr, va, clf.random_state, clf.n_jobs)
    return out


def classification_metrics(y_true: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict:
    """Accuracy, macro F1, per-class recall / precision / ROC AUC and the confusion matrix (counts).

    Parameters
    ----------
    y_true : ndarray (n,)
        Labels (values of ``classes``; labels outside ``classes`` count as errors).
    proba : ndarray (n, K)
    classes : ndarray (K,)
    """
    from sklearn import metrics

    classes = np.asarray(classes)
    y_true = np.asarray(y_true).astype(classes.dtype) if classes.dtype.kind in "US" else np.asarray(y_true)
    pred = classes[np.argmax(proba, axis=1)]
    cm = metrics.confusion_matrix(y_true, pred, labels=classes)
    out = {
        "n": int(len(y_true)),
        "accuracy": float(np.mean(pred == y_true)) if len(y_true) else float("nan"),
        "f1_macro": float(metrics.f1_score(y_true, pred, labels=classes, average="macro", zero_division=0)),
        "recall": {}, "precision": {}, "roc_auc": {},
        "confusion_matrix": cm.tolist(),
        "labels": [str(c) for c in classes],
    }
    for i, c in enumerate(classes):
        pos = y_true == c
        out["recall"][str(c)] = float(cm[i, i] / pos.sum()) if pos.sum() else None
        out["precision"][str(c)] = float(cm[i, i] / cm[:, i].sum()) if cm[:, i].sum() else None
        if 0 < pos.sum() < len(pos):
            out["roc_auc"][str(c)] = float(metrics.roc_auc_score(pos, proba[:, i]))
    return out
