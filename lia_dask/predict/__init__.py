"""Prediction: classify lightcurve archives and cutout stores with a model artifact, resumably.

``lightcurves`` (archive -> per-partition prediction files), ``cutouts`` (Zarr store -> per-chunk
prediction files), ``fitfilter`` (the point-lens fit used to vet candidates), ``candidates``
(ranking and plots of the best candidates) and the ``predict`` / ``candidates`` CLI (``_cli``).

The names below resolve on first use (PEP 562): ``lia-dask predict`` parses its arguments and
checks what is left to do before the engine, the Dask cluster machinery and the model library are
imported; TensorFlow only with :func:`predict_cutouts`.
"""
from __future__ import annotations

from .._lazy import lazy_names

_LIGHTCURVES = ("ML_CLASS", "SUMMARY_FILE", "BroadcastModel", "PredictConfig", "PredictReport", "load_model",
                "pending_partitions", "predict_archive", "predict_batch", "read_predictions", "read_quarantine",
                "received_counts")
#: public name -> submodule that defines it
_WHERE = {**dict.fromkeys(_LIGHTCURVES, "lightcurves"), "predict_cutouts": "cutouts"}

__all__ = sorted(_WHERE)

__getattr__, __dir__ = lazy_names(__name__, _WHERE, globals())
