"""lia_dask: survey-scale lightcurve and cutout classification on Dask clusters.

The whole flow is a few functions (see :mod:`lia_dask.api`)::

    import lia_dask as lia
    client = lia.client()
    real = lia.ingest(lia.ogle2_samples(), "ogle2").archive
    training = lia.simulate_training_set(real, 500, "train")
    model = lia.train_classifier(lia.extract_features(training), out="model")
    lia.predict_archive(real, model, "predictions")

They are imported on first use, so ``import lia_dask`` loads neither the cluster machinery nor
TensorFlow. Importing registers the defaults of the ``lia_dask.*`` Dask configuration keys
(``lia_dask/lia_dask.yaml``).
"""
from __future__ import annotations

import logging
from typing import Any

__version__ = "0.1.0"


def _register_config() -> None:
    import os

    import dask.config
    import yaml

    with open(os.path.join(os.path.dirname(__file__), "lia_dask.yaml")) as fh:
        dask.config.update_defaults(yaml.safe_load(fh))


_register_config()
logging.getLogger(__name__).addHandler(logging.NullHandler())  # the application (or the CLI) configures logging

from .batch import Lightcurve, LightcurveBatch, concat_batches  # noqa: E402
from .errors import LiaDaskError  # noqa: E402

#: the public API, resolved lazily from lia_dask.api
_API = ("Classifier", "candidates", "client", "extract_features", "ingest", "load_model", "ogle2_samples",
        "open_archive", "plot_simulated", "predict_archive", "read_predictions", "simulate_training_set", "train_classifier")


def __getattr__(name: str) -> Any:
    if name in _API:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'lia_dask' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


__all__ = ["Lightcurve", "LightcurveBatch", "LiaDaskError", "concat_batches", "__version__", *_API]
