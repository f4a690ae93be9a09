"""Classify a whole lightcurve archive, partition by partition, resumably.

Per partition: features (the artifact's feature set and settings) -> impute -> selected features ->
``predict_proba``; optionally a PSPL fit of the objects predicted ``ML``. Output (``docs/design.md``):
one Parquet file per input partition, ``part.NNNNN.parquet`` with ``object_id``, ``band``,
``prediction``, ``prob_<CLASS>``, ``model_digest`` (and ``fit_*``, ``passes_fit`` with the fit
filter), plus ``quarantine.NNNNN.parquet`` for the objects whose features cannot be computed.
Each file is written under a temporary name and renamed; the quarantine file is written before
the prediction file, so a prediction file marks its partition done and a rerun skips it.

The model artifact is loaded once on the client and sent to every worker once
(``client.scatter(..., broadcast=True)``); tasks receive it by reference.
"""
from __future__ import annotations

import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..archive import Archive, open_archive, storage
from ..batch import LightcurveBatch
from ..errors import InputError, PartitionError
from .fitfilter import FIT_COLUMNS, FitFilterConfig, fit_pspl_batch, passes

SUMMARY_FILE = "_summary.json"
ML_CLASS = "ML"


@dataclass(frozen=True)
class PredictConfig:
    """Settings of a prediction job.

    Attributes
    ----------
    resume : bool
        Skip partitions whose prediction file exists (written by the same model).
    fit_filter : bool
        Fit a PSPL model to the objects predicted ``ML`` and add ``fit_*`` / ``passes_fit``.
    fit : FitFilterConfig
        Cuts of the fit filter.
    show_progress : bool or None
        Progress bar; None: when stderr is a terminal.
    slice_rows : int
        A partition is classified in slices of this many lightcurves, so the memory of the
        feature pass is bounded by the slice, not by the partition.
    """

    resume: bool = True
    fit_filter: bool = False
    fit: FitFilterConfig = field(default_factory=FitFilterConfig)
    show_progress: bool | None = None
    slice_rows: int = 5000


# ------------------------------------------------------------------------ the model on workers
_RECEIVED: Counter = Counter()  # digest -> times this process received (deserialized) the model


class BroadcastModel:
    """A loaded classifier travelling to workers; counts how often a process deserializes it."""

    def __init__(self, classifier: Any, digest: str):
        self.classifier = classifier
        self.digest = digest

    def __getstate__(self):
        return {"classifier": self.classifier, "digest": self.digest}

    def __setstate__(self, state):
        self.classifier = state["classifier"]
        self.digest = state["digest"]
        _RECEIVED[self.digest] += 1


def received_counts() -> dict[str, int]:
    """How many times this process received each model (run on workers via ``client.run``)."""
    return dict(_RECEIVED)


def load_model(model: str | os.PathLike | Any) -> BroadcastModel:
    """Load an ensemble artifact (directory or .zip) once; an already loaded classifier is wrapped."""
    if isinstance(model, BroadcastModel):
        return model
    if hasattr(model, "predict_proba"):
        return BroadcastModel(model, getattr(model, "digest_", "in-memory"))
    from ..artifact import load

    clf = load(storage.fetch(model) if storage.is_url(model) else model)  # s3://... -> local copy
    if not hasattr(clf, "feature_settings_"):
        raise InputError(f"model {model} is not a lightcurve ensemble artifact (kind 'ensemble').")
    return BroadcastModel(clf, clf.digest_)


def _match_threads(clf: Any) -> None:
    """Give XGBoost as many threads as the worker running this task has (1 outside a worker)."""
    booster = getattr(getattr(clf, "predictor_", None), "booster", None)
    if booster is None:
        return
    try:
        from distributed import get_worker

        n = get_worker().state.nthreads
    except (ImportError, ValueError, AttributeError):
        n = 1
    booster.set_param({"nthread": int(n)})


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
    from ..features.registry import FeatureSettings

    cfg = config or PredictConfig()
    m = load_model(model)
    clf = m.classifier
    if is_multiband(clf.feature_settings_):  # one row per object from all bands
        from .multiband import predict_multiband_batch

        return predict_multiband_batch(batch, clf, m.digest)
    settings = FeatureSettings.from_dict(dict(clf.feature_settings_ or {}))
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
    for k, c in enumerate(classes):
        cols[f"{S.PROB_PREFIX}{c}"] = proba[:, k]
    pred = pd.DataFrame(cols)
    if S.LABEL is not None and batch.label is not None:
        pred[S.LABEL] = batch.label[rows].astype(str)
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
    ml = np.flatnonzero(pred[S.PREDICTION].to_numpy() == ML_CLASS)
    params = np.full((len(pred), 6), np.nan)
    if len(ml):
        b = batch if fcfg.zeropoint is None else _with_zp(batch, fcfg.zeropoint)
        fb = b.to_flux()
        params[ml] = fit_pspl_batch(fb.offsets, fb.time, fb.y, fb.yerr, rows[ml].astype(np.int64))
    for k, name in enumerate(FIT_COLUMNS[:-1]):
        pred[name] = params[:, k]
    pred["passes_fit"] = passes(params, fcfg) & (pred[S.PREDICTION].to_numpy() == ML_CLASS)
    return pred


