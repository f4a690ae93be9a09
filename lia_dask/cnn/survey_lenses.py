"""Survey-difficulty lens cutouts (``LensSimConfig(difficulty="survey")``): LSST bands, faint
and small lenses, and the non-lenses that fool lens finders.

The renderer here follows the ground-based Strong Lens Finding Challenge (Metcalf et al. 2019,
A&A 625, A119) in what makes it hard, with LSST's per-band numbers for seeing and sky brightness
(Ivezic et al. 2019, ApJ 873, 111, table 2) and approximate zero points of the LSST throughput;
every choice is listed in docs/cnn.md.

* **Counts.** Images are in photo-electrons of a stack of ``exposure_s`` seconds per band,
  sky-subtracted: ``poisson(model + sky) - sky``, so the noise is the sky's and the sources' own
  Poisson noise, not a Gaussian of fixed width.
* **PSF.** A circular Moffat (beta = 3) per band; its FWHM is the band's median LSST seeing times
  one atmospheric factor per cutout (log-normal, sigma 0.15), with a +-5 % band-to-band jitter.
* **Lenses.** A red elliptical (de Vaucouleurs-like Sersic) lenses a blue Sersic source with
  0-2 star-forming clumps through an SIE + external shear; Einstein radii 0.5-2.0" (log-uniform)
  and a lensed-source signal-to-noise ratio (matched filter over all bands) drawn log-uniformly
  in ``source_snr`` (5-150): most lensed arcs are faint, many barely above the noise.
* **Non-lenses.** The central galaxy is an elliptical alone, or one of the confusers of lens
  searches: spirals with blue arms, ring galaxies, edge-on disks (with a dust lane), mergers with
  tidal tails, groups with blue compact companions, stars near the galaxy, or image artefacts
  (cosmic rays, satellite trails, bad columns). Lenses get the same nuisances (companions,
  stars, artefacts) at a lower rate, so none of them marks a class on its own.

Kernels only: NumPy / SciPy arrays in and out, one seeded ``numpy.random.Generator`` per cutout.
"""
from __future__ import annotations

import numpy as np
from scipy.signal import fftconvolve

from ..errors import InputError
from .channels import LSST_SEEING_FWHM

#: LSST per-band median delivered seeing FWHM (arcsec), dark-sky brightness (AB mag / arcsec^2)
#: (Ivezic et al. 2019, table 2) and the AB magnitude giving 1 photo-electron per second (approximate,
#: LSST system-engineering throughputs).
LSST_BANDS = {b: (LSST_SEEING_FWHM[b], sky, zp) for b, sky, zp in (
    ("u", 22.99, 26.52), ("g", 22.26, 28.51), ("r", 21.20, 28.36),
    ("i", 20.48, 28.17), ("z", 19.60, 27.78), ("y", 18.61, 26.82))}
#: Colours (AB magnitude minus the i-band one) of the templates, per LSST band.
COLOURS = {
    # early-type galaxy at z ~ 0.3-0.6 (lens or confuser bulge)
    "red": {"u": 3.3, "g": 1.8, "r": 0.65, "i": 0.0, "z": -0.35, "y": -0.55},
    # star-forming galaxy at z ~ 1-2 (lensed source, blue companions, spiral arms, rings)
    "blue": {"u": 0.6, "g": 0.3, "r": 0.15, "i": 0.0, "z": -0.05, "y": -0.1},
    # late-type disk as a whole (edge-on disks, merger partners)
    "disk": {"u": 1.8, "g": 1.0, "r": 0.4, "i": 0.0, "z": -0.2, "y": -0.3},
}
CONFUSERS = ("elliptical", "spiral", "ring", "edge_on", "merger", "group", "star", "artefact")
DEFAULT_CONFUSER_WEIGHTS = {"elliptical": 0.16, "spiral": 0.14, "ring": 0.12, "edge_on": 0.12, "merger": 0.12,
                            "group": 0.14, "star": 0.10, "artefact": 0.10}


