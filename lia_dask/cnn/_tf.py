"""Lazy TensorFlow / Keras import: ``import lia_dask`` works without the ``cnn`` extra."""
from __future__ import annotations

import os
import threading

from ..errors import MissingExtraError

_BACKGROUND: list = []


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


def import_in_background() -> None:
    """Start importing TensorFlow and Keras in a daemon thread (once per process) and return at once.

    The import takes ~3 CPU-s, mostly spent outside the caller's NumPy work, so a caller that
    reads and prepares its data meanwhile (``CNNClassifier.fit``) overlaps the two on a second
    core; its first :func:`tf` / :func:`keras` call then waits on Python's import lock until the
    import is done. Errors are left to that call (it raises :class:`MissingExtraError`).
    """
    if _BACKGROUND:
        return

    def run() -> None:
        try:
            keras()
        except Exception:  # noqa: BLE001 - reported by the caller's own import
            pass

    t = threading.Thread(target=run, name="lia-dask-tf-import", daemon=True)
    _BACKGROUND.append(t)
    t.start()
