"""Partitioned CNN inference over a Zarr cutout store, resumable: the engine and writer of lightcurves.

:func:`predict_cutouts` makes one task per Zarr chunk of ``images``. The CNN travels once per
worker as its artifact's bytes (:class:`lia_dask.predict.engine.BroadcastModel` with a payload,
built into a Keras model at most once per process and digest). Each task predicts its chunk and
writes, through :mod:`lia_dask.predict.writer`, ``part.{i:05d}.parquet`` with ``object_id``,
``prediction``, ``prob`` (P(positive)), ``prob_<CLASS>`` per class and ``model_digest``, and
``_quarantine.{i:05d}.pqt`` for cutouts without a single finite pixel; both record the store
identity, the chunk (``images[start:stop]`` and the digest of its object ids) and the model.
The result is a :class:`~lia_dask.predict.engine.PredictReport`; ``_summary.json`` the summary.
"""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pandas as pd

from .. import schema as S
from ..archive import storage
from ..errors import InputError
from .engine import BroadcastModel, PredictReport, finish, loaded_models, received_counts, run_parts
from .writer import QUARANTINE_PATTERN, OutputJob, done_counts, prepare_output, read_outputs, write_part


def _load_cnn(path: str):
    from ..cnn.train import CNNClassifier

    return CNNClassifier.load(path)


def worker_load_counts(client) -> dict:
    """Per worker address: how many CNN models that process built (at most one per digest)."""
    return {w: len(v) for w, v in client.run(loaded_models).items()}


def store_identity(st) -> tuple[str, np.ndarray]:
    """``(identity, object ids)`` of a cutout store: SHA-256 over its shape, chunking, bands, pixel
    scale and object ids (pixels are not read)."""
    from ..artifact import array_digest

    ids = np.asarray(st.group[S.CUTOUT_OBJECT_ID][:])
    head = repr((tuple(st.zarr_images.shape), st.chunk, st.bands, st.pixel_scale)).encode()
    return hashlib.sha256(head + array_digest(ids).encode()).hexdigest(), ids


def _chunk_bytes(st, i: int) -> int:
    """Stored (compressed) size of chunk ``i`` of ``images`` (Zarr v3 key ``images/c/i/0/0/0``); -1 if none."""
    loc = storage.Location(str(st.path), st.storage_options)
    name = f"{S.CUTOUT_IMAGES}/c/{i}/0/0/0"
    try:
        return int(loc.fs.size(storage.fs_path(loc.fs, loc.join(name))) if loc.remote else os.path.getsize(loc.join(name)))
    except (OSError, TypeError):
        return -1


def chunk_job(st, digest: str) -> tuple[OutputJob, dict[int, tuple[int, int]]]:
    """The job's provenance: per chunk ``images[start:stop]`` and a digest of its object ids and the
    chunk's stored byte size (rewritten pixels almost always change the compressed size)."""
    from ..artifact import array_digest

    ident, ids = store_identity(st)
    n, c = st.n_images, st.chunk
    ranges = {i: (a, min(n, a + c)) for i, a in enumerate(range(0, n, c))}
    parts = {i: (f"images[{a}:{b}]", f"{_chunk_bytes(st, i)}:{array_digest(ids[a:b])}") for i, (a, b) in ranges.items()}
    return OutputJob(str(st.path), ident, digest, parts), ranges


def predict_chunk(index: int, model: BroadcastModel, loc: storage.Location, job: OutputJob, store_path: str,
                  ranges: dict, batch_size: int = 256, threshold: float = 0.5,
                  storage_options: dict | None = None, channels: list[int] | None = None) -> dict:
    """Predict chunk ``index`` (images ``ranges[index]``) of a store into ``loc``.

    ``channels``: the store channels the model reads, in its band order (None: all, as stored;
    :func:`lia_dask.cnn.data.store_band_index`, decided once for the store by :func:`predict_cutouts`).
    """
    from ..archive import open_cutouts
    from ..cnn.train import predict_block

    start, stop = ranges[index]
    g = open_cutouts(store_path, storage_options).group
    clf = model.classifier
    block = np.asarray(g[S.CUTOUT_IMAGES][start:stop], dtype=np.float32)
    if channels is not None:
        block = block[..., channels]
    ids = np.asarray(g[S.CUTOUT_OBJECT_ID][start:stop])
    bad = ~np.isfinite(block).any(axis=(1, 2, 3))
    p = predict_block(clf.model_, block[~bad], clf.norm_, clf.input_shape_[0], batch_size,
                      clf.config.average_orientations)
    neg, pos = clf.classes_
    q = pd.DataFrame({"object_id": ids[bad].astype(str), "source": f"{store_path}[{start}:{stop}]",
                      "reason": "cutout has no finite pixel (all NaN/inf)"}, columns=S.QUARANTINE_SCHEMA.names)
    df = pd.DataFrame({S.OBJECT_ID: ids[~bad], S.PREDICTION: np.where(p >= threshold, pos, neg),
                       "prob": p, f"{S.PROB_PREFIX}{neg}": 1.0 - p, f"{S.PROB_PREFIX}{pos}": p,
                       S.MODEL_DIGEST: model.digest})
    return write_part(loc, job, index, df, q)


