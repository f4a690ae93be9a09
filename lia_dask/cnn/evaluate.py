"""Lens-finding metrics of the Strong Lens Finding Challenge, precision / recall of a rare
positive class, and their plots.

Kernels (arrays in, numbers / arrays out):

* :func:`challenge_metrics` — AUROC, TPR0 (highest true-positive rate with no false positive),
  TPR10 (highest TPR with fewer than 10 false positives), TPR at 1 % and 0.1 % false-positive
  rate (Metcalf et al. 2019, section 4). TPR0 and TPR10 count false positives, so they depend
  on the number of non-lenses in the test set (the challenge had ~ 10^5 images): compare them
  only between test sets of the same size.
* :func:`breakdown` — TPR of the lenses per bin of Einstein radius, lensed-source S/N, seeing and
  visible pixels, and the false-positive rate per non-lens kind, at the cut of a given FPR.
* :func:`positive_class_metrics` — precision, recall and F1 of the positive class at a
  threshold, average precision, and the PR curve (for the 1 % positive flux series).

Plots (matplotlib, written to a file): :func:`plot_roc` on a logarithmic FPR axis,
:func:`plot_pr`. :func:`evaluate_cutouts` is the driver behind ``lia-dask cnn evaluate``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError


def _check(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y).astype(bool).reshape(-1)
    p = np.asarray(p, dtype=np.float64).reshape(-1)
    if len(y) != len(p):
        raise InputError(f"labels ({len(y)}) and scores ({len(p)}) must have one entry per object.")
    if not np.isfinite(p).all():
        raise InputError(f"{int((~np.isfinite(p)).sum())} scores are NaN or infinite; drop those objects first.")
    if y.all() or not y.any():
        raise InputError(f"the metrics need both classes, got {int(y.sum())} positives of {len(y)}.")
    return y, p


def tpr_below_fp(y, p, max_false_positives: int) -> float:
    """Highest TPR with fewer than ``max_false_positives`` false positives (TPR0: pass 1).

    The threshold sits just above the ``max_false_positives``-th highest non-lens score; ties
    with it count as false positives, so tied scores never help.
    """
    y, p = _check(y, p)
    neg = np.sort(p[~y])[::-1]
    if max_false_positives > len(neg):
        return 1.0
    return float((p[y] > neg[max_false_positives - 1]).mean())


def tpr_at_fpr(y, p, fpr: float) -> float:
    """Highest TPR whose false-positive rate does not exceed ``fpr`` (no interpolation)."""
    y, p = _check(y, p)
    k = int(np.floor(fpr * (~y).sum()))  # false positives allowed
    return tpr_below_fp(y, p, k + 1)


def challenge_metrics(y, p) -> dict:
    """AUROC, TPR0, TPR10, TPR@1%FPR, TPR@0.1%FPR and the class counts of scores ``p`` (N,).

    ``y`` (N,) is 1 / True for lenses. Returns a dict of floats (counts as ints).
    """
    from sklearn.metrics import roc_auc_score

    y, p = _check(y, p)
    return {"auroc": float(roc_auc_score(y, p)), "tpr0": tpr_below_fp(y, p, 1), "tpr10": tpr_below_fp(y, p, 10),
            "tpr_at_fpr_1pct": tpr_at_fpr(y, p, 0.01), "tpr_at_fpr_0.1pct": tpr_at_fpr(y, p, 0.001),
            "n_positive": int(y.sum()), "n_negative": int((~y).sum())}


def score_threshold_at_fpr(y, p, fpr: float) -> float:
    """Score above which at most ``floor(fpr * N_neg)`` non-lenses lie (the cut of :func:`tpr_at_fpr`)."""
    y, p = _check(y, p)
    neg = np.sort(p[~y])[::-1]
    k = int(np.floor(fpr * len(neg)))
    return float(neg[k]) if k < len(neg) else -np.inf


def breakdown(truth, y, p, fpr: float = 0.01, bins: dict | None = None):
    """Which lenses are missed and which non-lenses fool the model, at the cut of ``fpr``.

    Parameters
    ----------
    truth : pandas.DataFrame (N rows)
        Simulation truth (``theta_e`` arcsec, ``source_snr``, ``seeing`` arcsec FWHM,
        ``n_pix_source``, ``kind``), row i for object i.
    y, p : (N,) arrays
        Labels (True = lens) and scores.
    fpr : float
        The score cut is the one of TPR at this false-positive rate.
    bins : dict, optional
        Column -> bin edges for the lenses (defaults: theta_E, S/N, seeing, n_pix_source).

    Returns
    -------
    pandas.DataFrame
        One row per lens bin (``group`` = column, ``bin``, ``n``, ``tpr`` at the cut, median score)
        and per non-lens ``kind`` (``group`` = ``kind``, ``fpr`` at the cut = share of that kind
        above it, ``share_of_fp`` = its share of all false positives).
    """
    import pandas as pd

    y, p = _check(y, p)
    cut = score_threshold_at_fpr(y, p, fpr)
    bins = bins or {"theta_e": [0.5, 0.7, 1.0, 1.4, 2.0], "source_snr": [5, 10, 20, 40, 80, 150],
                    "seeing": [0.5, 0.7, 0.8, 0.9, 1.0, 1.6], "n_pix_source": [20, 50, 100, 200, 1000]}
    rows = []
    t = truth.reset_index(drop=True)
    for col, edges in bins.items():
        if col not in t:
            continue
        v = t[col].to_numpy(dtype=float)
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = y & (v >= lo) & (v < hi)
            if m.any():
                rows.append({"group": col, "bin": f"{lo:g}-{hi:g}", "n": int(m.sum()), "tpr": float((p[m] > cut).mean()),
                             "median_score": float(np.median(p[m]))})
    if "kind" in t:
        kinds = t["kind"].astype(str).to_numpy()
        n_fp = max(1, int((~y & (p > cut)).sum()))
        for k in sorted(set(kinds[~y])):
            m = ~y & (kinds == k)
            rows.append({"group": "kind", "bin": k, "n": int(m.sum()), "fpr": float((p[m] > cut).mean()),
                         "share_of_fp": float((p[m] > cut).sum() / n_fp), "median_score": float(np.median(p[m]))})
    return pd.DataFrame(rows).assign(cut=cut, at_fpr=fpr)


def positive_class_metrics(y, p, threshold: float = 0.5) -> dict:
    """Precision, recall, F1 at ``threshold``, average precision and the best-F1 threshold.

    Returns a dict; ``pr_curve`` holds ``precision``, ``recall``, ``threshold`` lists (sklearn's
    ``precision_recall_curve``).
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    y, p = _check(y, p)
    hit = p >= threshold
    tp = int((hit & y).sum())
    prec = tp / max(int(hit.sum()), 1)
    rec = tp / int(y.sum())
    pr, rc, th = precision_recall_curve(y, p)
    f1 = 2 * pr * rc / np.maximum(pr + rc, 1e-12)
    best = int(np.argmax(f1[:-1])) if len(th) else 0
    return {"threshold": float(threshold), "precision": prec, "recall": rec,
            "f1": 2 * prec * rec / max(prec + rec, 1e-12), "average_precision": float(average_precision_score(y, p)),
            "best_f1": float(f1[best]), "best_f1_threshold": float(th[best]) if len(th) else float(threshold),
            "n_positive": int(y.sum()), "n_negative": int((~y).sum()),
            "pr_curve": {"precision": pr.tolist(), "recall": rc.tolist(), "threshold": th.tolist()}}


