"""Optuna hyperparameter search with trials evaluated in parallel on a Dask cluster.

One shared study lives on the client (in memory; ``optuna-integration``'s ``DaskStorage`` is not
installed here and is not needed): the client *asks* the TPE sampler for a trial, sends the
trial's cross-validation folds to the workers one after another as Dask tasks, reports the
running mean after every fold (so the median pruner can stop a poor trial early) and *tells*
the study the result. Up to ``n_parallel`` trials are in flight at once (TPE with the
"constant liar" so that concurrent trials do not all sample the same point). The training
matrix is scattered to the workers once.

Without a distributed client the same loop runs with a local thread pool.
"""
from __future__ import annotations

import concurrent.futures as cf
import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import ConfigError
from .models import fit_estimator, make_estimator, suggest_params

SCORINGS = ("f1_macro", "accuracy", "balanced_accuracy", "recall_macro", "precision_macro", "roc_auc_ovr")


def score(y_true: np.ndarray, proba: np.ndarray, scoring: str, sample_weight: np.ndarray | None = None) -> float:
    """Metric ``scoring`` for integer labels ``y_true`` (n,) and probabilities ``proba`` (n, K)."""
    from sklearn import metrics

    pred = proba.argmax(axis=1)
    labels = np.arange(proba.shape[1])
    w = sample_weight
    if scoring == "f1_macro":
        return float(metrics.f1_score(y_true, pred, labels=labels, average="macro", sample_weight=w, zero_division=0))
    if scoring == "accuracy":
        return float(metrics.accuracy_score(y_true, pred, sample_weight=w))
    if scoring == "balanced_accuracy":
        return float(metrics.balanced_accuracy_score(y_true, pred, sample_weight=w))
    if scoring == "recall_macro":
        return float(metrics.recall_score(y_true, pred, labels=labels, average="macro", sample_weight=w, zero_division=0))
    if scoring == "precision_macro":
        return float(metrics.precision_score(y_true, pred, labels=labels, average="macro", sample_weight=w, zero_division=0))
    if scoring == "roc_auc_ovr":
        if proba.shape[1] == 2:
            return float(metrics.roc_auc_score(y_true, proba[:, 1], sample_weight=w))
        return float(metrics.roc_auc_score(y_true, proba, multi_class="ovr", labels=labels, sample_weight=w))
    raise ConfigError(f"scoring must be one of {SCORINGS}, got {scoring!r}.")


def fold_score(model: str, params: dict, n_classes: int, X: np.ndarray, y: np.ndarray,
               sample_weight: np.ndarray | None, train_idx: np.ndarray, val_idx: np.ndarray,
               scoring: str, random_state: int | None, n_jobs: int | None) -> float:
    """Fit on ``train_idx`` rows, score on ``val_idx`` rows (one CV fold; runs on a worker)."""
    est = make_estimator(model, params, n_classes, random_state, n_jobs=n_jobs)
    w_tr = None if sample_weight is None else sample_weight[train_idx]
    w_va = None if sample_weight is None else sample_weight[val_idx]
    from threadpoolctl import threadpool_limits

    with warnings.catch_warnings(), threadpool_limits(n_jobs):
        warnings.simplefilter("ignore")
        fit_estimator(est, X[train_idx], y[train_idx], w_tr)
        proba = est.predict_proba(X[val_idx])
    return score(y[val_idx], np.asarray(proba), scoring, w_va)


@dataclass
class TuneResult:
    """Outcome of :func:`tune`: best parameters, per-trial history and parameter importances."""

    best_params: dict
    best_value: float
    trials: list[dict]
    importances: dict[str, float]
    settings: dict = field(default_factory=dict)


def _executor(client: Any):
    if client is None:
        try:
            from distributed import default_client

            client = default_client()
        except (ImportError, ValueError):
            client = None
    return client


def _wait_first(futures: list) -> list:
    if futures and hasattr(futures[0], "key"):  # distributed futures
        from distributed import wait

        return list(wait(futures, return_when="FIRST_COMPLETED").done)
    return list(cf.wait(futures, return_when=cf.FIRST_COMPLETED).done)


