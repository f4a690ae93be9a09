"""Diagnostic plots of training and evaluation, written to image files.

Every function draws on its own ``matplotlib.figure.Figure`` (no pyplot state, no display),
saves it to ``path`` (format from the suffix, PNG by default) and returns the path.
matplotlib is the ``plots`` extra.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import InputError, MissingExtraError


def _figure(w: float = 6.0, h: float = 5.0):
    try:
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise MissingExtraError.for_extra("plotting", "plots", "matplotlib") from None
    return Figure(figsize=(w, h), layout="constrained")


def _save(fig: Any, path: str | Path, dpi: int = 120) -> Path:
    """Save ``fig``; a PNG also carries the first axes' title as its ``Title`` text chunk."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    meta = {"Title": titles[0].replace("\n", " - ")} if titles and path.suffix.lower() == ".png" else None
    fig.savefig(path, dpi=dpi, metadata=meta)
    return path


# ------------------------------------------------------------------------ axes a person can read
def time_offset(time: Any) -> float:
    """A round epoch to subtract from times for display: the thousand of days below the first epoch.

    ``2451234.5`` -> ``2451000``; times below 10,000 d (already relative) -> ``0``.
    """
    t = np.asarray(time, dtype=np.float64)
    t = t[np.isfinite(t)]
    if not t.size or abs(t.min()) < 10_000:
        return 0.0
    return float(np.floor(t.min() / 1000.0) * 1000.0)


def set_time_axis(ax: Any, offset: float, time_system: str = "HJD") -> None:
    """Label a time axis ``HJD - 2451000 [d]`` (no matplotlib offset text such as ``+2.4518e6``)."""
    ax.ticklabel_format(axis="x", useOffset=False, style="plain")
    ax.set_xlabel(f"{time_system} - {offset:.0f} [d]" if offset else f"time ({time_system}) [d]")


def photometry_label(photometry: str, zeropoint: float | None = None) -> str:
    """Axis label with unit: ``magnitude [mag]``, ``flux [nJy]`` (zero point 31.4) or the zero point."""
    if photometry == "mag":
        return "magnitude [mag]"
    if zeropoint is not None and abs(float(zeropoint) - 31.4) < 1e-6:
        return "flux [nJy]"
    return f"flux [zero point {zeropoint:g} mag]" if zeropoint is not None else "flux"


# ------------------------------------------------------------------------ classification quality
def plot_confusion_matrix(y_true: Sequence, y_pred: Sequence, classes: Sequence, path: str | Path,
                          normalize: bool = True, title: str | None = None) -> Path:
    """Confusion matrix of labels ``y_true`` vs ``y_pred`` (rows: true class), normalised per row.

    Parameters
    ----------
    y_true, y_pred : array-like (n,)
    classes : sequence of labels, in display order
    normalize : bool
        Divide each row by its count (recall on the diagonal).
    title : str, optional
        Say what data the matrix shows (e.g. "out-of-fold, 10-fold CV, 5,000 training lightcurves").
    """
    from sklearn.metrics import confusion_matrix

    classes = list(classes)
    cm = confusion_matrix(np.asarray(y_true), np.asarray(y_pred), labels=classes).astype(float)
    counts = cm.sum(axis=1, keepdims=True)
    shown = np.divide(cm, counts, out=np.zeros_like(cm), where=counts > 0) if normalize else cm
    fig = _figure(1.2 * len(classes) + 2.5, 1.1 * len(classes) + 2.0)
    ax = fig.add_subplot()
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, shrink=0.8)
    for i in range(len(classes)):
        for j in range(len(classes)):
            v = shown[i, j]
            ax.text(j, i, f"{v:.2f}" if normalize else f"{int(v)}", ha="center", va="center",
                    color="white" if v > (0.5 if normalize else shown.max() / 2) else "black", fontsize=9)
    ax.set_xticks(range(len(classes)), [str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), [str(c) for c in classes])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("confusion matrix (normalized)" if normalize else "confusion matrix"))
    return _save(fig, path)


def plot_roc(y_true: Sequence, proba: np.ndarray, classes: Sequence, path: str | Path,
             title: str | None = None) -> Path:
    """One-vs-rest ROC curve per class from probabilities ``proba`` (n, K) in ``classes`` order.

    Parameters
    ----------
    y_true : array-like (n,)
    proba : ndarray (n, K)
    classes : sequence of labels, the columns of ``proba``
    title : str, optional
        Say what data the curves show (out-of-fold, held-out, ...).
    """
    from sklearn.metrics import auc, roc_curve

    y_true = np.asarray(y_true)
    proba = np.asarray(proba)
    if proba.ndim != 2 or proba.shape[1] != len(classes):
        raise InputError(f"proba must have shape (n, {len(classes)}), got {proba.shape}.")
    fig = _figure()
    ax = fig.add_subplot()
    for i, c in enumerate(classes):
        pos = y_true == c
        if 0 < pos.sum() < len(pos):
            fpr, tpr, _ = roc_curve(pos, proba[:, i])
            ax.plot(fpr, tpr, label=f"{c} (AUC {auc(fpr, tpr):.3f})")
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=0.8)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(title or "ROC, one class vs rest")
    ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)