def band_table(bands) -> np.ndarray:
    """(nb, 3) seeing FWHM (arcsec), sky (mag / arcsec^2), zero point (mag for 1 e-/s) of ``bands``."""
    unknown = [b for b in bands if b not in LSST_BANDS]
    if unknown:
        raise InputError(f"survey-difficulty cutouts know the LSST bands {sorted(LSST_BANDS)}, not {unknown}; "
                         "choose bands among those.")
    return np.array([LSST_BANDS[b] for b in bands], dtype=float)


def moffat_psf(fwhm_pix: float, beta: float = 3.0) -> np.ndarray:
    """Normalised circular Moffat kernel of FWHM ``fwhm_pix`` (pixels), shape (2h+1, 2h+1)."""
    alpha = fwhm_pix / (2.0 * np.sqrt(2.0 ** (1.0 / beta) - 1.0))
    h = int(np.ceil(3.0 * fwhm_pix))
    g = np.arange(-h, h + 1)
    r2 = g[:, None] ** 2 + g[None, :] ** 2
    k = (1.0 + r2 / alpha**2) ** (-beta)
    return k / k.sum()


def _sersic(x, y, reff, n, q=1.0, phi=0.0):
    from .simulate_lenses import sersic

    return sersic(x, y, reff, n, q, phi)


def _unit(img: np.ndarray) -> np.ndarray:
    s = img.sum()
    return img / s if s > 0 else img


def _colour(rng, template: str, bands, scatter: float = 0.15) -> np.ndarray:
    return np.array([COLOURS[template][b] for b in bands]) + rng.normal(0, scatter, len(bands))


class _Scene:
    """Oversampled model of one cutout in e- per oversampled pixel, band by band."""

    def __init__(self, rng, cfg):
        self.rng, self.cfg = rng, cfg
        self.H, self.os = cfg.image_size, cfg.oversample
        ps = cfg.pixel_scale / self.os
        g = (np.arange(self.H * self.os) - (self.H * self.os - 1) / 2.0) * ps
        self.x, self.y = np.meshgrid(g, g)
        self.bands = tuple(cfg.bands)
        self.table = band_table(self.bands)
        self.model = np.zeros((len(self.bands), *self.x.shape))
        self.half = self.H * cfg.pixel_scale / 2.0

    def electrons(self, mag_i: float, colours: np.ndarray) -> np.ndarray:
        """Total e- per band of a source of i-band magnitude ``mag_i`` and ``colours``."""
        return 10.0 ** (-0.4 * (mag_i + colours - self.table[:, 2])) * self.cfg.exposure_s

    def add(self, profile: np.ndarray, mag_i: float, colours: np.ndarray) -> np.ndarray:
        comp = _unit(profile)[None] * self.electrons(mag_i, colours)[:, None, None]
        self.model += comp
        return comp

    def offset(self, rmin: float, rmax: float) -> tuple[float, float]:
        r = self.rng.uniform(rmin, min(rmax, self.half * 0.95))
        a = self.rng.uniform(0, 2 * np.pi)
        return r * np.cos(a), r * np.sin(a)


# ------------------------------------------------------------------------- components
def _elliptical(s: _Scene, cx=0.0, cy=0.0, mag=None, template="red"):
    rng = s.rng
    mag = rng.uniform(*s.cfg.lens_mag) if mag is None else mag
    q, phi = rng.uniform(0.55, 1.0), rng.uniform(0, np.pi)
    reff = rng.uniform(*s.cfg.lens_reff)
    s.add(_sersic(s.x - cx, s.y - cy, reff, rng.uniform(3.0, 4.5), q, phi), mag, _colour(rng, template, s.bands))
    return q, phi, mag


def _compact_blue(s: _Scene, cx, cy, mag):
    rng = s.rng
    s.add(_sersic(s.x - cx, s.y - cy, rng.uniform(0.08, 0.35), rng.uniform(0.6, 1.5), rng.uniform(0.4, 1.0),
                  rng.uniform(0, np.pi)), mag, _colour(rng, "blue", s.bands))


