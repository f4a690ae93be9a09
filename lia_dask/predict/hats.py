"""Classify a HATS catalog and write the predictions as a HATS catalog (lsdb's writer), pixel by pixel.

Per HATS pixel (one task): :func:`lia_dask.archive.hats.frame_to_batch` -> the model (multi-band:
one prediction per object from all bands; a single-band model: the prediction of the object's
band with the most epochs) -> one row per input object, in the input's order and spatial index:

``<id column>`` (e.g. ``diaObjectId``), ``ra``, ``dec``, ``prediction``, ``prob_<CLASS>``, ``bands``,
``n_epochs``, ``quarantine_reason`` (empty when predicted; otherwise why the object has no
prediction, its probabilities are NaN), the joint-fit columns of multi-band models, ``model_digest``;
index ``_healpix_29``. Output rows == input objects, always.

The output directory is a HATS catalog written by ``lsdb.Catalog.write_catalog`` (one Parquet file
per input pixel); ``hats.properties`` carries ``lia_dask_model_digest``. A marker
``lia_dask_predict.json`` written first holds the digest, so a rerun with ``resume=True`` refuses
another model's outputs, skips a finished catalog and lets lsdb resume an interrupted write.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..archive.hats import SPATIAL_INDEX, HatsConfig, frame_to_batch, open_hats
from ..errors import InputError
from .engine import InstalledModel, install_model, resolve_model
from .lightcurves import BroadcastModel, PredictConfig, PredictReport, load_model, predict_batch

MARKER = "lia_dask_predict.json"
REASON = "quarantine_reason"
OUTPUT_NAME = "lia_dask_predictions"


def _classify_objects(batch, objects: pd.DataFrame, model: BroadcastModel, cfg: PredictConfig) -> pd.DataFrame:
    """Predictions aligned with ``objects`` (one row each, same order)."""
    from ..features.multiband import is_multiband
    from .multiband import BANDS_COLUMN, VETTING_COLUMNS

    clf = model.classifier
    classes = [str(c) for c in clf.classes_]
    probs = [f"{S.PROB_PREFIX}{c}" for c in classes]
    key = objects[S.OBJECT_ID].astype(str).to_numpy()
    out = pd.DataFrame(index=pd.RangeIndex(len(objects)))
    if len(batch):
        pred, quar = predict_batch(batch, model, cfg)
    else:
        pred, quar = pd.DataFrame(columns=[S.OBJECT_ID, S.PREDICTION, *probs]), pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names)
    if not is_multiband(clf.feature_settings_) and len(pred):  # one band per object: the best sampled one
        lengths = pd.Series(batch.lengths, index=pd.MultiIndex.from_arrays([batch.object_id.astype(str),
                                                                            batch.band.astype(str)]))
        pred = pred.assign(_n=lengths.reindex(pd.MultiIndex.from_arrays(
            [pred[S.OBJECT_ID].astype(str), pred[S.BAND].astype(str)])).to_numpy())
        pred = pred.sort_values("_n", ascending=False, kind="stable").drop_duplicates(S.OBJECT_ID)
        pred = pred.rename(columns={S.BAND: BANDS_COLUMN}).drop(columns="_n")
        quar = quar[~quar["object_id"].astype(str).isin(set(pred[S.OBJECT_ID].astype(str)))]
        quar = quar.drop_duplicates("object_id")
    pos = pd.Series(np.arange(len(pred)), index=pred[S.OBJECT_ID].astype(str).to_numpy())
    at = pos.reindex(key).to_numpy()
    has = ~np.isnan(at)
    take = at[has].astype(np.int64)
    out[S.PREDICTION] = pd.Series([None] * len(objects), dtype="str")
    out.loc[has, S.PREDICTION] = pred[S.PREDICTION].to_numpy()[take]
    for c in probs + [c for c in VETTING_COLUMNS if c in pred.columns]:
        v = np.full(len(objects), np.nan)
        v[has] = pred[c].to_numpy(dtype=np.float64)[take]
        out[c] = v
    bands = np.full(len(objects), "", dtype=object)
    if BANDS_COLUMN in pred.columns:
        bands[has] = pred[BANDS_COLUMN].astype(str).to_numpy()[take]
    out[BANDS_COLUMN] = pd.Series(bands, dtype="str")
    reasons = pd.Series(quar["reason"].astype(str).to_numpy(), index=quar["object_id"].astype(str).to_numpy())
    reasons = reasons[~reasons.index.duplicated()]
    r = np.where(has, "", reasons.reindex(key).fillna("").to_numpy())
    r = np.where(~has & (r == ""), np.where(objects["n_epochs"].to_numpy() == 0, "no unflagged epochs",
                                            "features not computable"), r)
    out[REASON] = pd.Series(r, dtype="str")
    return out


def _predict_pixel(frame, pixel, model: BroadcastModel | InstalledModel, cfg: PredictConfig, hcfg: HatsConfig
                   ) -> pd.DataFrame:
    """One HATS pixel -> its predictions (a NestedFrame with the input's spatial index)."""
    import nested_pandas as npd

    from ..errors import PartitionError
    from .lightcurves import _match_threads

    try:
        model = resolve_model(model)
        _match_threads(model.classifier)
        batch, objects = frame_to_batch(frame, hcfg, f"pixel {pixel}")
        res = _classify_objects(batch, objects, model, cfg)
    except Exception as exc:
        raise PartitionError(-1 if pixel is None else int(pixel.pixel), f"HATS pixel {pixel}", exc) from exc
    head = pd.DataFrame({hcfg.id_column: frame[hcfg.id_column].to_numpy(),
                         hcfg.ra_column: frame[hcfg.ra_column].to_numpy(dtype=np.float64),
                         hcfg.dec_column: frame[hcfg.dec_column].to_numpy(dtype=np.float64)})
    if hcfg.label_column:
        head[S.LABEL] = frame[hcfg.label_column].astype(str).to_numpy()
    res = pd.concat([head, res, pd.DataFrame({"n_epochs": objects["n_epochs"].to_numpy(np.int64)})], axis=1)
    res[S.MODEL_DIGEST] = model.digest
    res.index = pd.Index(frame.index.to_numpy(), name=frame.index.name or SPATIAL_INDEX)
    return npd.NestedFrame(res)


@dataclass
class HatsPredictReport(PredictReport):
    """What a HATS prediction did: the unit is the object, ``partitions`` are HATS pixels,
    ``skipped`` the pixels found done; ``n_input == predicted + quarantined``."""

    def __str__(self) -> str:
        what = ("already complete, skipped" if self.skipped == self.partitions and self.partitions
                else f"{self.seconds:.1f} s, {self.throughput:,.0f} objects/s")
        return (f"classified {self.n_input} objects in {self.partitions} HATS pixels: predicted {self.predicted}, "
                f"quarantined {self.quarantined}; {what} -> {self.out}")


def _describe(source: Any) -> str:
    """The input of a report: the catalog's path, or what it is when it was given in memory."""
    return str(source) if isinstance(source, (str, os.PathLike)) else type(source).__name__


def _meta(model: BroadcastModel, hcfg: HatsConfig, id_dtype) -> pd.DataFrame:
    from .multiband import BANDS_COLUMN, VETTING_COLUMNS
    from ..features.multiband import is_multiband

    clf = model.classifier
    cols: dict[str, Any] = {hcfg.id_column: pd.Series([], dtype=id_dtype),
                            hcfg.ra_column: pd.Series([], dtype="float64"), hcfg.dec_column: pd.Series([], dtype="float64")}
    if hcfg.label_column:
        cols[S.LABEL] = pd.Series([], dtype="str")
    cols[S.PREDICTION] = pd.Series([], dtype="str")
    for c in clf.classes_:
        cols[f"{S.PROB_PREFIX}{c}"] = pd.Series([], dtype="float64")
    if is_multiband(clf.feature_settings_):
        for c in VETTING_COLUMNS:
            cols[c] = pd.Series([], dtype="float64")
    cols[BANDS_COLUMN] = pd.Series([], dtype="str")
    cols[REASON] = pd.Series([], dtype="str")
    cols["n_epochs"] = pd.Series([], dtype="int64")
    cols[S.MODEL_DIGEST] = pd.Series([], dtype="str")
    return pd.DataFrame(cols, index=pd.Index([], dtype="int64", name=SPATIAL_INDEX))


def _count(path: Path) -> tuple[int, int]:
    import lsdb

    cat = lsdb.open_catalog(str(path), columns=[REASON])
    r = cat.to_dask_dataframe(divisions=False)[REASON].compute()  # one small column per pixel
    q = int((r.astype(str) != "").sum())
    return len(r) - q, q


def predict_hats(source: Any, model: Any, out: str | os.PathLike, *, client=None, config: PredictConfig | None = None,
                 hats_config: HatsConfig | None = None, preset: str | None = None) -> HatsPredictReport:
    """Classify every object of a HATS catalog; write the predictions as a HATS catalog.

    Parameters
    ----------
    source : HATS catalog path or ``lsdb.Catalog``
    model : artifact path, loaded classifier or BroadcastModel
        A multi-band model gives one score per object from all its bands.
    out : path
        Output catalog directory.
    client : distributed.Client, optional
        The model is installed on every worker once (a worker plugin).
    config : PredictConfig, optional
        ``resume`` (default True): skip a finished output of the same model, resume an interrupted one.
    hats_config, preset : where the lightcurves are (default: the ``rubin`` preset).
    """
    cfg = config or PredictConfig()
    src = open_hats(source, hats_config, preset=preset)
    if src.catalog is None:
        raise InputError("HATS output needs an lsdb.Catalog (or a catalog path) as input, with ra/dec; for in-memory "
                         "frames use lsdb.from_dataframe first.")
    m = load_model(model)
    outp = Path(out)
    marker = outp / MARKER
    if outp.exists() and any(outp.iterdir()):
        if not cfg.resume:
            import shutil

            shutil.rmtree(outp)
        elif not marker.exists():
            raise InputError(f"{outp} exists and was not written by lia-dask predict; choose another --out.")
        else:
            found = json.loads(marker.read_text()).get("model_digest", "")
            if found != m.digest:
                raise InputError(f"{outp} holds predictions of another model ({found[:12]}...); write to a new --out "
                                 "directory or rerun without --resume.")
            if (outp / "hats.properties").exists():
                pred, quar = _count(outp)
                return HatsPredictReport(outp, _describe(source), pred + quar, pred, quar, len(src.pixels), len(src.pixels),
                                         0.0, m.digest, n_classified=0)
            # else an interrupted write: lsdb resumes it (pixels already done are skipped)
    outp.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"model_digest": m.digest, "source": str(source) if isinstance(source, (str, os.PathLike))
                                  else src.name}))
    t0 = time.perf_counter()
    cat = src.catalog
    id_dtype = cat.dtypes[src.config.id_column] if src.config.id_column in cat.columns else "int64"
    from ..cluster import active_client

    client = active_client(client)
    # the model reaches each worker once as a plugin; lsdb's graph carries only its digest
    ref, remove = install_model(client, m) if client is not None else (m, lambda: None)
    try:
        mapped = cat.map_partitions(_predict_pixel, ref, cfg, src.config, include_pixel=True,
                                    meta=_meta(m, src.config, id_dtype))
        mapped.write_catalog(str(outp), catalog_name=OUTPUT_NAME, as_collection=False, resume=True,
                             progress_bar=False, addl_hats_properties={"lia_dask_model_digest": m.digest},
                             error_if_empty=False)
    finally:
        remove()
    seconds = time.perf_counter() - t0
    pred, quar = _count(outp)
    n_input = int(cat.hc_structure.catalog_info.total_rows or (pred + quar))
    if n_input != pred + quar:
        raise AssertionError(f"HATS prediction counts do not reconcile: {n_input} objects != {pred} predicted + "
                             f"{quar} quarantined")
    return HatsPredictReport(outp, _describe(source), n_input, pred, quar, len(src.pixels), 0, seconds, m.digest)


__all__ = ["HatsPredictReport", "predict_hats"]
