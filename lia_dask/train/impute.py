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
# Default reference size (impute14, benchmarks/README.md): on the simulated 32,000-row survey training table the
# mean imputation error (|imputed - true| / IQR, held-out rows) is 0.308 with every row, 0.327 with 8,000,
# 0.334 with 4,000, 0.352 with 2,000; the cost per imputed row is linear in the reference size.
MAX_REFERENCE: int | None = 4000


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
class _Reference:
    """The scaled reference matrix and what every transform needs from it, built once per fitted state.

    ``F`` (n, d) reference rows in original units (constant columns filled); ``Z`` (n, d') the scaled
    non-constant columns with NaN -> 0; ``Z2`` = ``Z**2``; ``nan`` (n, d') bool, ``nan_csr`` the same
    as a sparse float matrix; ``n_nan`` (n,) NaNs per row; ``cols`` (d',) the non-constant column indices.
    """

    F: np.ndarray
    Z: np.ndarray
    Z2: np.ndarray
    nan: np.ndarray
    nan_csr: Any
    n_nan: np.ndarray
    cols: np.ndarray
    present: np.ndarray  # (n, d) bool: ~isnan(F), the donors of each column


def _build_reference(fit_X: np.ndarray, constant: np.ndarray, fill_value: float,
                     center: np.ndarray, scale: np.ndarray) -> _Reference:
    from scipy import sparse

    F = np.array(fit_X, dtype=np.float64, copy=True)
    F[:, constant] = fill_value
    cols = np.flatnonzero(~constant)
    Zc = (F[:, cols] - center[cols]) / scale[cols]
    nan = np.isnan(Zc)
    Z = np.where(nan, 0.0, Zc)
    return _Reference(F=F, Z=Z, Z2=Z * Z, nan=nan, nan_csr=sparse.csr_matrix(nan.astype(np.float64)),
                      n_nan=nan.sum(axis=1), cols=cols, present=~np.isnan(F))


