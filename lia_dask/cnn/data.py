"""Input for the image CNNs: per-band min-max normalisation and tf.data pipelines that stream
from a Zarr cutout store (or an in-memory array) chunk by chunk.

A *source* is anything with ``n``, ``shape`` (H, W, C), ``chunk`` and ``read(start, stop)``:
:class:`ArraySource` wraps a NumPy array, :class:`ZarrSource` a cutout store. The pipeline
(:func:`image_dataset`) is all tf.data: a dataset of chunk numbers (shuffled per epoch) is
mapped in parallel to whole normalised chunks (one ``tf.numpy_function`` call per chunk, so Zarr
chunks are read and decompressed concurrently), unbatched, optionally cached in memory,
shuffled in a buffer, batched, and augmented *per batch* with TensorFlow ops
(:func:`lia_dask.cnn.augment_tf.augment_batch`, stateless random draws seeded by
``(seed, batch number)``), then cropped and prefetched. No Python runs per image. An in-memory
array and a store with the same chunking give the same stream.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import InputError
from .augment import AugmentConfig
from .channels import band_indices, with_residuals


# --------------------------------------------------------------------- normalisation (kernel)
STRETCHES = ("linear", "asinh")


@dataclass
class Normalization:
    """Per-band scaling of counts into [0, 1], NaN / inf -> 0.

    ``linear``: ``clip((x - min_pixel) / (max_pixel - min_pixel), 0, 1)``. ``asinh``: the same on
    ``f(x) = arcsinh(x / softening)`` (``f(min_pixel)`` .. ``f(max_pixel)``), linear within about one
    ``softening`` (the sky noise, counts) of zero and logarithmic above, so faint arcs at the noise
    level and bright galaxy cores both keep their contrast (the asinh magnitudes of Lupton et al.
    1999, AJ 118, 1406; the ``arcsinh`` input compression of the challenge's AstrOmatic entry).
    ``min_pixel``, ``max_pixel`` and ``softening`` have one value per *channel* (counts).

    This is the model's whole input representation: with ``residual_pairs`` (channel index pairs
    ``(b, ref)``), the lens-light-subtracted colour residuals ``b - k ref`` of
    :func:`lia_dask.cnn.channels.colour_residuals` (``core_radius`` pixels; the reference band
    blurred by ``match_sigma`` pixels per pair first, None for none) are appended to the bands first, so a call maps (N, H, W, C) raw counts to (N, H, W, C + len(residual_pairs))
    inputs in [0, 1], one batched pass per chunk.
    """

    min_pixel: list[float]
    max_pixel: list[float]
    stretch: str = "linear"
    softening: list[float] | None = None
    residual_pairs: list[list[int]] | None = None
    core_radius: float = 2.0
    match_sigma: list[float] | None = None

    def __post_init__(self) -> None:
        self.min_pixel = [float(v) for v in np.atleast_1d(self.min_pixel)]
        self.max_pixel = [float(v) for v in np.atleast_1d(self.max_pixel)]
        self.residual_pairs = [[int(b), int(r)] for b, r in (self.residual_pairs or [])]
        self.core_radius = float(self.core_radius)
        if self.match_sigma is not None:
            self.match_sigma = [float(v) for v in self.match_sigma]
            if len(self.match_sigma) != len(self.residual_pairs) or any(v < 0 for v in self.match_sigma):
                raise InputError(f"match_sigma needs one non-negative sigma per colour residual pair "
                                 f"({len(self.residual_pairs)}), got {self.match_sigma}.")
        if len(self.min_pixel) != len(self.max_pixel):
            raise InputError("min_pixel and max_pixel need one value per band each (lengths differ).")
        if len(self.residual_pairs) >= len(self.min_pixel):
            raise InputError(f"{len(self.residual_pairs)} colour residuals leave no band among "
                             f"{len(self.min_pixel)} normalised channels.")
        if any(hi <= lo for lo, hi in zip(self.min_pixel, self.max_pixel)):
            raise InputError(f"max_pixel must exceed min_pixel in every band, got {self.min_pixel} / {self.max_pixel}.")
        if self.stretch not in STRETCHES:
            raise InputError(f"stretch must be one of {STRETCHES}, got {self.stretch!r}.")
        if self.stretch == "asinh":
            soft = np.broadcast_to(np.atleast_1d(1.0 if self.softening is None else self.softening),
                                   (len(self.min_pixel),))
            if not np.all(np.asarray(soft) > 0):
                raise InputError(f"the asinh stretch needs a positive softening per band, got {list(soft)}.")
            self.softening = [float(v) for v in soft]
        else:
            self.softening = None

    @property
    def n_bands(self) -> int:
        """Channels of the raw images (before the colour residuals are appended)."""
        return len(self.min_pixel) - len(self.residual_pairs)

    def channels(self, images: np.ndarray) -> np.ndarray:
        """(N, H, W, C) raw counts -> (N, H, W, C + residuals) counts, not yet scaled."""
        x = np.asarray(images, dtype=np.float32)
        if x.shape[-1] != self.n_bands:
            raise InputError(f"images have {x.shape[-1]} bands but this input representation expects {self.n_bands}.")
        return with_residuals(x, [tuple(p) for p in self.residual_pairs], self.core_radius, self.match_sigma)

    def __call__(self, images: np.ndarray) -> np.ndarray:
        x = self.channels(images)
        if self.stretch == "linear":
            return normalize(x, self.min_pixel, self.max_pixel)
        a = np.asarray(self.softening, np.float32)
        f = lambda v: np.arcsinh(np.asarray(v, np.float32) / a)  # noqa: E731
        return normalize(f(x), f(self.min_pixel), f(self.max_pixel))

    def to_dict(self) -> dict:
        return {"min_pixel": self.min_pixel, "max_pixel": self.max_pixel, "stretch": self.stretch,
                "softening": self.softening, "residual_pairs": self.residual_pairs, "core_radius": self.core_radius,
                "match_sigma": self.match_sigma}


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
                      max_images: int = 2048, indices: np.ndarray | None = None,
                      stretch: str = "linear", residual_pairs: Sequence[Sequence[int]] | None = None,
                      core_radius: float = 2.0, match_sigma: Sequence[float] | None = None) -> Normalization:
    """Per-channel ``low`` / ``high`` percentiles (NaN ignored) of up to ``max_images`` images.

    Reads whole chunks, spread evenly over the (subset of the) source, until ``max_images``. With
    ``stretch="asinh"`` the softening per channel is the robust noise of the pixels, 1.4826 x the
    median absolute deviation (counts; the sky noise, since most pixels of a cutout are sky).
    With ``residual_pairs`` the colour residual channels (PSF-matched by ``match_sigma``) are
    computed first and fitted alike.
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
    pairs = [[int(b), int(r)] for b, r in (residual_pairs or [])]
    sig = None if match_sigma is None else [float(v) for v in match_sigma]
    x = with_residuals(np.concatenate(parts)[:max_images], [tuple(p) for p in pairs], core_radius, sig)
    x = x.reshape(-1, x.shape[-1])
    lo = np.nanpercentile(x, low, axis=0)
    hi = np.nanpercentile(x, high, axis=0)
    hi = np.where(hi > lo, hi, lo + 1.0)
    rep = dict(residual_pairs=pairs, core_radius=core_radius, match_sigma=sig)
    if stretch != "asinh":
        return Normalization(lo.tolist(), hi.tolist(), stretch, **rep)
    mad = 1.4826 * np.nanmedian(np.abs(x - np.nanmedian(x, axis=0)), axis=0)
    return Normalization(lo.tolist(), hi.tolist(), stretch, np.where(mad > 0, mad, (hi - lo) / 100.0).tolist(), **rep)


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
    """A cutout store's ``images`` array read chunk by chunk (never whole).

    ``bands`` (names) selects and orders the store's bands; a store that lacks one of them is
    refused with an :class:`~lia_dask.errors.InputError` naming the band.
    """

    def __init__(self, store, bands: Sequence[str] | None = None):
        from ..archive import CutoutStore, open_cutouts

        self.store = store if isinstance(store, CutoutStore) else open_cutouts(store)
        self.array = self.store.zarr_images
        self.chunk = self.store.chunk
        self.band_index = store_band_index(self.store, bands)

    @property
    def n(self) -> int:
        return self.store.n_images

    @property
    def shape(self) -> tuple[int, int, int]:
        H, W, C = self.store.image_shape
        return (H, W, C if self.band_index is None else len(self.band_index))

    def read(self, start: int, stop: int) -> np.ndarray:
        x = np.asarray(self.array[start:stop], dtype=np.float32)
        return x if self.band_index is None else x[..., self.band_index]