def _star(s: _Scene, cx, cy, mag):
    """A point source (one oversampled pixel; the PSF makes it a star), colour between templates."""
    img = np.zeros_like(s.x)
    ps = s.cfg.pixel_scale / s.os
    j = int(np.clip(round(cx / ps + (s.x.shape[1] - 1) / 2), 0, s.x.shape[1] - 1))
    i = int(np.clip(round(cy / ps + (s.x.shape[0] - 1) / 2), 0, s.x.shape[0] - 1))
    img[i, j] = 1.0
    w = s.rng.uniform(0, 1)
    col = np.array([w * COLOURS["red"][b] + (1 - w) * COLOURS["blue"][b] for b in s.bands])
    s.add(img, mag, col + s.rng.normal(0, 0.1, len(s.bands)))


def _spiral(s: _Scene):
    rng = s.rng
    rd, q, phi = rng.uniform(0.4, 1.2), rng.uniform(0.4, 1.0), rng.uniform(0, np.pi)
    mag = rng.uniform(*s.cfg.lens_mag)
    c, sn = np.cos(phi), np.sin(phi)
    xr, yr = c * s.x + sn * s.y, (-sn * s.x + c * s.y) / q
    r, th = np.hypot(xr, yr) + 1e-6, np.arctan2(yr, xr)
    m, pitch = int(rng.integers(2, 4)), np.deg2rad(rng.uniform(12, 30))
    arms = (0.5 * (1 + np.cos(m * (th - np.log(r / rd) / np.tan(pitch))))) ** rng.uniform(2, 5)
    disk = np.exp(-r / rd)
    s.add(_sersic(s.x, s.y, rng.uniform(0.2, 0.5), rng.uniform(2, 4), q, phi), mag + rng.uniform(0.3, 1.0),
          _colour(rng, "red", s.bands))
    s.add(disk * arms * (r > 0.3 * rd), mag + rng.uniform(0.0, 0.8), _colour(rng, "blue", s.bands))


def _ring(s: _Scene):
    rng = s.rng
    q, phi, mag = _elliptical(s, mag=rng.uniform(*s.cfg.lens_mag))
    R, w = rng.uniform(0.7, 2.5), rng.uniform(0.1, 0.3)
    rq, rphi = rng.uniform(0.6, 1.0), rng.uniform(0, np.pi)
    c, sn = np.cos(rphi), np.sin(rphi)
    xr, yr = c * s.x + sn * s.y, (-sn * s.x + c * s.y) / rq
    r, th = np.hypot(xr, yr), np.arctan2(yr, xr)
    knots = 1 + rng.uniform(0, 1.5) * np.cos(int(rng.integers(2, 7)) * th + rng.uniform(0, 6.3)) ** 2
    s.add(np.exp(-0.5 * ((r - R) / w) ** 2) * knots, mag + rng.uniform(0.5, 2.5), _colour(rng, "blue", s.bands))


def _edge_on(s: _Scene):
    rng = s.rng
    q, phi = rng.uniform(0.08, 0.25), rng.uniform(0, np.pi)
    disk = _sersic(s.x, s.y, rng.uniform(0.8, 2.0), rng.uniform(0.8, 1.3), q, phi)
    if rng.random() < 0.6:  # dust lane along the major axis
        yr = -np.sin(phi) * s.x + np.cos(phi) * s.y
        disk = disk * (1 - rng.uniform(0.3, 0.8) * np.exp(-0.5 * (yr / rng.uniform(0.05, 0.15)) ** 2))
    s.add(disk, rng.uniform(*s.cfg.lens_mag), _colour(rng, "disk", s.bands))
    s.add(_sersic(s.x, s.y, rng.uniform(0.15, 0.4), 2.0, 0.7, phi), rng.uniform(*s.cfg.lens_mag) + 1.0,
          _colour(rng, "red", s.bands))


