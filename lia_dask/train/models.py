"""Estimator factories and Optuna search spaces for ``xgb``, ``rf`` and ``nn``.

Labels are always integer codes ``0 .. K-1`` here (the ensemble keeps the class names).
``nn`` is a scikit-learn ``MLPClassifier`` behind a ``StandardScaler`` (MicroLIA leaves
standardisation to the user; an unscaled MLP on features spanning 1e10 does not train).
Search spaces follow MicroLIA 2.8.1 (``../shared/spec/SIMULATION_AND_TRAINING.md`` §4.6) with its
bugs fixed: no ``max_features='auto'``; the RF ``class_weight``/``max_samples`` found by the
search are kept; the final MLP is the one cross-validated.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import ConfigError

MODELS = ("xgb", "rf", "nn")


def make_estimator(model: str, params: dict[str, Any] | None, n_classes: int,
                   random_state: int | None, n_jobs: int | None = None) -> Any:
    """An unfitted estimator with ``params`` (library defaults for the rest).

    Parameters
    ----------
    model : {"xgb", "rf", "nn"}
    params : dict, optional
        Hyperparameters as produced by :func:`suggest_params` (or user-given).
    n_classes : int
        Number of classes (picks the XGBoost objective).
    random_state : int, optional
    n_jobs : int, optional
        Threads for XGBoost / random forest (None: all cores for XGBoost, 1 for the forest).
    """
    params = dict(params or {})
    if model == "xgb":
        import xgboost as xgb

        kw = dict(n_estimators=100, tree_method="hist", random_state=random_state, n_jobs=n_jobs)
        if n_classes > 2:
            kw.update(objective="multi:softprob", num_class=n_classes)
        else:
            kw.update(objective="binary:logistic")
        if "eta" in params:
            params["learning_rate"] = params.pop("eta")
        kw.update(params)
        return xgb.XGBClassifier(**kw)
    if model == "rf":
        from sklearn.ensemble import RandomForestClassifier

        kw = dict(n_estimators=100, random_state=random_state, n_jobs=n_jobs)
        kw.update(params)
        if not kw.get("bootstrap", True):
            kw.pop("max_samples", None)
        return RandomForestClassifier(**kw)
    if model == "nn":
        from sklearn.neural_network import MLPClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        layers = params.pop("n_layers", None)
        units = [params.pop(f"n_units_{i}") for i in range(10) if f"n_units_{i}" in params]
        if layers is not None:
            params["hidden_layer_sizes"] = tuple(units[:layers])
        kw = dict(random_state=random_state, max_iter=500, early_stopping=True, n_iter_no_change=20)
        kw.update(params)
        return make_pipeline(StandardScaler(), MLPClassifier(**kw))
    raise ConfigError(f"model must be one of {MODELS}, got {model!r}.")


class _Space:
    """Wraps an Optuna trial: parameters named in ``fixed`` are not searched but take the fixed value."""

    def __init__(self, trial: Any, fixed: dict[str, Any] | None):
        self.trial, self.fixed = trial, dict(fixed or {})

    def _get(self, kind: str, name: str, *args: Any, **kw: Any) -> Any:
        if name in self.fixed:
            return self.fixed[name]
        return getattr(self.trial, f"suggest_{kind}")(name, *args, **kw)

    def suggest_int(self, name: str, *a: Any, **kw: Any) -> Any:
        return self._get("int", name, *a, **kw)

    def suggest_float(self, name: str, *a: Any, **kw: Any) -> Any:
        return self._get("float", name, *a, **kw)

    def suggest_categorical(self, name: str, *a: Any, **kw: Any) -> Any:
        return self._get("categorical", name, *a, **kw)


def suggest_params(trial: Any, model: str, limit_search: bool = True,
                   fixed: dict[str, Any] | None = None) -> dict[str, Any]:
    """Draw one hyperparameter set from ``trial`` (an ``optuna.Trial``) for ``model``.

    Parameters named in ``fixed`` are held at the given value (not searched); other entries of
    ``fixed`` are passed through to the estimator.
    """
    s = _Space(trial, fixed)
    p = _suggest(s, model, limit_search)
    for k, v in (fixed or {}).items():
        p.setdefault(k, v)
    return p


def _suggest(s: Any, model: str, limit_search: bool) -> dict[str, Any]:
    if model == "xgb":
        if limit_search:
            return dict(
                n_estimators=s.suggest_int("n_estimators", 100, 300),
                max_depth=s.suggest_int("max_depth", 3, 10),
                eta=s.suggest_float("eta", 1e-3, 0.3, log=True),
                reg_lambda=s.suggest_float("reg_lambda", 1e-3, 2.0, log=True),
                reg_alpha=s.suggest_float("reg_alpha", 1e-3, 2.0, log=True),
                gamma=s.suggest_float("gamma", 0.0, 10.0),
                subsample=s.suggest_float("subsample", 0.5, 1.0),
            )
        return dict(
            n_estimators=s.suggest_int("n_estimators", 50, 2000),
            max_depth=s.suggest_int("max_depth", 3, 10),
            eta=s.suggest_float("eta", 1e-3, 0.3, log=True),
            reg_lambda=s.suggest_float("reg_lambda", 1e-3, 10.0, log=True),
            reg_alpha=s.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
            gamma=s.suggest_float("gamma", 0.0, 10.0),
            min_child_weight=s.suggest_float("min_child_weight", 1e-3, 50.0, log=True),
            subsample=s.suggest_float("subsample", 0.5, 1.0),
            colsample_bytree=s.suggest_float("colsample_bytree", 0.5, 1.0),
        )
    if model == "rf":
        p = dict(
            n_estimators=s.suggest_int("n_estimators", 100, 1000 if not limit_search else 500),
            criterion=s.suggest_categorical("criterion", ["gini", "entropy", "log_loss"]),
            max_depth=s.suggest_int("max_depth", 2, 50),
            min_samples_split=s.suggest_int("min_samples_split", 2, 50),
            min_samples_leaf=s.suggest_int("min_samples_leaf", 1, 30),
            max_features=s.suggest_categorical("max_features", ["sqrt", "log2", None]),
            bootstrap=s.suggest_categorical("bootstrap", [True, False]),
            class_weight=s.suggest_categorical("class_weight", [None, "balanced", "balanced_subsample"]),
        )
        if p["bootstrap"]:
            p["max_samples"] = s.suggest_float("max_samples", 0.3, 1.0)
        elif p["class_weight"] == "balanced_subsample":
            p["class_weight"] = "balanced"
        return p
    if model == "nn":
        n_layers = s.suggest_int("n_layers", 1, 10 if not limit_search else 4)
        p = dict(
            learning_rate_init=s.suggest_float("learning_rate_init", 1e-5, 0.3, log=True),
            solver=s.suggest_categorical("solver", ["sgd", "adam"]),
            activation=s.suggest_categorical("activation", ["logistic", "tanh", "relu"]),
            learning_rate=s.suggest_categorical("learning_rate", ["constant", "invscaling", "adaptive"]),
            alpha=s.suggest_float("alpha", 1e-7, 1.0, log=True),
            n_layers=n_layers,
        )
        for i in range(n_layers):
            p[f"n_units_{i}"] = s.suggest_int(f"n_units_{i}", 10, 200)
        return p
    raise ConfigError(f"model must be one of {MODELS}, got {model!r}.")


def fit_estimator(est: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None,
                  progress: Callable[[int], Any] | None = None) -> Any:
    """Fit ``est`` on ``X`` (n, d), integer ``y`` (n,), optional weights (MLP ignores them).

    ``progress``, if given, is called with the number of steps (XGBoost boosting rounds, forest
    trees, 1 for the network) and returns a bar (``update(n)``, ``close()``) that the fit advances:
    an XGBoost callback per round; the forest grown in ten ``warm_start`` steps (scikit-learn draws
    the same tree seeds as a single fit, so the forest is the same).
    """
    if progress is None:
        return _fit(est, X, y, sample_weight)
    import xgboost as xgb
    from sklearn.ensemble import RandomForestClassifier

    if isinstance(est, xgb.XGBClassifier):
        bar = progress(int(est.get_params()["n_estimators"] or 100))

        class _Rounds(xgb.callback.TrainingCallback):
            def after_iteration(self, model, epoch, evals_log):  # noqa: ANN001 - XGBoost's signature
                bar.update(1)
                return False

        est.set_params(callbacks=[_Rounds()])
        try:
            return _fit(est, X, y, sample_weight)
        finally:
            est.set_params(callbacks=None)
            bar.close()
    if isinstance(est, RandomForestClassifier) and not est.warm_start:
        total = int(est.n_estimators)
        bar = progress(total)
        try:
            est.set_params(warm_start=True)
            for n in np.unique(np.linspace(0, total, 11).round().astype(int))[1:]:
                done = len(getattr(est, "estimators_", []))
                est.set_params(n_estimators=int(n))
                _fit(est, X, y, sample_weight)
                bar.update(int(n) - done)
            return est
        finally:
            est.set_params(warm_start=False, n_estimators=total)
            bar.close()
    bar = progress(1)
    try:
        return _fit(est, X, y, sample_weight)
    finally:
        bar.update(1)
        bar.close()


def _fit(est: Any, X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None) -> Any:
    from sklearn.pipeline import Pipeline

    if isinstance(est, Pipeline):
        if sample_weight is not None:
            # MLPClassifier supports sample_weight since scikit-learn 1.7
            try:
                return est.fit(X, y, mlpclassifier__sample_weight=sample_weight)
            except TypeError:
                return est.fit(X, y)
        return est.fit(X, y)
    if sample_weight is None:
        return est.fit(X, y)
    return est.fit(X, y, sample_weight=sample_weight)
