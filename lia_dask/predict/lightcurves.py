"""Classify a whole lightcurve archive, partition by partition, resumably.

Per partition: features (the artifact's feature set and settings) -> impute -> selected features ->
``predict_proba``; optionally a PSPL fit of the objects predicted ``ML``. Output (``docs/design.md``):
one Parquet file per input partition, ``part.NNNNN.parquet`` with ``object_id``, ``band``,
``prediction``, ``prob_<CLASS>``, ``model_digest`` (and ``fit_*``, ``passes_fit`` with the fit
filter), plus ``_quarantine.NNNNN.pqt`` (Parquet) for the objects whose features cannot be computed;
NNNNN is the number of the input part. Files, provenance, resume and deletion rules are those of
:mod:`lia_dask.predict.writer`; the engine (model broadcast, tasks, report) is :mod:`.engine`.

The model artifact is loaded once on the client and sent to every worker once (a worker plugin,
:func:`lia_dask.predict.engine.install_model`); tasks receive only its digest.
"""
from __future__ import annotations

import os
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..archive import Archive, open_archive, storage
from ..batch import LightcurveBatch
from ..errors import InputError, PartitionError
from .engine import (BroadcastModel, InstalledModel, PredictReport, finish, install_model, received_counts,
                     resolve_model, run_parts)
from .fitfilter import FIT_COLUMNS, FitFilterConfig, fit_batch, passes
from .writer import (QUARANTINE_PATTERN, SUMMARY_FILE, OutputJob, done_counts, prepare_output, read_outputs,
                     write_part)

ML_CLASS = "ML"
__all__ = ["ML_CLASS", "SUMMARY_FILE", "BroadcastModel", "PredictConfig", "PredictReport", "load_model",
           "predict_archive", "predict_batch", "read_predictions", "read_quarantine", "received_counts"]


@dataclass(frozen=True)
class PredictConfig:
    """Settings of a prediction job.

    Attributes
    ----------
    resume : bool
        Skip partitions whose prediction file exists and records this input part (name and
        digest), this archive and this model; any other file refuses the job (``writer``).
    fit_filter : bool
        Run the physical model stage (PSPL against constant, trend, FRED, periodic) on the objects
        predicted ``ML`` and add ``fit_*`` / ``passes_fit`` (the candidate flag).
    fit : FitFilterConfig
        Thresholds of the candidate flag.
    show_progress : bool or None
        Progress display; None: ``lia_dask.progress`` in the Dask config, else when stderr is a
        terminal or in a notebook (a widget).
    slice_rows : int
        A partition is classified in slices of this many lightcurves, so the memory of the
        feature pass is bounded by the slice, not by the partition.
    min_piece_rows : int
        On a cluster with fewer than 4 partitions to do per worker thread, partitions are split
        into row ranges of at least this many lightcurves (classified as separate tasks, written
        as one file per partition), so no thread idles while the last partitions run alone.
    require_signature : bool
        Refuse an artifact without a valid HMAC signature (key: ``LIA_DASK_ARTIFACT_KEY`` or the
        Dask config ``lia_dask.artifact_key``; see :func:`lia_dask.artifact.verify_signature`).
    """

    resume: bool = True
    fit_filter: bool = False
    fit: FitFilterConfig = field(default_factory=FitFilterConfig)
    show_progress: bool | None = None
    slice_rows: int = 5000
    min_piece_rows: int = 500
    require_signature: bool = False


# ------------------------------------------------------------------------ the model on workers
def load_model(model: str | os.PathLike | Any, require_signature: bool = False) -> BroadcastModel:
    """Load an ensemble artifact (directory or .zip) once; an already loaded classifier is wrapped."""
    if isinstance(model, (BroadcastModel, InstalledModel)):
        return resolve_model(model)
    if hasattr(model, "predict_proba"):
        if require_signature:
            raise InputError("a signature is required but the model was given in memory; pass the artifact path.")
        return BroadcastModel(model, getattr(model, "digest_", "in-memory"))
    from ..artifact import load, verify_signature

    path = storage.fetch(model) if storage.is_url(model) else model  # s3://... -> local copy
    if require_signature:
        verify_signature(path, required=True)
    clf = load(path)
    if not hasattr(clf, "feature_settings_"):
        raise InputError(f"model {model} is not a lightcurve ensemble artifact (kind 'ensemble').")
    return BroadcastModel(clf, clf.digest_)


