"""EnsembleClassifier: impute -> select -> tune -> fit, with a scikit-learn API and portable artifacts.

The training table is small (a feature row per training lightcurve) and is fitted centrally;
tuning trials run on the Dask cluster (:mod:`lia_dask.train.tune`). A Dask DataFrame that is too
large to gather is fitted with ``xgboost.dask`` (:mod:`lia_dask.train.distributed`).
"""
from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from threadpoolctl import threadpool_limits

from .. import artifact
from ..errors import ArtifactError, ConfigError, InputError
from .calibrate import AlertConfig, calibrated, decide, fit_alerts
from .impute import KNNImputer, clean_features
from .models import MODELS, fit_estimator, make_estimator
from .portable import load_portable, to_portable
from .select import SelectionResult, boruta_shap
from .tune import SCORINGS, TuneResult, tune


@dataclass
class TrainConfig:
    """Settings of one training run (the ``train`` stage's configuration).

    Attributes
    ----------
    model : {"xgb", "rf", "nn"}
    impute : bool
        KNN-impute missing values (kept in the artifact, applied at prediction).
    select_trials : int
        Boruta-SHAP trials; 0 disables feature selection.
    tune_trials : int
        Optuna trials; 0 uses ``params`` (or library defaults).
    cv : int
        Folds for tuning and evaluation.
    scoring : str
        Tuning objective (see :data:`lia_dask.train.tune.SCORINGS`).
    random_state : int, optional
    params : dict
        Fixed estimator hyperparameters; tuning searches only the others.
    limit_search : bool
        Smaller search spaces (MicroLIA's default).
    prune : bool
        Median pruning of tuning trials after each fold.
    n_neighbors : int
        Imputation neighbours.
    gather_limit_bytes : float
        A Dask DataFrame larger than this is trained with ``xgboost.dask`` instead of gathered.
    sample_rows : int
        Rows gathered for imputation / selection / tuning on the ``xgboost.dask`` path.
    n_jobs : int, optional
        Threads for the central fits (selection, final model, local tuning); None: all cores.
    """

    model: str = "xgb"
    impute: bool = True
    select_trials: int = 0
    tune_trials: int = 0
    cv: int = 10
    scoring: str = "f1_macro"
    random_state: int | None = None
    params: dict = field(default_factory=dict)
    limit_search: bool = True
    prune: bool = True
    n_neighbors: int = 3
    gather_limit_bytes: float = 2e9
    sample_rows: int = 20000
    n_jobs: int | None = None

    def validate(self) -> "TrainConfig":
        if self.model not in MODELS:
            raise ConfigError(f"model must be one of {MODELS}, got {self.model!r}.")
        if self.scoring not in SCORINGS:
            raise ConfigError(f"scoring must be one of {SCORINGS}, got {self.scoring!r}.")
        if self.select_trials < 0 or self.tune_trials < 0:
            raise ConfigError("select_trials and tune_trials must be >= 0.")
        if self.tune_trials and self.cv < 2:
            raise ConfigError(f"cv must be >= 2 when tuning, got {self.cv}.")
        return self


