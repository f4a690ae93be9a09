"""Lazy TensorFlow / Keras import: ``import lia_dask`` works without the ``cnn`` extra."""
from __future__ import annotations

import os

from ..errors import MissingExtraError


def tf():
    """The ``tensorflow`` module, or a :class:`MissingExtraError` naming the extra to install."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow
    except ImportError as exc:
        raise MissingExtraError.for_extra("the CNN classifier", "cnn", "tensorflow") from exc
    return tensorflow


def keras():
    """The ``keras`` module (Keras 3, TensorFlow backend)."""
    tf()
    import keras as _keras

    return _keras
