"""Input for the 1D CNN on raw flux series: scaling, the smoothed second channel, balanced
half-positive batches and random circular shifts.

:func:`prepare_series` turns (N, L) fluxes into (N, L, 2) inputs: channel 0 is the relative
flux in units of its robust scatter, ``(f / median(f) - 1) / (1.4826 MAD)``; channel 1 is the
same series smoothed by a uniform (boxcar) filter of ``smooth`` samples, which brings out dips
lasting several samples. NaN samples are set to 0 (the median level).
"""
from __future__ import annotations

import numpy as np
from scipy.ndimage import uniform_filter1d

from ..errors import InputError


def prepare_series(flux: np.ndarray, smooth: int = 9) -> np.ndarray:
    """(N, L) fluxes -> (N, L, 2) float32: scaled series and its uniform-filter smoothing.

    Parameters
    ----------
    flux : ndarray, shape (N, L) (or (N, L, 1))
        Fluxes on a regular grid, any positive scale.
    smooth : int
        Width of the boxcar in samples (wraps around the ends, like the circular shift).
    """
    f = np.asarray(flux, dtype=np.float64)
    if f.ndim == 3 and f.shape[-1] == 1:
        f = f[..., 0]
    if f.ndim != 2:
        raise InputError(f"flux series must have shape (N, L), got {f.shape}.")
    med = np.nanmedian(f, axis=1, keepdims=True)
    med = np.where(np.isfinite(med) & (med != 0), med, 1.0)
    rel = f / med - 1.0
    mad = 1.4826 * np.nanmedian(np.abs(rel - np.nanmedian(rel, axis=1, keepdims=True)), axis=1, keepdims=True)
    mad = np.where(np.isfinite(mad) & (mad > 0), mad, 1.0)
    x = np.nan_to_num(rel / mad, nan=0.0, posinf=0.0, neginf=0.0)
    sm = uniform_filter1d(x, size=max(1, int(smooth)), axis=1, mode="wrap")
    return np.stack([x, sm], axis=-1).astype(np.float32)


def series_dataset(x: np.ndarray, y: np.ndarray | None, batch_size: int = 32, balanced: bool = False,
                   shift: bool = False, seed: int = 0, shuffle: bool = False):
    """A ``tf.data.Dataset`` of prepared series (N, L, 2).

    ``balanced`` gives endless batches that are half positives (``y == 1``), half negatives
    (use with ``steps_per_epoch``); ``shift`` rolls every series by a random number of samples
    (circular shift, both channels alike) each time it is drawn.
    """
    from ._tf import tf

    tfm = tf()
    x = np.asarray(x, dtype=np.float32)
    L = x.shape[1]

    def roll(xi, *rest):
        k = tfm.random.uniform((), 0, L, dtype=tfm.int32, seed=seed)
        return (tfm.roll(xi, k, axis=0), *rest)

    if y is None:
        ds = tfm.data.Dataset.from_tensor_slices((x,))
        return ds.batch(batch_size).prefetch(2)
    y = np.asarray(y, dtype=np.float32)
    if balanced:
        parts = []
        for k, cls in enumerate((1.0, 0.0)):
            sel = y == cls
            if not sel.any():
                raise InputError("balanced batches need both classes in the training series; use balance='weight'.")
            d = tfm.data.Dataset.from_tensor_slices((x[sel], y[sel])).repeat().shuffle(int(sel.sum()), seed=seed + k)
            parts.append(d)
        ds = tfm.data.Dataset.sample_from_datasets(parts, weights=[0.5, 0.5], seed=seed)
    else:
        ds = tfm.data.Dataset.from_tensor_slices((x, y))
        if shuffle:
            ds = ds.shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
    if shift:
        ds = ds.map(roll)
    return ds.batch(batch_size).prefetch(2)
