"""Derived input channels for the image CNNs: lens-light-subtracted colour residuals.

A galaxy-scale lens is a red early-type galaxy with a faint blue arc on top of it. In a blue
band ``b`` the arc is bright relative to the lens; in the reddest band ``ref`` the lens dominates.
Scaling ``ref`` by the lens galaxy's own colour and subtracting it from ``b`` removes the lens
light and leaves what is bluer than the lens: the arc (the colour-difference imaging of the
YattaLens finder, Sonnenfeld et al. 2018, PASJ 70, S29, and of Gavazzi et al. 2014 on CFHTLS).

The colour ``k`` comes from the image itself, never from a simulator's truth: the ratio of the
fluxes of ``b`` and ``ref`` in a central aperture of ``core_radius`` pixels, where the lens
galaxy's light dominates (the arc sits at the Einstein radius, >= 0.5" = 2.5 pixels at 0.2"),

    k = clip(sum_core b / sum_core ref, 0, max_colour)        (0 when sum_core ref <= 0)
    residual = b - k * ref

(the clip bounds the noise a faint, noise-dominated core would otherwise multiply into the
residual), so a plain elliptical of uniform colour leaves only noise, and a blue arc survives with
most of its flux.

**PSF matching** (``match_sigma``). Bluer bands have broader seeing (LSST's median FWHM is 0.87" in
g, 0.80" in i), so ``g - k i`` of a plain elliptical leaves a negative core and a positive ring
around it: a ring at about the seeing radius, which is where a small Einstein ring would be. Plain
ellipticals were the largest share of the false positives (cnn16c). Before the subtraction the
reference band is blurred by a Gaussian of ``sigma = sqrt(FWHM_b^2 - FWHM_ref^2) / 2.3548`` (the
kernel that takes a Gaussian PSF of the sharper band to the broader one; :func:`psf_match_sigmas`,
from the survey's per-band median seeing and the pixel scale), and ``k`` is measured on the
blurred band (``LSST_SEEING_FWHM``, Ivezic et al. 2019, table 2). It matches the median seeing,
not each image's, so a residual ring is left where one night's band-to-band ratio differs.

The colour ``k`` is biased by the arc itself: blurred by the seeing, arc light reaches the lens
centre, so ``k`` is 3 % (faint sources) to 15 % (S/N 80-150) bluer than the galaxy's own colour
in the survey-difficulty set, for every image-only estimate tried (apertures of 1-3 pixels,
i-weighted medians and quartiles of the pixel ratios; ``benchmarks/cnn_colour_aperture.py``).
That over-subtracts the lens a little and keeps 80 % instead of 83 % of a flat-spectrum arc, so it
does not explain the drop of TPR at high S/N; a PSF-convolved lens-profile fit would remove it.

All of it is batched NumPy over (N, H, W, C) arrays; it runs once per Zarr chunk inside the
tf.data pipeline and in every prediction path, so training and inference see the same channels.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError

#: Bands in order of wavelength, to find the reddest band of a store by name.
BAND_ORDER = ("u", "g", "r", "i", "z", "y")
#: LSST per-band median delivered seeing FWHM (arcsec; Ivezic et al. 2019, ApJ 873, 111, table 2).
LSST_SEEING_FWHM = {"u": 0.92, "g": 0.87, "r": 0.83, "i": 0.80, "z": 0.78, "y": 0.76}
#: Pixel scale assumed when a store does not record one (LSST, arcsec / pixel).
DEFAULT_PIXEL_SCALE = 0.2


def core_mask(height: int, width: int, radius: float) -> np.ndarray:
    """(H, W) bool: pixels whose centre lies within ``radius`` pixels of the image centre."""
    rows = np.arange(height)[:, None] - (height - 1) / 2.0
    cols = np.arange(width)[None, :] - (width - 1) / 2.0
    return np.hypot(rows, cols) <= radius


def gaussian_blur(images: np.ndarray, sigma: float) -> np.ndarray:
    """(N, H, W) images convolved with a circular Gaussian of ``sigma`` pixels (float32).

    Separable, the kernel cut at 4 sigma and normalised, the borders mirrored (the edge pixel
    repeated); ``sigma <= 0`` returns the images unchanged. NaN pixels spread to their neighbours.
    """
    from scipy.ndimage import correlate1d

    x = np.asarray(images, dtype=np.float32)
    if sigma <= 0:
        return x
    h = max(1, int(np.ceil(4.0 * sigma)))
    w = np.exp(-0.5 * (np.arange(-h, h + 1) / sigma) ** 2)
    w = (w / w.sum()).astype(np.float32)
    # scipy's "reflect" mirrors about the edge with the edge pixel repeated (NumPy's "symmetric")
    for axis in (1, 2):
        x = correlate1d(x, w, axis=axis, mode="reflect")
    return x


def psf_match_sigmas(bands: Sequence[str], pairs: Sequence[tuple[int, int]], pixel_scale: float | None = None,
                     fwhm: dict | None = None) -> list[float]:
    """Gaussian sigma (pixels) that takes the reference band's PSF to band ``b``'s, per pair ``(b, ref)``.

    ``sqrt(max(0, FWHM_b^2 - FWHM_ref^2)) / 2.3548 / pixel_scale`` with the FWHMs (arcsec) of
    ``fwhm`` (default :data:`LSST_SEEING_FWHM`, by band name, case-insensitive) and ``pixel_scale``
    (arcsec / pixel; default :data:`DEFAULT_PIXEL_SCALE`); 0 where a band has no known FWHM
    (e.g. the placeholder names of plain arrays) or the reference band is the broader one.
    """
    table = {str(k).lower(): float(v) for k, v in (fwhm or LSST_SEEING_FWHM).items()}
    scale = float(pixel_scale or DEFAULT_PIXEL_SCALE)
    out = []
    for b, ref in pairs:
        fb, fr = table.get(str(bands[b]).lower()), table.get(str(bands[ref]).lower())
        out.append(0.0 if fb is None or fr is None else float(np.sqrt(max(0.0, fb**2 - fr**2)) / 2.3548 / scale))
    return out


def colour_residuals(images: np.ndarray, pairs: Sequence[tuple[int, int]], core_radius: float = 2.0,
                     max_colour: float = 10.0, match_sigma: Sequence[float] | None = None) -> np.ndarray:
    """Lens-light-subtracted colour residuals ``b - k ref`` of (N, H, W, C) images, one per pair.

    Parameters
    ----------
    images : ndarray (N, H, W, C)
        Sky-subtracted counts (any unit common to a band); NaN pixels stay NaN in the residual
        and are ignored in the core sums.
    pairs : sequence of (b, ref)
        Channel indices: the band to clean and the band that carries the lens light (redder).
    core_radius : float
        Radius in pixels of the central aperture that sets the colour ``k`` (2 pixels = 0.4" at
        LSST's 0.2" pixels).
    max_colour : float
        Upper bound of the flux ratio ``k`` (a lens is redder than its arc, so k of a real lens
        is well below 1 in counts per band; 10 only stops a noise-dominated core from blowing up).
    match_sigma : sequence of float, optional
        Per pair, the Gaussian sigma (pixels) by which ``ref`` is blurred to the PSF of ``b``
        before ``k`` and the residual are computed (:func:`psf_match_sigmas`); None or 0: none.

    Returns
    -------
    ndarray (N, H, W, len(pairs)) float32
        Residual counts in the units of band ``b``.
    """
    x = np.asarray(images, dtype=np.float32)
    if x.ndim != 4:
        raise InputError(f"colour residuals need images of shape (N, H, W, C), got {x.shape}.")
    C = x.shape[-1]
    for b, ref in pairs:
        if not (0 <= b < C and 0 <= ref < C) or b == ref:
            raise InputError(f"colour residual pair ({b}, {ref}) needs two different channels among 0..{C - 1}.")
    if core_radius <= 0:
        raise InputError(f"core_radius must be positive (pixels), got {core_radius}.")
    sig = [0.0] * len(pairs) if match_sigma is None else [float(v) for v in match_sigma]
    if len(sig) != len(pairs) or any(v < 0 for v in sig):
        raise InputError(f"match_sigma needs one non-negative sigma (pixels) per colour residual pair, got {sig}.")
    if not pairs:
        return np.empty(x.shape[:3] + (0,), np.float32)
    core = core_mask(x.shape[1], x.shape[2], core_radius)
    out = np.empty(x.shape[:3] + (len(pairs),), np.float32)
    blurred: dict = {}
    for j, (b, ref) in enumerate(pairs):
        if (ref, sig[j]) not in blurred:
            blurred[ref, sig[j]] = gaussian_blur(x[..., ref], sig[j])
        r = blurred[ref, sig[j]]
        num, den = np.nansum(x[:, core, b], axis=1), np.nansum(r[:, core], axis=1)
        ratio = np.clip(num / np.where(den > 0, den, 1.0), 0.0, max_colour)
        k = np.where(den > 0, ratio, 0.0).astype(np.float32)
        out[..., j] = x[..., b] - k[:, None, None] * r
    return out


def residual_pairs(bands: Sequence[str]) -> list[tuple[int, int]]:
    """Default pairs for a band list: every band against the reddest one.

    The reddest band is found by name in :data:`BAND_ORDER` (``u g r i z y``, case-insensitive);
    when any band name is not a known LSST band, the last channel is taken as the reddest.
    """
    names = [str(b).lower() for b in bands]
    if len(names) < 2:
        raise InputError(f"colour residuals need at least two bands, got {list(bands)}.")
    if all(n in BAND_ORDER for n in names):
        ref = max(range(len(names)), key=lambda i: BAND_ORDER.index(names[i]))
    else:
        ref = len(names) - 1
    return [(i, ref) for i in range(len(names)) if i != ref]


def channel_names(bands: Sequence[str], pairs: Sequence[tuple[int, int]]) -> list[str]:
    """Names of the model's input channels: the bands, then ``"<b>-k*<ref>"`` per residual."""
    return [str(b) for b in bands] + [f"{bands[b]}-k*{bands[r]}" for b, r in pairs]


def with_residuals(images: np.ndarray, pairs: Sequence[tuple[int, int]], core_radius: float = 2.0,
                   match_sigma: Sequence[float] | None = None) -> np.ndarray:
    """(N, H, W, C + len(pairs)) float32: the bands followed by their colour residuals."""
    x = np.asarray(images, dtype=np.float32)
    if not pairs:
        return x
    return np.concatenate([x, colour_residuals(x, pairs, core_radius, match_sigma=match_sigma)], axis=-1)


def band_indices(available: Sequence[str], needed: Sequence[str], where: str) -> list[int]:
    """Positions of ``needed`` bands in ``available``; an :class:`InputError` names any missing.

    ``where`` names the store (or array) in the message.
    """
    avail = [str(b) for b in available]
    missing = [b for b in needed if str(b) not in avail]
    if missing:
        raise InputError(f"{where} lacks band(s) {missing} that the model was trained on (bands {list(needed)}; "
                         f"the store has {avail}); write a store with those bands or train a model on these.")
    return [avail.index(str(b)) for b in needed]


__all__ = ["BAND_ORDER", "DEFAULT_PIXEL_SCALE", "LSST_SEEING_FWHM", "band_indices", "channel_names",
           "colour_residuals", "core_mask", "gaussian_blur", "psf_match_sigmas", "residual_pairs", "with_residuals"]
