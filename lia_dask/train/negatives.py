"""Hard-negative mining for survey alerts (pure: arrays in, arrays out).

A survey's false alerts are the rare non-events that look most like an event: a constant star whose
red noise or outliers make a bump, a dwarf nova caught in one outburst. A balanced training set holds
few of them. Mining scores a large labelled set of simulated non-events (another seed) with a first
model and adds the highest-scoring ones to the training set (``lia-dask train --hard-negatives``).
"""
from __future__ import annotations

import numpy as np

#: the training recipe's default feature set when features are extracted from an archive (issue 11:
#: MicroLIA's 168 statistics plus the physical model block)
TRAIN_FEATURE_SET = "microlia-2.8.1+physical"


def hard_negative_rows(score: np.ndarray, labels: np.ndarray, top: int, target: str = "ML") -> np.ndarray:
    """Rows of the ``top`` highest-scoring non-events.

    Parameters
    ----------
    score : ndarray, shape (n,)
        The first model's P(target) for each row of the mining set.
    labels : ndarray of str, shape (n,)
        True labels of the mining set; rows labelled ``target`` are never taken.
    top : int
        How many rows to take (all non-events when fewer).

    Returns
    -------
    ndarray of int64, shape (min(top, #non-events),)
        Row indices, highest score first (ties broken by row order).
    """
    score = np.asarray(score, np.float64)
    neg = np.flatnonzero(np.asarray(labels).astype(str) != target)
    order = np.argsort(-np.nan_to_num(score[neg], nan=-np.inf), kind="stable")
    return neg[order[: max(int(top), 0)]].astype(np.int64)


def mine_hard_negatives(X, y, X_pool, y_pool, top: int, *, client=None, **estimator) -> np.ndarray:
    """Rows of the mining set ``(X_pool, y_pool)`` that a first model fitted on ``(X, y)`` scores most
    event-like (the ``top`` highest P(ML) among its non-events).

    Parameters
    ----------
    X, y : DataFrame (n, d), array (n,)
        Training features and labels (must include ``ML``).
    X_pool, y_pool : DataFrame (m, d), array (m,)
        Labelled simulated non-events (another seed); rows labelled ``ML`` are skipped.
    top : int
    **estimator
        :class:`~lia_dask.train.EnsembleClassifier` settings of the first model (no selection or tuning).

    Returns
    -------
    ndarray of int64
        Row positions in ``X_pool``, highest score first.
    """
    from ..errors import InputError
    from .ensemble import EnsembleClassifier

    first = EnsembleClassifier(**estimator).fit(X, y, client=client)
    names = [str(c) for c in first.classes_]
    if "ML" not in names:
        raise InputError(f"hard-negative mining scores non-events against the class 'ML'; the labels are {names}.")
    return hard_negative_rows(first.raw_proba(X_pool)[:, names.index("ML")], np.asarray(y_pool), top)