def _figure():
    from ..errors import MissingExtraError

    try:
        import matplotlib
    except ImportError as exc:
        raise MissingExtraError.for_extra("ROC / PR / study plots", "plots", "matplotlib") from exc

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_roc(curves: dict, path: str | os.PathLike, title: str = "ROC") -> Path:
    """ROC curves ``{name: (y, p)}`` on a logarithmic FPR axis (1/N_neg .. 1), saved to ``path``."""
    from sklearn.metrics import roc_curve

    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    lo = 1.0
    for name, (y, p) in curves.items():
        y, p = _check(y, p)
        fpr, tpr, _ = roc_curve(y, p)
        floor = 1.0 / (~y).sum()
        lo = min(lo, floor)
        m = challenge_metrics(y, p)
        ax.step(np.maximum(fpr, floor / 2), tpr, where="post",
                label=f"{name}: AUROC {m['auroc']:.3f}, TPR0 {m['tpr0']:.2f}, TPR10 {m['tpr10']:.2f}")
    ax.set_xscale("log")
    ax.set_xlim(lo / 2, 1)
    ax.set_ylim(0, 1.01)
    ax.axvline(0.01, color="0.7", lw=0.8, ls="--")
    ax.set_xlabel("false-positive rate (log)")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_pr(curves: dict, path: str | os.PathLike, title: str = "precision-recall") -> Path:
    """Precision-recall curves ``{name: (y, p)}`` of the positive class, saved to ``path``."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    plt = _figure()
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    for name, (y, p) in curves.items():
        y, p = _check(y, p)
        pr, rc, _ = precision_recall_curve(y, p)
        ax.step(rc, pr, where="post", label=f"{name}: AP {average_precision_score(y, p):.3f}")
    ax.set_xlabel("recall")
    ax.set_ylabel("precision")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_title(title)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def evaluate_cutouts(store, model, out: str | os.PathLike, batch_size: int = 256) -> dict:
    """Score a labelled cutout store with a CNN artifact; write ``metrics.json`` and ``roc.png``.

    Parameters
    ----------
    store : CutoutStore or path
        Needs a ``label`` array holding the artifact's positive class.
    model : CNNClassifier or artifact path
    out : path
        Directory for ``metrics.json`` (challenge metrics + positive-class metrics at 0.5) and
        ``roc.png`` (log-FPR axis).

    Returns
    -------
    dict
        What ``metrics.json`` holds (without the PR curve points).
    """
    from ..archive import CutoutStore, open_cutouts
    from .train import CNNClassifier

    st = store if isinstance(store, CutoutStore) else open_cutouts(store)
    clf = model if isinstance(model, CNNClassifier) else CNNClassifier.load(model)
    if st.label is None:
        raise InputError(f"cutout store {st.path} has no 'label' array; evaluate needs labelled cutouts.")
    lab = np.asarray(st.label).astype(str)
    if clf.classes_[1] not in set(lab.tolist()):
        raise InputError(f"store {st.path} has no cutout labelled {clf.classes_[1]!r} (the model's positive class); "
                         f"its labels are {sorted(set(lab.tolist()))}.")
    y = lab == clf.classes_[1]
    p = clf.predict_positive(st, batch_size=batch_size)
    res = {**challenge_metrics(y, p), **{k: v for k, v in positive_class_metrics(y, p).items() if k != "pr_curve"},
           "model_digest": clf.digest_, "store": str(st.path)}
    d = Path(out)
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.json").write_text(json.dumps(res, indent=1))
    plot_roc({clf.config.architecture: (y, p)}, d / "roc.png", title=f"{Path(str(st.path)).name}")
    return res
