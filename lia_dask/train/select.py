"""Boruta-SHAP feature selection with XGBoost's own TreeSHAP (``pred_contribs``).

Per trial: every still-active feature gets a shadow column (its values permuted), a gradient-
boosted model is fitted on 70 % of the rows, and SHAP importances (mean |SHAP| over all rows,
averaged over classes) of real and shadow columns are z-scored together. A real feature scores
a hit when its z exceeds the largest shadow z. After each trial, one-sided binomial tests of the
cumulative hits against p = 1/2 with a Bonferroni factor (the number of active features) accept
or reject features; rejected ones leave the next trial. Accepted = ever accepted; rejected =
ever rejected and not accepted; the rest are tentative. This follows MicroLIA's vendored
BorutaShap (spec §4.5) except that the shadows and the split are redrawn from a local RNG (no
global reseeding) and the split changes every trial.

The per-trial history (z-importances, shadow maximum, decisions) is kept for plotting.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.stats import binomtest

from ..errors import InputError


@dataclass
class SelectionResult:
    """Outcome of :func:`boruta_shap`.

    Attributes
    ----------
    names : list of str
        All candidate features, in input order (length d).
    decision : ndarray (d,) of str
        ``"accepted"``, ``"tentative"`` or ``"rejected"``.
    hits : ndarray (d,) int
        Cumulative hits.
    history : ndarray (n_trials, d)
        z-scored importance per trial (NaN once a feature is removed).
    shadow_max : ndarray (n_trials,)
        Largest shadow z per trial.
    shadow_mean : ndarray (n_trials,)
    """

    names: list[str]
    decision: np.ndarray
    hits: np.ndarray
    history: np.ndarray
    shadow_max: np.ndarray
    shadow_mean: np.ndarray
    settings: dict = field(default_factory=dict)

    @property
    def accepted(self) -> list[str]:
        """Names of accepted features, in input order."""
        return [n for n, d in zip(self.names, self.decision) if d == "accepted"]

    @property
    def tentative(self) -> list[str]:
        return [n for n, d in zip(self.names, self.decision) if d == "tentative"]

    def state(self) -> dict[str, np.ndarray]:
        """Arrays for the artifact."""
        return {"names": np.asarray(self.names, dtype=str), "decision": self.decision.astype(str),
                "hits": self.hits, "history": self.history, "shadow_max": self.shadow_max,
                "shadow_mean": self.shadow_mean}

    @classmethod
    def from_state(cls, s: dict[str, np.ndarray], settings: dict | None = None) -> "SelectionResult":
        return cls([str(n) for n in s["names"]], s["decision"].astype(str), s["hits"], s["history"],
                   s["shadow_max"], s["shadow_mean"], settings or {})


def shap_importance(X: np.ndarray, y: np.ndarray, X_eval: np.ndarray, n_classes: int,
                    random_state: int, sample_weight: np.ndarray | None = None,
                    n_estimators: int = 100, max_depth: int = 6, n_jobs: int | None = None) -> np.ndarray:
    """Mean |SHAP| per column of ``X_eval`` for an XGBoost model fitted on ``(X, y)``.

    Returns
    -------
    ndarray (d,)
        Averaged over samples and (multi-class) over classes; the bias term is dropped.
    """
    import xgboost as xgb

    params = dict(max_depth=max_depth, eta=0.3, tree_method="hist", seed=random_state, verbosity=0)
    if n_jobs:
        params["nthread"] = n_jobs
    if n_classes > 2:
        params.update(objective="multi:softprob", num_class=n_classes)
    else:
        params.update(objective="binary:logistic")
    dtrain = xgb.DMatrix(X, label=y, weight=sample_weight)
    booster = xgb.train(params, dtrain, num_boost_round=n_estimators)
    contrib = booster.predict(xgb.DMatrix(X_eval), pred_contribs=True)
    contrib = np.abs(np.asarray(contrib))
    if contrib.ndim == 3:  # (n, K, d+1)
        return contrib[:, :, :-1].mean(axis=(0, 1))
    return contrib[:, :-1].mean(axis=0)


def boruta_shap(X: np.ndarray, y: np.ndarray, names: list[str] | None = None, n_trials: int = 20,
                p_value: float = 0.05, train_fraction: float = 0.7, random_state: int | None = None,
                sample_weight: np.ndarray | None = None, n_estimators: int = 100,
                n_jobs: int | None = None) -> SelectionResult:
    """Select features that beat their shuffled shadows more often than chance.

    Parameters
    ----------
    X : ndarray (n, d)
        Features (NaN allowed; XGBoost handles it).
    y : ndarray (n,) int
        Class codes 0..K-1.
    names : list of str, optional
        Feature names (default ``f0..``).
    n_trials : int
        Boruta iterations. With d features, acceptance needs ``d * 2**-n < p_value`` at least,
        e.g. >= 12 trials for 168 features.
    p_value : float
        Significance level of the Bonferroni-corrected binomial tests.
    train_fraction : float
        Rows used to fit each trial's model; SHAP values are computed on all rows.
    random_state : int, optional
    sample_weight : ndarray (n,), optional
    n_estimators : int
        Boosting rounds of each trial's model.
    n_jobs : int, optional
        XGBoost threads.

    Returns
    -------
    SelectionResult
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    n, d = X.shape
    if n < 10 or d == 0:
        raise InputError(f"feature selection needs at least 10 rows and 1 feature, got {X.shape}.")
    if n_trials < 1:
        raise InputError(f"select_trials must be >= 1 for feature selection, got {n_trials}.")
    names = list(names) if names is not None else [f"f{i}" for i in range(d)]
    n_classes = int(y.max()) + 1
    rng = np.random.default_rng(random_state)
    seed = int(rng.integers(2**31 - 1))
    active = np.ones(d, bool)
    accepted = np.zeros(d, bool)
    rejected = np.zeros(d, bool)
    hits = np.zeros(d, np.int64)
    history = np.full((n_trials, d), np.nan)
    smax, smean = np.full(n_trials, np.nan), np.full(n_trials, np.nan)
    n_done = 0
    from ..cluster import progress_bar

    bar = progress_bar(n_trials, "feature selection (Boruta-SHAP trials)")
    for trial in range(n_trials):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        bar.update(1)
        real = X[:, idx]
        shadow = np.empty_like(real)
        for j in range(idx.size):
            shadow[:, j] = real[rng.permutation(n), j]
        ext = np.hstack([real, shadow])
        train = rng.permutation(n)[: max(2, int(round(train_fraction * n)))]
        w = None if sample_weight is None else sample_weight[train]
        imp = shap_importance(ext[train], y[train], ext, n_classes, seed + trial, w, n_estimators, n_jobs=n_jobs)
        sd = imp.std()
        z = (imp - imp.mean()) / (sd if sd > 0 else 1.0)
        zr, zs = z[: idx.size], z[idx.size:]
        history[trial, idx] = zr
        smax[trial], smean[trial] = zs.max(), zs.mean()
        hits[idx] += zr > zs.max()
        n_done = trial + 1
        m = idx.size
        for j in idx:
            h = int(hits[j])
            p_acc = binomtest(h, n_done, 0.5, alternative="greater").pvalue * m
            p_rej = binomtest(h, n_done, 0.5, alternative="less").pvalue * m
            if p_acc < p_value:
                accepted[j] = True
            elif p_rej < p_value:
                rejected[j] = True
                active[j] = False
    bar.close()
    decision = np.where(accepted, "accepted", np.where(rejected, "rejected", "tentative"))
    return SelectionResult(names, decision, hits, history[:n_done], smax[:n_done], smean[:n_done],
                           dict(n_trials=n_done, p_value=p_value, train_fraction=train_fraction,
                                random_state=random_state, importance="xgboost TreeSHAP"))