def positional_bands(bands: Sequence[str]) -> bool:
    """Whether band names are the placeholders ``band0, band1, ...`` of a model trained on arrays."""
    return [str(b) for b in bands] == [f"band{i}" for i in range(len(bands))]


def store_band_index(store, bands: Sequence[str] | None) -> list[int] | None:
    """Channels of a cutout store to read for a model's ``bands``, in the model's order.

    None when the store's channels are read as stored: no band names given, placeholder names
    (``band0, band1, ...``: a model trained on arrays reads channels by position), or the store
    already holds exactly those bands in that order. A store that lacks a band raises an
    :class:`~lia_dask.errors.InputError` naming it.
    """
    if not bands or positional_bands(bands):
        return None
    idx = band_indices(store.bands, bands, f"cutout store {store.path}")
    return None if idx == list(range(store.image_shape[-1])) else idx


def as_source(x, chunk: int = 256, bands: Sequence[str] | None = None):
    """A source for a NumPy array, a :class:`~lia_dask.archive.CutoutStore` or a store path.

    ``bands``: for a store, the bands to read, in order (see :class:`ZarrSource`).
    """
    from ..archive import CutoutStore

    if isinstance(x, ZarrSource) and bands is not None:
        return ZarrSource(x.store, bands)
    if isinstance(x, (ArraySource, ZarrSource)):
        return x
    if isinstance(x, (CutoutStore, str, os.PathLike)):
        return ZarrSource(x, bands)
    return ArraySource(x, chunk)


