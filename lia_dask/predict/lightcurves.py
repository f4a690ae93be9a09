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
from .fitfilter import FIT_COLUMNS, FitFilterConfig, fit_batch, passes

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
    """

    resume: bool = True
    fit_filter: bool = False
    fit: FitFilterConfig = field(default_factory=FitFilterConfig)
    show_progress: bool | None = None
    slice_rows: int = 5000
    min_piece_rows: int = 500


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
    from ..features.preprocess import REASONS
    from ..features.registry import model_feature_settings

    cfg = config or PredictConfig()
    m = load_model(model)
    clf = m.classifier
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
    return _write_partition(index, archive, model, out, cfg, _predict_piece(index, None, None, archive, model, cfg))


def _predict_piece(index: int, lo: int | None, hi: int | None, archive: Archive, model: BroadcastModel,
                   cfg: PredictConfig) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(predictions, quarantine, n objects) of rows ``lo:hi`` of partition ``index`` (all rows: None)."""
    try:
        _match_threads(model.classifier)
        batch = archive.read_batch(index)
        if lo is not None:
            batch = batch.take(np.arange(lo, min(hi, len(batch))))
        step = max(1, int(cfg.slice_rows))
        parts = [predict_batch(batch.take(np.arange(a, min(a + step, len(batch)))) if len(batch) > step else batch,
                               model, cfg) for a in range(0, max(len(batch), 1), step)]
        pred = pd.concat([p for p, _ in parts], ignore_index=True)
        quarantine = pd.concat([q for _, q in parts], ignore_index=True)
    except Exception as exc:
        raise PartitionError(index, archive.partitions[index], exc) from exc
    return pred, quarantine, len(batch)


def _write_partition(index: int, archive: Archive, model: BroadcastModel, out: storage.Location, cfg: PredictConfig,
                     *pieces: tuple[pd.DataFrame, pd.DataFrame, int]) -> dict:
    """Write the prediction and quarantine files of one partition from its pieces (in row order)."""
    pred_path, q_path = _part_paths(index)
    pred = pd.concat([p for p, _, _ in pieces], ignore_index=True)
    quarantine = pd.concat([q for _, q, _ in pieces], ignore_index=True)
    n = sum(k for _, _, k in pieces)
    if len(pred) + len(quarantine) != n:
        raise AssertionError(f"partition {index}: {n} objects != {len(pred)} predicted + {len(quarantine)} quarantined")
    meta = {b"lia_dask.model_digest": model.digest.encode(), b"lia_dask.source": archive.partitions[index].encode()}
    qt = pa.Table.from_pandas(quarantine.astype(str), schema=S.QUARANTINE_SCHEMA, preserve_index=False)
    out.write_table(qt.replace_schema_metadata(meta), q_path)
    pt = pa.Table.from_pandas(pred, preserve_index=False)
    out.write_table(pt.replace_schema_metadata({**(pt.schema.metadata or {}), **meta}), pred_path)
    return {"index": index, "predicted": len(pred), "quarantined": len(quarantine), "skipped": False,
            "n_ml": int(np.sum(pred[S.PREDICTION].to_numpy() == ML_CLASS))}


#: tasks per worker thread below which partitions are split into row ranges (load balance, cold start)
TASKS_PER_THREAD = 4


