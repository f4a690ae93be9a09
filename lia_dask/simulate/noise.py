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

import numba
import numpy as np
from scipy.special import ndtri

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


@numba.njit(cache=True, nogil=True)
def _systematics_kernel(t, offsets, sigma, scal, nrm, unif, outlier_rate, trend_sigma, season_sigma, season_gap,
                        red_sigma, red_fraction, red_tau):  # pragma: no cover - numba
    m = t.shape[0]
    shift = np.zeros(m)
    for i in range(offsets.shape[0] - 1):
        a, b = offsets[i], offsets[i + 1]
        if b <= a:
            continue
        span = max(t[b - 1] - t[a], 1e-9)
        tmid = 0.5 * (t[a] + t[b - 1])
        drift = trend_sigma * scal[i, 2]  # end-to-end drift (mag), scal[:, 2] standard normal
        amp = scal[i, 3]  # U(0, 1): the object's share of the red-noise amplitude
        rate = 2.0 * outlier_rate * scal[i, 1]
        x = amp * nrm[0, a]
        season = season_sigma * nrm[1, a]
        for j in range(a, b):
            if j > a:
                dt = t[j] - t[j - 1]
                rho = np.exp(-dt / red_tau)
                x = rho * x + np.sqrt(1.0 - rho * rho) * amp * nrm[0, j]
                if dt > season_gap:
                    season = season_sigma * nrm[1, j]
            v = drift * (t[j] - tmid) / span + x * (red_sigma + red_fraction * sigma[j]) + season
            if unif[j] < rate:
                size = (3.0 + 5.0 * abs(nrm[2, j])) * sigma[j]
                v += -size if unif[j] < 0.5 * rate else size  # half brighter, half fainter
            shift[j] = v
    return shift


def systematics(t: np.ndarray, offsets: np.ndarray, sigma: np.ndarray, scalars: np.ndarray, normals: np.ndarray,
                uniforms: np.ndarray, *, error_scale_range: tuple[float, float] = (1.0, 1.6),
                outlier_rate: float = 0.005, trend_sigma: float = 0.01, season_sigma: float = 0.005,
                season_gap: float = 60.0, red_sigma: float = 0.0, red_fraction: float = 0.8,
                red_tau: float = 5.0) -> tuple[np.ndarray, np.ndarray]:
    """What real photometry adds to photon / empirical noise: magnitude shifts and error underestimation.

    Per object: a slow linear drift (end to end ``N(0, trend_sigma)`` mag), an offset per observing
    season (``N(0, season_sigma)``; a gap longer than ``season_gap`` days starts a season), correlated
    noise (Ornstein-Uhlenbeck with correlation time ``red_tau`` days and amplitude
    ``u · (red_sigma + red_fraction · σ)`` mag, ``u ~ U(0, 1)`` per object: an absolute part and a part
    proportional to the epoch's true σ, as seeing and crowding errors grow with the photometric error),
    outliers (each epoch with probability ``U(0, 2 outlier_rate)``, shifted by
    ``±(3 + 5|N(0,1)|)`` true σ, half brighter and half fainter), and an error underestimation factor
    γ, log-uniform in ``error_scale_range``: the pipeline reports ``σ / γ``.

    Parameters
    ----------
    t : ndarray, shape (m,)
        Epochs (days), sorted within each object.
    offsets : ndarray of int64, shape (n + 1,)
    sigma : ndarray, shape (m,)
        True noise σ per epoch (mag).
    scalars : ndarray, shape (n, 4)
        Uniforms per object: [γ, outlier rate, (drift), red-noise amplitude]; column 2 is turned into
        a standard normal here.
    normals : ndarray, shape (3, m)
        Standard normals per epoch: red noise, season offsets (the season's first epoch), outlier size.
    uniforms : ndarray, shape (m,)
        Uniforms per epoch (outlier selection and sign).

    Returns
    -------
    shift : ndarray, shape (m,)
        Magnitude added to each observed magnitude.
    gamma : ndarray, shape (n,)
        Error underestimation factor per object (reported error = true σ / γ).
    """
    lo, hi = error_scale_range
    sc = np.array(scalars, dtype=np.float64, copy=True)
    gamma = lo * (hi / lo) ** sc[:, 0]
    sc[:, 2] = ndtri(np.clip(sc[:, 2], 1e-12, 1 - 1e-12))
    shift = _systematics_kernel(np.ascontiguousarray(t, np.float64), np.asarray(offsets, np.int64),
                                np.asarray(sigma, np.float64), sc, np.ascontiguousarray(normals, np.float64),
                                np.asarray(uniforms, np.float64), float(outlier_rate), float(trend_sigma),
                                float(season_sigma), float(season_gap), float(red_sigma), float(red_fraction),
                                float(red_tau))
    return shift, gamma


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
