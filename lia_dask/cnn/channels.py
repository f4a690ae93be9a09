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
residual), so a plain elliptical of uniform colour leaves only noise (and a small PSF-mismatch ring when the
bands' seeing differs), and a blue arc survives with most of its flux. All of it is batched NumPy
over (N, H, W, C) arrays; it runs once per Zarr chunk inside the tf.data pipeline and in every
prediction path, so training and inference see the same channels.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError

#: Bands in order of wavelength, to find the reddest band of a store by name.
BAND_ORDER = ("u", "g", "r", "i", "z", "y")


def core_mask(height: int, width: int, radius: float) -> np.ndarray:
    """(H, W) bool: pixels whose centre lies within ``radius`` pixels of the image centre."""
    rows = np.arange(height)[:, None] - (height - 1) / 2.0
    cols = np.arange(width)[None, :] - (width - 1) / 2.0
    return np.hypot(rows, cols) <= radius


def colour_residuals(images: np.ndarray, pairs: Sequence[tuple[int, int]], core_radius: float = 2.0,
                     max_colour: float = 10.0) -> np.ndarray:
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
    if not pairs:
        return np.empty(x.shape[:3] + (0,), np.float32)
    core = core_mask(x.shape[1], x.shape[2], core_radius)
    sums = np.nansum(x[:, core, :], axis=1)  # (N, C)
    out = np.empty(x.shape[:3] + (len(pairs),), np.float32)
    for j, (b, ref) in enumerate(pairs):
        den = sums[:, ref]
        ratio = np.clip(sums[:, b] / np.where(den > 0, den, 1.0), 0.0, max_colour)
        k = np.where(den > 0, ratio, 0.0).astype(np.float32)
        out[..., j] = x[..., b] - k[:, None, None] * x[..., ref]
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


def with_residuals(images: np.ndarray, pairs: Sequence[tuple[int, int]], core_radius: float = 2.0) -> np.ndarray:
    """(N, H, W, C + len(pairs)) float32: the bands followed by their colour residuals."""
    x = np.asarray(images, dtype=np.float32)
    if not pairs:
        return x
    return np.concatenate([x, colour_residuals(x, pairs, core_radius)], axis=-1)


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


__all__ = ["BAND_ORDER", "band_indices", "channel_names", "colour_residuals", "core_mask", "residual_pairs",
           "with_residuals"]
