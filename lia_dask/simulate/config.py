"""``SimulationConfig``: every setting of the training-set simulation in one dataclass.

Defaults follow MicroLIA 2.8.1 (``../shared/spec/SIMULATION_AND_TRAINING.md`` §1–§2) except where
a documented quirk or bug is fixed; each such choice is marked *[fix]* below and in
``docs/simulation.md``.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .. import schema as S
from ..errors import InputError
from .noise import NJY_ZEROPOINT, NoiseModel


@dataclass(frozen=True)
class SimulationConfig:
    """Settings of ``simulate_training_set``.

    General
    -------
    classes : tuple of str
        Labels to simulate, from ``lia_dask.schema.CLASSES``.
    min_mag, max_mag : float
        Baseline magnitude ``m0 ~ U(min_mag, max_mag)`` (14, 21).
    seed : int
        Root seed; object ``k`` of class ``c`` draws from ``SeedSequence(seed, spawn_key=(code(c), k))``
        so its lightcurve does not depend on partitioning, workers or the other classes.
    noise : NoiseModel, optional
        Empirical σ(m) model; ``None`` = photon noise with ``noise_zeropoint`` and ``exptime``.
    noise_zeropoint, exptime : float
        Zero point (mag of 1 count/s) and exposure time (s) of the *photon noise* (24, 60). Not the
        conversion zero point of the features (``FeatureSettings.zp``): that is ``archive_zeropoint``.
    archive_zeropoint : float, optional
        Zero point written to a magnitude archive, which feature extraction uses to convert
        magnitudes to fluxes (default ``None`` = ``noise_zeropoint``; flux output is always nJy, 31.4).
    photometry : {"mag", "flux"}
        Output magnitudes, or fluxes in nJy (AB, zero point 31.4).
    max_attempts : int
        Attempts per ML / CV lightcurve before giving up with an error (100).
    redraw_cadence : bool
        A failed attempt also redraws cadence and baseline (MicroLIA; keeps its cadence bias)
        rather than only the model parameters and noise.
    min_epochs : int
        Cadences with fewer epochs are not used (10).
    partition_size : int
        Lightcurves per task and per archive part (20,000).

    Survey realism (docs/simulation.md, "Survey realism"; all off in :meth:`microlia`)
    ------------------------------------------------------------------------------------
    error_scale_range : (float, float)
        Pipelines underestimate errors: the reported error is the true σ divided by γ, γ log-uniform
        in this range per object ((1.0, 1.6); (1, 1) = honest errors).
    outlier_rate : float
        Mean fraction of epochs that are outliers (per object U(0, 2 rate)); an outlier is shifted by
        ±(3 + Exp(5)) true σ, sign random (0.005).
    trend_sigma : float          slow linear trend: end-to-end drift N(0, trend_sigma) mag (0.01)
    season_sigma : float         offset per observing season N(0, season_sigma) mag (0.005)
    season_gap : float           a gap longer than this (days) starts a new season (60)
    red_sigma, red_fraction : float
        correlated noise: Ornstein-Uhlenbeck, amplitude u · (red_sigma + red_fraction · σ) mag with u ~ U(0, 1)
        per object and σ the epoch's true noise (0 mag, 0.8: audit of OGLE-II baselines, docs/simulation.md) ...
    red_tau : float              ... with correlation time red_tau days (5)

    Microlensing (ML)
    -----------------
    u0_range : (float, float)      impact parameter, uniform (0, 1)
    tE_distribution : {"lognormal", "normal"}
        ``lognormal``: log10 tE ~ N(tE_log_mean, tE_log_std) on [tE_min, tE_max] (OGLE-IV, Mróz et al.
        2017/2019); ``normal``: N(tE_mean, tE_std) truncated at tE_min (MicroLIA).
    tE_log_mean, tE_log_std, tE_max : float   1.35 (22 d), 0.45, 1000 d
    tE_mean, tE_std : float        normal (30, 10) days ...
    tE_min : float                 ... *[fix]* truncated below at 1 day (MicroLIA allows tE <= 0)
    t0_range : (float, float) or None
        Peak time, uniform; ``None`` = ``U(tmin - t0_margin tE, tmax + t0_margin tE)`` of the cadence
        (peaks before the data, in gaps, after the data), or with ``t0_margin=None`` MicroLIA's
        ``U(Q1 - tE/2, Q99 + tE/2)``.
    t0_margin : float or None      1.0 (in tE)
    blending : {"fs", "ratio"}
        ``fs``: source flux fraction fs = f_s/(f_s+f_b) from ``fs_range``, log-uniform with probability
        ``fs_log_fraction`` else uniform (strongly blended events, Wyrzykowski et al. 2015);
        ``ratio``: blend ratio f_blend/f_source ~ U(blend_range) (MicroLIA; fs >= 0.5 only).
    fs_range : (float, float)      (0.05, 1.0)
    fs_log_fraction : float        0.5
    blend_range : (float, float)   blend ratio f_blend/f_source, uniform (0, 1)
    ml_cut : {"detect", "microlia"}
        ``detect`` (a survey's detection): >= ml_n_detect consecutive epochs within ml_detect_window tE of
        t0 at >= ml_min_z true σ above the baseline (sparse events pass; OGLE / KMTNet / Gaia searches).
        ``microlia``: spec §2.1.
    ml_n_detect : int              3
    ml_detect_window : float       2.0 (in tE)
    ml_detect_consecutive : bool   True: the ml_n_detect epochs must be consecutive; False: anywhere in the window
    ml_detect_dchi2 : float        and the event must beat the constant baseline by this Δχ² on the noisy data (100; 0: off)
    ml_n1, ml_min_z, ml_frac_significant, ml_min_brightening
        Quality cut (spec §2.1): >= 7 epochs in t0 ± tE, one at >= 3σ, >= 33 % above 3σ,
        mean brightening > 0.05 mag (``ml_min_z`` also sets the ``detect`` threshold).

    Cataclysmic variable (CV)
    -------------------------
    cv_model : {"dwarf_nova", "microlia"}
        ``dwarf_nova``: quasi-periodic fast-rise / exponential-decline outbursts with superoutbursts
        (Warner 1995; Coppejans et al. 2016), see below; ``microlia``: spec §1.6.3 (linear, periodic).
    cv_recurrence_range : (float, float)   mean recurrence, log-uniform (15, 400) d; each cycle × U(0.7, 1.3)
    cv_rise_range : (float, float)         rise time, uniform (0.5, 2) d
    cv_decline_range : (float, float)      decline rate, uniform (0.3, 1.5) mag/d (linear in mag = exponential in flux)
    cv_plateau_range : (float, float)      time at maximum of a normal outburst, uniform (0, 2) d
    cv_su_fraction : float                 share of SU UMa stars (0.3): every n-th (n ~ U{3..8}) outburst is a
                                           superoutburst, +0.7 mag brighter with a 10-14 d plateau
    cv_period_mean, cv_period_std : float   recurrence |N(100, 200)| days ...
    cv_period_min : float   ... *[fix]* redrawn (truncated) below 30 d so durations U(3, P/10) are valid
    cv_amplitude_range : (float, float)     outburst amplitude, uniform (0.5, 5) mag
    cv_n1, cv_n2 : int      quality cut (spec §2.2; ``microlia`` model): >= 7 epochs in one outburst, >= 1 in its
                            rise or decline
    cv_n_detect : int       ``dwarf_nova`` model: >= 3 epochs >= cv_min_z σ above quiescence (the detection cut)
    cv_min_z : float or None
        *[fix]* also require one epoch of that outburst >= 3σ above quiescence (None: off, as MicroLIA).

    Mira (LPV)
    ----------
    mira_peak_to_peak : bool
        *[fix]* catalogue amplitudes are peak-to-peak, so the cosine semi-amplitude is A/2
        (MicroLIA uses A as semi-amplitude).
    mira_random_phase : bool
        *[fix]* random phase per component (MicroLIA: none, phase fixed by the time zero).
    (Also fixed: component k has period P_k, not P_k / k; secondary components with an amplitude
    above the primary's — catalogue outliers up to 42.8 mag — are dropped.)

    RR Lyrae (VARIABLE)
    -------------------
    rrlyrae_band : str       template band (u g r i z; "i" is closest to OGLE I)
    rrlyrae_ab_fraction : float   share of RRab (0.7, the OGLE-IV bulge RRab:RRc ratio)
    rrab_period, rrc_period : (mean, std, low, high)   truncated normal periods (days)
    rrab_amplitude, rrc_amplitude : (float, float)      peak-to-peak amplitude, uniform (mag): I band,
        (0.25, 0.9) / (0.1, 0.45) (OGLE-IV bulge, Soszyński et al. 2014); MicroLIA preset (0.4, 1.2) / (0.2, 0.6)
        *[fix]* MicroLIA's template fit yields attenuated, period-dependent amplitudes
        (median 0.25 mag peak-to-peak); here amplitudes are drawn and phases are random.
    """

    classes: tuple[str, ...] = S.CLASSES
    min_mag: float = 14.0
    max_mag: float = 21.0
    seed: int = 0
    noise: NoiseModel | None = None
    noise_zeropoint: float = 24.0
    exptime: float = 60.0
    archive_zeropoint: float | None = None
    photometry: str = "mag"
    max_attempts: int = 100
    redraw_cadence: bool = True
    min_epochs: int = 10
    partition_size: int = 20_000
    # survey realism
    error_scale_range: tuple[float, float] = (1.0, 1.6)
    outlier_rate: float = 0.005
    trend_sigma: float = 0.01
    season_sigma: float = 0.005
    season_gap: float = 60.0
    red_sigma: float = 0.0
    red_fraction: float = 0.8
    red_tau: float = 5.0
    # ML
    u0_range: tuple[float, float] = (0.0, 1.0)
    tE_distribution: str = "lognormal"
    tE_log_mean: float = 1.35
    tE_log_std: float = 0.45
    tE_max: float = 1000.0
    tE_mean: float = 30.0
    tE_std: float = 10.0
    tE_min: float = 1.0
    t0_range: tuple[float, float] | None = None
    t0_margin: float | None = 1.0
    blending: str = "fs"
    fs_range: tuple[float, float] = (0.05, 1.0)
    fs_log_fraction: float = 0.5
    blend_range: tuple[float, float] = (0.0, 1.0)
    ml_cut: str = "detect"
    ml_n_detect: int = 3
    ml_detect_window: float = 2.0
    ml_detect_consecutive: bool = True
    ml_detect_dchi2: float = 100.0
    ml_n1: int = 7
    ml_min_z: float = 3.0
    ml_frac_significant: float = 0.33
    ml_min_brightening: float = 0.05
    # CV
    cv_model: str = "dwarf_nova"
    cv_recurrence_range: tuple[float, float] = (15.0, 400.0)
    cv_rise_range: tuple[float, float] = (0.5, 2.0)
    cv_decline_range: tuple[float, float] = (0.3, 1.5)
    cv_plateau_range: tuple[float, float] = (0.0, 2.0)
    cv_su_fraction: float = 0.3
    cv_period_mean: float = 100.0
    cv_period_std: float = 200.0
    cv_period_min: float = 30.0
    cv_amplitude_range: tuple[float, float] = (0.5, 5.0)
    cv_n1: int = 7
    cv_n2: int = 1
    cv_min_z: float | None = 3.0
    cv_n_detect: int = 3
    # LPV
    mira_peak_to_peak: bool = True
    mira_random_phase: bool = True
    # VARIABLE
    rrlyrae_band: str = "i"
    rrlyrae_ab_fraction: float = 0.7
    rrab_period: tuple[float, float, float, float] = (0.6, 0.15, 0.3, 1.0)
    rrc_period: tuple[float, float, float, float] = (0.33, 0.10, 0.2, 0.5)
    rrab_amplitude: tuple[float, float] = (0.25, 0.9)
    rrc_amplitude: tuple[float, float] = (0.1, 0.45)

    @classmethod
    def microlia(cls, **changes) -> "SimulationConfig":
        """MicroLIA 2.8.1's distributions (spec §1–§2, with the documented fixes) and no survey systematics."""
        base = dict(error_scale_range=(1.0, 1.0), outlier_rate=0.0, trend_sigma=0.0, season_sigma=0.0,
                    red_sigma=0.0, red_fraction=0.0, tE_distribution="normal", t0_margin=None, blending="ratio", ml_cut="microlia",
                    cv_model="microlia", rrab_amplitude=(0.4, 1.2), rrc_amplitude=(0.2, 0.6))
        base.update(changes)
        return cls(**base)

    def without_systematics(self) -> "SimulationConfig":
        """The same settings with honest errors and no outliers, trends, offsets or red noise."""
        return self.replace(error_scale_range=(1.0, 1.0), outlier_rate=0.0, trend_sigma=0.0, season_sigma=0.0,
                            red_sigma=0.0, red_fraction=0.0)

    @property
    def systematics(self) -> bool:
        """Whether any survey systematic (error rescaling, outliers, trends, offsets, red noise) is on."""
        return (self.error_scale_range != (1.0, 1.0) or self.outlier_rate > 0 or self.trend_sigma > 0
                or self.season_sigma > 0 or self.red_sigma > 0 or self.red_fraction > 0)

    def __post_init__(self) -> None:
        unknown = [c for c in self.classes if c not in S.CLASSES]
        if unknown:
            raise InputError(f"unknown class name(s) {unknown}; choose from {list(S.CLASSES)}.")
        if not self.classes:
            raise InputError(f"classes is empty; choose at least one of {list(S.CLASSES)}.")
        if len(set(self.classes)) != len(self.classes):
            raise InputError(f"classes lists a class twice: {list(self.classes)}.")
        if not (np.isfinite(self.min_mag) and np.isfinite(self.max_mag)) or self.min_mag > self.max_mag:
            raise InputError(f"min_mag ({self.min_mag}) must be finite and not larger than max_mag ({self.max_mag}).")
        if self.photometry not in ("mag", "flux"):
            raise InputError(f"photometry must be 'mag' or 'flux', got {self.photometry!r}.")
        if self.max_attempts < 1 or self.partition_size < 1 or self.min_epochs < 1:
            raise InputError("max_attempts, partition_size and min_epochs must be positive integers.")
        if self.noise is None and not (self.exptime > 0):
            raise InputError(f"exptime must be positive, got {self.exptime}.")
        if not (self.tE_min > 0 and self.tE_std >= 0):
            raise InputError(f"tE_min must be > 0 and tE_std >= 0, got {self.tE_min}, {self.tE_std}.")
        choices = {"tE_distribution": ("lognormal", "normal"), "blending": ("fs", "ratio"),
                   "ml_cut": ("detect", "microlia"), "cv_model": ("dwarf_nova", "microlia")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise InputError(f"{name} must be one of {list(allowed)}, got {getattr(self, name)!r}.")
        if not (self.tE_max > self.tE_min and self.tE_log_std >= 0):
            raise InputError(f"tE_max ({self.tE_max}) must exceed tE_min ({self.tE_min}) and tE_log_std be >= 0.")
        if not (0 < self.fs_range[0] <= self.fs_range[1] <= 1.0):
            raise InputError(f"fs_range must satisfy 0 < low <= high <= 1, got {self.fs_range}.")
        if not (1.0 <= self.error_scale_range[0] <= self.error_scale_range[1]):
            raise InputError(f"error_scale_range must satisfy 1 <= low <= high (γ >= 1 underestimates errors), "
                             f"got {self.error_scale_range}.")
        if (min(self.outlier_rate, self.trend_sigma, self.season_sigma, self.red_sigma, self.red_fraction) < 0
                or not 0 <= self.outlier_rate <= 0.5):
            raise InputError("outlier_rate (<= 0.5), trend_sigma, season_sigma, red_sigma and red_fraction must be >= 0.")
        if not (self.red_tau > 0 and self.season_gap > 0):
            raise InputError(f"red_tau and season_gap must be positive, got {self.red_tau}, {self.season_gap}.")
        if not self.ml_detect_dchi2 >= 0:
            raise InputError(f"ml_detect_dchi2 must be >= 0 (0: off), got {self.ml_detect_dchi2}.")
        if self.ml_n_detect < 1 or self.cv_n_detect < 1 or not self.ml_detect_window > 0:
            raise InputError(f"ml_n_detect and cv_n_detect must be >= 1 and ml_detect_window > 0, got "
                             f"{self.ml_n_detect}, {self.cv_n_detect}, {self.ml_detect_window}.")
        if not (0 < self.cv_recurrence_range[0] <= self.cv_recurrence_range[1]):
            raise InputError(f"cv_recurrence_range must be 0 < low <= high days, got {self.cv_recurrence_range}.")
        if not 0.0 <= self.cv_su_fraction <= 1.0:
            raise InputError(f"cv_su_fraction must be in [0, 1], got {self.cv_su_fraction}.")
        if not (self.cv_period_min > 0):
            raise InputError(f"cv_period_min must be positive, got {self.cv_period_min}.")
        for name in ("u0_range", "blend_range", "cv_amplitude_range", "rrab_amplitude", "rrc_amplitude",
                     "cv_rise_range", "cv_decline_range", "cv_plateau_range"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise InputError(f"{name} must be (low, high) with low <= high, got {getattr(self, name)}.")
        if self.u0_range[1] <= 0:
            raise InputError(f"u0_range must allow positive impact parameters, got {self.u0_range}.")
        if not 0.0 <= self.rrlyrae_ab_fraction <= 1.0:
            raise InputError(f"rrlyrae_ab_fraction must be in [0, 1], got {self.rrlyrae_ab_fraction}.")

    @property
    def noise_model(self) -> NoiseModel:
        """The noise model in use: ``noise``, or photon noise with ``noise_zeropoint`` and ``exptime``."""
        return self.noise if self.noise is not None else NoiseModel.photon(self.noise_zeropoint, self.exptime)

    @property
    def output_zeropoint(self) -> float:
        """Zero point written to the archive (the features' mag->flux conversion): ``archive_zeropoint``
        (default ``noise_zeropoint``) for magnitudes, 31.4 (nJy) for fluxes."""
        if self.photometry == "flux":
            return NJY_ZEROPOINT
        return self.noise_zeropoint if self.archive_zeropoint is None else float(self.archive_zeropoint)

    def replace(self, **changes) -> "SimulationConfig":
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise InputError(f"unknown simulation setting(s) {bad}; see SimulationConfig.")
        from dataclasses import replace
        return replace(self, **changes)