def artifact_payload(path: str | os.PathLike, require_signature: bool = False) -> tuple[BroadcastModel, dict]:
    """An ensemble artifact as the bytes that travel to the workers, and its recorded feature settings.

    The client reads and verifies only the manifest (kind, digests, signature): no model library is
    imported here. Each worker builds the classifier from the bytes once per process
    (:attr:`BroadcastModel.classifier`, checked against the digest), as :func:`load_model` would.
    """
    from ..artifact import load, read_manifest, verify_signature

    if require_signature:
        verify_signature(path, required=True)
    manifest = read_manifest(path)
    if manifest.get("kind") != "ensemble":
        raise InputError(f"model {path} is not a lightcurve ensemble artifact (kind 'ensemble').")
    return BroadcastModel.from_artifact(path, manifest["digest"], loader=load), dict(manifest.get("feature_settings") or {})


_THREADS_LOCK = threading.Lock()
_CONFIGURED: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # booster -> nthread set in this process


def _match_threads(clf: Any) -> None:
    """Give XGBoost as many threads as the worker running this task has (1 outside a worker).

    Tasks of one process share the booster: the parameter is set once per value, under a lock,
    and the booster is reconfigured at once (``save_config``), so a concurrent ``predict`` in
    another thread never meets a booster that still needs configuring.
    """
    booster = getattr(getattr(clf, "predictor_", None), "booster", None)
    if booster is None:
        return
    try:
        from distributed import get_worker

        n = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        n = 1
    with _THREADS_LOCK:
        if _CONFIGURED.get(booster) != int(n):
            booster.set_param({"nthread": int(n)})
            booster.save_config()  # configures the learner now, inside the lock
            _CONFIGURED[booster] = int(n)


