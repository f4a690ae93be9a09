"""The Zarr cutout store: ``images`` (N, H, W, C) float32 chunked along N, ``object_id``, ``label``.

Attributes: ``bands`` (length C), ``pixel_scale`` (arcsec/pixel or None), ``schema_version``.
Cutouts with NaN pixels or a shape different from the store's are kept out and recorded in
``_quarantine.pqt`` (Parquet) inside the store directory. A store may be a local directory or an
fsspec URL (``s3://bucket/cutouts.zarr``) with ``storage_options`` (:mod:`lia_dask.archive.storage`).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import dask
import dask.array as da
import numpy as np
import pandas as pd
import zarr

from .. import schema as S
from ..errors import ArchiveError, InputError, MissingInputError
from . import storage
from .lightcurves import write_quarantine
from .validate import check_cutout


@dataclass
class CutoutStore:
    """An opened Zarr cutout store (``path``: a ``Path``, or the URL of a remote store)."""

    path: Path | str
    group: zarr.Group
    storage_options: dict | None = None

    @property
    def zarr_images(self) -> zarr.Array:
        return self.group[S.CUTOUT_IMAGES]

    @property
    def images(self) -> da.Array:
        """Dask array (N, H, W, C) float32, one block per Zarr chunk."""
        return da.from_zarr(self.zarr_images)

    @property
    def object_id(self) -> np.ndarray:
        ids = self.group[S.CUTOUT_OBJECT_ID][:]
        return ids.astype(object) if ids.dtype.kind not in "iu" else ids

    @property
    def label(self) -> np.ndarray | None:
        if S.CUTOUT_LABEL not in self.group:
            return None
        return self.group[S.CUTOUT_LABEL][:].astype(object)

    @property
    def bands(self) -> list[str]:
        return list(self.group.attrs[S.CUTOUT_ATTR_BANDS])

    @property
    def pixel_scale(self) -> float | None:
        return self.group.attrs.get(S.CUTOUT_ATTR_PIXEL_SCALE)

    @property
    def n_images(self) -> int:
        return int(self.zarr_images.shape[0])

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.zarr_images.shape[1:])

    @property
    def chunk(self) -> int:
        return int(self.zarr_images.chunks[0])

    def quarantine(self) -> pd.DataFrame:
        if storage.is_url(self.path):
            fs, root = storage.filesystem(str(self.path), self.storage_options)
            q = storage.join(root, S.QUARANTINE_FILE)
            fs.invalidate_cache(root)
            if not fs.exists(q):
                return pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names)
            return storage.read_table(fs, q).to_pandas()
        q = self.path / S.QUARANTINE_FILE
        if not q.exists():
            return pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names)
        return pd.read_parquet(q)

    def __repr__(self) -> str:
        return f"CutoutStore({str(self.path)!r}, n={self.n_images}, shape={self.image_shape}, bands={self.bands})"


def _id_array_for_zarr(ids: np.ndarray) -> np.ndarray:
    ids = np.asarray(ids)
    return ids.astype(np.int64) if ids.dtype.kind in "iu" else ids.astype(str)


def _open_group(path: str | os.PathLike, mode: str, storage_options: dict | None) -> zarr.Group:
    if storage.is_url(path):
        so = storage_options if storage_options is not None else storage.filesystem(str(path), None)[0].storage_options
        return zarr.open_group(str(path), mode=mode, storage_options=dict(so))
    return zarr.open_group(str(path), mode=mode)


def _exists_nonempty(path: str | os.PathLike, storage_options: dict | None) -> bool:
    if storage.is_url(path):
        return storage.is_nonempty_dir(*storage.filesystem(str(path), storage_options))
    root = Path(path)
    return root.exists() and any(root.iterdir())


def check_chunk(chunk: int) -> int:
    """``chunk`` (images per Zarr chunk) as a positive int, or one sentence saying it is not."""
    if isinstance(chunk, bool) or not isinstance(chunk, (int, np.integer)) or chunk < 1:
        raise InputError(f"chunk must be a positive integer (images per Zarr chunk, --chunk), got {chunk!r}.")
    return int(chunk)


def create_cutout_store(path: str | os.PathLike, n: int, image_shape: tuple[int, int, int], object_id,
                        label=None, *, bands: Sequence[str] | None = None, pixel_scale: float | None = None,
                        chunk: int = 256, overwrite: bool = False, storage_options: dict | None = None) -> CutoutStore:
    """Create an empty store for ``n`` images of ``image_shape`` (H, W, C) with ids and labels filled in.

    ``path`` may be an fsspec URL (``storage_options`` go to fsspec).
    """
    root = str(path) if storage.is_url(path) else Path(path)
    check_chunk(chunk)
    if not storage.is_url(root) and root.exists() and not root.is_dir():
        raise InputError(f"--out {root} is an existing file; give a directory for the cutout store.")
    if _exists_nonempty(root, storage_options):
        if not overwrite:
            raise InputError(f"cutout store {root} already exists; choose another --out or pass overwrite=True.")
        loc = storage.Location(root, storage_options)
        if not (loc.exists("zarr.json") or loc.exists(".zgroup")):  # overwrite replaces a store, nothing else
            raise InputError(f"{root} is not empty and is not a cutout store; --overwrite replaces only a cutout "
                             "store, choose another --out.")
    h, w, c = (int(v) for v in image_shape)
    bands = list(bands) if bands is not None else [f"band{i}" for i in range(c)]
    if len(bands) != c:
        raise InputError(f"bands has {len(bands)} names but the images have {c} channels.")
    if len(object_id) != n or (label is not None and len(label) != n):
        raise InputError(f"object_id and label must have {n} entries, one per image.")
    g = _open_group(root, "w", storage_options)
    g.create_array(S.CUTOUT_IMAGES, shape=(n, h, w, c), chunks=(max(1, min(chunk, max(n, 1))), h, w, c),
                   dtype="float32", fill_value=np.nan)
    ids = _id_array_for_zarr(object_id)
    g.create_array(S.CUTOUT_OBJECT_ID, shape=(n,), dtype=ids.dtype if ids.dtype.kind in "iu" else str)
    if n:
        g[S.CUTOUT_OBJECT_ID][:] = ids
    if label is not None:
        g.create_array(S.CUTOUT_LABEL, shape=(n,), dtype=str)
        if n:
            g[S.CUTOUT_LABEL][:] = np.asarray(label).astype(str)
    g.attrs.update({S.CUTOUT_ATTR_BANDS: bands, S.CUTOUT_ATTR_PIXEL_SCALE: pixel_scale,
                    S.CUTOUT_ATTR_SCHEMA_VERSION: S.SCHEMA_VERSION})
    return CutoutStore(root, g, storage_options)


def write_cutouts(path: str | os.PathLike, images, object_id, label=None, *, bands: Sequence[str] | None = None,
                  pixel_scale: float | None = None, chunk: int = 256, overwrite: bool = False,
                  quarantine: list[dict] | None = None, storage_options: dict | None = None) -> CutoutStore:
    """Write images (N, H, W, C) (NumPy or Dask array) as a cutout store (local path or fsspec URL).

    No validation happens here (see :func:`ingest_npy`); ``quarantine`` records are written beside.
    """
    if images.ndim != 4:
        raise InputError(f"images must have shape (N, H, W, C), got {images.shape}.")
    n = images.shape[0]
    store = create_cutout_store(path, n, images.shape[1:], object_id, label, bands=bands,
                                pixel_scale=pixel_scale, chunk=chunk, overwrite=overwrite,
                                storage_options=storage_options)
    arr = images if isinstance(images, da.Array) else da.from_array(np.asarray(images), chunks=(store.chunk, -1, -1, -1))
    arr = arr.astype("float32").rechunk((store.chunk, *arr.shape[1:]))
    if n:
        da.store(arr, store.zarr_images, lock=False)
    write_quarantine(quarantine or [], store.path, storage_options)
    return store


def open_cutouts(path: str | os.PathLike, storage_options: dict | None = None) -> CutoutStore:
    """Open a cutout store (local path or fsspec URL); raise a clear error if it is missing or incomplete."""
    if storage.is_url(path):
        fs, p = storage.filesystem(str(path), storage_options)
        fs.invalidate_cache(p)
        root, exists = str(path), fs.exists(p)
    else:
        root = Path(path)
        exists = root.exists()
    if not exists:
        raise MissingInputError(f"cutout store {root} does not exist; create it with `lia-dask ingest cutouts`.")
    try:
        g = _open_group(root, "r", storage_options)
    except Exception as exc:  # zarr raises several types for a non-store
        raise ArchiveError(f"{root} is not a Zarr cutout store ({exc}).") from exc
    for name in (S.CUTOUT_IMAGES, S.CUTOUT_OBJECT_ID):
        if name not in g:
            raise ArchiveError(f"cutout store {root} has no '{name}' array.")
    if S.CUTOUT_ATTR_BANDS not in g.attrs:
        raise ArchiveError(f"cutout store {root} has no '{S.CUTOUT_ATTR_BANDS}' attribute.")
    return CutoutStore(root, g, storage_options)


# ------------------------------------------------------------------------ ingest
def _bad_image_mask(block: np.ndarray) -> np.ndarray:
    return ~np.isfinite(block).all(axis=(1, 2, 3))


def ingest_npy(npy: str | os.PathLike, out: str | os.PathLike, *, object_id=None, label=None,
               bands: Sequence[str] | None = None, pixel_scale: float | None = None, chunk: int = 256,
               overwrite: bool = False, client=None, storage_options: dict | None = None) -> CutoutStore:
    """Ingest a local ``.npy`` array (N, H, W, C) (memory-mapped) into a cutout store (path or URL).

    Images with NaN or infinite pixels are quarantined. ``object_id`` defaults to 0..N-1;
    ``label`` may be an array or the path of a ``.npy`` holding one.
    """
    check_chunk(chunk)
    p = Path(npy)
    if not p.exists():
        raise MissingInputError(f"cutout file {p} does not exist.")
    try:
        arr = np.load(p, mmap_mode="r")
    except ValueError as exc:
        raise InputError(f"{p} is not a NumPy .npy array ({exc}).") from exc
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise InputError(f"{p}: cutouts must have shape (N, H, W, C) or (N, H, W), got {arr.shape}.")
    n = arr.shape[0]
    ids = np.arange(n) if object_id is None else np.asarray(object_id)
    if isinstance(label, (str, os.PathLike)):
        label = np.load(label, allow_pickle=False)
    if len(ids) != n or (label is not None and len(label) != n):
        raise InputError(f"{p}: object_id and label must have {n} entries (one per cutout).")
    x = da.from_array(arr, chunks=(chunk, -1, -1, -1))
    bad = _compute_one(x.map_blocks(_bad_image_mask, drop_axis=[1, 2, 3], dtype=bool), client)
    quarantine = [{"object_id": str(ids[i]), "source": str(p), "reason": check_cutout(np.asarray(arr[i]), None)}
                  for i in np.flatnonzero(bad)]
    keep = np.flatnonzero(~bad)
    good = x[keep] if len(keep) < n else x
    return write_cutouts(out, good, ids[keep], None if label is None else np.asarray(label)[keep], bands=bands,
                         pixel_scale=pixel_scale, chunk=chunk, overwrite=overwrite, quarantine=quarantine,
                         storage_options=storage_options)


def _compute_one(x, client):
    if client is not None:
        return client.compute(x).result()
    return x.compute()


def read_fits_cutout(path: str | os.PathLike) -> np.ndarray:
    """Read one FITS cutout as (H, W, C) float32: 2-D data gives C = 1, 3-D data is (C, H, W)."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=False) as hdul:
            data = next((h.data for h in hdul if getattr(h, "data", None) is not None), None)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: unreadable FITS file ({exc}).") from exc
    if data is None:
        raise InputError(f"{path}: FITS file holds no image data.")
    data = np.asarray(data, dtype=np.float32)
    if data.ndim == 2:
        return data[..., None]
    if data.ndim == 3:
        return np.moveaxis(data, 0, -1)
    raise InputError(f"{path}: FITS image must be 2-D or 3-D, got shape {data.shape}.")


