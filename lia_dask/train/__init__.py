"""Central training: KNN imputation, Boruta-SHAP selection, Optuna tuning on Dask, ensemble fit, GMM weights.

Entry points: :class:`EnsembleClassifier` (scikit-learn API, ``save``/``load`` artifacts),
:class:`TrainConfig`, :class:`GMMReweighter`, :func:`cross_val_proba`, :func:`classification_metrics`.
The ``lia-dask train`` / ``evaluate`` commands live in :mod:`lia_dask.train._cli`.
"""
from .ensemble import EnsembleClassifier, TrainConfig
from .evaluate import classification_metrics, cross_val_proba
from .gmm import GMMReweighter, weighted_ks
from .impute import KNNImputer, clean_features
from .select import SelectionResult, boruta_shap
from .tune import TuneResult, tune

__all__ = [
    "EnsembleClassifier", "GMMReweighter", "KNNImputer", "SelectionResult", "TrainConfig", "TuneResult",
    "boruta_shap", "classification_metrics", "clean_features", "cross_val_proba", "tune", "weighted_ks",
]
