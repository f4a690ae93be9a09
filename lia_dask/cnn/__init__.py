"""CNN classification of image cutouts (strong lenses, pyBIA-style) and flux series.

TensorFlow / Keras are imported only when a model is built, trained or loaded, so
``import lia_dask.cnn`` works without the ``cnn`` extra; those calls then raise
:class:`~lia_dask.errors.MissingExtraError`. The names below are imported on first use
(PEP 562), so the command line's ``lia-dask cnn ...`` parser does not load SciPy, Zarr or the
simulators before it needs them.
"""
from __future__ import annotations

import importlib

# the simulators share their names with their modules, so they are bound here (cheap: SciPy is
# imported only when they render); everything else on first use
from .simulate_lenses import LensSimConfig, simulate_lens_store, simulate_lenses
from .simulate_series import SeriesSimConfig, simulate_series

_WHERE = {
    "AugmentConfig": ".augment", "augment_images": ".augment", "random_transform": ".augment",
    "Normalization": ".data", "fit_normalization": ".data", "normalize": ".data",
    "CNNClassifier": ".train", "CNNConfig": ".train", "load_artifact": ".train",
    "predict_cutouts": "..predict.cutouts",
}

__all__ = sorted([*_WHERE, "LensSimConfig", "SeriesSimConfig", "simulate_lens_store", "simulate_lenses",
                  "simulate_series"])


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'lia_dask.cnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name], __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
