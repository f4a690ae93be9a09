"""Noise models: photon noise from a zero point and exposure time, or the empirical σ(m) relation.

The random numbers are drawn by the caller (one stream per object, see ``simulate.py``); the
functions here turn them into observed values (pure: arrays in, arrays out).

* Photon noise (MicroLIA's default): expected counts ``N = 10**(-0.4 (m - zp)) · exptime``,
  observed counts ``N_obs ~ Poisson(N)``, ``m_obs = zp - 2.5 log10(N_obs / exptime)``,
  ``σ_m = 2.5 / ln 10 / sqrt(N_obs)``.
* Empirical (MicroLIA's ``create_noise``): a cubic σ(m) fit to (median magnitude, scatter) of
  real lightcurves, applied in flux: ``F_obs = F (1 + (ln 10 / 2.5) σ(m) ε)``, ``ε ~ N(0, 1)``,
  ``σ_m = (2.5 / ln 10) ΔF / F_obs``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..batch import LightcurveBatch
from ..errors import InputError

LN10_25 = np.log(10.0) / 2.5  # 0.921: d(ln F) / d(-m)
NJY_ZEROPOINT = 31.4  # AB magnitude of 1 nJy


@dataclass(frozen=True)
class NoiseModel:
    """σ(m) or photon noise; small, hashable-free and cheap to send to every worker once.

    Attributes
    ----------
    kind : {"photon", "empirical"}
    zeropoint : float
        Magnitude of one count per second (photon noise).
    exptime : float
        Exposure time in seconds (photon noise).
    coeffs : tuple of float
        Polynomial coefficients of σ(m) in mag, highest power first (empirical).
    mag_range : (float, float)
        Magnitude range of the fit; σ is evaluated at ``clip(m, *mag_range)`` unless
        ``extrapolate`` (MicroLIA extrapolates the polynomial, which makes bright peaks noisier).
    sigma_floor : float
        Smallest σ (mag) the empirical model returns (MicroLIA: 1e-5 for negative values).
    extrapolate : bool
    """

    kind: str = "photon"
    zeropoint: float = 24.0
    exptime: float = 60.0
    coeffs: tuple[float, ...] = ()
    mag_range: tuple[float, float] = (-np.inf, np.inf)
    sigma_floor: float = 1e-5
    extrapolate: bool = False

    def __post_init__(self) -> None:
        if self.kind not in ("photon", "empirical"):
            raise InputError(f"noise kind must be 'photon' or 'empirical', got {self.kind!r}.")
        if self.kind == "photon" and not (self.exptime > 0 and np.isfinite(self.zeropoint)):
            raise InputError(f"photon noise needs exptime > 0 and a finite zero point, got exptime={self.exptime}, "
                             f"zp={self.zeropoint}.")
        if self.kind == "empirical" and len(self.coeffs) == 0:
            raise InputError("an empirical noise model needs polynomial coefficients; build it with "
                             "NoiseModel.fit or NoiseModel.from_batch.")

    # ------------------------------------------------------------------ construction
    @classmethod
    def photon(cls, zeropoint: float = 24.0, exptime: float = 60.0) -> "NoiseModel":
        """Photon (Poisson) noise for a zero point (mag at 1 count/s) and exposure time (s)."""
        return cls("photon", float(zeropoint), float(exptime))

    @classmethod
    def fit(cls, median_mag: np.ndarray, scatter: np.ndarray, degree: int = 3, **kwargs) -> "NoiseModel":
        """Least-squares polynomial σ(m) through per-lightcurve (median magnitude, scatter) pairs.

        Repeated medians keep their first pair (as MicroLIA does). For realistic scatter values
        MicroLIA's smoothing spline (s = number of points) has no interior knots and equals this
        cubic polynomial (spec §1.7.2, verified to 5e-13 on OGLE-II).

        Parameters
        ----------
        median_mag, scatter : ndarray, shape (k,)
            Median magnitude and scatter (mag) of each real lightcurve.
        degree : int
            Polynomial degree (3).
        """
        m = np.asarray(median_mag, np.float64)
        s = np.asarray(scatter, np.float64)
        ok = np.isfinite(m) & np.isfinite(s)
        m, s = m[ok], s[ok]
        m, first = np.unique(m, return_index=True)
        s = s[first]
        if len(m) < degree + 1:
            raise InputError(f"the noise model needs at least {degree + 1} lightcurves with distinct median "
                             f"magnitudes, got {len(m)}; give more real lightcurves to --noise-from.")
        coeffs = np.polyfit(m, s, degree)
        return cls("empirical", coeffs=tuple(float(c) for c in coeffs), mag_range=(float(m[0]), float(m[-1])),
                   **kwargs)

    @classmethod
    def from_batch(cls, batch: LightcurveBatch, degree: int = 3, min_epochs: int = 5, **kwargs) -> "NoiseModel":
        """Fit σ(m) to real lightcurves: median magnitude vs ``½ |Q84 - Q16|`` of each (MicroLIA's recipe).

        Flux batches are converted with their zero point; non-positive fluxes and non-finite
        values are ignored, and lightcurves with fewer than ``min_epochs`` usable epochs are skipped.
        """
        med, rms = lightcurve_scatter(batch, min_epochs)
        return cls.fit(med, rms, degree, **kwargs)

    # ------------------------------------------------------------------ evaluation
    def sigma(self, mag: np.ndarray) -> np.ndarray:
        """Empirical σ(m) in mag, shape of ``mag``."""
        m = np.asarray(mag, np.float64)
        if not self.extrapolate:
            m = np.clip(m, *self.mag_range)
        s = np.polyval(np.asarray(self.coeffs), m)
        return np.maximum(s, self.sigma_floor)

    def expected_counts(self, mag: np.ndarray) -> np.ndarray:
        """Photon noise: expected counts per exposure, ``10**(-0.4 (m - zp)) · exptime``."""
        return 10.0 ** (-0.4 * (np.asarray(mag, np.float64) - self.zeropoint)) * self.exptime

    def observe(self, mag: np.ndarray, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Observed values from noise-free magnitudes and the drawn random numbers.

        Parameters
        ----------
        mag : ndarray, shape (m,)
            Noise-free magnitudes.
        draws : ndarray, shape (m,)
            Photon noise: Poisson counts drawn with mean ``expected_counts(mag)``;
            empirical: standard normal deviates.

        Returns
        -------
        mag_obs, magerr : ndarray, shape (m,)
            Observed magnitude and its error (NaN where the observed flux is not positive).
        rel_flux : ndarray, shape (m,)
            Observed flux relative to ``10**(-0.4 mag)``, with its error: ``(F_obs/F, σ_F/F)`` stacked
            as shape (2, m) — used to produce flux output without a detour through magnitudes.
        """
        mag = np.asarray(mag, np.float64)
        if self.kind == "photon":
            n = np.asarray(draws, np.float64)
            lam = self.expected_counts(mag)
            with np.errstate(divide="ignore", invalid="ignore"):
                mag_obs = np.where(n > 0, self.zeropoint - 2.5 * np.log10(n / self.exptime), np.nan)
                magerr = np.where(n > 0, 1.0 / (LN10_25 * np.sqrt(n)), np.nan)
            rel = np.stack([n / lam, np.sqrt(np.maximum(n, 1.0)) / lam])
            return mag_obs, magerr, rel
        dF = LN10_25 * self.sigma(mag)  # ΔF / F
        ratio = 1.0 + dF * np.asarray(draws, np.float64)  # F_obs / F
        with np.errstate(divide="ignore", invalid="ignore"):
            pos = ratio > 0
            mag_obs = np.where(pos, mag - 2.5 * np.log10(np.where(pos, ratio, 1.0)), np.nan)
            magerr = np.where(pos, dF / (LN10_25 * ratio), np.nan)
        return mag_obs, magerr, np.stack([ratio, dF])


def lightcurve_scatter(batch: LightcurveBatch, min_epochs: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Median magnitude and ``½ |Q84 - Q16|`` per lightcurve of a batch (mag or flux photometry).

    Returns
    -------
    median, scatter : ndarray, shape (k,)
        For the ``k`` lightcurves with at least ``min_epochs`` finite magnitudes.
    """
    b = batch.compact()
    y = b.y
    if b.photometry == "flux":
        with np.errstate(divide="ignore", invalid="ignore"):
            y = np.where(y > 0, b.zeropoint - 2.5 * np.log10(np.where(y > 0, y, 1.0)), np.nan)
    med, rms = [], []
    for i in range(len(b)):
        v = y[b.offsets[i]:b.offsets[i + 1]]
        v = v[np.isfinite(v)]
        if len(v) < min_epochs:
            continue
        q16, q50, q84 = np.percentile(v, [16, 50, 84])
        med.append(q50)
        rms.append(0.5 * abs(q84 - q16))
    return np.asarray(med), np.asarray(rms)