# ------------------------------------------------------------------------ one partition
def predict_batch(batch: LightcurveBatch, model: BroadcastModel | Any, config: PredictConfig | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Classify one batch (the single-partition path, no Dask).

    Returns
    -------
    predictions : pandas.DataFrame
        One row per object with computable features (columns in the module docstring).
    quarantine : pandas.DataFrame
        ``object_id``, ``source``, ``reason`` for the others. ``len(predictions) + len(quarantine)
        == len(batch)``.
    """
    from ..features.extract import extract_batch_with_reasons
    from ..features.multiband import is_multiband
    from ..features.preprocess import REASONS
    from ..features.registry import model_feature_settings

    cfg = config or PredictConfig()
    m = load_model(model)
    clf = m.classifier
    if is_multiband(clf.feature_settings_):  # one row per object from all bands
        from .multiband import predict_multiband_batch

        return predict_multiband_batch(batch, clf, m.digest)
    # exactly the features the model learned, and only those it uses
    settings = model_feature_settings(clf.feature_settings_, getattr(clf, "selected_features_", None),
                                      batch.photometry, f"model {m.digest[:12]}")
    values, names, reason = extract_batch_with_reasons(batch, settings)
    ok = reason == 0
    rows = np.flatnonzero(ok)
    proba = clf.predict_proba(pd.DataFrame(values[rows], columns=names))
    classes = [str(c) for c in clf.classes_]
    cols: dict[str, Any] = {
        S.OBJECT_ID: batch.object_id[rows],
        S.BAND: batch.band[rows].astype(str),
        S.PREDICTION: np.asarray(classes, dtype=object)[np.argmax(proba, axis=1)] if len(rows) else np.array([], dtype=object),
    }
    alert = None
    if getattr(clf, "alerts_", None) is not None:  # calibrated model: its operating decision and alert flag
        labels, alert = clf.decide(proba)
        cols[S.PREDICTION] = np.asarray(labels, dtype=str).astype(object)
    for k, c in enumerate(classes):
        cols[f"{S.PROB_PREFIX}{c}"] = proba[:, k]
    if alert is not None:
        cols["alert"] = np.asarray(alert, dtype=bool)
    pred = pd.DataFrame(cols)
    if S.LABEL is not None and batch.label is not None:
        pred[S.LABEL] = pd.array([None if v is None else str(v) for v in batch.label[rows]], dtype=object)
    if cfg.fit_filter:
        pred = _add_fit(pred, batch, rows, cfg.fit)
    pred[S.MODEL_DIGEST] = m.digest
    bad = np.flatnonzero(~ok)
    quarantine = pd.DataFrame({
        "object_id": batch.object_id[bad].astype(str),
        "source": [f"band={b}" for b in batch.band[bad]],
        "reason": [f"features not computable: {REASONS.get(int(r), r)}" for r in reason[bad]],
    }, columns=S.QUARANTINE_SCHEMA.names)
    return pred, quarantine


def _add_fit(pred: pd.DataFrame, batch: LightcurveBatch, rows: np.ndarray, fcfg: FitFilterConfig) -> pd.DataFrame:
    vetted = np.isin(pred[S.PREDICTION].to_numpy().astype(str), list(fcfg.classes))
    ml = np.flatnonzero(vetted)
    params = np.full((len(pred), len(FIT_COLUMNS) - 1), np.nan)
    if len(ml):
        zp = batch.zeropoint if fcfg.zeropoint is None else fcfg.zeropoint
        params[ml] = fit_batch(batch.offsets, batch.time, batch.y, batch.yerr, rows[ml].astype(np.int64),
                               zp=float(zp), convert=batch.photometry == "mag")
    for k, name in enumerate(FIT_COLUMNS[:-1]):
        pred[name] = params[:, k]
    pred["passes_fit"] = passes(params, fcfg) & vetted
    return pred


# ------------------------------------------------------------------------ files and the job
def output_index(part_path: str) -> int:
    """The number in an input part's name (``part.00042.parquet`` -> 42): its output part's number."""
    name = str(part_path).rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]
    try:
        return int(name.split(".")[1])
    except (IndexError, ValueError):
        raise InputError(f"archive part {part_path} is not named part.NNNNN.parquet; re-ingest the archive.") from None


def output_job(arch: Archive, digest: str) -> tuple[OutputJob, dict[int, int]]:
    """The job's provenance (input identity, per output part its input part) and output -> input index."""
    where = {output_index(p): k for k, p in enumerate(arch.partitions)}
    parts = {i: (arch.partitions[k].rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1], arch.part_digest(k))
             for i, k in where.items()}
    return OutputJob(str(arch.path), arch.identity, digest, parts), where