def _merger(s: _Scene):
    rng = s.rng
    _, _, mag = _elliptical(s)
    ox, oy = s.offset(0.8, 2.5)
    _elliptical(s, ox, oy, mag + rng.uniform(0, 1.5), template=str(rng.choice(["red", "disk"])))
    # tidal tail: a curved, low-surface-brightness arc not centred on the galaxy
    R = rng.uniform(1.5, 3.5)
    cx, cy = np.array([ox, oy]) / 2 + rng.normal(0, 1.0, 2)
    r, th = np.hypot(s.x - cx, s.y - cy), np.arctan2(s.y - cy, s.x - cx)
    th0, span = rng.uniform(-np.pi, np.pi), rng.uniform(0.5, 1.5)
    dth = np.angle(np.exp(1j * (th - th0)))
    tail = np.exp(-0.5 * ((r - R) / rng.uniform(0.15, 0.4)) ** 2) * np.exp(-0.5 * (dth / span) ** 2)
    s.add(tail, mag + rng.uniform(1.0, 2.5), _colour(rng, str(rng.choice(["red", "disk", "blue"])), s.bands))


def _group(s: _Scene):
    _, _, mag = _elliptical(s)
    for _ in range(int(s.rng.integers(2, 5))):
        _compact_blue(s, *s.offset(0.6, 3.0), mag + s.rng.uniform(1.5, 4.0))


def _stars(s: _Scene):
    _, _, mag = _elliptical(s)
    for _ in range(int(s.rng.integers(1, 3))):
        _star(s, *s.offset(0.4, 4.0), s.rng.uniform(mag - 1.0, mag + 4.0))


NONLENS_RENDERERS = {"elliptical": _elliptical, "spiral": _spiral, "ring": _ring, "edge_on": _edge_on,
                     "merger": _merger, "group": _group, "star": _stars, "artefact": _elliptical}


def _lens(s: _Scene) -> dict:
    """Elliptical lens + SIE-lensed blue source with clumps; returns the unscaled lensed source."""
    from .simulate_lenses import sie_deflection

    rng, cfg = s.rng, s.cfg
    q, phi, mag = _elliptical(s)
    te = float(np.exp(rng.uniform(*np.log(cfg.theta_e))))
    ax, ay = sie_deflection(s.x, s.y, te, q * rng.uniform(0.9, 1.1), phi + rng.normal(0, 0.2))
    g1, g2 = rng.normal(0, cfg.shear, 2)
    bx, by = s.x - ax - (g1 * s.x + g2 * s.y), s.y - ay - (g2 * s.x - g1 * s.y)
    rs, ang = te * np.sqrt(rng.uniform(0, 0.7)), rng.uniform(0, 2 * np.pi)
    sx, sy = rs * np.cos(ang), rs * np.sin(ang)
    sre, sn, sq, sphi = rng.uniform(*cfg.source_reff), rng.uniform(0.5, 1.5), rng.uniform(0.4, 1), rng.uniform(0, np.pi)
    src = _sersic(bx - sx, by - sy, sre, sn, sq, sphi)
    intrinsic = _sersic(s.x - sx, s.y - sy, sre, sn, sq, sphi).sum()
    for _ in range(int(rng.integers(0, 3))):  # star-forming clumps inside the source
        kx, ky = sx + rng.normal(0, sre), sy + rng.normal(0, sre)
        w = rng.uniform(0.2, 0.8) * intrinsic / max(_sersic(s.x - kx, s.y - ky, 0.05, 0.5).sum(), 1e-12)
        src = src + w * _sersic(bx - kx, by - ky, 0.05, 0.5)
        intrinsic += w * _sersic(s.x - kx, s.y - ky, 0.05, 0.5).sum()
    colours = _colour(rng, "blue", s.bands, 0.2)
    sed = 10.0 ** (-0.4 * (colours - s.table[:, 2]))
    return {"profile": src, "sed": sed / sed.sum(), "theta_e": te, "magnification": float(src.sum() / max(intrinsic, 1e-12))}