def tsne_embedding(X: np.ndarray, perplexity: float = 30.0, random_state: int = 0) -> np.ndarray:
    """2-D t-SNE of min-max normalised features ``X`` (n, d); NaN/inf replaced by column medians."""
    from sklearn.manifold import TSNE

    X = np.array(X, dtype=np.float64)
    X[~np.isfinite(X)] = np.nan
    med = np.nanmedian(np.where(np.isnan(X).all(axis=0), 0.0, X), axis=0)
    X = np.where(np.isnan(X), med, X)
    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    Xn = (X - lo) / span
    perp = float(min(perplexity, max(2.0, (len(Xn) - 1) / 3.0)))
    init = "pca" if Xn.shape[1] >= 2 else "random"
    return TSNE(n_components=2, perplexity=perp, init=init, random_state=random_state).fit_transform(Xn)


def plot_tsne(X: np.ndarray, labels: Sequence, path: str | Path, extra_X: np.ndarray | None = None,
              extra_labels: Sequence | None = None, perplexity: float = 30.0, random_state: int = 0,
              title: str | None = None) -> Path:
    """t-SNE of the feature space, coloured by label, with optional extra points overlaid.

    Parameters
    ----------
    X : ndarray (n, d)
        Features (e.g. the simulated training set), min-max normalised together with ``extra_X``.
    labels : array-like (n,)
    extra_X : ndarray (m, d), optional
        Further points (e.g. real lightcurves) drawn as outlined stars over the training points.
    extra_labels : array-like (m,), optional
        Their labels (legend "real <label>").
    """
    X = np.asarray(X, dtype=np.float64)
    labels = np.asarray(labels)
    n = len(X)
    if extra_X is not None:
        extra_X = np.asarray(extra_X, dtype=np.float64)
        if extra_X.shape[1] != X.shape[1]:
            raise InputError(f"extra_X has {extra_X.shape[1]} columns but X has {X.shape[1]}.")
        extra_labels = np.asarray(extra_labels if extra_labels is not None else ["extra"] * len(extra_X))
        emb = tsne_embedding(np.vstack([X, extra_X]), perplexity, random_state)
    else:
        emb = tsne_embedding(X, perplexity, random_state)
    fig = _figure(7, 6)
    ax = fig.add_subplot()
    uniq = list(dict.fromkeys(labels.tolist()))
    colors = {c: f"C{i % 10}" for i, c in enumerate(uniq)}
    for c in uniq:
        m = labels == c
        ax.scatter(emb[:n][m, 0], emb[:n][m, 1], s=8, alpha=0.6, color=colors[c], label=str(c))
    if extra_X is not None:
        for i, c in enumerate(dict.fromkeys(extra_labels.tolist())):
            m = extra_labels == c
            ax.scatter(emb[n:][m, 0], emb[n:][m, 1], s=60, marker="*", edgecolor="black", linewidth=0.6,
                       color=colors.get(c, f"C{(len(uniq) + i) % 10}"), label=f"real {c}")
    ax.set_xlabel("t-SNE 1")
    ax.set_ylabel("t-SNE 2")
    ax.set_title(title or "t-SNE of the feature space (min-max normalized)")
    ax.legend(fontsize=8, markerscale=1.5)
    return _save(fig, path)


def plot_feature_selection(selection: Any, path: str | Path, max_features: int = 40) -> Path:
    """Boruta-SHAP history: z-importance per trial of each feature, coloured by decision.

    Parameters
    ----------
    selection : lia_dask.train.select.SelectionResult
    max_features : int
        Show at most this many features (highest median importance first).
    """
    hist = np.asarray(selection.history)
    if hist.size == 0:
        raise InputError("the feature-selection history is empty; run selection with select_trials >= 1.")
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(hist, axis=0)
    order = np.argsort(np.where(np.isnan(med), -np.inf, med))[::-1][:max_features]
    colors = {"accepted": "tab:green", "tentative": "gold", "rejected": "tab:red"}
    fig = _figure(max(6.0, 0.22 * len(order) + 2), 5)
    ax = fig.add_subplot()
    data = [hist[:, j][np.isfinite(hist[:, j])] for j in order]
    data = [d if d.size else np.array([np.nan]) for d in data]
    bp = ax.boxplot(data, patch_artist=True, widths=0.6, showfliers=False)
    for patch, j in zip(bp["boxes"], order):
        patch.set_facecolor(colors.get(str(selection.decision[j]), "grey"))
    ax.plot(range(1, len(order) + 1), [np.nanmax(selection.shadow_max)] * len(order), ls="--", color="black",
            lw=0.8, label="max shadow z (all trials)")
    ax.set_xticks(range(1, len(order) + 1), [selection.names[j] for j in order], rotation=90, fontsize=7)
    ax.set_ylabel("z-scored SHAP importance")
    n_acc = int(np.sum(selection.decision == "accepted"))
    ax.set_title(f"Boruta-SHAP, {hist.shape[0]} trials: {n_acc} of {len(selection.names)} accepted")
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=k) for k, c in colors.items()]
    ax.legend(handles=handles + ax.get_legend_handles_labels()[0], fontsize=8)
    return _save(fig, path)


