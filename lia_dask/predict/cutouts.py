"""Partitioned CNN inference over a Zarr cutout store, resumable.

:func:`predict_cutouts` makes one Dask task per Zarr chunk of ``images``. Each task loads the
model through a per-worker cache keyed by the artifact digest (so a worker loads it once, however
many chunks it runs), predicts the chunk and writes ``part.{i:05d}.parquet`` with columns
``object_id``, ``prediction``, ``prob`` (P(positive)), ``prob_<CLASS>`` per class and
``model_digest`` — under a temporary name, then renamed. Cutouts without a single finite pixel
are not predicted but recorded in ``quarantine.{i:05d}.parquet`` (written before the part).
A rerun skips chunks whose part exists (and refuses parts from another model). At the end the
quarantine is gathered into ``_quarantine.parquet`` and ``_predictions.json`` records the counts;
input = predicted + quarantined is checked.
"""
from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

import pyarrow.parquet as pq

from .. import schema as S
from ..archive.storage import write_local_table
from ..errors import ArtifactError, InputError

SUMMARY = "_predictions.json"
_LOCK = threading.Lock()
_META_DIGEST = b"lia_dask.model_digest"


def _holder():
    """The current Dask worker (per-worker cache), or this module outside a distributed worker."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return sys.modules[__name__]


def cached_model(artifact: str, digest: str):
    """The :class:`CNNClassifier` of ``artifact``, loaded at most once per worker (or process).

    The cache lives on the Dask worker object (``_lia_dask_cnn_models``, keyed by digest) and
    ``_lia_dask_cnn_loads`` counts the loads there.
    """
    from ..cnn.train import CNNClassifier

    h = _holder()
    with _LOCK:
        cache = getattr(h, "_lia_dask_cnn_models", None)
        if cache is None:
            cache = {}
            setattr(h, "_lia_dask_cnn_models", cache)
        if digest not in cache:
            clf = CNNClassifier.load(artifact)
            if clf.digest_ != digest:
                raise ArtifactError(f"model artifact {artifact} changed while predicting (digest "
                                    f"{clf.digest_[:12]} != {digest[:12]}); rerun with the new artifact.")
            cache.clear()
            cache[digest] = clf
            setattr(h, "_lia_dask_cnn_loads", getattr(h, "_lia_dask_cnn_loads", 0) + 1)
        return cache[digest]


def worker_load_counts(client) -> dict:
    """Model loads per worker address (for checking the load-once rule)."""
    return client.run(lambda dask_worker: getattr(dask_worker, "_lia_dask_cnn_loads", 0))


def _atomic_write(table: pa.Table, path: Path) -> None:
    write_local_table(table, path)


def _part(out: Path, i: int) -> Path:
    return out / f"part.{i:05d}.parquet"


def _qpart(out: Path, i: int) -> Path:
    return out / f"quarantine.{i:05d}.parquet"


def _part_digest(path: Path) -> str | None:
    meta = pq.read_schema(path).metadata or {}
    v = meta.get(_META_DIGEST)
    return v.decode() if v else None


def predict_chunk(store_path: str, artifact: str, digest: str, index: int, start: int, stop: int,
                  out: str, batch_size: int = 256, threshold: float = 0.5) -> dict:
    """Predict images ``start:stop`` (chunk ``index``) of a store into ``out``; skip if done.

    Returns ``{"index", "n_input", "n_predicted", "n_quarantined", "skipped"}``.
    """
    import zarr

    from ..cnn.train import predict_block

    outp = Path(out)
    target, qtarget = _part(outp, index), _qpart(outp, index)
    n_in = stop - start
    if target.exists():
        nq = pq.read_metadata(qtarget).num_rows if qtarget.exists() else 0
        return {"index": index, "n_input": n_in, "n_predicted": pq.read_metadata(target).num_rows,
                "n_quarantined": nq, "skipped": True}
    g = zarr.open_group(store_path, mode="r")
    block = np.asarray(g[S.CUTOUT_IMAGES][start:stop], dtype=np.float32)
    ids = np.asarray(g[S.CUTOUT_OBJECT_ID][start:stop])
    bad = ~np.isfinite(block).any(axis=(1, 2, 3))
    clf = cached_model(artifact, digest)
    p = predict_block(clf.model_, block[~bad], clf.norm_, clf.input_shape_[0], batch_size)
    neg, pos = clf.classes_
    if bad.any():
        q = pd.DataFrame({"object_id": ids[bad].astype(str), "source": f"{store_path}[{start}:{stop}]",
                          "reason": "cutout has no finite pixel (all NaN/inf)"})
        _atomic_write(pa.Table.from_pandas(q, schema=S.QUARANTINE_SCHEMA, preserve_index=False), qtarget)
    df = pd.DataFrame({S.OBJECT_ID: ids[~bad], S.PREDICTION: np.where(p >= threshold, pos, neg),
                       "prob": p, f"{S.PROB_PREFIX}{neg}": 1.0 - p, f"{S.PROB_PREFIX}{pos}": p,
                       S.MODEL_DIGEST: digest})
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META_DIGEST: digest.encode()})
    _atomic_write(table, target)
    return {"index": index, "n_input": n_in, "n_predicted": int((~bad).sum()), "n_quarantined": int(bad.sum()),
            "skipped": False}


def predict_cutouts(store, model, out: str | os.PathLike, client=None, *, batch_size: int = 256,
                    threshold: float = 0.5, show_progress: bool | None = None) -> dict:
    """Classify every cutout of a store with a CNN artifact, one Dask task per Zarr chunk.

    Parameters
    ----------
    store : CutoutStore or path
    model : path
        CNN artifact directory (or zip) written by :meth:`CNNClassifier.save`.
    out : path
        Output directory (created); rerunning into it resumes.
    client : distributed.Client, optional
        ``None`` uses Dask's default scheduler (an active Client if there is one).
    batch_size : int
        Images per forward pass.
    threshold : float
        P(positive) at which ``prediction`` names the positive class.

    Returns
    -------
    dict
        The summary written to ``_predictions.json``: ``n_input``, ``n_predicted``,
        ``n_quarantined``, ``n_parts``, ``n_skipped``, ``model_digest``.
    """
    import dask

    from ..archive import CutoutStore, open_cutouts, write_quarantine
    from ..artifact import read_manifest
    from ..cluster import compute_with_progress

    st = store if isinstance(store, CutoutStore) else open_cutouts(store)
    manifest = read_manifest(model, expected_kind="cnn")
    digest = manifest["digest"]
    settings = manifest.get("settings") or {}
    shape = tuple(settings.get("input_shape") or ())
    if len(shape) != 3 or st.image_shape[2] != shape[2] or min(st.image_shape[:2]) < shape[0]:
        raise InputError(f"cutout store {st.path} holds images {st.image_shape} but model {model} needs "
                         f"{shape} (same bands, cutouts at least image_size).")
    outp = Path(out)
    outp.mkdir(parents=True, exist_ok=True)
    for p in sorted(outp.glob("part.*.parquet")):
        if _part_digest(p) != digest:
            raise InputError(f"{p} holds predictions of another model; choose another out directory "
                             "or delete it to predict with this model.")
    n, c = st.n_images, st.chunk
    art = str(manifest["path"]) if not str(model).endswith(".zip") else str(model)
    tasks = [dask.delayed(predict_chunk, pure=False)(str(st.path), art, digest, i, s, min(n, s + c), str(outp),
                                                     batch_size, threshold)
             for i, s in enumerate(range(0, n, c))]
    results = compute_with_progress(tasks, client, show=show_progress)
    qparts = [pd.read_parquet(_qpart(outp, r["index"])) for r in results if r["n_quarantined"]]
    write_quarantine(pd.concat(qparts) if qparts else pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names), outp)
    summary = {
        "n_input": int(n), "n_predicted": int(sum(r["n_predicted"] for r in results)),
        "n_quarantined": int(sum(r["n_quarantined"] for r in results)), "n_parts": len(results),
        "n_skipped": int(sum(r["skipped"] for r in results)), "model_digest": digest, "store": str(st.path),
    }
    if summary["n_predicted"] + summary["n_quarantined"] != n:
        raise AssertionError(f"prediction counts do not reconcile: {n} input != {summary['n_predicted']} "
                             f"predicted + {summary['n_quarantined']} quarantined")
    tmp = outp / f".{SUMMARY}.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, outp / SUMMARY)
    return summary


def read_predictions(out: str | os.PathLike) -> pd.DataFrame:
    """All parts of a prediction directory as one DataFrame (in chunk order)."""
    parts = sorted(Path(out).glob("part.*.parquet"))
    if not parts:
        raise InputError(f"{out} holds no prediction parts; run predict_cutouts first.")
    return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
