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


def mine_hard_negatives(X, y, X_pool, y_pool, top: int, *, rounds: int = 1, client=None, **estimator) -> np.ndarray:
    """Rows of the mining set ``(X_pool, y_pool)`` that a first model fitted on ``(X, y)`` scores most
    event-like (the ``top`` highest P(ML) among its non-events), in ``rounds`` rounds.

    Each round refits the model on the training rows plus the rows mined so far and takes the ``top``
    highest-scoring non-events not yet taken: the second round finds what the first round's additions
    did not teach the model (the next layer of the event / non-event boundary).

    Parameters
    ----------
    X, y : DataFrame (n, d), array (n,)
        Training features and labels (must include ``ML``).
    X_pool, y_pool : DataFrame (m, d), array (m,)
        Labelled simulated non-events (another seed); rows labelled ``ML`` are skipped.
    top : int
        Rows taken per round.
    rounds : int
        Mining rounds (>= 1).
    **estimator
        :class:`~lia_dask.train.EnsembleClassifier` settings of the first model (no selection or tuning).

    Returns
    -------
    ndarray of int64, shape (<= rounds * top,)
        Row positions in ``X_pool``, in the order taken (highest score first within a round).
    """
    import pandas as pd

    from ..errors import ConfigError, InputError
    from .ensemble import EnsembleClassifier

    if int(rounds) < 1:
        raise ConfigError(f"hard-negative mining needs rounds >= 1, got {rounds}.")
    y_pool = np.asarray(y_pool)
    taken = np.zeros(0, np.int64)
    for _ in range(int(rounds)):
        Xr = X if not len(taken) else pd.concat([pd.DataFrame(X), pd.DataFrame(X_pool).iloc[taken]], ignore_index=True)
        yr = np.asarray(y) if not len(taken) else np.r_[np.asarray(y), y_pool[taken]]
        first = EnsembleClassifier(**estimator).fit(Xr, yr, client=client)
        names = [str(c) for c in first.classes_]
        if "ML" not in names:
            raise InputError(f"hard-negative mining scores non-events against the class 'ML'; the labels are {names}.")
        score = first.raw_proba(X_pool)[:, names.index("ML")]
        score[taken] = -np.inf
        fresh = hard_negative_rows(score, y_pool, top)
        fresh = fresh[np.isfinite(score[fresh])]
        if not len(fresh):
            break
        taken = np.r_[taken, fresh]
    return taken
