"""Prediction: classify lightcurve archives and cutout stores with a model artifact, resumably.

``lightcurves`` (archive -> per-partition prediction files), ``cutouts`` (Zarr store -> per-chunk
prediction files), ``fitfilter`` (the point-lens fit used to vet candidates), ``candidates``
(ranking and plots of the best candidates) and the ``predict`` / ``candidates`` CLI (``_cli``).
"""
from __future__ import annotations

from .lightcurves import (ML_CLASS, SUMMARY_FILE, BroadcastModel, PredictConfig, PredictReport, load_model,
                          pending_partitions, predict_archive, predict_batch, read_predictions, read_quarantine,
                          received_counts)


def predict_cutouts(*args, **kwargs):
    """Classify a Zarr cutout store with a CNN artifact (see :func:`lia_dask.predict.cutouts.predict_cutouts`)."""
    from .cutouts import predict_cutouts as _predict_cutouts  # TensorFlow is imported only when needed
    return _predict_cutouts(*args, **kwargs)


__all__ = ["ML_CLASS", "SUMMARY_FILE", "BroadcastModel", "PredictConfig", "PredictReport", "load_model",
           "pending_partitions", "predict_archive", "predict_batch", "predict_cutouts", "read_predictions", "read_quarantine",
           "received_counts"]
