"""A flux-series simulator for the 1D CNN: transit-like dips in noisy stars.

Every series is a star's relative flux on a regular grid of ``length`` samples: 1 + a weak
stellar variability (a sinusoid with random period plus red noise) + white noise. Positives add
a periodic train of trapezoidal dips (depth, duration and period drawn per star, at least two
dips in the window); negatives keep the star alone, or show a single short dip-like glitch so that
a dip alone does not decide the class.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError

TRANSIT, NONTRANSIT = "TRANSIT", "NONTRANSIT"


@dataclass
class SeriesSimConfig:
    """Settings of :func:`simulate_series` (time in samples, flux relative to 1)."""

    length: int = 512
    transit_fraction: float = 0.5
    depth: tuple[float, float] = (0.003, 0.02)
    duration: tuple[int, int] = (6, 20)
    period: tuple[int, int] = (60, 240)
    noise: tuple[float, float] = (0.001, 0.004)
    variability: float = 0.004
    glitch_fraction: float = 0.3


def transit_model(length: int, period: float, phase: float, duration: float, depth: float) -> np.ndarray:
    """Trapezoidal dips of ``depth`` and ``duration`` (samples, ingress = duration / 4) every ``period``.

    Returns the relative flux, shape (length,), 1 outside the dips.
    """
    t = np.arange(length, dtype=float)
    dt = np.abs(((t - phase + period / 2) % period) - period / 2)
    half, ing = duration / 2.0, max(duration / 4.0, 1.0)
    shape = np.clip((half - dt) / ing, 0.0, 1.0)
    return 1.0 - depth * shape


def simulate_series(n: int, config: SeriesSimConfig | None = None, seed: int | None = 0
                    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Simulate ``n`` flux series, a fraction ``config.transit_fraction`` with transits.

    Returns
    -------
    flux : ndarray, shape (n, length), float32
        Relative flux.
    labels : ndarray of str, shape (n,)
        ``"TRANSIT"`` or ``"NONTRANSIT"``.
    truth : pandas.DataFrame
        ``is_transit``, ``depth``, ``duration``, ``period``, ``phase``, ``noise`` per series.
    """
    cfg = config or SeriesSimConfig()
    if n < 0 or cfg.length < 32:
        raise InputError(f"simulate_series needs n >= 0 and length >= 32 (got n={n}, length={cfg.length}).")
    rng = np.random.default_rng(seed)
    L = cfg.length
    t = np.arange(L, dtype=float)
    flux = np.empty((n, L), np.float32)
    rows = []
    is_tr = rng.random(n) < cfg.transit_fraction
    for i in range(n):
        sigma = rng.uniform(*cfg.noise)
        var = cfg.variability * rng.random() * np.sin(2 * np.pi * t / rng.uniform(L / 4, 4 * L) + rng.uniform(0, 6.3))
        from scipy.ndimage import uniform_filter1d

        red = uniform_filter1d(rng.normal(0, 1, L), 25, mode="wrap") * sigma * rng.uniform(0, 2)
        f = 1.0 + var + red + rng.normal(0, sigma, L)
        row = {"is_transit": bool(is_tr[i]), "depth": np.nan, "duration": np.nan, "period": np.nan,
               "phase": np.nan, "noise": sigma}
        if is_tr[i]:
            per = rng.uniform(*cfg.period)
            dur, dep, ph = rng.uniform(*cfg.duration), rng.uniform(*cfg.depth), rng.uniform(0, per)
            f = f * transit_model(L, per, ph, dur, dep)
            row.update(depth=dep, duration=dur, period=per, phase=ph)
        elif rng.random() < cfg.glitch_fraction:
            f = f * transit_model(L, 10 * L, rng.uniform(0, L), rng.uniform(1, 3), rng.uniform(*cfg.depth))
        flux[i] = f
        rows.append(row)
    return flux, np.where(is_tr, TRANSIT, NONTRANSIT), pd.DataFrame(rows)
