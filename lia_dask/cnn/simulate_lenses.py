"""A small simulator of LSST-like strong-lens and non-lens cutouts (for tests and demos).

Every cutout holds an elliptical Sersic lens galaxy. Lenses add the image of a Sersic source
galaxy ray-traced through a singular isothermal ellipsoid (SIE, plus a weak external shear),
which gives arcs, rings and multiple images; non-lenses add 0-2 unlensed companion galaxies as
confusers (lenses may have companions too). Each band is convolved with a Gaussian PSF of a
per-cutout seeing and gets Gaussian sky noise plus the signal's own Poisson-like noise.

Units: angles in arcsec, fluxes in arbitrary counts per pixel (sky-subtracted). The lens is red
(brighter in the redder bands), the source blue, as in real galaxy-galaxy lenses.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError

LENS, NONLENS = "LENS", "NONLENS"


@dataclass
class LensSimConfig:
    """Settings of :func:`simulate_lenses` (angles in arcsec, fluxes in counts).

    The default is an LSST-like ``g, r, i`` cutout of 48 x 48 pixels at 0.2 arcsec / pixel with
    the easy settings (bright arcs, Gaussian PSF and noise, counts in arbitrary units);
    :meth:`survey` gives the Strong-Lens-Finding-Challenge difficulty rendered by
    :mod:`lia_dask.cnn.survey_lenses` (``difficulty="survey"``: LSST seeing / sky / zero points per
    band, counts in e- of ``exposure_s`` per band, lensed-source S/N in ``source_snr``, i-band
    lens magnitudes in ``lens_mag``, non-lens kinds drawn with ``confuser_weights``, shared
    nuisances at ``nuisance_rate``; a lens must show more than ``min_source_pixels`` pixels of its
    lensed source above 1 sigma of the sky and a magnification above ``min_magnification``, the
    Lens Finding Challenge's definition, else it is re-drawn up to ``lens_draws`` times).
    """

    image_size: int = 48
    bands: tuple[str, ...] = ("g", "r", "i")
    pixel_scale: float = 0.2
    lens_fraction: float = 0.5
    theta_e: tuple[float, float] = (0.8, 2.0)
    lens_flux: tuple[float, float] = (400.0, 3000.0)
    lens_reff: tuple[float, float] = (0.4, 1.2)
    lens_q: tuple[float, float] = (0.6, 1.0)
    source_flux: tuple[float, float] = (40.0, 400.0)
    source_reff: tuple[float, float] = (0.1, 0.4)
    source_n: tuple[float, float] = (0.7, 1.5)
    shear: float = 0.05
    seeing: tuple[float, float] = (0.6, 0.9)
    sky_sigma: float = 1.5
    gain: float = 5.0
    max_companions: int = 2
    companion_flux: tuple[float, float] = (30.0, 300.0)
    oversample: int = 2
    difficulty: str = "easy"
    exposure_s: float = 300.0
    lens_mag: tuple[float, float] = (18.0, 21.0)
    source_snr: tuple[float, float] = (5.0, 150.0)
    confuser_weights: dict | None = None
    nuisance_rate: float = 0.3
    min_source_pixels: int = 20
    min_magnification: float = 1.6
    lens_draws: int = 20
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.difficulty not in ("easy", "survey"):
            raise InputError(f"difficulty must be 'easy' or 'survey', got {self.difficulty!r}.")
        self.bands = tuple(self.bands)

    @classmethod
    def survey(cls, **overrides) -> "LensSimConfig":
        """Challenge-difficulty settings: theta_E 0.5-2.0" (log-uniform), compact faint sources."""
        base = dict(difficulty="survey", theta_e=(0.5, 2.0), source_reff=(0.05, 0.35), lens_reff=(0.3, 1.2))
        return cls(**{**base, **overrides})


def _sersic_b(n: float) -> float:
    return 2.0 * n - 1.0 / 3.0 + 4.0 / (405.0 * n) + 46.0 / (25515.0 * n * n)


def sersic(x: np.ndarray, y: np.ndarray, reff: float, n: float, q: float = 1.0, phi: float = 0.0) -> np.ndarray:
    """Elliptical Sersic profile at positions ``(x, y)`` (arcsec), peak-free normalisation I_e = 1.

    ``q`` is the axis ratio (<= 1), ``phi`` the position angle of the major axis (radians).
    """
    c, s = np.cos(phi), np.sin(phi)
    xr, yr = c * x + s * y, -s * x + c * y
    r = np.sqrt(q * xr * xr + yr * yr / q)
    return np.exp(-_sersic_b(n) * ((r / reff) ** (1.0 / n) - 1.0))


def sie_deflection(x: np.ndarray, y: np.ndarray, theta_e: float, q: float, phi: float,
                   core: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Deflection (arcsec) of a singular isothermal ellipsoid (Keeton 2001 form) at ``(x, y)``.

    ``q`` < 1 is the axis ratio of the mass, ``phi`` its position angle; for ``q -> 1`` the
    deflection tends to ``theta_e * (x, y) / r`` (the singular isothermal sphere).
    """
    q = min(max(q, 0.2), 0.999)
    c, s = np.cos(phi), np.sin(phi)
    xr, yr = c * x + s * y, -s * x + c * y
    e = np.sqrt(1.0 - q * q)
    psi = np.sqrt(q * q * (core * core + xr * xr) + yr * yr)
    ax = theta_e * q / e * np.arctan(e * xr / (psi + core))
    ay = theta_e * q / e * np.arctanh(e * yr / (psi + q * q * core))
    return c * ax - s * ay, s * ax + c * ay


def _gaussian_psf(fwhm_pix: float) -> np.ndarray:
    sigma = fwhm_pix / 2.3548
    h = int(np.ceil(4 * sigma))
    g = np.arange(-h, h + 1)
    k = np.exp(-0.5 * (g[:, None] ** 2 + g[None, :] ** 2) / sigma**2)
    return k / k.sum()


def _u(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    return float(rng.uniform(*lo_hi))


def _render_one(rng: np.random.Generator, cfg: LensSimConfig, is_lens: bool) -> tuple[np.ndarray, dict]:
    H, nb, os_ = cfg.image_size, len(cfg.bands), cfg.oversample
    ps = cfg.pixel_scale / os_
    g = (np.arange(H * os_) - (H * os_ - 1) / 2.0) * ps
    x, y = np.meshgrid(g, g)
    lens_sed = np.linspace(0.35, 1.0, nb) if nb > 1 else np.ones(1)
    src_sed = np.linspace(1.0, 0.55, nb) if nb > 1 else np.ones(1)
    lens_sed = lens_sed * rng.uniform(0.9, 1.1, nb)
    src_sed = src_sed * rng.uniform(0.85, 1.15, nb)
    # lens galaxy light (de Vaucouleurs-like)
    lq, lphi = _u(rng, cfg.lens_q), rng.uniform(0, np.pi)
    lc = rng.normal(0, 0.05, 2)
    light = sersic(x - lc[0], y - lc[1], _u(rng, cfg.lens_reff), rng.uniform(3.0, 4.5), lq, lphi)
    light *= _u(rng, cfg.lens_flux) / light.sum()
    truth = {"is_lens": bool(is_lens), "theta_e": np.nan, "source_flux": np.nan, "magnification": np.nan,
             "n_companions": 0}
    model = light[None] * lens_sed[:, None, None]
    if is_lens:
        te = _u(rng, cfg.theta_e)
        ax, ay = sie_deflection(x - lc[0], y - lc[1], te, lq * rng.uniform(0.9, 1.1), lphi + rng.normal(0, 0.2))
        g1, g2 = rng.normal(0, cfg.shear, 2)
        bx = x - ax - (g1 * x + g2 * y)
        by = y - ay - (g2 * x - g1 * y)
        rs, ang = te * np.sqrt(rng.uniform(0, 0.36)), rng.uniform(0, 2 * np.pi)
        sx, sy = lc[0] + rs * np.cos(ang), lc[1] + rs * np.sin(ang)
        sre, sn, sq, sphi = _u(rng, cfg.source_reff), _u(rng, cfg.source_n), rng.uniform(0.4, 1), rng.uniform(0, np.pi)
        intrinsic = sersic(x - sx, y - sy, sre, sn, sq, sphi)
        flux = _u(rng, cfg.source_flux)
        scale = flux / max(intrinsic.sum(), 1e-12)
        lensed = sersic(bx - sx, by - sy, sre, sn, sq, sphi) * scale
        model = model + lensed[None] * src_sed[:, None, None]
        truth.update(theta_e=te, source_flux=flux, magnification=float(lensed.sum() / flux))
    ncomp = int(rng.integers(0, cfg.max_companions + 1))
    for _ in range(ncomp):
        rmax = H * cfg.pixel_scale / 2.2
        r, ang = rng.uniform(min(1.5, rmax / 2), rmax), rng.uniform(0, 2 * np.pi)
        blob = sersic(x - r * np.cos(ang), y - r * np.sin(ang), rng.uniform(0.1, 0.5), rng.uniform(0.7, 2.5),
                      rng.uniform(0.3, 1.0), rng.uniform(0, np.pi))
        blob *= _u(rng, cfg.companion_flux) / blob.sum()
        sed = rng.uniform(0.4, 1.0, nb)
        model = model + blob[None] * sed[:, None, None]
    truth["n_companions"] = ncomp
    # back to native pixels (flux conserving), PSF, noise
    model = model.reshape(nb, H, os_, H, os_).sum(axis=(2, 4))
    seeing = _u(rng, cfg.seeing)
    out = np.empty((H, H, nb), np.float32)
    for b in range(nb):
        psf = _gaussian_psf(seeing * rng.uniform(0.95, 1.05) / cfg.pixel_scale)
        from scipy.signal import fftconvolve  # SciPy's signal module is slow to import: only when rendering

        img = fftconvolve(model[b], psf, mode="same")
        noise = rng.normal(0, 1, img.shape) * np.sqrt(cfg.sky_sigma**2 + np.clip(img, 0, None) / cfg.gain)
        out[..., b] = img + noise
    truth["seeing"] = seeing
    return out, truth


def _plan(n: int, cfg: LensSimConfig, seed) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random(n) < cfg.lens_fraction, rng.integers(0, 2**63 - 1, n)


def _render(is_lens: np.ndarray, seeds: np.ndarray, cfg: LensSimConfig) -> tuple[np.ndarray, list[dict]]:
    images = np.empty((len(seeds), cfg.image_size, cfg.image_size, len(cfg.bands)), np.float32)
    rows = []
    if cfg.difficulty == "survey":
        from .survey_lenses import render_survey as render
    else:
        render = _render_one
    for i in range(len(seeds)):
        images[i], t = render(np.random.default_rng(seeds[i]), cfg, bool(is_lens[i]))
        rows.append(t)
    return images, rows


def _check(n: int, cfg: LensSimConfig) -> None:
    if n < 0 or cfg.image_size < 8 or not cfg.bands:
        raise InputError(f"simulate_lenses needs n >= 0, image_size >= 8 and at least one band (got n={n}, "
                         f"image_size={cfg.image_size}, bands={cfg.bands}).")
    if cfg.difficulty == "survey":
        from .survey_lenses import band_table

        band_table(cfg.bands)


def simulate_lenses(n: int, config: LensSimConfig | None = None, seed: int | None = 0
                    ) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Simulate ``n`` cutouts, a fraction ``config.lens_fraction`` of them strong lenses.

    Returns
    -------
    images : ndarray, shape (n, H, W, C), float32
        Sky-subtracted counts per pixel, C = ``len(config.bands)``.
    labels : ndarray of str, shape (n,)
        ``"LENS"`` or ``"NONLENS"``.
    truth : pandas.DataFrame
        One row per cutout: ``is_lens``, ``theta_e`` (arcsec), ``source_flux``, ``magnification``,
        ``n_companions``, ``seeing`` (arcsec FWHM); for ``difficulty="survey"`` ``source_snr``
        replaces ``source_flux`` and ``kind`` (``lens`` or the non-lens kind), ``artefacts``,
        ``n_pix_source`` (lensed-source pixels above 1 sigma of the sky, best band) and
        ``lens_draws`` (draws until the lens met the challenge's definition) are added.
    """
    cfg = config or LensSimConfig()
    _check(n, cfg)
    is_lens, seeds = _plan(n, cfg, seed)
    images, rows = _render(is_lens, seeds, cfg)
    return images, np.where(is_lens, LENS, NONLENS), pd.DataFrame(rows)


def simulate_lens_store(path: str | os.PathLike, n: int, config: LensSimConfig | None = None, seed: int = 0,
                        chunk: int = 256, overwrite: bool = False):
    """Simulate ``n`` cutouts straight into a Zarr cutout store, one chunk in memory at a time.

    Object ids are ``0..n-1``, labels ``LENS`` / ``NONLENS``; the images equal
    ``simulate_lenses(n, config, seed)[0]``. Returns the opened :class:`~lia_dask.archive.CutoutStore`.
    """
    from ..archive import create_cutout_store, open_cutouts

    cfg = config or LensSimConfig()
    _check(n, cfg)
    is_lens, seeds = _plan(n, cfg, seed)
    store = create_cutout_store(path, n, (cfg.image_size, cfg.image_size, len(cfg.bands)), np.arange(n),
                                np.where(is_lens, LENS, NONLENS), bands=list(cfg.bands),
                                pixel_scale=cfg.pixel_scale, chunk=chunk, overwrite=overwrite)
    for start in range(0, n, store.chunk):
        stop = min(n, start + store.chunk)
        store.zarr_images[start:stop] = _render(is_lens[start:stop], seeds[start:stop], cfg)[0]
    return open_cutouts(path)