def _pieces(rows: int, n_todo: int, threads: int, min_rows: int) -> list[tuple[int, int]]:
    """Row ranges of one partition: split when there are fewer than TASKS_PER_THREAD tasks per thread."""
    k = 1 if n_todo >= TASKS_PER_THREAD * threads else -(-TASKS_PER_THREAD * threads // max(n_todo, 1))
    k = max(1, min(k, rows // max(1, int(min_rows))))
    bounds = np.linspace(0, rows, k + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))


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
    #: lightcurves classified by this run (not counting partitions already done on --resume); -1: n_input
    n_classified: int = -1

    @property
    def classified(self) -> int:
        return self.n_input if self.n_classified < 0 else self.n_classified

    @property
    def throughput(self) -> float:
        """Lightcurves classified by this run per second (0 when a resume found nothing to do)."""
        return self.classified / self.seconds if self.seconds > 0 else float("nan")

    def __str__(self) -> str:
        if self.classified == 0:
            return (f"nothing to do: all {self.partitions} partitions ({self.n_input} lightcurves) were already "
                    f"classified by this model ({self.seconds:.1f} s) -> {self.out}")
        return (f"classified {self.classified} lightcurves in {self.partitions} partitions ({self.skipped} already done, "
                f"{self.n_input} in all): predicted {self.predicted}, quarantined {self.quarantined}; "
                f"{self.seconds:.1f} s, {self.throughput:,.0f} lightcurves/s -> {self.out}")


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
    if hasattr(m.classifier, "feature_settings_"):  # refuse a photometry mismatch before any work
        from ..features.registry import model_feature_settings

        model_feature_settings(m.classifier.feature_settings_, None, arch.photometry, f"model {m.digest[:12]}")
    outp = storage.Location(out)  # a local directory or an fsspec URL (s3://...)
    outp.makedirs()
    if not cfg.resume:
        outp.remove(outp.glob("part.*.parquet") + outp.glob("quarantine.*.parquet"))
    t0 = time.perf_counter()
    from ..cluster import compute_with_progress, show_progress

    show = cfg.show_progress
    done: dict[int, dict] = {}
    if cfg.resume:  # finished partitions are known from their footers: no task, no model transfer for them
        for i in range(arch.n_partitions):
            st = _done_stats(outp, *_part_paths(i), m.digest)
            if st is not None:
                done[i] = {"index": i, **st}
    todo = [i for i in range(arch.n_partitions) if i not in done]
    stats = list(done.values())
    from ..archive.lightcurves import _footer

    if client is not None and todo:
        [mf] = client.scatter([m], broadcast=True, hash=False)
        threads = max(1, sum(client.nthreads().values()))
        futures = []
        for i in todo:
            tag = uuid.uuid4().hex[:8]
            pieces = _pieces(_footer(arch.partitions[i], arch.fs).num_rows, len(todo), threads, cfg.min_piece_rows)
            if len(pieces) == 1:
                futures.append(client.submit(_predict_partition, i, arch, mf, outp, cfg, key=f"lia-predict-{i}-{tag}"))
                continue
            subs = [client.submit(_predict_piece, i, lo, hi, arch, mf, cfg, key=f"lia-predict-{i}.{k}-{tag}")
                    for k, (lo, hi) in enumerate(pieces)]
            futures.append(client.submit(_write_partition, i, arch, mf, outp, cfg, *subs, key=f"lia-write-{i}-{tag}"))
        show_progress(futures, show)  # a widget displayed in notebooks, a text bar in terminals
        stats += client.gather(futures)
    elif todo:
        import dask

        tasks = [dask.delayed(_predict_partition)(i, arch, m, outp, cfg) for i in todo]
        stats += list(compute_with_progress(tasks, None, show=show))
    stats.sort(key=lambda st: st["index"])
    seconds = time.perf_counter() - t0
    return _reconcile(arch, outp, stats, seconds, m.digest)


def _reconcile(arch: Archive, outp: storage.Location, stats: list[dict], seconds: float, digest: str) -> PredictReport:
    predicted = sum(s["predicted"] for s in stats)
    quarantined = sum(s["quarantined"] for s in stats)
    from ..archive.lightcurves import _footer

    n_input = sum(_footer(p, arch.fs).num_rows for p in arch.partitions)
    if n_input != predicted + quarantined:
        raise AssertionError(f"prediction counts do not reconcile: {n_input} input != {predicted} predicted + {quarantined} quarantined")
    new = sum(st["predicted"] + st["quarantined"] for st in stats if not st["skipped"])
    report = PredictReport(outp.path if outp.remote else Path(outp.path), n_input, predicted, quarantined, len(stats),
                           sum(s["skipped"] for s in stats), seconds, digest, new)
    summary = {"archive": str(arch.path), "model_digest": digest, "n_input": n_input, "predicted": predicted,
               "quarantined": quarantined, "partitions": len(stats), "skipped": report.skipped,
               "seconds": seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    outp.write_json(summary, SUMMARY_FILE)
    return report


def pending_partitions(archive: Archive | str | os.PathLike, model: Any, out: str | os.PathLike) -> list[int]:
    """Indices of the partitions a resumed job would still classify (all of them without outputs).

    Reads only the footers of the archive's and the outputs' files (and the model's manifest digest).
    """
    arch = archive if isinstance(archive, Archive) else open_archive(archive)
    outp = storage.Location(out)
    if not outp.exists(""):
        return list(range(arch.n_partitions))
    from .. import artifact

    digest = model.digest if isinstance(model, BroadcastModel) else (
        getattr(model, "digest_", None) or artifact.digest(storage.fetch(model) if storage.is_url(model) else model))
    return [i for i in range(arch.n_partitions) if _done_stats(outp, *_part_paths(i), digest) is None]


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