def _predict_piece(index: int, model: BroadcastModel, job: OutputJob, archive: Archive, k: int, cfg: PredictConfig,
                   lo: int | None = None, hi: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(predictions, quarantine, n objects) of rows ``lo:hi`` of input part ``k`` (all rows: None)."""
    from ..archive.manifest import footer_digest
    from ..errors import ArchiveError

    try:
        size, sha = footer_digest(archive.partitions[k], archive.fs)
        if f"{size}:{sha}" != job.parts[index][1]:
            raise ArchiveError(f"archive part {archive.partitions[k]} changed while predicting (its footer digest "
                               "differs from the one the job started with); rerun predict when the archive is stable.")
        _match_threads(model.classifier)
        batch = archive.read_batch(k)
        if lo is not None:
            batch = batch.take(np.arange(lo, min(hi, len(batch))))
        from .multiband import object_count, object_slices

        slices = object_slices(batch, max(1, int(cfg.slice_rows)))  # an object's bands stay together
        parts = [predict_batch(batch.take(np.arange(a, b)) if len(slices) > 1 else batch, model, cfg)
                 for a, b in slices]
        pred = pd.concat([p for p, _ in parts], ignore_index=True)
        quarantine = pd.concat([q for _, q in parts], ignore_index=True)
        from ..features.multiband import is_multiband

        n_in = object_count(batch) if is_multiband(model.classifier.feature_settings_) else len(batch)
    except Exception as exc:
        raise PartitionError(k, archive.partitions[k], exc) from exc
    return pred, quarantine, n_in


def _write_pieces(index: int, loc: storage.Location, job: OutputJob, *pieces: tuple[pd.DataFrame, pd.DataFrame, int]
                  ) -> dict:
    """Write output part ``index`` from its pieces (in row order) with the writer's provenance."""
    pred = pd.concat([p for p, _, _ in pieces], ignore_index=True)
    quarantine = pd.concat([q for _, q, _ in pieces], ignore_index=True)
    n = sum(k for _, _, k in pieces)
    if len(pred) + len(quarantine) != n:
        raise AssertionError(f"partition {index}: {n} objects != {len(pred)} predicted + {len(quarantine)} quarantined")
    stats = write_part(loc, job, index, pred, quarantine)
    stats["n_ml"] = int(np.sum(pred[S.PREDICTION].to_numpy() == ML_CLASS))
    return stats


def _run_partition(index: int, model: BroadcastModel, loc: storage.Location, job: OutputJob, archive: Archive,
                   where: dict, cfg: PredictConfig) -> dict:
    return _write_pieces(index, loc, job, _predict_piece(index, model, job, archive, where[index], cfg))


#: tasks per worker thread below which partitions are split into row ranges (load balance, cold start)
TASKS_PER_THREAD = 4


def _pieces(rows: int, n_todo: int, threads: int, min_rows: int) -> list[tuple[int, int]]:
    """Row ranges of one partition: split when there are fewer than TASKS_PER_THREAD tasks per thread."""
    k = 1 if n_todo >= TASKS_PER_THREAD * threads else -(-TASKS_PER_THREAD * threads // max(n_todo, 1))
    k = max(1, min(k, rows // max(1, int(min_rows))))
    bounds = np.linspace(0, rows, k + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


def _run_split(todo: list[int], m: BroadcastModel, loc: storage.Location, job: OutputJob, arch: Archive,
               where: dict, cfg: PredictConfig, client, show) -> list[dict]:
    """Partitions as row-range tasks whose results one task per partition writes (few partitions, many threads)."""
    from ..archive.lightcurves import _footer
    from ..cluster import show_progress

    mf, remove = install_model(client, m)
    try:
        threads = max(1, sum(client.nthreads().values()))
        tag = uuid.uuid4().hex[:8]
        futures = []
        for i in todo:
            k = where[i]
            pieces = _pieces(_footer(arch.partitions[k], arch.fs).num_rows, len(todo), threads, cfg.min_piece_rows)
            subs = [client.submit(_predict_piece, i, mf, job, arch, k, cfg, lo, hi, key=f"lia-predict-{i}.{n}-{tag}")
                    for n, (lo, hi) in enumerate(pieces)]
            futures.append(client.submit(_write_pieces, i, loc, job, *subs, key=f"lia-write-{i}-{tag}"))
        show_progress(futures, show)
        return client.gather(futures)
    finally:
        remove()


def predict_archive(archive: Archive | str | os.PathLike, model: Any, out: str | os.PathLike, client=None,
                    config: PredictConfig | None = None, *, resume: bool | None = None,
                    storage_options: dict | None = None) -> PredictReport:
    """Classify every lightcurve of an archive.

    Parameters
    ----------
    archive : Archive or path
        Opened (verified against its manifest) if a path.
    model : path of an ensemble artifact, a loaded classifier, or a :class:`BroadcastModel`
    out : path or URL
        Output directory (created; see :mod:`lia_dask.predict.writer` for what it may hold).
    client : distributed.Client or concurrent.futures.Future of one, optional
        Run on this cluster (the model is installed on every worker once); None: the current
        client if there is one, else in this process with Dask's default scheduler. A Future (a
        cluster still starting, :func:`lia_dask.cluster.start_client`) is waited for only once the
        model is read and the output checked. With a client, an artifact path travels to the
        workers as its bytes (:func:`artifact_payload`).
    config : PredictConfig, optional
    resume : bool, optional
        Shortcut for ``config.resume``.

    Raises
    ------
    InputError
        ``out`` holds files of another model, input or input part, or files lia_dask did not
        write, or is the input; the model's feature settings do not fit the archive's photometry
        (all checked before anything is written).
    """
    from dataclasses import replace

    cfg = config or PredictConfig()
    if resume is not None:
        cfg = replace(cfg, resume=resume)
    if int(cfg.slice_rows) < 1:
        raise InputError(f"slice_rows must be a positive integer, got {cfg.slice_rows!r}.")
    arch = archive if isinstance(archive, Archive) else open_archive(archive, storage_options)
    if client is not None and isinstance(model, (str, os.PathLike)) and not storage.is_url(model):
        m, recorded = artifact_payload(model, require_signature=cfg.require_signature)  # built on the workers
    else:
        m = load_model(model, require_signature=cfg.require_signature)
        recorded = getattr(m.classifier, "feature_settings_", None)
    from ..features.multiband import is_multiband

    per_object = is_multiband(recorded)
    if recorded is not None and not per_object:  # refuse a photometry mismatch before any work
        from ..features.registry import model_feature_settings

        model_feature_settings(recorded, None, arch.photometry, f"model {m.digest[:12]}")
    job, where = output_job(arch, m.digest)
    loc, done = prepare_output(out, job, cfg.resume, storage_options)
    todo = [i for i in sorted(where) if i not in done]
    from ..cluster import active_client

    client = active_client(client) if todo else None  # a client still starting is waited for here
    t0 = time.perf_counter()  # the report's rate: the classification, not the cluster's start
    stats = [done_counts(loc, i) for i in sorted(done)]
    if (client is not None and not per_object
            and len(todo) < TASKS_PER_THREAD * max(1, sum(client.nthreads().values()))):
        stats += _run_split(todo, m, loc, job, arch, where, cfg, client, cfg.show_progress)
    else:
        stats += run_parts(_run_partition, todo, m, (loc, job, arch, where, cfg), client, cfg.show_progress)
    from ..archive.lightcurves import _footer

    if per_object:  # multi-band: the unit is the object, counted by each task (and by a resumed part's files)
        n_input = sum(st["predicted"] + st["quarantined"] for st in stats)
    else:
        n_input = sum(_footer(p, arch.fs).num_rows for p in arch.partitions)
    return finish(loc, str(arch.path), arch.identity, "lightcurves", n_input, stats, time.perf_counter() - t0, m.digest,
                  input_complete=arch.complete)


def pending_partitions(archive: Archive | str | os.PathLike, model: Any, out: str | os.PathLike,
                       storage_options: dict | None = None) -> list[int]:
    """Output parts a resumed job would still classify (all of them without outputs).

    Reads only footers and manifests (no model is loaded); refuses ``out`` as :func:`predict_archive` would.
    """
    from .. import artifact

    arch = archive if isinstance(archive, Archive) else open_archive(archive, storage_options)
    digest = model.digest if isinstance(model, BroadcastModel) else (
        getattr(model, "digest_", None) or artifact.digest(storage.fetch(model) if storage.is_url(model) else model))
    job, where = output_job(arch, digest)
    if not storage.Location(out, storage_options).exists(""):
        return sorted(where)
    _, done = prepare_output(out, job, True, storage_options)
    return [i for i in sorted(where) if i not in done]


def read_predictions(out: str | os.PathLike, storage_options: dict | None = None) -> pd.DataFrame:
    """All prediction files of an output directory as one pandas DataFrame."""
    return read_outputs(out, storage_options=storage_options)


def read_quarantine(out: str | os.PathLike, storage_options: dict | None = None) -> pd.DataFrame:
    """All quarantine files of an output directory (object_id, source, reason)."""
    return read_outputs(out, QUARANTINE_PATTERN, S.QUARANTINE_SCHEMA.names, storage_options)