# ------------------------------------------------------------------------- image formation
def _to_native(model: np.ndarray, H: int, os_: int) -> np.ndarray:
    return model.reshape(model.shape[0], H, os_, H, os_).sum(axis=(2, 4))


def _convolve(model: np.ndarray, fwhm_pix: np.ndarray) -> np.ndarray:
    return np.stack([fftconvolve(model[b], moffat_psf(fwhm_pix[b]), mode="same") for b in range(len(model))])


def _snr_scale(shape: np.ndarray, background: np.ndarray, target: float) -> float:
    """Scale k with matched-filter S/N ``sqrt(sum (k a)^2 / (bg + k a))`` = ``target`` (a: unit source)."""
    a = np.clip(shape, 0, None)
    k = target / np.sqrt(max((a * a / background).sum(), 1e-30))
    for _ in range(4):
        k = target / np.sqrt(max((a * a / (background + k * a)).sum(), 1e-30))
    return float(k)


def _artefacts(rng, img: np.ndarray, sky: np.ndarray, fwhm_pix: np.ndarray) -> list[str]:
    """Add 1-2 artefacts, each in one band (bands are separate exposures); returns their names."""
    nb, H, _ = img.shape
    names = []
    for _ in range(int(rng.integers(1, 3))):
        b = int(rng.integers(nb))
        kind = str(rng.choice(["cosmic_ray", "satellite", "bad_column"]))
        amp = np.sqrt(sky[b]) * rng.uniform(5, 50)
        if kind == "cosmic_ray":  # a short sharp track, not PSF-convolved
            r0, c0 = rng.uniform(0, H, 2)
            ang, ln = rng.uniform(0, np.pi), rng.uniform(1, 6)
            for t in np.linspace(0, ln, int(3 * ln) + 2):
                i, j = int(r0 + t * np.sin(ang)), int(c0 + t * np.cos(ang))
                if 0 <= i < H and 0 <= j < H:
                    img[b, i, j] += amp
        elif kind == "satellite":  # a straight PSF-wide streak across the cutout
            rr, cc = np.mgrid[:H, :H]
            ang, d = rng.uniform(0, np.pi), rng.uniform(-H / 3, H / 3)
            dist = (cc - H / 2) * np.sin(ang) - (rr - H / 2) * np.cos(ang) - d
            img[b] += 0.3 * amp * np.exp(-0.5 * (dist / (fwhm_pix[b] / 2.355)) ** 2)
        else:  # a column with an offset
            img[b, :, int(rng.integers(H))] += 0.5 * amp * (1 if rng.random() < 0.7 else -1)
        names.append(kind)
    return names


def visible_pixels(source: np.ndarray, sky: np.ndarray) -> int:
    """Most pixels, over bands, in which the noise-free lensed source alone exceeds 1 sigma of the sky.

    ``source`` (nb, H, W) is the PSF-convolved lensed source in e-, ``sky`` (nb,) the sky level per
    pixel in e- (its Poisson sigma is ``sqrt(sky)``). This is the challenge's ``n_pix_source``
    (Metcalf et al. 2019: pixels above 1 sigma in the lensed-source-only image).
    """
    return int((source > np.sqrt(np.asarray(sky, float))[:, None, None]).sum(axis=(1, 2)).max())


