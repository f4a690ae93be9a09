"""CNN classification of image cutouts (strong lenses, pyBIA-style) and flux series.

TensorFlow / Keras are imported only when a model is built, trained or loaded, so
``import lia_dask.cnn`` works without the ``cnn`` extra; those calls then raise
:class:`~lia_dask.errors.MissingExtraError`.
"""
from __future__ import annotations

from .augment import AugmentConfig, augment_images, random_transform
from .data import Normalization, fit_normalization, normalize
from .simulate_lenses import LensSimConfig, simulate_lens_store, simulate_lenses
from .simulate_series import SeriesSimConfig, simulate_series
from .train import CNNClassifier, CNNConfig, load_artifact

__all__ = [
    "AugmentConfig", "CNNClassifier", "CNNConfig", "LensSimConfig", "Normalization", "SeriesSimConfig",
    "augment_images", "fit_normalization", "load_artifact", "normalize", "predict_cutouts", "random_transform",
    "simulate_lens_store", "simulate_lenses", "simulate_series",
]


def __getattr__(name: str):
    if name == "predict_cutouts":
        from ..predict.cutouts import predict_cutouts

        return predict_cutouts
    raise AttributeError(name)