def plot_tuning_history(trials: Sequence[Mapping], path: str | Path, title: str | None = None) -> Path:
    """Objective value per trial (complete and pruned) and the best value so far.

    ``trials`` is :attr:`lia_dask.train.tune.TuneResult.trials` (dicts with number, state, value,
    intermediate).
    """
    if not trials:
        raise InputError("the tuning history is empty; run tuning with tune_trials >= 1.")
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    done = [t for t in trials if t["state"] == "COMPLETE"]
    pruned = [t for t in trials if t["state"] == "PRUNED"]
    xs = [t["number"] for t in done]
    ys = [t["value"] for t in done]
    ax.scatter(xs, ys, color="tab:blue", s=18, label="complete")
    if pruned:
        px = [t["number"] for t in pruned]
        py = [list(t["intermediate"].values())[-1] if t["intermediate"] else np.nan for t in pruned]
        ax.scatter(px, py, color="tab:grey", marker="x", s=18, label="pruned (last fold mean)")
    if done:
        order = np.argsort(xs)
        best = np.maximum.accumulate(np.asarray(ys)[order])
        ax.step(np.asarray(xs)[order], best, where="post", color="tab:red", label="best so far")
    ax.set_xlabel("trial")
    ax.set_ylabel("cross-validated objective")
    ax.set_title(title or f"hyperparameter search: {len(done)} complete, {len(pruned)} pruned")
    ax.legend(fontsize=8)
    return _save(fig, path)


def plot_param_importance(importances: Mapping[str, float], path: str | Path, title: str | None = None) -> Path:
    """Horizontal bars of hyperparameter importances (Optuna's fANOVA by default)."""
    if not importances:
        raise InputError("no hyperparameter importances to plot (they need >= 2 completed trials).")
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = _figure(6, 0.35 * len(items) + 1.5)
    ax = fig.add_subplot()
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    ax.set_xlabel("importance")
    ax.set_title(title or "hyperparameter importance")
    return _save(fig, path)


def plot_training_report(clf: Any, directory: str | Path, X: Any = None, y: Sequence | None = None,
                         proba: np.ndarray | None = None, *, data: str | None = None, cv: int | None = None,
                         client: Any = None) -> list[Path]:
    """Every plot available for a fitted or loaded EnsembleClassifier, written to ``directory``.

    The confusion matrix and ROC never show the training fit itself: with ``X`` and ``y`` and no
    ``proba`` they use out-of-fold probabilities (:func:`lia_dask.train.cross_val_proba`, ``cv``
    folds, default the classifier's ``cv``); given ``proba`` (out-of-fold or held-out), ``data``
    says which in the titles. With ``X`` and ``y``: t-SNE; the selection / tuning history and
    hyperparameter importance when present.

    Parameters
    ----------
    clf : EnsembleClassifier
    directory : path-like
    X : DataFrame or ndarray (n, d), optional
        Training features.
    y : array-like (n,), optional
        Labels.
    proba : ndarray (n, K), optional
        Probabilities that are not the training fit (out-of-fold, held-out data).
    data : str, optional
        What ``proba`` is, for the titles (required with ``proba``).
    cv : int, optional
        Folds for the out-of-fold probabilities.
    client : distributed.Client, optional
        Run the folds on the cluster.

    Returns
    -------
    list of Path
    """
    d = Path(directory)
    out: list[Path] = []
    classes = list(clf.classes_)
    if y is not None and proba is None and X is not None:
        from .train.evaluate import cross_val_proba

        k = int(cv or max(2, min(int(getattr(clf, "cv", 5) or 5), 10)))
        proba = cross_val_proba(clf, X, y, cv=k, client=client)
        data = f"out-of-fold, {k}-fold CV, {len(y):,} training lightcurves"
    if y is not None and proba is not None:
        if not data:
            raise InputError("plot_training_report: say what data `proba` is (data='out-of-fold, 10-fold CV' or "
                             "'held-out: ...'), or pass X and y to have it computed out-of-fold.")
        pred = np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)]
        out.append(plot_confusion_matrix(np.asarray(y, dtype=object), pred, classes, d / "confusion_matrix.png",
                                         title=f"confusion matrix (rows normalized)\n{data}"))
        out.append(plot_roc(np.asarray(y, dtype=object), proba, classes, d / "roc.png",
                            title=f"ROC, one class vs rest\n{data}"))
    if X is not None and y is not None and len(y) >= 5:
        out.append(plot_tsne(clf.transform_features(X), y, d / "tsne.png"))
    if getattr(clf, "selection_", None) is not None:
        out.append(plot_feature_selection(clf.selection_, d / "feature_selection.png"))
    tuning = getattr(clf, "tuning_", None)
    if tuning is not None:
        out.append(plot_tuning_history(tuning.trials, d / "tuning_history.png"))
        if tuning.importances:
            out.append(plot_param_importance(tuning.importances, d / "hyperparameter_importance.png"))
    return out