def tune(X: np.ndarray, y: np.ndarray, model: str, n_trials: int, cv: int = 10, scoring: str = "f1_macro",
         random_state: int | None = None, sample_weight: np.ndarray | None = None, client: Any = None,
         n_parallel: int | None = None, limit_search: bool = True, prune: bool = True,
         timeout: float | None = None, n_jobs: int | None = None,
         fixed_params: dict | None = None) -> TuneResult:
    """Search hyperparameters of ``model`` by k-fold cross-validation with Optuna's TPE sampler.

    Parameters
    ----------
    X : ndarray (n, d)
    y : ndarray (n,) int, class codes 0..K-1
    model : {"xgb", "rf", "nn"}
    n_trials : int
    cv : int
        Stratified folds (shuffled with ``random_state``), the same for every trial.
    scoring : str
        One of :data:`SCORINGS`; maximised.
    sample_weight : ndarray (n,), optional
        Used in fitting and in scoring.
    client : distributed.Client, optional
        Where folds run; None: the default distributed client if any, else local threads.
    n_parallel : int, optional
        Trials in flight (default: the client's total worker threads, or 1 locally).
    limit_search, prune, timeout
        Smaller search spaces; median pruning after each fold; stop starting trials after
        ``timeout`` seconds.
    fixed_params : dict, optional
        Hyperparameters held at these values (not searched), e.g. ``{"n_estimators": 50}``.
    n_jobs : int, optional
        Threads per fold fit when running locally with one trial at a time (on a cluster and
        with parallel local trials each fold uses one thread).

    Returns
    -------
    TuneResult
    """
    import optuna
    from sklearn.model_selection import StratifiedKFold

    if n_trials < 1:
        raise ConfigError(f"tune_trials must be >= 1, got {n_trials}.")
    if cv < 2:
        raise ConfigError(f"cv must be >= 2 folds for tuning, got {cv}.")
    y = np.asarray(y)
    n_classes = int(y.max()) + 1
    if np.bincount(y).min() < cv:
        raise ConfigError(f"the smallest class has {np.bincount(y).min()} rows, fewer than cv={cv} folds; lower --cv.")
    folds = list(StratifiedKFold(n_splits=cv, shuffle=True, random_state=random_state).split(X, y))
    client = _executor(client)
    if client is not None:
        n_par = n_parallel or max(1, sum(client.nthreads().values()))
        data = client.scatter([np.asarray(X), y, sample_weight], broadcast=True, hash=False)
        Xf, yf, wf = data
        n_jobs = 1

        def submit(params, k, trial_no):
            tr, va = folds[k]
            return client.submit(fold_score, model, params, n_classes, Xf, yf, wf, tr, va, scoring,
                                 random_state, n_jobs, pure=False, key=f"lia-tune-{trial_no}-{k}-{time.time_ns()}")
        pool = None
    else:
        n_par = n_parallel or 1
        pool = cf.ThreadPoolExecutor(max_workers=n_par)
        n_jobs = n_jobs if n_par == 1 else 1

        def submit(params, k, trial_no):
            tr, va = folds[k]
            return pool.submit(fold_score, model, params, n_classes, X, y, sample_weight, tr, va, scoring,
                               random_state, n_jobs)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=random_state, constant_liar=n_par > 1)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0) if prune else optuna.pruners.NopPruner()
    study = optuna.create_study(direction="maximize", sampler=sampler, pruner=pruner)
    running: dict[Any, tuple] = {}
    started, t0 = 0, time.perf_counter()
    from ..cluster import progress_bar

    bar = progress_bar(n_trials, "tuning trials")
    timing: dict[int, float] = {}
    try:
        while started < n_trials or running:
            while (len(running) < n_par and started < n_trials
                   and (timeout is None or time.perf_counter() - t0 < timeout)):
                trial = study.ask()
                params = suggest_params(trial, model, limit_search, fixed_params)
                timing[trial.number] = time.perf_counter()
                running[submit(params, 0, trial.number)] = (trial, params, 0, [])
                started += 1
            if not running:
                break
            for fut in _wait_first(list(running)):
                trial, params, k, scores = running.pop(fut)
                try:
                    s = float(fut.result())
                except Exception as exc:  # a failing fit fails the trial, not the search
                    trial.set_user_attr("error", f"{type(exc).__name__}: {exc}"[:300])
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    bar.update(1)
                    continue
                if not math.isfinite(s):
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    bar.update(1)
                    continue
                scores.append(s)
                trial.report(float(np.mean(scores)), step=k)
                if k + 1 < cv and trial.should_prune():
                    study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                    bar.update(1)
                elif k + 1 < cv:
                    running[submit(params, k + 1, trial.number)] = (trial, params, k + 1, scores)
                else:
                    study.tell(trial, float(np.mean(scores)))
                    bar.update(1)
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        elif client is not None:
            client.cancel(list(running) + data)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        errors = {t.user_attrs.get("error") for t in study.trials} - {None}
        raise ConfigError(f"every tuning trial failed or was pruned ({sorted(errors)[:3]}); check the data and model.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imps = {k: float(v) for k, v in optuna.importance.get_param_importances(study).items()}
    except Exception:  # fewer than two distinct completed trials, etc.
        imps = {}
    history = [
        dict(number=t.number, state=t.state.name, value=t.value, params=t.params,
             intermediate={str(k): v for k, v in t.intermediate_values.items()},
             duration_s=t.duration.total_seconds() if t.duration else None,
             error=t.user_attrs.get("error"))
        for t in study.trials
    ]
    best = study.best_trial
    best_params = _params_from_trial(best.params, model)
    for k, v in (fixed_params or {}).items():
        best_params.setdefault(k, v)
    return TuneResult(best_params=best_params, best_value=float(best.value),
                      trials=history, importances=imps,
                      settings=dict(n_trials=n_trials, cv=cv, scoring=scoring, sampler="TPE",
                                    pruner="median" if prune else "none", n_parallel=n_par,
                                    limit_search=limit_search, random_state=random_state,
                                    fixed_params=dict(fixed_params or {}),
                                    wall_s=time.perf_counter() - t0,
                                    executor="dask" if client is not None else "threads"))


def _params_from_trial(params: dict, model: str) -> dict:
    """Estimator parameters from a trial's raw Optuna parameters (undo the search-only names)."""
    p = dict(params)
    if model == "rf" and not p.get("bootstrap", True) and p.get("class_weight") == "balanced_subsample":
        p["class_weight"] = "balanced"
    return p
