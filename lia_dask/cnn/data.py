"""Input for the image CNNs: per-band min-max normalisation and tf.data pipelines that stream
from a Zarr cutout store (or an in-memory array) one chunk at a time.

A *source* is anything with ``n``, ``shape`` (H, W, C), ``chunk`` and ``read(start, stop)``:
:class:`ArraySource` wraps a NumPy array, :class:`ZarrSource` a cutout store. The generators
read one chunk, normalise it, optionally augment each image with a per-image seeded draw, crop
it, and yield images; shuffling permutes the chunk order and the images within a chunk, so
at most one chunk is in memory and the store is never loaded whole. An in-memory array and a
store with the same chunking give the same stream.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

from ..errors import InputError
from .augment import AugmentConfig, center_crop, random_transform


# --------------------------------------------------------------------- normalisation (kernel)
@dataclass
class Normalization:
    """Per-band min-max scaling: ``clip((x - min_pixel) / (max_pixel - min_pixel), 0, 1)``, NaN -> 0.

    ``min_pixel`` and ``max_pixel`` have one value per band (counts).
    """

    min_pixel: list[float]
    max_pixel: list[float]

    def __post_init__(self) -> None:
        self.min_pixel = [float(v) for v in np.atleast_1d(self.min_pixel)]
        self.max_pixel = [float(v) for v in np.atleast_1d(self.max_pixel)]
        if len(self.min_pixel) != len(self.max_pixel):
            raise InputError("min_pixel and max_pixel need one value per band each (lengths differ).")
        if any(hi <= lo for lo, hi in zip(self.min_pixel, self.max_pixel)):
            raise InputError(f"max_pixel must exceed min_pixel in every band, got {self.min_pixel} / {self.max_pixel}.")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return normalize(images, self.min_pixel, self.max_pixel)

    def to_dict(self) -> dict:
        return {"min_pixel": self.min_pixel, "max_pixel": self.max_pixel}


def normalize(images: np.ndarray, min_pixel: Sequence[float], max_pixel: Sequence[float]) -> np.ndarray:
    """Min-max scale (..., C) images per band into [0, 1], clipping, with NaN / inf pixels set to 0.

    ``min_pixel`` / ``max_pixel`` are broadcast over the last axis (one value per band, or one
    for all bands).
    """
    x = np.asarray(images, dtype=np.float32)
    lo = np.asarray(min_pixel, dtype=np.float32)
    hi = np.asarray(max_pixel, dtype=np.float32)
    if lo.size not in (1, x.shape[-1]):
        raise InputError(f"min_pixel has {lo.size} values but the images have {x.shape[-1]} bands.")
    with np.errstate(invalid="ignore"):
        out = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return np.where(np.isfinite(x), out, np.float32(0.0)).astype(np.float32)


def fit_normalization(source: "ArraySource | ZarrSource", low: float = 0.5, high: float = 99.5,
                      max_images: int = 2048, indices: np.ndarray | None = None) -> Normalization:
    """Per-band ``low`` / ``high`` percentiles (NaN ignored) of up to ``max_images`` images.

    Reads whole chunks, spread evenly over the (subset of the) source, until ``max_images``.
    """
    idx = np.arange(source.n) if indices is None else np.sort(np.asarray(indices))
    chunks = np.unique(idx // source.chunk)
    take = chunks[np.linspace(0, len(chunks) - 1, max(1, min(len(chunks), -(-max_images // source.chunk)))).astype(int)]
    parts = []
    for c in np.unique(take):
        start = c * source.chunk
        block = source.read(start, min(source.n, start + source.chunk))
        sel = idx[(idx >= start) & (idx < start + len(block))] - start
        parts.append(block[sel])
    x = np.concatenate(parts)[:max_images].reshape(-1, source.shape[-1])
    lo = np.nanpercentile(x, low, axis=0)
    hi = np.nanpercentile(x, high, axis=0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    return Normalization(lo.tolist(), hi.tolist())


# --------------------------------------------------------------------- sources
class ArraySource:
    """An in-memory (N, H, W, C) array read in chunks like a store."""

    def __init__(self, images: np.ndarray, chunk: int = 256):
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[..., None]
        if images.ndim != 4:
            raise InputError(f"images must have shape (N, H, W, C), got {images.shape}.")
        self.images, self.chunk = images, int(chunk)

    @property
    def n(self) -> int:
        return len(self.images)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[1:])

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.images[start:stop], dtype=np.float32)


class ZarrSource:
    """A cutout store's ``images`` array read chunk by chunk (never whole)."""

    def __init__(self, store):
        from ..archive import CutoutStore, open_cutouts

        self.store = store if isinstance(store, CutoutStore) else open_cutouts(store)
        self.array = self.store.zarr_images
        self.chunk = self.store.chunk

    @property
    def n(self) -> int:
        return self.store.n_images

    @property
    def shape(self) -> tuple[int, int, int]:
        return self.store.image_shape

    def read(self, start: int, stop: int) -> np.ndarray:
        return np.asarray(self.array[start:stop], dtype=np.float32)