def _with_zp(batch: LightcurveBatch, zp: float) -> LightcurveBatch:
    from dataclasses import replace

    return replace(batch, zeropoint=float(zp))


# ------------------------------------------------------------------------ files
def _part_paths(index: int) -> tuple[str, str]:
    return f"part.{index:05d}.parquet", f"quarantine.{index:05d}.parquet"


def _done_stats(out: storage.Location, pred_path: str, q_path: str, digest: str) -> dict | None:
    if not out.exists(pred_path):
        return None
    md = out.read_metadata(pred_path)
    kv = md.metadata or {}
    found = kv.get(b"lia_dask.model_digest", b"").decode()
    if found != digest:
        raise InputError(f"{out.join(pred_path)} holds predictions of another model ({found[:12]}...); "
                         "write to a new --out directory or rerun without --resume.")
    n_q = out.read_metadata(q_path).num_rows if out.exists(q_path) else 0
    return {"predicted": md.num_rows, "quarantined": n_q, "skipped": True}


def _predict_partition(index: int, archive: Archive, model: BroadcastModel, out: storage.Location,
                       cfg: PredictConfig) -> dict:
    pred_path, q_path = _part_paths(index)
    if cfg.resume:
        done = _done_stats(out, pred_path, q_path, model.digest)
        if done is not None:
            return {"index": index, **done}
    try:
        _match_threads(model.classifier)
        batch = archive.read_batch(index)
        from .multiband import object_count, object_slices

        slices = object_slices(batch, max(1, int(cfg.slice_rows)))  # an object's bands stay together
        parts = [predict_batch(batch.take(np.arange(a, b)) if len(slices) > 1 else batch, model, cfg)
                 for a, b in slices]
        pred = pd.concat([p for p, _ in parts], ignore_index=True)
        quarantine = pd.concat([q for _, q in parts], ignore_index=True)
        from ..features.multiband import is_multiband

        n_in = object_count(batch) if is_multiband(model.classifier.feature_settings_) else len(batch)
    except Exception as exc:
        raise PartitionError(index, archive.partitions[index], exc) from exc
    if len(pred) + len(quarantine) != n_in:
        raise AssertionError(f"partition {index}: {n_in} objects != {len(pred)} predicted + {len(quarantine)} quarantined")
    meta = {b"lia_dask.model_digest": model.digest.encode(), b"lia_dask.source": archive.partitions[index].encode()}
    qt = pa.Table.from_pandas(quarantine.astype(str), schema=S.QUARANTINE_SCHEMA, preserve_index=False)
    out.write_table(qt.replace_schema_metadata(meta), q_path)
    pt = pa.Table.from_pandas(pred, preserve_index=False)
    out.write_table(pt.replace_schema_metadata({**(pt.schema.metadata or {}), **meta}), pred_path)
    return {"index": index, "predicted": len(pred), "quarantined": len(quarantine), "skipped": False, "n_input": n_in,
            "n_ml": int(np.sum(pred[S.PREDICTION].to_numpy() == ML_CLASS))}


# ------------------------------------------------------------------------ the job
@dataclass
class PredictReport:
    """What a prediction job did; ``n_input == predicted + quarantined`` always."""

    out: Path
    n_input: int
    predicted: int
    quarantined: int
    partitions: int
    skipped: int
    seconds: float
    model_digest: str

    @property
    def throughput(self) -> float:
        return self.n_input / self.seconds if self.seconds > 0 else float("nan")

    def __str__(self) -> str:
        return (f"classified {self.n_input} lightcurves in {self.partitions} partitions ({self.skipped} already done): "
                f"predicted {self.predicted}, quarantined {self.quarantined}; {self.seconds:.1f} s, "
                f"{self.throughput:,.0f} lightcurves/s -> {self.out}")


