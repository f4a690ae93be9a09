"""Training from a Dask DataFrame: gather it when small, else ``xgboost.dask`` on the whole of it.

Large path (features bigger than ``gather_limit_bytes``, model ``xgb`` only): a random sample of
``sample_rows`` rows is gathered to fit the imputer, select features and tune hyperparameters
(exactly as the central path does); then every partition is cleaned, column-selected and imputed
where it lives, and ``xgboost.dask.train`` fits the final booster across the workers.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..errors import ConfigError, InputError
from .impute import KNNImputer, clean_features
from .portable import PortableXGB

_LABEL = "__lia_label__"
_WEIGHT = "__lia_weight__"


def _frame_with_label(X: Any, y: Any, sample_weight: Any) -> tuple[Any, list[str]]:
    if isinstance(y, str):
        if y not in X.columns:
            raise InputError(f"label column {y!r} is not in the feature table.")
        X = X.rename(columns={y: _LABEL})
    elif y is None:
        raise InputError("fit needs labels: pass y (a Dask Series or the name of the label column).")
    else:
        X = X.assign(**{_LABEL: y})
    if sample_weight is not None:
        if isinstance(sample_weight, str):
            X = X.rename(columns={sample_weight: _WEIGHT})
        else:
            X = X.assign(**{_WEIGHT: sample_weight})
    names = [c for c in X.columns if c not in (_LABEL, _WEIGHT)]
    return X, names


def _prepare_partition(df: pd.DataFrame, cols: list[str], imputer: KNNImputer | None,
                       classes: np.ndarray) -> pd.DataFrame:
    """Select, clean and impute one partition; labels become codes (pure; runs on a worker)."""
    Xv = clean_features(df[cols].to_numpy(dtype=np.float64))
    if imputer is not None and len(Xv):
        Xv = imputer.transform(Xv)
    out = pd.DataFrame(Xv.astype(np.float32), columns=cols, index=df.index)
    lab = df[_LABEL].to_numpy()
    codes = np.searchsorted(classes, lab)
    codes = np.clip(codes, 0, len(classes) - 1)
    if len(lab) and not np.array_equal(classes[codes], lab):
        unknown = sorted(set(map(str, lab)) - set(map(str, classes)))[:5]
        raise InputError(f"labels {unknown} were not in the gathered sample; raise sample_rows.")
    out[_LABEL] = codes.astype(np.int32)
    if _WEIGHT in df.columns:
        out[_WEIGHT] = df[_WEIGHT].to_numpy(dtype=np.float32)
    return out


def booster_params(params: dict, n_classes: int, random_state: int | None) -> tuple[dict, int]:
    """XGBoost native parameters and boosting rounds from scikit-learn-style ``params``."""
    p = dict(params)
    rounds = int(p.pop("n_estimators", 100))
    rename = {"eta": "eta", "learning_rate": "eta", "reg_lambda": "lambda", "reg_alpha": "alpha"}
    out = {rename.get(k, k): v for k, v in p.items()}
    out.update(tree_method="hist", seed=0 if random_state is None else int(random_state), verbosity=0)
    if n_classes > 2:
        out.update(objective="multi:softprob", num_class=n_classes)
    else:
        out.update(objective="binary:logistic")
    return out, rounds


def fit_dask_frame(clf: Any, cfg: Any, X: Any, y: Any, sample_weight: Any, client: Any) -> Any:
    """Fit ``clf`` (an EnsembleClassifier) on a Dask DataFrame; see the module docstring."""
    from dask.base import tokenize

    frame, names = _frame_with_label(X, y, sample_weight)
    nbytes = float(frame.memory_usage(deep=True).sum().compute())
    if nbytes <= cfg.gather_limit_bytes:
        df = frame.compute()
        w = df[_WEIGHT].to_numpy() if _WEIGHT in df.columns else None
        return clf.fit(df[names], df[_LABEL].to_numpy(), w, client=client,
                       feature_set=clf.feature_set_, feature_settings=clf.feature_settings_)
    if cfg.model != "xgb":
        raise ConfigError(
            f"the feature table ({nbytes / 1e9:.1f} GB) is larger than gather_limit_bytes and only model "
            "'xgb' trains distributed (xgboost.dask); use model='xgb' or raise gather_limit_bytes."
        )
    from .tune import _executor

    client = _executor(client)
    if client is None:
        raise ConfigError("training on a Dask DataFrame larger than gather_limit_bytes needs a distributed Client.")
    import xgboost as xgb
    import xgboost.dask  # noqa: F401  (registers xgb.dask)

    n_rows = int(frame.shape[0].compute())
    frac = min(1.0, cfg.sample_rows / max(n_rows, 1))
    sample = frame.sample(frac=frac, random_state=cfg.random_state).compute() if frac < 1 else frame.compute()
    w_s = sample[_WEIGHT].to_numpy() if _WEIGHT in sample.columns else None
    Xs = sample[names].to_numpy(dtype=np.float64)
    clf._fit_arrays(cfg, names, Xs, sample[_LABEL].to_numpy(), w_s, client, final_fit=False)
    del clf._train_matrix
    cols = list(clf.selected_features_)
    meta = pd.DataFrame({c: pd.Series(dtype=np.float32) for c in cols})
    meta[_LABEL] = pd.Series(dtype=np.int32)
    if _WEIGHT in frame.columns:
        meta[_WEIGHT] = pd.Series(dtype=np.float32)
    prepared = frame.map_partitions(_prepare_partition, cols, clf.imputer_, clf.classes_, meta=meta)
    dtrain = xgb.dask.DaskDMatrix(client, prepared[cols], prepared[_LABEL],
                                  weight=prepared[_WEIGHT] if _WEIGHT in frame.columns else None)
    params, rounds = booster_params(clf.best_params_, len(clf.classes_), cfg.random_state)
    out = xgb.dask.train(client, params, dtrain, num_boost_round=rounds)
    booster = out["booster"]
    clf.estimator_ = booster
    clf.predictor_ = PortableXGB(booster, len(clf.classes_))
    clf.training_digest_ = "dask:" + tokenize(frame)
    clf.metrics_["class_counts_sample"] = clf.metrics_.pop("class_counts")
    clf.metrics_.update(n_train=n_rows, n_sample=int(len(sample)), distributed=True)
    return clf
