"""lia_dask: survey-scale lightcurve and cutout classification on Dask clusters."""
from __future__ import annotations

__version__ = "0.1.0"

from .batch import Lightcurve, LightcurveBatch, concat_batches  # noqa: E402
from .errors import LiaDaskError  # noqa: E402

__all__ = ["Lightcurve", "LightcurveBatch", "LiaDaskError", "concat_batches", "__version__"]