def predict_archive(archive: Archive | str | os.PathLike, model: Any, out: str | os.PathLike, client=None,
                    config: PredictConfig | None = None, *, resume: bool | None = None) -> PredictReport:
    """Classify every lightcurve of an archive.

    Parameters
    ----------
    archive : Archive or path
    model : path of an ensemble artifact, a loaded classifier, or a :class:`BroadcastModel`
    out : path
        Output directory (created).
    client : distributed.Client, optional
        Run on this cluster (the model is scattered to every worker once); None: in this process
        with Dask's default scheduler.
    config : PredictConfig, optional
    resume : bool, optional
        Shortcut for ``config.resume``.
    """
    from dataclasses import replace

    cfg = config or PredictConfig()
    if resume is not None:
        cfg = replace(cfg, resume=resume)
    arch = archive if isinstance(archive, Archive) else open_archive(archive)
    m = load_model(model)
    outp = storage.Location(out)  # a local directory or an fsspec URL (s3://...)
    outp.makedirs()
    if not cfg.resume:
        outp.remove(outp.glob("part.*.parquet") + outp.glob("quarantine.*.parquet"))
    t0 = time.perf_counter()
    show = sys.stderr.isatty() if cfg.show_progress is None else cfg.show_progress
    if client is not None:
        [mf] = client.scatter([m], broadcast=True, hash=False)
        futures = [client.submit(_predict_partition, i, arch, mf, outp, cfg, key=f"lia-predict-{i}-{uuid.uuid4().hex[:8]}")
                   for i in range(arch.n_partitions)]
        if show:
            from distributed import progress

            try:
                progress(futures)
            except ImportError:  # a notebook without ipywidgets: the text bar still works
                progress(futures, notebook=False)
        stats = client.gather(futures)
    else:
        import dask

        tasks = [dask.delayed(_predict_partition)(i, arch, m, outp, cfg) for i in range(arch.n_partitions)]
        from ..cluster import compute_with_progress

        stats = compute_with_progress(tasks, None, show=show)
    seconds = time.perf_counter() - t0
    from ..features.multiband import is_multiband

    return _reconcile(arch, outp, stats, seconds, m.digest, is_multiband(m.classifier.feature_settings_))


def _reconcile(arch: Archive, outp: storage.Location, stats: list[dict], seconds: float, digest: str,
               per_object: bool = False) -> PredictReport:
    predicted = sum(s["predicted"] for s in stats)
    quarantined = sum(s["quarantined"] for s in stats)
    from ..archive.lightcurves import _footer

    if per_object:  # multi-band: the unit is the object, counted by each task
        n_input = sum(s.get("n_input", s["predicted"] + s["quarantined"]) for s in stats)
    else:
        n_input = sum(_footer(p, arch.fs).num_rows for p in arch.partitions)
    if n_input != predicted + quarantined:
        raise AssertionError(f"prediction counts do not reconcile: {n_input} input != {predicted} predicted + {quarantined} quarantined")
    report = PredictReport(outp.path if outp.remote else Path(outp.path), n_input, predicted, quarantined, len(stats), sum(s["skipped"] for s in stats), seconds, digest)
    summary = {"archive": str(arch.path), "model_digest": digest, "n_input": n_input, "predicted": predicted,
               "quarantined": quarantined, "partitions": len(stats), "skipped": report.skipped,
               "seconds": seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    outp.write_json(summary, SUMMARY_FILE)
    return report


def read_predictions(out: str | os.PathLike) -> pd.DataFrame:
    """All prediction files of an output directory as one pandas DataFrame."""
    loc = storage.Location(out)
    files = loc.glob("part.*.parquet")
    if not files:
        raise InputError(f"{out} holds no prediction files (part.*.parquet); run `lia-dask predict` first.")
    return pd.concat([loc.read_table(f).to_pandas() for f in files], ignore_index=True)


def read_quarantine(out: str | os.PathLike) -> pd.DataFrame:
    loc = storage.Location(out)
    files = loc.glob("quarantine.*.parquet")
    if not files:
        return pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names)
    return pd.concat([loc.read_table(f).to_pandas() for f in files], ignore_index=True)
