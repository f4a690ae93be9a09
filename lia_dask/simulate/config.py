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
        Empirical σ(m) model; ``None`` = photon noise with ``zp`` and ``exptime``.
    zp, exptime : float
        Zero point (mag of 1 count/s) and exposure time (s) of the photon noise (24, 60).
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

    Microlensing (ML)
    -----------------
    u0_range : (float, float)      impact parameter, uniform (0, 1)
    tE_mean, tE_std : float        Einstein time, normal (30, 10) days ...
    tE_min : float                 ... *[fix]* truncated below at 1 day (MicroLIA allows tE <= 0)
    t0_range : (float, float) or None
        Peak time, uniform; ``None`` = ``U(Q1 - tE/2, Q99 + tE/2)`` of the cadence.
    blend_range : (float, float)   blend ratio f_blend/f_source, uniform (0, 1)
    ml_n1, ml_min_z, ml_frac_significant, ml_min_brightening
        Quality cut (spec §2.1): >= 7 epochs in t0 ± tE, one at >= 3σ, >= 33 % above 3σ,
        mean brightening > 0.05 mag.

    Cataclysmic variable (CV)
    -------------------------
    cv_period_mean, cv_period_std : float   recurrence |N(100, 200)| days ...
    cv_period_min : float   ... *[fix]* redrawn (truncated) below 30 d so durations U(3, P/10) are valid
    cv_amplitude_range : (float, float)     outburst amplitude, uniform (0.5, 5) mag
    cv_n1, cv_n2 : int      quality cut (spec §2.2): >= 7 epochs in one outburst, >= 1 in its rise or decline
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
    rrab_amplitude, rrc_amplitude : (float, float)      peak-to-peak amplitude, uniform (mag)
        *[fix]* MicroLIA's template fit yields attenuated, period-dependent amplitudes
        (median 0.25 mag peak-to-peak); here amplitudes are drawn and phases are random.
    """

    classes: tuple[str, ...] = S.CLASSES
    min_mag: float = 14.0
    max_mag: float = 21.0
    seed: int = 0
    noise: NoiseModel | None = None
    zp: float = 24.0
    exptime: float = 60.0
    photometry: str = "mag"
    max_attempts: int = 100
    redraw_cadence: bool = True
    min_epochs: int = 10
    partition_size: int = 20_000
    # ML
    u0_range: tuple[float, float] = (0.0, 1.0)
    tE_mean: float = 30.0
    tE_std: float = 10.0
    tE_min: float = 1.0
    t0_range: tuple[float, float] | None = None
    blend_range: tuple[float, float] = (0.0, 1.0)
    ml_n1: int = 7
    ml_min_z: float = 3.0
    ml_frac_significant: float = 0.33
    ml_min_brightening: float = 0.05
    # CV
    cv_period_mean: float = 100.0
    cv_period_std: float = 200.0
    cv_period_min: float = 30.0
    cv_amplitude_range: tuple[float, float] = (0.5, 5.0)
    cv_n1: int = 7
    cv_n2: int = 1
    cv_min_z: float | None = 3.0
    # LPV
    mira_peak_to_peak: bool = True
    mira_random_phase: bool = True
    # VARIABLE
    rrlyrae_band: str = "i"
    rrlyrae_ab_fraction: float = 0.7
    rrab_period: tuple[float, float, float, float] = (0.6, 0.15, 0.3, 1.0)
    rrc_period: tuple[float, float, float, float] = (0.33, 0.10, 0.2, 0.5)
    rrab_amplitude: tuple[float, float] = (0.4, 1.2)
    rrc_amplitude: tuple[float, float] = (0.2, 0.6)

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
        if not (self.cv_period_min > 0):
            raise InputError(f"cv_period_min must be positive, got {self.cv_period_min}.")
        for name in ("u0_range", "blend_range", "cv_amplitude_range", "rrab_amplitude", "rrc_amplitude"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise InputError(f"{name} must be (low, high) with low <= high, got {getattr(self, name)}.")
        if self.u0_range[1] <= 0:
            raise InputError(f"u0_range must allow positive impact parameters, got {self.u0_range}.")
        if not 0.0 <= self.rrlyrae_ab_fraction <= 1.0:
            raise InputError(f"rrlyrae_ab_fraction must be in [0, 1], got {self.rrlyrae_ab_fraction}.")

    @property
    def noise_model(self) -> NoiseModel:
        """The noise model in use: ``noise``, or photon noise with ``zp`` and ``exptime``."""
        return self.noise if self.noise is not None else NoiseModel.photon(self.zp, self.exptime)

    @property
    def output_zeropoint(self) -> float:
        """Zero point written to the archive: ``zp`` for magnitudes, 31.4 (nJy) for fluxes."""
        return self.zp if self.photometry == "mag" else NJY_ZEROPOINT

    def replace(self, **changes) -> "SimulationConfig":
        known = {f.name for f in fields(self)}
        bad = sorted(set(changes) - known)
        if bad:
            raise InputError(f"unknown simulation setting(s) {bad}; see SimulationConfig.")
        from dataclasses import replace
        return replace(self, **changes)