def draw_reference(n: int, max_reference: int | None, seed: int, y: np.ndarray | None = None) -> np.ndarray:
    """Rows of an ``n``-row training matrix kept as the imputer's reference (sorted indices).

    All rows when ``max_reference`` is None or ``n <= max_reference``; otherwise a seeded random
    subset of ``max_reference`` rows, independent of the class, or, when labels ``y`` (n,) are given,
    stratified: each class keeps its share (largest remainders, at least one row per class).
    """
    if max_reference is None or n <= max_reference:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    if y is None:
        return np.sort(rng.choice(n, size=max_reference, replace=False))
    y = np.asarray(y)
    classes, inv = np.unique(y, return_inverse=True)
    counts = np.bincount(inv)
    share = counts * max_reference / n
    take = np.maximum(np.floor(share).astype(int), 1)
    order = np.argsort(share - np.floor(share))[::-1]
    for c in order[: max(0, max_reference - int(take.sum()))]:
        take[c] += 1
    take = np.minimum(take, counts)
    picked = [rng.choice(np.flatnonzero(inv == c), size=int(t), replace=False) for c, t in enumerate(take)]
    return np.sort(np.concatenate(picked))


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
        Rows per block when computing distances at transform time (memory ~ chunk x n_reference x 8 bytes).
    max_reference : int or None
        Most training rows kept as donors (the reference, ``fit_X_``), drawn once at ``fit`` by
        :func:`draw_reference`; the cost of imputing one row is linear in the reference size, so
        this bounds prediction cost whatever the training-set size. ``None``: every training row
        (the behaviour of artifacts written before this parameter). The column statistics (centre,
        scale, constant columns, fill) always use every training row.
    seed : int
        Seed of the reference draw.
    """

    n_neighbors: int = 3
    nan_threshold: float = 0.5
    fill_value: float = 0.0
    scale: bool = True
    chunk: int = 2048
    max_reference: int | None = MAX_REFERENCE
    seed: int = 0

    def fit(self, X: np.ndarray, y: np.ndarray | None = None) -> "KNNImputer":
        """Store the reference rows of the training matrix ``X`` (n, d) and per-column statistics.

        ``y`` (n,), optional class labels: the reference is then drawn stratified by class.
        """
        X = clean_features(X)
        if X.ndim != 2 or X.shape[0] == 0:
            raise InputError(f"imputer needs a non-empty 2-D feature matrix, got shape {X.shape}.")
        if self.max_reference is not None and self.max_reference < 1:
            raise InputError(f"max_reference must be a positive number of rows or None, got {self.max_reference}.")
        if y is not None and len(y) != X.shape[0]:
            raise InputError(f"imputer labels have {len(y)} rows but the feature matrix has {X.shape[0]}.")
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
        self.n_train_ = int(X.shape[0])
        self.fit_X_ = X[draw_reference(X.shape[0], self.max_reference, self.seed, y)]
        self._ref = _build_reference(self.fit_X_, self.constant_, self.fill_value, self.center_, self.scale_)
        return self

    def transform(self, X: np.ndarray, progress: Callable[[int], Any] | None = None) -> np.ndarray:
        """Impute NaNs in ``X`` (m, d); returns a new clipped float64 array without NaN.

        Rows are grouped by their pattern of missing columns; per group, the NaN-aware Euclidean
        distance (scikit-learn's definition, on the scaled columns) to every reference row is one
        matrix product plus a sparse correction for reference rows that have NaNs themselves, and
        donors are ranked only for the group's missing columns. Same neighbours and values as the
        three-product formula of :func:`nan_euclidean` (up to rounding).

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
        ref = self._reference()
        patterns, group = np.unique(np.packbits(missing[rows][:, ref.cols], axis=1), axis=0, return_inverse=True)
        group = np.asarray(group).reshape(-1)
        bar = progress(int(rows.size)) if progress is not None else None
        for g in range(patterns.shape[0]):
            members = rows[group == g]
            miss = missing[members[0]][ref.cols]  # (d',) this pattern's missing non-constant columns
            for start in range(0, members.size, self.chunk):
                r = members[start:start + self.chunk]
                self._impute_group(X, r, miss, ref)
                if bar is not None:
                    bar.update(int(r.size))
        if bar is not None:
            bar.close()
        return X

    def _impute_group(self, X: np.ndarray, r: np.ndarray, miss: np.ndarray, ref: _Reference) -> None:
        """Fill, in place, the missing columns of rows ``r`` of ``X``, which all miss columns ``miss``."""
        keep = (~miss).astype(np.float64)  # (d',) the pattern's present non-constant columns
        Q = np.where(miss, 0.0, (X[np.ix_(r, ref.cols)] - self.center_[ref.cols]) / self.scale_[ref.cols])
        Q2 = Q * Q
        # sum over columns present in both of (q - z)^2 = |q|^2 - sum_{z NaN} q^2 + sum_{q present} z^2 - 2 q.z
        # (in place on one (m, n) array: the products dominate, then memory passes)
        D = Q @ ref.Z.T
        D *= -2.0
        D += (ref.Z2 @ keep)[None, :]
        D += Q2.sum(axis=1)[:, None]
        if ref.nan_csr.nnz:
            D -= (ref.nan_csr @ Q2.T).T
        n_constant = X.shape[1] - ref.cols.size
        present = (keep.sum() + n_constant) - (ref.n_nan - ref.nan[:, miss].sum(axis=1))  # (n,)
        np.maximum(D, 0.0, out=D)
        with np.errstate(divide="ignore", invalid="ignore"):
            D *= (X.shape[1] / present)[None, :]
        D[:, present == 0] = np.inf
        k = self.n_neighbors
        for j in ref.cols[miss]:
            donors = np.flatnonzero(ref.present[:, j])
            if donors.size == 0:
                X[r, j] = self.fill_[j]
                continue
            d = D[:, donors]
            kk = min(k, donors.size)
            idx = np.argpartition(d, kk - 1, axis=1)[:, :kk]
            dd = np.take_along_axis(d, idx, axis=1)
            vals = ref.F[donors[idx], j]
            ok = np.isfinite(dd)
            cnt = ok.sum(axis=1)
            with np.errstate(invalid="ignore", divide="ignore"):
                est = np.where(ok, vals, 0.0).sum(axis=1) / cnt
            X[r, j] = np.where(cnt > 0, est, self.fill_[j])

    def fit_transform(self, X: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """``fit(X, y).transform(X)``."""
        return self.fit(X, y).transform(X)

    def _check(self) -> None:
        if not hasattr(self, "fit_X_"):
            raise InputError("the imputer is not fitted; call fit(X) first.")

    def __getstate__(self) -> dict:
        # what Dask ships to workers: the fitted arrays, not the derived reference (rebuilt on first use)
        return {k: v for k, v in self.__dict__.items() if k != "_ref"}

    def _reference(self) -> _Reference:
        ref = getattr(self, "_ref", None)
        if ref is None:  # after unpickling (__getstate__ leaves it out)
            ref = self._ref = _build_reference(self.fit_X_, self.constant_, self.fill_value, self.center_, self.scale_)
        return ref

    # -- state -----------------------------------------------------------------------------
    def state(self) -> dict[str, np.ndarray]:
        """Fitted state as plain arrays (for the artifact).

        ``params`` = [n_neighbors, nan_threshold, fill_value, scale, max_reference (0: unbounded),
        seed, training rows the reference was drawn from]; states written before ``max_reference``
        have only the first four and load as unbounded.
        """
        self._check()
        return {
            "fit_X": self.fit_X_, "center": self.center_, "scale": self.scale_, "fill": self.fill_,
            "constant": self.constant_,
            "params": np.array([self.n_neighbors, self.nan_threshold, self.fill_value, float(self.scale),
                                float(self.max_reference or 0), float(self.seed),
                                float(self.n_train_)]),
        }

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "KNNImputer":
        """Rebuild a fitted imputer from :meth:`state` (also an old state without ``max_reference``)."""
        p = np.asarray(state["params"], dtype=np.float64)
        imp = cls(n_neighbors=int(p[0]), nan_threshold=float(p[1]), fill_value=float(p[2]), scale=bool(p[3]),
                  max_reference=int(p[4]) if p.size > 4 and p[4] > 0 else None,
                  seed=int(p[5]) if p.size > 5 else 0)
        imp.fit_X_ = np.asarray(state["fit_X"], dtype=np.float64)
        imp.center_ = np.asarray(state["center"], dtype=np.float64)
        imp.scale_ = np.asarray(state["scale"], dtype=np.float64)
        imp.fill_ = np.asarray(state["fill"], dtype=np.float64)
        imp.constant_ = np.asarray(state["constant"], dtype=bool)
        imp.n_train_ = int(p[6]) if p.size > 6 else imp.fit_X_.shape[0]
        imp._ref = _build_reference(imp.fit_X_, imp.constant_, imp.fill_value, imp.center_, imp.scale_)
        return imp
