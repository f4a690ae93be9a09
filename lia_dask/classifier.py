"""``Classifier``: a trained lightcurve classifier with MicroLIA's ``predict(time, mag, magerr)``.

Returned by :func:`lia_dask.train_classifier` and :func:`lia_dask.load_model`; it wraps a fitted
:class:`lia_dask.train.EnsembleClassifier` and computes features exactly as archive prediction
does (the artifact's recorded settings, after the rules ingest applies).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .errors import InputError


class Classifier:
    """A trained lightcurve classifier: MicroLIA's ``predict(time, mag, magerr)`` on top of an artifact.

    Features are computed with the settings recorded in the artifact (feature set, zero point,
    conversion, weights), so a lightcurve is classified exactly as :func:`predict_archive` would.
    The first call compiles or loads the feature kernels; later calls take milliseconds.

    Parameters
    ----------
    estimator : lia_dask.train.EnsembleClassifier
        A fitted or loaded estimator (``.estimator``).

    Attributes
    ----------
    classes_ : numpy.ndarray of str
        Class labels in probability-column order.
    digest : str
        The artifact digest ("in-memory" for an unsaved model).
    out_of_fold : tuple or None
        ``(labels, probabilities, folds)`` of the training set, out-of-fold (set by
        :func:`train_classifier`; None for a loaded artifact).
    """

    def __init__(self, estimator: Any):
        from .features import FeatureSettings

        self.estimator = estimator
        self.out_of_fold: tuple | None = None
        self.classes_ = np.asarray([str(c) for c in estimator.classes_])
        self.digest = str(getattr(estimator, "digest_", "in-memory"))
        self.settings = FeatureSettings.from_dict(dict(estimator.feature_settings_ or {}))

    def __repr__(self) -> str:
        return (f"Classifier({len(self.classes_)} classes {self.classes_.tolist()}, "
                f"{len(self.estimator.selected_features_)} features, digest {self.digest[:12]})")

    def predict_proba(self, time: Any, mag: Any = None, magerr: Any = None, *, photometry: str = "mag",
                      validation: Any = None) -> np.ndarray:
        """Class probabilities of one lightcurve or of a list of them.

        Parameters
        ----------
        time, mag, magerr : array-like (n_epochs,), or sequences of them
            One lightcurve (days, mag, mag), or equal-length lists of lightcurves. A feature table
            (pandas DataFrame, 2-D array) as ``time`` alone is classified as scikit-learn would.
        photometry : {"mag", "flux"}
            What ``mag`` / ``magerr`` hold (a flux model takes fluxes and their errors).
        validation : lia_dask.archive.ValidationConfig, optional
            The rules ingest applies (default: at least 5 finite epochs, epochs sorted); a
            lightcurve that ingest would quarantine is not classified.

        Returns
        -------
        numpy.ndarray
            (n_classes,) for one lightcurve, (n_lightcurves, n_classes) for a list; columns in
            ``classes_`` order. A lightcurve that cannot be classified (too few points, NaN
            values, features not computable) gets a row of NaN in a list and raises
            :class:`~lia_dask.errors.InputError` alone.
        """
        if mag is None:
            return self.estimator.predict_proba(time)
        single = _is_single(time)
        batch, kept, reasons = _to_batch(time, mag, magerr, photometry, self.settings.zp, validation)
        proba = np.full((len(reasons), len(self.classes_)), np.nan)
        if len(kept):
            p, feature_reasons = self._proba_batch(batch)
            proba[kept] = p
            for i, r in zip(kept, feature_reasons):
                reasons[i] = r
        if single:
            if reasons[0]:
                raise InputError(f"this lightcurve cannot be classified: {reasons[0]}.")
            return proba[0]
        return proba

    def predict(self, time: Any, mag: Any = None, magerr: Any = None, *, photometry: str = "mag",
                validation: Any = None):
        """Class of one lightcurve (a str) or of a list of them (array, None where not computable): the
        most probable class, or with an alert stage the operating decision of ``predict_archive``
        (``ML`` iff P(ML) reaches the alert threshold, otherwise the most probable other class).

        Parameters are those of :meth:`predict_proba`.
        """
        proba = self.predict_proba(time, mag, magerr, photometry=photometry, validation=validation)
        if proba.ndim == 1:
            return str(self.estimator.decide(proba[None, :])[0][0])
        ok = np.isfinite(proba).all(axis=1)
        out = np.full(len(proba), None, dtype=object)
        if ok.any():
            out[ok] = self.estimator.decide(proba[ok])[0]
        return out

    def _proba_batch(self, batch) -> tuple[np.ndarray, list[str]]:
        import pandas as pd

        from .features.extract import extract_batch_with_reasons
        from .features.preprocess import REASONS

        values, names, reason = extract_batch_with_reasons(batch, self.settings)
        proba = np.full((len(batch), len(self.classes_)), np.nan)
        ok = np.flatnonzero(reason == 0)
        if len(ok):
            proba[ok] = self.estimator.predict_proba(pd.DataFrame(values[ok], columns=names))
        return proba, [str(REASONS.get(int(r), r)) if r else "" for r in reason]

    def plot_report(self, directory: str | os.PathLike) -> list[Path]:
        """Confusion matrix and ROC of the out-of-fold probabilities, plus selection / tuning history.

        Parameters
        ----------
        directory : path-like
            Where the PNG files are written.

        Returns
        -------
        list of Path
            ``confusion_matrix.png`` and ``roc.png`` first (their titles say the data: out-of-fold,
            k-fold CV, n training lightcurves).
        """
        from .plots import plot_training_report

        if self.out_of_fold is None:
            raise InputError("this classifier has no out-of-fold probabilities (train it with "
                             "lia_dask.train_classifier(..., evaluate=True)); the training fit itself is never plotted.")
        y, proba, k = self.out_of_fold
        return plot_training_report(self.estimator, directory, y=y, proba=proba,
                                    data=f"out-of-fold, {k}-fold CV, {len(y):,} training lightcurves")

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> dict:
        """Write the model artifact (see :meth:`lia_dask.train.EnsembleClassifier.save`); returns the manifest."""
        return self.estimator.save(path, overwrite=overwrite)


def _is_single(time: Any) -> bool:
    a = time if isinstance(time, np.ndarray) else None
    if a is not None:
        return a.dtype != object and a.ndim == 1
    return len(time) == 0 or np.ndim(time[0]) == 0


def _to_batch(time: Any, mag: Any, magerr: Any, photometry: str, zp: float | None, validation: Any = None):
    """(batch of the valid lightcurves, their input indices, reason per input: "" when valid)."""
    from . import schema as S
    from .archive import ValidationConfig, check_lightcurve
    from .batch import LightcurveBatch

    if magerr is None:
        raise InputError("predict(time, mag, magerr) needs the errors too (magerr).")
    if _is_single(time):
        time, mag, magerr = [time], [mag], [magerr]
    if not (len(time) == len(mag) == len(magerr)):
        raise InputError(f"time, mag and magerr hold {len(time)}, {len(mag)} and {len(magerr)} lightcurves; "
                         "give one array of each per lightcurve.")
    cfg = validation or ValidationConfig()
    kept, arrays, reasons = [], [], []
    for k, (t, y, e) in enumerate(zip(time, mag, magerr)):
        t, y, e = (np.asarray(v, dtype=np.float64).ravel() for v in (t, y, e))
        if not (len(t) == len(y) == len(e)):
            raise InputError(f"lightcurve {k}: time, mag and magerr have {len(t)}, {len(y)} and {len(e)} values; "
                             "they must be equally long.")
        t, y, e, reason = check_lightcurve(t, y, e, photometry, cfg)
        reasons.append(reason or "")
        if not reason:
            kept.append(k)
            arrays.append((t, y, e))
    batch = LightcurveBatch.from_lightcurves(np.arange(len(arrays), dtype=np.int64), [a[0] for a in arrays],
                                             [a[1] for a in arrays], [a[2] for a in arrays], photometry=photometry,
                                             zeropoint=S.DEFAULT_ZEROPOINT if zp is None else zp)
    return batch, np.asarray(kept, dtype=np.int64), reasons