def as_source(x, chunk: int = 256):
    """A source for a NumPy array, a :class:`~lia_dask.archive.CutoutStore` or a store path."""
    from ..archive import CutoutStore

    if isinstance(x, (ArraySource, ZarrSource)):
        return x
    if isinstance(x, (CutoutStore, str, os.PathLike)):
        return ZarrSource(x)
    return ArraySource(x, chunk)


# --------------------------------------------------------------------- generators
@dataclass
class StreamSpec:
    """What one stream yields: which images, in which order, transformed how."""

    indices: np.ndarray
    norm: Normalization
    image_size: int | None
    augment: AugmentConfig | None = None
    shuffle: bool = False
    seed: int = 0
    repeat: bool = False


def iter_images(source, spec: StreamSpec, y: np.ndarray | None = None,
                w: np.ndarray | None = None) -> Iterator[tuple]:
    """Yield ``(image,)``, ``(image, y)`` or ``(image, y, w)`` for ``spec.indices``, chunk by chunk.

    Epoch ``e`` (each pass over the indices; several when ``repeat``) shuffles with seed
    ``(spec.seed, e)`` and augments image ``i`` with the generator seeded ``(spec.seed, e, i)``.
    """
    idx = np.asarray(spec.indices, dtype=np.int64)
    by_chunk: dict[int, np.ndarray] = {}
    for c in np.unique(idx // source.chunk):
        by_chunk[int(c)] = idx[idx // source.chunk == c]
    epoch = 0
    while True:
        rng = np.random.default_rng([spec.seed, epoch])
        order = list(by_chunk)
        if spec.shuffle:
            order = [order[k] for k in rng.permutation(len(order))]
        for c in order:
            rows = by_chunk[c]
            start = c * source.chunk
            block = source.read(start, min(source.n, start + source.chunk))
            if spec.shuffle:
                rows = rows[rng.permutation(len(rows))]
            xs = spec.norm(block[rows - start])
            for j, i in enumerate(rows):
                x = xs[j]
                if spec.augment is not None:
                    x = random_transform(x, spec.augment, np.random.default_rng([spec.seed, epoch, int(i)]), crop=False)
                x = center_crop(x, spec.image_size)
                if y is None:
                    yield (x,)
                elif w is None:
                    yield x, y[i]
                else:
                    yield x, y[i], w[i]
        epoch += 1
        if not spec.repeat:
            return


def image_dataset(source, spec: StreamSpec, y: np.ndarray | None = None, w: np.ndarray | None = None,
                  batch_size: int | None = 32):
    """A ``tf.data.Dataset`` over :func:`iter_images` (batched when ``batch_size``), prefetched.

    Each iteration of the dataset (each Keras epoch) restarts the generator with a new epoch
    number, so shuffling and augmentation differ per epoch but are reproducible from the seed.
    """
    from ._tf import tf

    tfm = tf()
    H, W, C = source.shape
    S = spec.image_size
    shape = (S or H, S or W, C)
    sig = [tfm.TensorSpec(shape=shape, dtype=tfm.float32)]
    if y is not None:
        sig.append(tfm.TensorSpec(shape=(), dtype=tfm.float32))
        if w is not None:
            sig.append(tfm.TensorSpec(shape=(), dtype=tfm.float32))
    calls = [0]

    def gen():
        from dataclasses import replace

        e = calls[0]
        calls[0] += 1
        yield from iter_images(source, replace(spec, seed=int(spec.seed) * 1_000_003 + e), y, w)

    ds = tfm.data.Dataset.from_generator(gen, output_signature=tuple(sig))
    if not spec.repeat:
        ds = ds.apply(tfm.data.experimental.assert_cardinality(len(spec.indices)))
    if batch_size:
        ds = ds.batch(batch_size)
    return ds.prefetch(2)


def balanced_dataset(source, spec: StreamSpec, y: np.ndarray, batch_size: int):
    """Endless batches with half positives (``y == 1``) and half negatives, drawn from two streams.

    Each class stream is shuffled, augmented and repeated on its own; batches interleave them
    with equal probability. Use with ``steps_per_epoch``.
    """
    from dataclasses import replace

    from ._tf import tf

    tfm = tf()
    idx = np.asarray(spec.indices)
    pos, neg = idx[y[idx] == 1], idx[y[idx] == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise InputError("balanced sampling needs both classes in the training set; use balance='weight' instead.")
    streams = [image_dataset(source, replace(spec, indices=part, repeat=True, shuffle=True, seed=spec.seed + k),
                             y, None, batch_size=None) for k, part in enumerate((pos, neg))]
    ds = tfm.data.Dataset.sample_from_datasets(streams, weights=[0.5, 0.5], seed=spec.seed)
    return ds.batch(batch_size).prefetch(2)
