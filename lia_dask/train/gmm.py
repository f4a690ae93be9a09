"""Gaussian-mixture re-weighting of a training set towards a target population (cost-sensitive learning).

A simulated training set rarely has the feature distribution of the survey it will classify.
:class:`GMMReweighter` fits one Gaussian mixture to the training features and one to the target
population's features (both in the same standardised, optionally PCA-reduced space) and gives each
training row the density ratio ``w(x) = p_pop(x) / p_train(x)`` (normalised to mean 1, capped at
``max_weight``). Fitting a classifier with these sample weights makes the weighted training
distribution resemble the population. :meth:`GMMReweighter.divide` assigns rows to the
population's mixture components (for training one model per component).

Features are standardised with robust statistics of the training set after a signed-log
transform (features span up to 1e10); NaNs are replaced by the training medians before both.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp

from ..errors import InputError


def _slog(X: np.ndarray) -> np.ndarray:
    return np.sign(X) * np.log1p(np.abs(X))


@dataclass
class GMMReweighter:
    """Density-ratio weights from two Gaussian mixtures.

    Parameters
    ----------
    n_components : int
        Mixture components for each of the two GMMs.
    n_pca : int or None
        Reduce the standardised features to this many principal components (fitted on the union
        of both sets) before the mixtures; None keeps every feature. Full-covariance mixtures in
        168 dimensions with a few thousand rows are ill-conditioned, hence the default.
    covariance_type : str
        scikit-learn ``GaussianMixture`` covariance type.
    log_transform : bool
        Signed ``log1p`` of the features first.
    random_state : int, optional
    reg_covar : float
        Added to the covariance diagonals (the space is whitened, so this is relative); a fit
        that still collapses is retried with 10x and 100x this value.
    clip : float
        Standardised values are clipped to ``[-clip, clip]`` (features with outliers in 1e10).
    """

    n_components: int = 4
    n_pca: int | None = 10
    covariance_type: str = "full"
    log_transform: bool = True
    random_state: int | None = None
    reg_covar: float = 1e-3
    clip: float = 10.0

    def _prep(self, X: np.ndarray) -> np.ndarray:
        X = np.array(X, dtype=np.float64, copy=True)
        if X.ndim != 2 or X.shape[1] != self.center_.size:
            raise InputError(f"GMMReweighter was fitted on {self.center_.size} features, got shape {X.shape}.")
        X[~np.isfinite(X)] = np.nan
        if self.log_transform:
            X = _slog(X)
        X = np.where(np.isnan(X), self.fill_, X)
        Z = np.clip((X - self.center_) / self.scale_, -self.clip, self.clip)
        if self.components_ is not None:
            Z = (Z - self.pca_mean_) @ self.components_.T / self.pca_scale_
        return Z

    def fit(self, X_train: np.ndarray, X_pop: np.ndarray) -> "GMMReweighter":
        """Fit the training and population mixtures.

        Parameters
        ----------
        X_train : ndarray (n, d)
            Training features (the same columns, in the same order, as ``X_pop``).
        X_pop : ndarray (m, d)
            Target population features (e.g. a real survey archive's features), unlabeled.
        """
        A, B = np.asarray(X_train, float), np.asarray(X_pop, float)
        if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[1]:
            raise InputError(f"training features {A.shape} and population features {B.shape} must have the same columns.")
        if min(len(A), len(B)) < 2 * self.n_components:
            raise InputError(
                f"GMM re-weighting with {self.n_components} components needs at least {2 * self.n_components} "
                f"rows in each set, got {len(A)} training and {len(B)} population rows; lower n_components."
            )
        At = np.where(np.isfinite(A), A, np.nan)
        if self.log_transform:
            At = _slog(At)
        with np.errstate(all="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                med = np.nanmedian(At, axis=0)
                q75, q25 = np.nanpercentile(At, [75, 25], axis=0)
                sd = np.nanstd(At, axis=0)
        med = np.where(np.isfinite(med), med, 0.0)
        span = np.where(np.isfinite(q75 - q25) & (q75 - q25 > 0), (q75 - q25) / 1.349, sd)
        span = np.where(np.isfinite(span) & (span > 0), span, 1.0)
        self.fill_, self.center_, self.scale_ = med, med, span
        self.components_ = None
        Za, Zb = self._prep(A), self._prep(B)
        if self.n_pca is not None and self.n_pca < Za.shape[1]:
            both = np.vstack([Za, Zb])
            self.pca_mean_ = both.mean(axis=0)
            _, _, vt = np.linalg.svd(both - self.pca_mean_, full_matrices=False)
            self.components_ = vt[: self.n_pca]
            proj = (both - self.pca_mean_) @ self.components_.T
            sd = proj.std(axis=0)
            self.pca_scale_ = np.where(sd > 0, sd, 1.0)
            Za = (Za - self.pca_mean_) @ self.components_.T / self.pca_scale_
            Zb = (Zb - self.pca_mean_) @ self.components_.T / self.pca_scale_
        self.gmm_train_ = self._mixture(Za)
        self.gmm_pop_ = self._mixture(Zb)
        return self

    def _mixture(self, Z: np.ndarray):
        from sklearn.mixture import GaussianMixture

        err: Exception | None = None
        for factor in (1.0, 10.0, 100.0):
            try:
                return GaussianMixture(n_components=self.n_components, covariance_type=self.covariance_type,
                                       random_state=self.random_state, reg_covar=self.reg_covar * factor,
                                       n_init=2).fit(Z)
            except ValueError as exc:  # collapsed component: regularise more
                err = exc
        raise InputError(f"the Gaussian mixture could not be fitted ({err}); lower n_components.") from err

    def log_ratio(self, X: np.ndarray) -> np.ndarray:
        """``log p_pop(x) - log p_train(x)`` per row of ``X`` (n, d)."""
        Z = self._prep(X)
        return self.gmm_pop_.score_samples(Z) - self.gmm_train_.score_samples(Z)

    def weights(self, X_train: np.ndarray, max_weight: float = 10.0) -> np.ndarray:
        """Per-row weights that make ``X_train`` resemble the population.

        Parameters
        ----------
        X_train : ndarray (n, d)
        max_weight : float
            Cap on a weight, in units of the mean weight (limits the variance a few rows can add).

        Returns
        -------
        ndarray (n,)
            Positive weights with mean 1.
        """
        if max_weight <= 0:
            raise InputError(f"max_weight must be positive, got {max_weight}.")
        lr = self.log_ratio(X_train)
        w = np.exp(lr - logsumexp(lr) + np.log(lr.size))
        for _ in range(20):  # cap, renormalise, repeat until stable
            w = np.minimum(w, max_weight)
            w = w / w.mean()
            if w.max() <= max_weight * (1 + 1e-9):
                break
        return w

    def membership(self, X: np.ndarray) -> np.ndarray:
        """Posterior probability of each population component per row, (n, n_components)."""
        return self.gmm_pop_.predict_proba(self._prep(X))

    def divide(self, X: np.ndarray, threshold: float = 0.5, weight: bool = False) -> np.ndarray:
        """Assign rows to the population's mixture components.

        Parameters
        ----------
        X : ndarray (n, d)
        threshold : float
            Minimum membership probability for a row to belong to a component (a row may belong to
            several components when ``threshold`` < 0.5, or to none).
        weight : bool
            Return the membership probabilities (zeroed below ``threshold``) instead of booleans,
            for use as per-component sample weights.

        Returns
        -------
        ndarray (n_components, n)
            Boolean masks, or float weights when ``weight`` is True.
        """
        r = self.membership(X).T
        if weight:
            return np.where(r >= threshold, r, 0.0)
        return r >= threshold


def weighted_ks(x: np.ndarray, w: np.ndarray | None, ref: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the ``w``-weighted sample ``x`` and the sample ``ref``.

    NaNs are ignored. With ``w`` None (or all equal) this is scipy's two-sample KS statistic.
    """
    x, ref = np.asarray(x, float), np.asarray(ref, float)
    w = np.ones_like(x) if w is None else np.asarray(w, float)
    ok = np.isfinite(x)
    x, w = x[ok], w[ok]
    ref = np.sort(ref[np.isfinite(ref)])
    order = np.argsort(x)
    x, w = x[order], w[order]
    grid = np.concatenate([x, ref])
    cw = np.concatenate([[0.0], np.cumsum(w)]) / w.sum()
    F1 = cw[np.searchsorted(x, grid, side="right")]
    F2 = np.searchsorted(ref, grid, side="right") / ref.size
    return float(np.max(np.abs(F1 - F2)))