def predict_cutouts(store, model, out: str | os.PathLike, client=None, *, batch_size: int = 256,
                    threshold: float = 0.5, show_progress: bool | None = None, resume: bool = True,
                    require_signature: bool = False, storage_options: dict | None = None) -> PredictReport:
    """Classify every cutout of a store with a CNN artifact, one Dask task per Zarr chunk.

    Parameters
    ----------
    store : CutoutStore or path
    model : path
        CNN artifact directory (or zip) written by :meth:`CNNClassifier.save`.
    out : path or URL
        Output directory (created); rerunning into it resumes (:mod:`lia_dask.predict.writer`).
    client : distributed.Client, optional
        ``None`` uses Dask's default scheduler in this process.
    batch_size : int
        Images per forward pass.
    threshold : float
        P(positive) at which ``prediction`` names the positive class.
    resume : bool
        Skip chunks already predicted by this model for this store; False replaces them.
    require_signature : bool
        Refuse an artifact without a valid HMAC signature.

    Returns
    -------
    PredictReport
        ``n_input == predicted + quarantined``; also written to ``_summary.json``.
    """
    from ..archive import CutoutStore, open_cutouts
    from ..artifact import read_manifest, verify_signature
    from ..cnn.data import store_band_index

    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise InputError(f"batch_size must be a positive integer, got {batch_size!r}.")
    if not 0.0 <= float(threshold) <= 1.0:
        raise InputError(f"threshold must lie in [0, 1], got {threshold!r}.")
    st = store if isinstance(store, CutoutStore) else open_cutouts(store, storage_options)
    local_model = storage.fetch(model) if storage.is_url(model) else model
    if require_signature:
        verify_signature(local_model, required=True)
    manifest = read_manifest(local_model, expected_kind="cnn")
    digest = manifest["digest"]
    settings = manifest.get("settings") or {}
    shape = tuple(settings.get("input_shape") or ())
    norm = settings.get("normalization") or {}
    n_bands = len(norm.get("min_pixel") or shape[2:]) - len(norm.get("residual_pairs") or [])
    channels = store_band_index(st, settings.get("bands"))
    n_read = st.image_shape[2] if channels is None else len(channels)
    if len(shape) != 3 or n_read != n_bands or min(st.image_shape[:2]) < shape[0]:
        raise InputError(f"cutout store {st.path} holds images {st.image_shape} but model {model} needs "
                         f"{n_bands} bands {settings.get('bands')} and cutouts of at least {shape[:2]}.")
    job, ranges = chunk_job(st, digest)
    loc, done = prepare_output(out, job, resume, storage_options)
    m = BroadcastModel.from_artifact(local_model, digest, _load_cnn)
    t0 = time.perf_counter()
    todo = [i for i in sorted(ranges) if i not in done]
    stats = [done_counts(loc, i) for i in sorted(done)]
    stats += run_parts(predict_chunk, todo, m, (loc, job, str(st.path), ranges, int(batch_size), float(threshold),
                                               storage_options, channels), client, show_progress, "lia-predict-cutouts")
    return finish(loc, str(st.path), job.input_identity, "cutouts", st.n_images, stats, time.perf_counter() - t0,
                  digest)


def read_predictions(out: str | os.PathLike, storage_options: dict | None = None) -> pd.DataFrame:
    """All parts of a prediction directory as one DataFrame (in chunk order)."""
    return read_outputs(out, storage_options=storage_options)


def read_quarantine(out: str | os.PathLike, storage_options: dict | None = None) -> pd.DataFrame:
    """The cutouts kept out (object_id, source, reason)."""
    return read_outputs(out, QUARANTINE_PATTERN, S.QUARANTINE_SCHEMA.names, storage_options)


__all__ = ["predict_cutouts", "predict_chunk", "read_predictions", "read_quarantine", "received_counts",
           "store_identity", "worker_load_counts"]