# --------------------------------------------------------------------- tf.data pipelines
@dataclass
class StreamSpec:
    """What one stream yields: which images, in which order, transformed how.

    ``cache`` keeps the normalised images in memory after the first pass (then the shuffle
    buffer spans the whole set); otherwise chunks are re-read each epoch and shuffled within a
    buffer of ``shuffle_chunks`` chunks. ``repeat`` makes the stream endless (use with
    ``steps_per_epoch``).
    """

    indices: np.ndarray
    norm: Normalization
    image_size: int | None
    augment: AugmentConfig | None = None
    shuffle: bool = False
    seed: int = 0
    repeat: bool = False
    cache: bool = False
    shuffle_chunks: int = 4


def _chunk_table(source, indices: np.ndarray) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    idx = np.asarray(indices, dtype=np.int64)
    by_chunk = {int(c): idx[idx // source.chunk == c] for c in np.unique(idx // source.chunk)}
    return np.array(sorted(by_chunk), dtype=np.int64), by_chunk


def _chunk_stream(source, spec: StreamSpec, y: np.ndarray | None, w: np.ndarray | None):
    """Unbatched (image[, y[, w]]) elements of ``spec.indices``, read one chunk per parallel call."""
    from ._tf import tf

    T = tf()
    H, W = source.shape[:2]
    C = len(spec.norm.min_pixel)  # bands + colour residuals
    chunk_ids, by_chunk = _chunk_table(source, spec.indices)
    yv = np.zeros(source.n, np.float32) if y is None else np.asarray(y, np.float32)
    wv = np.ones(source.n, np.float32) if w is None else np.asarray(w, np.float32)

    def read(c):
        rows = by_chunk[int(c)]
        start = int(c) * source.chunk
        block = source.read(start, min(source.n, start + source.chunk))
        return spec.norm(block[rows - start]), yv[rows], wv[rows]

    def tf_read(c):
        x, yy, ww = T.numpy_function(read, [c], [T.float32, T.float32, T.float32], stateful=False)
        x.set_shape((None, H, W, C))
        yy.set_shape((None,))
        ww.set_shape((None,))
        return x, yy, ww

    ds = T.data.Dataset.from_tensor_slices(chunk_ids)
    if spec.shuffle and not spec.cache:
        ds = ds.shuffle(len(chunk_ids), seed=spec.seed, reshuffle_each_iteration=True)
    ds = ds.map(_plain(tf_read), num_parallel_calls=T.data.AUTOTUNE, deterministic=True).unbatch()
    if spec.cache:
        ds = ds.cache()
    if spec.shuffle:
        buf = len(spec.indices) if spec.cache else spec.shuffle_chunks * source.chunk
        ds = ds.shuffle(max(1, buf), seed=spec.seed + 1, reshuffle_each_iteration=True)
    if spec.repeat:
        ds = ds.repeat()
    n_out = 1 if y is None else 2 if w is None else 3
    return ds.map(_plain(lambda x, yy, ww: (x, yy, ww)[:n_out]))


def _plain(fn):
    """Mark a tf.data map function as plain graph code (no AutoGraph conversion, no warnings)."""
    from ._tf import tf

    return tf().autograph.experimental.do_not_convert(fn)


def _finish(ds, spec: StreamSpec, batch_size: int | None, n_items: int | None):
    """Batch, augment per batch (seed = (spec.seed, batch number)), crop, prefetch."""
    from ._tf import tf
    from .augment_tf import augment_batch, crop_batch

    T = tf()
    if not batch_size:
        if spec.augment is not None:
            raise InputError("augmentation runs per batch; give a batch_size.")
        ds = ds.map(_plain(lambda x, *r: (crop_batch(x[None], spec.image_size)[0], *r)))
        return ds.prefetch(T.data.AUTOTUNE)
    ds = ds.batch(batch_size)
    if spec.augment is not None:
        aug, seed = spec.augment, int(spec.seed)

        def f(k, el):
            x = augment_batch(el[0], T.stack([T.constant(seed, T.int64), k]), aug)
            return (crop_batch(x, spec.image_size), *el[1:])

        ds = ds.enumerate().map(_plain(f), num_parallel_calls=T.data.AUTOTUNE, deterministic=True)
    else:
        ds = ds.map(_plain(lambda x, *r: (crop_batch(x, spec.image_size), *r)), num_parallel_calls=T.data.AUTOTUNE,
                    deterministic=True)
    if n_items is not None and not spec.repeat:
        ds = ds.apply(T.data.experimental.assert_cardinality(-(-n_items // batch_size)))
    return ds.prefetch(T.data.AUTOTUNE)


def image_dataset(source, spec: StreamSpec, y: np.ndarray | None = None, w: np.ndarray | None = None,
                  batch_size: int | None = 32):
    """A ``tf.data.Dataset`` of batches ``(x,)``, ``(x, y)`` or ``(x, y, w)`` over ``spec.indices``.

    ``x`` is (B, S, S, C) float32 normalised (and augmented when ``spec.augment``); each pass
    (Keras epoch) reshuffles, reproducibly from ``spec.seed``.
    """
    ds = _chunk_stream(source, spec, y, w)
    return _finish(ds, spec, batch_size, len(spec.indices))


def balanced_dataset(source, spec: StreamSpec, y: np.ndarray, batch_size: int):
    """Endless batches with half positives (``y == 1``) and half negatives, drawn from two streams.

    Each class stream is read, shuffled and repeated on its own; batches interleave them with
    equal probability, then are augmented per batch. Use with ``steps_per_epoch``.
    """
    from dataclasses import replace

    from ._tf import tf

    T = tf()
    idx = np.asarray(spec.indices)
    pos, neg = idx[y[idx] == 1], idx[y[idx] == 0]
    if len(pos) == 0 or len(neg) == 0:
        raise InputError("balanced sampling needs both classes in the training set; use balance='weight' instead.")
    streams = [_chunk_stream(source, replace(spec, indices=part, repeat=True, shuffle=True, seed=spec.seed + 7 * k),
                             y, None) for k, part in enumerate((pos, neg))]
    ds = T.data.Dataset.sample_from_datasets(streams, weights=[0.5, 0.5], seed=spec.seed)
    return _finish(ds, replace(spec, repeat=True), batch_size, None)