class EnsembleClassifier(ClassifierMixin, BaseEstimator):
    """XGBoost / random forest / MLP classifier with imputation, Boruta-SHAP selection and Optuna tuning.

    Parameters are those of :class:`TrainConfig`. After ``fit``: ``classes_`` (labels in
    probability-column order), ``feature_names_in_``, ``selected_features_``, ``imputer_``,
    ``selection_`` (:class:`~lia_dask.train.select.SelectionResult` or None), ``tuning_``
    (:class:`~lia_dask.train.tune.TuneResult` or None), ``best_params_``, ``estimator_`` (the
    fitted library model; None after ``load``), ``metrics_``, ``training_digest_``.
    """

    def __init__(self, model: str = "xgb", impute: bool = True, select_trials: int = 0, tune_trials: int = 0,
                 cv: int = 10, scoring: str = "f1_macro", random_state: int | None = None,
                 params: dict | None = None, limit_search: bool = True, prune: bool = True,
                 n_neighbors: int = 3, gather_limit_bytes: float = 2e9, sample_rows: int = 20000,
                 n_jobs: int | None = None):
        self.model = model
        self.impute = impute
        self.select_trials = select_trials
        self.tune_trials = tune_trials
        self.cv = cv
        self.scoring = scoring
        self.random_state = random_state
        self.params = params
        self.limit_search = limit_search
        self.prune = prune
        self.n_neighbors = n_neighbors
        self.gather_limit_bytes = gather_limit_bytes
        self.sample_rows = sample_rows
        self.n_jobs = n_jobs

    @property
    def config(self) -> TrainConfig:
        """The constructor parameters as a validated :class:`TrainConfig`."""
        p = self.get_params()
        p["params"] = dict(p["params"] or {})
        return TrainConfig(**p).validate()

    # -- fitting ---------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None, sample_weight: np.ndarray | None = None, *, client: Any = None,
            feature_set: str | None = None, feature_settings: dict | None = None) -> "EnsembleClassifier":
        """Fit on features ``X`` and labels ``y``.

        Parameters
        ----------
        X : pandas.DataFrame, ndarray (n, d) or dask.dataframe.DataFrame
            Features. A DataFrame's column names are kept and required at prediction.
        y : array-like (n,), or the name of a label column in ``X``
            Class labels (strings or integers).
        sample_weight : ndarray (n,), optional
            E.g. from :meth:`lia_dask.train.gmm.GMMReweighter.weights`.
        client : distributed.Client, optional
            Runs tuning trials (and the ``xgboost.dask`` path); default: the active client if any.
        feature_set, feature_settings
            Recorded in the artifact (name and settings of the feature registry entry used).
        """
        cfg = self.config
        self.alerts_ = None  # fitted afterwards on out-of-fold predictions (fit_alerts)
        self.feature_set_ = feature_set
        self.feature_settings_ = dict(feature_settings or {})
        if _is_dask_frame(X):
            from .distributed import fit_dask_frame

            return fit_dask_frame(self, cfg, X, y, sample_weight, client)
        X, y = _split_label(X, y)
        names, Xv = _as_matrix(X)
        y = np.asarray(y)
        if y.ndim != 1 or y.shape[0] != Xv.shape[0]:
            raise InputError(f"labels y have shape {y.shape} but the feature table has {Xv.shape[0]} rows.")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if sample_weight.shape != y.shape or not np.all(np.isfinite(sample_weight)) or (sample_weight < 0).any():
                raise InputError(f"sample_weight must be {y.shape[0]} finite non-negative numbers.")
        self.training_digest_ = artifact.array_digest(Xv, y, names)
        self._fit_arrays(cfg, names, Xv, y, sample_weight, client)
        return self

    def _fit_arrays(self, cfg: TrainConfig, names: list[str], Xv: np.ndarray, y: np.ndarray,
                    sample_weight: np.ndarray | None, client: Any, final_fit: bool = True) -> None:
        self.classes_, codes = np.unique(y, return_inverse=True)
        if self.classes_.size < 2:
            raise InputError(f"training needs at least two classes, got {self.classes_.tolist()}.")
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.n_features_in_ = len(names)
        Xc = clean_features(Xv)
        if cfg.model == "nn" and not cfg.impute and np.isnan(Xc).any():
            raise InputError("the feature table has NaN values and model 'nn' cannot use them; set impute=True.")
        # 1. feature selection (on imputed values when imputing)
        self.selection_ = None
        sel = np.arange(len(names))
        full_imputer, Xi = None, Xc
        if cfg.select_trials > 0:
            if cfg.impute:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    full_imputer = KNNImputer(n_neighbors=cfg.n_neighbors).fit(Xc)
                    Xi = full_imputer.transform(Xc, progress=_bar("KNN imputation (rows)"))
            self.selection_ = boruta_shap(Xi, codes, names, cfg.select_trials, random_state=cfg.random_state,
                                          sample_weight=sample_weight, n_jobs=cfg.n_jobs)
            acc = np.flatnonzero(self.selection_.decision == "accepted")
            if acc.size:
                sel = acc
            else:
                warnings.warn("Boruta-SHAP accepted no feature (too few trials?); all features are used.", stacklevel=3)
        self.selected_index_ = sel
        self.selected_features_ = [names[i] for i in sel]
        # 2. imputer on the selected columns (what prediction will see)
        if not cfg.impute:
            self.imputer_ = None
            Xs = Xc[:, sel]
        elif full_imputer is not None and sel.size == len(names):
            self.imputer_, Xs = full_imputer, Xi
        else:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", UserWarning)
                self.imputer_ = KNNImputer(n_neighbors=cfg.n_neighbors).fit(Xc[:, sel])
            for w in caught:
                warnings.warn(str(w.message), UserWarning, stacklevel=3)
            Xs = self.imputer_.transform(Xc[:, sel], progress=_bar("KNN imputation (rows)"))
        # 3. tuning
        self.tuning_ = None
        params = dict(cfg.params)
        if cfg.tune_trials > 0:
            self.tuning_ = tune(Xs, codes, cfg.model, cfg.tune_trials, cv=cfg.cv, scoring=cfg.scoring,
                                random_state=cfg.random_state, sample_weight=sample_weight, client=client,
                                limit_search=cfg.limit_search, prune=cfg.prune, n_jobs=cfg.n_jobs,
                                fixed_params=cfg.params)
            params.update(self.tuning_.best_params)
        self.best_params_ = params
        self.metrics_ = {
            "n_train": int(len(codes)),
            "class_counts": {str(c): int(n) for c, n in zip(self.classes_, np.bincount(codes))},
            "n_selected": int(len(sel)),
            "weighted": sample_weight is not None,
        }
        if self.tuning_ is not None:
            self.metrics_[f"tune_cv_{cfg.scoring}"] = self.tuning_.best_value
        if not final_fit:
            self._train_matrix = (Xs, codes)
            return
        # 4. final fit
        est = make_estimator(cfg.model, params, len(self.classes_), cfg.random_state, n_jobs=cfg.n_jobs)
        with warnings.catch_warnings(), threadpool_limits(cfg.n_jobs):
            warnings.simplefilter("ignore", category=UserWarning)
            fit_estimator(est, Xs, codes, sample_weight, progress=_bar(f"final {cfg.model} fit"))
        self.estimator_ = est
        self.predictor_ = to_portable(cfg.model, est, len(self.classes_))

    # -- prediction ------------------------------------------------------------------------
    def transform_features(self, X: Any) -> np.ndarray:
        """Select, clean and impute the model's feature columns from ``X``: (n, n_selected)."""
        self._check_fitted()
        if isinstance(X, pd.DataFrame):
            missing = [c for c in self.selected_features_ if c not in X.columns]
            if missing:
                raise InputError(
                    f"the feature table lacks {len(missing)} column(s) the model needs, e.g. {missing[:5]}; "
                    "extract features with the same feature set the model was trained with."
                )
            Xv = X[self.selected_features_].to_numpy(dtype=np.float64)
        else:
            Xv = np.asarray(X, dtype=np.float64)
            if Xv.ndim != 2:
                raise InputError(f"features must be 2-D (rows, columns), got shape {Xv.shape}.")
            if Xv.shape[1] == self.n_features_in_:
                Xv = Xv[:, self.selected_index_]
            elif Xv.shape[1] != len(self.selected_features_):
                raise InputError(
                    f"features have {Xv.shape[1]} columns; the model needs all {self.n_features_in_} training "
                    f"columns or the {len(self.selected_features_)} selected ones."
                )
        if self.imputer_ is not None:
            return self.imputer_.transform(Xv)  # cleans a copy itself (clean_features is idempotent)
        return clean_features(Xv)

    def raw_proba(self, X: Any) -> np.ndarray:
        """The estimator's class probabilities before calibration, ``(n, len(classes_))``."""
        Xs = self.transform_features(X)  # checks that the model is fitted
        return self.predictor_.predict_proba(Xs)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, ``(n, len(classes_))``, columns in ``classes_`` order: calibrated and
        shifted to the survey's class fractions when the model has an alert stage (``alerts_``)."""
        p = self.raw_proba(X)
        spec = getattr(self, "alerts_", None)
        return p if spec is None else calibrated(p, spec)

    def predict(self, X: Any) -> np.ndarray:
        """Class label per row, (n,): the operating decision (``ML`` iff alert, otherwise the most
        probable other class) when the model has an alert stage, else the most probable class."""
        return self.decide(self.predict_proba(X))[0]

    def decide(self, proba: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(labels (n,), alert (n,) or None) from :meth:`predict_proba` output."""
        spec = getattr(self, "alerts_", None)
        if spec is None:
            idx = np.argmax(proba, axis=1) if len(proba) else np.zeros(0, np.int64)
            return self.classes_[idx], None
        idx, alert = decide(proba, spec)
        return self.classes_[idx], alert

    def fit_alerts(self, proba_oof: np.ndarray, y: Any, config: AlertConfig | None = None,
                   sample_weight: np.ndarray | None = None, negatives: tuple | None = None) -> dict:
        """Fit the alert stage (calibration, prior shift, threshold; :mod:`lia_dask.train.calibrate`) on
        out-of-fold raw probabilities; stored in ``alerts_`` and in the artifact."""
        self._check_fitted()
        self.alerts_ = fit_alerts(proba_oof, y, self.classes_, config, sample_weight, negatives)
        return self.alerts_

    def _check_fitted(self) -> None:
        if not hasattr(self, "predictor_"):
            from sklearn.exceptions import NotFittedError

            raise NotFittedError("this EnsembleClassifier is not fitted yet; call fit(X, y) or load(path).")

    # -- artifacts -------------------------------------------------------------------------
    def save(self, path: str | Path, overwrite: bool = False) -> dict:
        """Write the fitted model as an artifact directory (no pickle); returns the manifest."""
        self._check_fitted()
        d = artifact.prepare_dir(path, overwrite=overwrite)
        files, spec = self.predictor_.save(d)
        imputer = None
        if self.imputer_ is not None:
            files.append(artifact.save_arrays(d, "imputer.npz", self.imputer_.state()))
            imputer = {"method": "knn", "n_neighbors": self.imputer_.n_neighbors, "file": "imputer.npz",
                       "scaled_distances": self.imputer_.scale,
                       "max_reference": self.imputer_.max_reference,
                       "reference_rows": int(self.imputer_.fit_X_.shape[0]),
                       "training_rows": self.imputer_.n_train_,
                       "constant_columns": [self.selected_features_[i] for i in np.flatnonzero(self.imputer_.constant_)]}
        if self.selection_ is not None:
            files.append(artifact.save_arrays(d, "selection.npz", self.selection_.state()))
        if self.tuning_ is not None:
            import json

            with open(d / "tuning.json", "w") as fh:
                json.dump(asdict(self.tuning_), fh, indent=1, default=_jsonable)
            files.append("tuning.json")
        cfg = asdict(self.config)
        fields = {
            "kind": "ensemble",
            "classes": [_label_json(c) for c in self.classes_],
            "feature_set": self.feature_set_,
            "feature_settings": self.feature_settings_,
            "feature_names": [str(n) for n in self.feature_names_in_],
            "selected_features": list(map(str, self.selected_features_)),
            "imputer": imputer,
            "training_digest": self.training_digest_,
            "metrics": self.metrics_,
            "alerts": getattr(self, "alerts_", None),
            "settings": {"config": cfg, "best_params": self.best_params_, "model": spec,
                         "selection": None if self.selection_ is None else self.selection_.settings},
        }
        return artifact.write_manifest(d, fields, files)

    @classmethod
    def load(cls, path: str | Path) -> "EnsembleClassifier":
        """Load an artifact written by :meth:`save` (verifies every file's digest)."""
        import json

        m = artifact.read_manifest(path, expected_kind="ensemble")
        d = Path(m["path"])
        try:
            cfg = dict(m["settings"]["config"])
            spec = m["settings"]["model"]
        except (KeyError, TypeError):
            raise ArtifactError(f"artifact {path} lacks settings.config / settings.model; it is not an ensemble model.") from None
        known = set(TrainConfig.__dataclass_fields__)
        clf = cls(**{k: v for k, v in cfg.items() if k in known})
        clf.classes_ = np.asarray(m["classes"])
        clf.feature_names_in_ = np.asarray(m["feature_names"], dtype=object)
        clf.n_features_in_ = len(clf.feature_names_in_)
        clf.selected_features_ = list(m["selected_features"])
        pos = {n: i for i, n in enumerate(clf.feature_names_in_)}
        try:
            clf.selected_index_ = np.array([pos[n] for n in clf.selected_features_], dtype=np.int64)
        except KeyError as exc:
            raise ArtifactError(f"artifact {path}: selected feature {exc} is not among its feature names.") from None
        clf.imputer_ = None
        if m.get("imputer"):
            clf.imputer_ = KNNImputer.from_state(artifact.load_arrays(d, m["imputer"]["file"]))
            if clf.imputer_.fit_X_.shape[1] != len(clf.selected_features_):
                raise ArtifactError(f"artifact {path}: imputer width does not match the selected features.")
        clf.selection_ = None
        if "selection.npz" in m["files"]:
            clf.selection_ = SelectionResult.from_state(artifact.load_arrays(d, "selection.npz"),
                                                        m["settings"].get("selection"))
        clf.tuning_ = None
        if "tuning.json" in m["files"]:
            clf.tuning_ = TuneResult(**json.loads((d / "tuning.json").read_text()))
        clf.predictor_ = load_portable(d, spec)
        clf.estimator_ = None
        clf.best_params_ = m["settings"].get("best_params", {})
        clf.metrics_ = m.get("metrics") or {}
        clf.alerts_ = m.get("alerts")
        clf.training_digest_ = m.get("training_digest")
        clf.feature_set_ = m.get("feature_set")
        clf.feature_settings_ = m.get("feature_settings") or {}
        clf.digest_ = m["digest"]
        clf.manifest_ = m
        return clf


def _bar(desc: str) -> Callable[[int], Any]:
    """A progress-bar factory for one training step (see :func:`lia_dask.cluster.progress_bar`)."""
    from ..cluster import progress_bar

    return lambda total: progress_bar(total, desc)


def _is_dask_frame(X: Any) -> bool:
    mod = type(X).__module__
    return mod.startswith("dask") and hasattr(X, "npartitions")


def _split_label(X: Any, y: Any) -> tuple[Any, Any]:
    if isinstance(y, str):
        if not isinstance(X, pd.DataFrame) or y not in X.columns:
            raise InputError(f"label column {y!r} is not in the feature table.")
        return X.drop(columns=[y]), X[y].to_numpy()
    if y is None:
        raise InputError("fit needs labels: pass y (array or the name of the label column).")
    return X, y


def _as_matrix(X: Any) -> tuple[list[str], np.ndarray]:
    if isinstance(X, pd.DataFrame):
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise InputError(f"feature columns must be numeric; {bad[:5]} are not (drop id/label columns first).")
        return [str(c) for c in X.columns], X.to_numpy(dtype=np.float64)
    Xv = np.asarray(X, dtype=np.float64)
    if Xv.ndim != 2 or Xv.shape[0] == 0:
        raise InputError(f"features must be a non-empty 2-D table, got shape {Xv.shape}.")
    return [f"f{i}" for i in range(Xv.shape[1])], Xv


def _label_json(c: Any) -> Any:
    return c.item() if isinstance(c, np.generic) else c


def _jsonable(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