def _scan_fits(files: list[str]) -> list[tuple[tuple | None, str | None]]:
    out = []
    for f in files:
        try:
            img = read_fits_cutout(f)
        except InputError as exc:
            out.append((None, str(exc).split(": ", 1)[-1]))
            continue
        out.append((img.shape, check_cutout(img, None)))
    return out


def _write_fits_chunk(store_path: str, start: int, files: list[str], storage_options: dict | None = None) -> int:
    g = _open_group(store_path, "r+", storage_options)
    block = np.stack([read_fits_cutout(f) for f in files])
    g[S.CUTOUT_IMAGES][start:start + len(files)] = block
    return len(files)


def ingest_fits(directory: str | os.PathLike, out: str | os.PathLike, *, bands: Sequence[str] | None = None,
                pixel_scale: float | None = None, chunk: int = 256, overwrite: bool = False,
                client=None, storage_options: dict | None = None) -> CutoutStore:
    """Ingest a local directory of FITS cutouts (the store may be a URL) (one object per file, label = sub-directory) into a store.

    The image shape of the store is the most common one; files of another shape, unreadable
    files and images with NaN pixels are quarantined. Runs as two Dask passes: a scan, then
    one writing task per Zarr chunk.
    """
    check_chunk(chunk)
    root = Path(directory)
    if not root.is_dir():
        raise MissingInputError(f"FITS directory {root} does not exist.")
    files = sorted(str(p) for p in root.rglob("*") if p.suffix.lower() in (".fits", ".fit", ".fz") or p.name.endswith(".fits.gz"))
    if not files:
        raise InputError(f"FITS directory {root} holds no .fits files.")
    group = 256
    scans = [dask.delayed(_scan_fits)(files[i:i + group]) for i in range(0, len(files), group)]
    from ..cluster import compute_with_progress

    info = [r for part in compute_with_progress(scans, client) for r in part]
    shapes = pd.Series([str(s) for s, reason in info if s is not None and reason is None])
    if shapes.empty:
        raise InputError(f"FITS directory {root}: no readable cutout without NaN pixels.")
    target = next(s for s, r in info if r is None and str(s) == shapes.mode().iloc[0])
    keep, quarantine = [], []
    for f, (shape, reason) in zip(files, info):
        reason = reason or (None if shape == target else check_cutout(np.empty(shape), target))
        if reason:
            quarantine.append({"object_id": Path(f).name.split(".")[0], "source": f, "reason": reason})
        else:
            keep.append(f)
    rel = [Path(f).relative_to(root).parts for f in keep]
    labels = [r[0] for r in rel] if any(len(r) > 1 for r in rel) else None
    ids = np.array([Path(f).name.split(".")[0] for f in keep])
    store = create_cutout_store(out, len(keep), target, ids, labels, bands=bands, pixel_scale=pixel_scale,
                                chunk=chunk, overwrite=overwrite, storage_options=storage_options)
    c = store.chunk
    writes = [dask.delayed(_write_fits_chunk)(str(store.path), i, keep[i:i + c], storage_options)
              for i in range(0, len(keep), c)]
    written = sum(compute_with_progress(writes, client))
    write_quarantine(quarantine, store.path, storage_options)
    if written + len(quarantine) != len(files):
        raise AssertionError(f"FITS ingest counts do not reconcile: {len(files)} read != {written} + {len(quarantine)}")
    return open_cutouts(store.path, storage_options)
