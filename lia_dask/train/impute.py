"""KNN imputation of missing feature values, with a state that is plain arrays.

The method is MicroLIA's (k nearest neighbours, uniform weights, NaN-aware Euclidean distance,
``n_neighbors=3``) with two fixes: distances are computed on robustly scaled features
(median / IQR per column; MicroLIA uses raw features, where one column spanning 1e10 dominates),
and columns with too many NaNs are filled with a constant *in the imputer's state*, never in the
caller's array. ``scale=False`` reproduces the unscaled distances.

The fitted state (``fit_X``, ``center``, ``scale``, ``fill``) is what the artifact stores.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..errors import InputError

CLIP = 1e10
TINY = 1e-10


def clean_features(X: np.ndarray) -> np.ndarray:
    """MicroLIA's clipping: ±inf -> NaN, values beyond ±1e10 clipped, 0 < x < 1e-10 -> 1e-10.

    Parameters
    ----------
    X : ndarray (n, d)

    Returns
    -------
    ndarray (n, d) float64, a new array.
    """
    X = np.array(X, dtype=np.float64, copy=True)
    X[np.isinf(X)] = np.nan
    with np.errstate(invalid="ignore"):
        np.clip(X, -CLIP, CLIP, out=X)
        small = (X > 0) & (X < TINY)
    X[small] = TINY
    return X


def nan_euclidean(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """NaN-aware Euclidean distances (scikit-learn's definition).

    ``d(a, b) = sqrt(d / n_present * sum over coordinates present in both of (a - b)^2)``;
    ``inf`` where no coordinate is present in both.

    Parameters
    ----------
    A : ndarray (m, d)
    B : ndarray (n, d)

    Returns
    -------
    ndarray (m, n)
    """
    ma, mb = ~np.isnan(A), ~np.isnan(B)
    a0, b0 = np.where(ma, A, 0.0), np.where(mb, B, 0.0)
    fa, fb = ma.astype(np.float64), mb.astype(np.float64)
    sq = (a0 * a0) @ fb.T + fa @ (b0 * b0).T - 2.0 * a0 @ b0.T
    present = fa @ fb.T
    with np.errstate(divide="ignore", invalid="ignore"):
        d2 = np.maximum(sq, 0.0) * (A.shape[1] / present)
    d2[present == 0] = np.inf
    return np.sqrt(d2)


@dataclass
class KNNImputer:
    """K-nearest-neighbour imputer whose fitted state is plain NumPy arrays.

    Parameters
    ----------
    n_neighbors : int
        Donors averaged per missing value.
    nan_threshold : float
        Columns with a larger NaN fraction in the training data are filled with ``fill_value``.
    fill_value : float
        Constant for such columns (MicroLIA uses 0).
    scale : bool
        Robustly scale columns for the distance computation (values are imputed in original units).
    chunk : int
        Rows per block when computing distances at transform time (memory ~ chunk x n_fit x 8 bytes).
    """

    n_neighbors: int = 3
    nan_threshold: float = 0.5
    fill_value: float = 0.0
    scale: bool = True
    chunk: int = 2048

    def fit(self, X: np.ndarray) -> "KNNImputer":
        """Store the training matrix ``X`` (n, d) and per-column statistics."""
        X = clean_features(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise InputError(f"imputer needs a non-empty 2-D feature matrix, got shape {X.shape}.")
        nan_frac = np.isnan(X).mean(axis=0)
        self.constant_ = nan_frac > self.nan_threshold
        if self.constant_.any():
            warnings.warn(
                f"{int(self.constant_.sum())} feature column(s) are more than {self.nan_threshold:.0%} NaN "
                f"in the training data and are set to {self.fill_value} (indices "
                f"{np.flatnonzero(self.constant_)[:10].tolist()}...).",
                stacklevel=2,
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            med = np.nanmedian(X, axis=0)
            q75, q25 = np.nanpercentile(X, [75, 25], axis=0)
        med = np.where(np.isfinite(med), med, 0.0)
        iqr = q75 - q25
        if self.scale:
            span = np.where(np.isfinite(iqr) & (iqr > 0), iqr, 1.0)
            self.center_, self.scale_ = med, span
        else:
            self.center_, self.scale_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        self.fill_ = np.where(self.constant_, self.fill_value, med)
        self.fit_X_ = X
        return self

    def transform(self, X: np.ndarray, progress: Callable[[int], Any] | None = None) -> np.ndarray:
        """Impute NaNs in ``X`` (m, d); returns a new clipped float64 array without NaN.

        ``progress``, if given, is called once with the number of rows to impute and returns a bar
        (``update(n)`` per block of rows, ``close()`` at the end), e.g. :func:`lia_dask.cluster.progress_bar`.
        """
        self._check()
        X = clean_features(X)
        if X.ndim != 2 or X.shape[1] != self.fit_X_.shape[1]:
            raise InputError(
                f"imputer was fitted on {self.fit_X_.shape[1]} features but got shape {X.shape}; "
                "pass the same feature columns used in training."
            )
        X[:, self.constant_] = self.fill_value
        missing = np.isnan(X)
        rows = np.flatnonzero(missing.any(axis=1))
        if rows.size == 0:
            return X
        F = self.fit_X_.copy()
        F[:, self.constant_] = self.fill_value
        Fs = (F - self.center_) / self.scale_
        fmask = ~np.isnan(F)
        k = self.n_neighbors
        bar = progress(int(rows.size)) if progress is not None else None
        for start in range(0, rows.size, self.chunk):
            r = rows[start:start + self.chunk]
            D = nan_euclidean((X[r] - self.center_) / self.scale_, Fs)
            for j in np.flatnonzero(missing[r].any(axis=0)):
                need = np.flatnonzero(missing[r, j])
                donors = np.flatnonzero(fmask[:, j])
                if donors.size == 0:
                    X[r[need], j] = self.fill_[j]
                    continue
                d = D[np.ix_(need, donors)]
                kk = min(k, donors.size)
                idx = np.argpartition(d, kk - 1, axis=1)[:, :kk]
                dd = np.take_along_axis(d, idx, axis=1)
                vals = F[donors[idx], j]
                ok = np.isfinite(dd)
                cnt = ok.sum(axis=1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    est = np.where(ok, vals, 0.0).sum(axis=1) / cnt
                X[r[need], j] = np.where(cnt > 0, est, self.fill_[j])
            if bar is not None:
                bar.update(int(r.size))
        if bar is not None:
            bar.close()
        return X

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X).transform(X)

    def _check(self) -> None:
        if not hasattr(self, "fit_X_"):
            raise InputError("the imputer is not fitted; call fit(X) first.")

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """Fitted state as plain arrays (for the artifact)."""
        self._check()
        return {
            "fit_X": self.fit_X_, "center": self.center_, "scale": self.scale_, "fill": self.fill_,
            "constant": self.constant_,
            "params": np.array([self.n_neighbors, self.nan_threshold, self.fill_value, float(self.scale)]),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "KNNImputer":
        """Rebuild a fitted imputer from :meth:`state`."""
        p = state["params"]
        imp = cls(n_neighbors=int(p[0]), nan_threshold=float(p[1]), fill_value=float(p[2]), scale=bool(p[3]))
        imp.fit_X_ = np.asarray(state["fit_X"], dtype=np.float64)
        imp.center_ = np.asarray(state["center"], dtype=np.float64)
        imp.scale_ = np.asarray(state["scale"], dtype=np.float64)
        imp.fill_ = np.asarray(state["fill"], dtype=np.float64)
        imp.constant_ = np.asarray(state["constant"], dtype=bool)
        return imp
