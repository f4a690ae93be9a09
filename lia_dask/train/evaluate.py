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

from ..errors import InputError
from ..cluster import progress_bar, show_progress
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
        show_progress(futs)
        for (tr, va), f in zip(folds, futs):
            out[va] = f.result()
        client.cancel([Xf, yf, wf])
    else:
        bar = progress_bar(len(folds), f"{cv}-fold evaluation (folds)")
        for tr, va in folds:
            out[va] = _fold_proba(model, params, K, Xs, codes, sample_weight, tr, va, clf.random_state, clf.n_jobs)
            bar.update(1)
        bar.close()
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


# ------------------------------------------------------------------------------ survey alerts
#: labels that mean "a microlensing event" in labelled real archives (OGLE directories are named so)
EVENT_LABELS = ("ML", "microlensing")


def alert_metrics(labels: np.ndarray, score: np.ndarray, alert: np.ndarray,
                  event_labels: tuple[str, ...] = EVENT_LABELS) -> dict:
    """Recall and false alerts of an alert flag on labelled objects.

    Parameters
    ----------
    labels : ndarray of str, shape (n,)
    score : ndarray, shape (n,)
        P(ML) (calibrated when the model has an alert stage).
    alert : ndarray of bool, shape (n,)
        The model's alert (or ``prediction == "ML"``).

    Returns
    -------
    dict
        ``n``, ``n_events``, ``recall`` (alerted events / events), ``n_false_alerts``,
        ``false_alert_fraction`` (alerted non-events / non-events), ``false_alerts_per_million``
        (alerted non-events per million objects), ``false_alerts_by_class``, ``roc_auc``.
    """
    labels = np.asarray(labels).astype(str)
    ev = np.isin(labels, list(event_labels))
    alert = np.asarray(alert, bool)
    n, n_ev = len(labels), int(ev.sum())
    fa = alert & ~ev
    out = {"n": int(n), "n_events": n_ev,
           "recall": float(alert[ev].mean()) if n_ev else None,
           "n_false_alerts": int(fa.sum()),
           "false_alert_fraction": float(fa.sum() / (~ev).sum()) if (~ev).sum() else None,
           "false_alerts_per_million": float(1e6 * fa.sum() / n) if n else None,
           "false_alerts_by_class": {str(c): int(k) for c, k in zip(*np.unique(labels[fa], return_counts=True))}}
    if 0 < n_ev < n:
        from sklearn.metrics import roc_auc_score

        out["roc_auc"] = float(roc_auc_score(ev, np.asarray(score, np.float64)))
    return out


def roc_points(labels: np.ndarray, score: np.ndarray, event_labels: tuple[str, ...] = EVENT_LABELS
               ) -> tuple[np.ndarray, np.ndarray]:
    """(false-positive rate, recall) of the threshold ``score >= s`` over every distinct score."""
    from sklearn.metrics import roc_curve

    ev = np.isin(np.asarray(labels).astype(str), list(event_labels))
    if ev.all() or not ev.any():
        return np.zeros(0), np.zeros(0)
    fpr, tpr, _ = roc_curve(ev, np.asarray(score, np.float64))
    return fpr, tpr


def plot_alert_roc(curves: list[tuple[str, np.ndarray, np.ndarray, tuple[float, float] | None]], path: str,
                   title: str = "ROC of P(ML)", min_fpr: float = 1e-6):
    """ROC curves on a logarithmic false-positive axis from ``min_fpr`` to 1.

    Parameters
    ----------
    curves : list of (label, fpr, recall, operating point (fpr, recall) or None)
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from pathlib import Path

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for k, (label, fpr, tpr, op) in enumerate(curves):
        color = f"C{k % 10}"
        if len(fpr):
            x = np.maximum(fpr, min_fpr)  # a zero false-positive rate sits on the axis' left edge
            ax.step(x, tpr, where="post", color=color, label=label)
        if op is not None:
            ax.plot([max(op[0], min_fpr)], [op[1]], "o", color=color, ms=5)
    ax.set_xscale("log")
    ax.set_xlim(min_fpr, 1.0)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("false-positive rate (non-events flagged), log")
    ax.set_ylabel("recall (events flagged)")
    ax.set_title(title + " (dots: the model's alert threshold)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, loc="lower right")
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(p, dpi=100)
    plt.close(fig)
    return p


def model_scores(kind: str, clf: Any, y: np.ndarray, proba: np.ndarray,
                 event_labels: tuple[str, ...] = EVENT_LABELS, n_excluded: int = 0) -> dict:
    """What ``lia-dask evaluate`` reports for one model on one labelled data set.

    Parameters
    ----------
    kind : {"data", "real", "survey"}
        ``data``: :func:`classification_metrics`; ``real`` / ``survey``: :func:`alert_metrics` of the
        model's operating decision (its alert, or ``prediction == "ML"`` without an alert stage).
    clf : EnsembleClassifier
    y : ndarray of str, shape (n,)
    proba : ndarray, shape (n, K)
        ``clf.predict_proba`` output.
    n_excluded : int
        Objects without features (reported, never dropped silently).
    """
    if kind == "data":
        m = classification_metrics(y, proba, clf.classes_)
        m["n_excluded_no_features"] = n_excluded
        return {k: m[k] for k in ("n", "accuracy", "f1_macro", "recall", "precision", "roc_auc",
                                  "confusion_matrix", "labels", "n_excluded_no_features")}
    names = [str(c) for c in clf.classes_]
    if "ML" not in names:
        raise InputError("the model has no class 'ML'; --real / --survey measure microlensing alerts.")
    labels, alert = clf.decide(proba)
    if alert is None:
        alert = labels == "ML"
    m = alert_metrics(y, proba[:, names.index("ML")], alert, event_labels)
    m["n_excluded_no_features"] = n_excluded
    return m


def summarize(rows: list[dict]) -> dict:
    """Mean / min / max over models of the headline figures of :func:`model_scores` rows."""
    out = {"n_models": len(rows)}
    for kind, keys in (("real", ("recall", "false_alert_fraction")),
                       ("survey", ("recall", "false_alerts_per_million")), ("data", ("accuracy", "f1_macro"))):
        for k in keys:
            vals = [r[kind][k] for r in rows if kind in r and r[kind].get(k) is not None]
            if vals:
                out[f"{kind}_{k}"] = {"mean": float(np.mean(vals)), "min": float(np.min(vals)),
                                      "max": float(np.max(vals)), "per_model": vals}
    return out