def _visible_lens(rng, cfg, fwhm_pix: np.ndarray, sky: np.ndarray):
    """Draw lens systems until one meets the challenge's lens definition (at most ``lens_draws``).

    Returns the scene, its PSF-convolved model, the scaled lensed source (both (nb, H, W) e-),
    the lens truth and the number of draws. The definition (Strong Lens Finding Challenge 2.0 scoring,
    the rule of challenge 1.0's analysis, Metcalf et al. 2019): more than ``min_source_pixels``
    pixels of the lensed source above 1 sigma of the noise and a magnification above
    ``min_magnification``. The last draw is kept if none passes (its ``n_pix_source`` says so).
    """
    H, os_ = cfg.image_size, cfg.oversample
    for draw in range(1, max(1, cfg.lens_draws) + 1):
        s = _Scene(rng, cfg)
        lens = _lens(s)
        img = _convolve(_to_native(s.model, H, os_), fwhm_pix)
        src = _convolve(_to_native(lens["profile"][None] * lens["sed"][:, None, None], H, os_), fwhm_pix)
        snr = float(np.exp(rng.uniform(*np.log(cfg.source_snr))))
        src = _snr_scale(src, np.clip(img, 0, None) + sky[:, None, None], snr) * src
        npix = visible_pixels(src, sky)
        lens.update(source_snr=snr, n_pix_source=npix, lens_draws=draw)
        if npix > cfg.min_source_pixels and lens["magnification"] > cfg.min_magnification:
            break
    return s, img, src, lens


def render_survey(rng: np.random.Generator, cfg, is_lens: bool) -> tuple[np.ndarray, dict]:
    """One survey-difficulty cutout (H, W, C) float32 in sky-subtracted e-, and its truth row.

    A lens is a system that meets the challenge's definition (:func:`_visible_lens`): lensed
    sources too faint or too small to see are re-drawn, not labelled lenses.
    """
    table = band_table(cfg.bands)
    H, os_ = cfg.image_size, cfg.oversample
    nb = len(cfg.bands)
    atmos = float(np.clip(np.exp(rng.normal(0, 0.15)), 0.7, 1.6))
    fwhm = table[:, 0] * atmos * rng.uniform(0.95, 1.05, nb)
    fwhm_pix = fwhm / cfg.pixel_scale
    sky = 10.0 ** (-0.4 * (table[:, 1] - table[:, 2])) * cfg.exposure_s * cfg.pixel_scale**2
    truth = {"is_lens": bool(is_lens), "kind": "lens", "theta_e": np.nan, "source_snr": np.nan,
             "magnification": np.nan, "n_pix_source": 0, "lens_draws": 0, "n_companions": 0, "artefacts": "",
             "seeing": float(fwhm[-1])}
    weights = cfg.confuser_weights or DEFAULT_CONFUSER_WEIGHTS
    if is_lens:
        s, img, src, lens = _visible_lens(rng, cfg, fwhm_pix, sky)
        s.model[:] = 0.0  # from here on the model holds only the nuisances (convolution is linear)
        kind = "lens"
        truth.update({k: lens[k] for k in ("theta_e", "source_snr", "magnification", "n_pix_source", "lens_draws")})
    else:
        s = _Scene(rng, cfg)
        kinds = [k for k in CONFUSERS if weights.get(k, 0) > 0]
        p = np.array([weights[k] for k in kinds], float)
        kind = str(rng.choice(kinds, p=p / p.sum()))
        NONLENS_RENDERERS[kind](s)
        truth["kind"] = kind
        img = src = 0.0
    # nuisances shared by both classes: a companion or a star (lenses and plain non-lenses)
    if is_lens or kind == "elliptical":
        if rng.random() < cfg.nuisance_rate:
            _compact_blue(s, *s.offset(1.0, 3.5), rng.uniform(21.0, 24.5))
            truth["n_companions"] = 1
        if rng.random() < cfg.nuisance_rate / 2:
            _star(s, *s.offset(0.8, 4.0), rng.uniform(18.0, 23.0))
    img = img + src + _convolve(_to_native(s.model, H, os_), fwhm_pix)
    noisy = rng.poisson(np.clip(img, 0, None) + sky[:, None, None]).astype(np.float64) - sky[:, None, None]
    if kind == "artefact" or (is_lens and rng.random() < cfg.nuisance_rate / 3):
        truth["artefacts"] = ",".join(_artefacts(rng, noisy, sky, fwhm_pix))
    return np.ascontiguousarray(np.moveaxis(noisy, 0, -1), dtype=np.float32), truth
