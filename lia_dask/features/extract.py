"""Feature extraction entry points: one lightcurve, one batch, a whole archive (the orchestration).

Output layout
-------------
*Long* (what :func:`extract_archive` and :func:`features_frame` return): one row per
(object, band) as in the archive, columns ``object_id``, ``band``, ``label`` (only when the
archive / batch has labels), one float64 column per feature in the feature set's order, and
``feature_reason`` (int8; 0 = computed, otherwise a code of ``FeatureSet.reasons`` and the
feature columns of that row are NaN).

*Wide* (:func:`to_wide`, for multi-band archives): one row per object, columns
``<band>_<feature>`` (e.g. ``g_stetsonJ``, ``r_stetsonJ``), bands in sorted order, each band's
features in the feature set's order, plus ``<band>_feature_reason`` and ``label`` if present. A
band an object lacks gives NaN features and reason ``-1``.

A feature table written by :func:`write_feature_table` carries its *resolved* settings (zero point
and conversion fixed, the computed columns) as JSON under the Parquet key
``lia_dask.feature_settings``; :func:`read_feature_settings` reads them back, so training from the
table keeps them and prediction applies exactly them.
"""
from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import InputError
from .registry import SETTINGS_METADATA_KEY, FeatureSettings, get_feature_set

REASON_COLUMN = "feature_reason"
#: reason written by :func:`to_wide` for a band an object has no row for
REASON_NO_BAND = -1


def _as_1d(name: str, a) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim != 1:
        raise InputError(f"{name} must be one-dimensional, got shape {arr.shape}.")
    return arr


def extract_one(time, mag, magerr, *, zp: float = 22.0, convert: bool = True,
                apply_weights: bool = True, features=None) -> dict[str, float]:
    """The 168 MicroLIA 2.8.1 features of one lightcurve.

    Parameters
    ----------
    time, mag, magerr : array_like, shape (n,)
        Epochs (days), magnitudes and errors; fluxes and errors when ``convert=False``.
    zp : float
        Zero point of the magnitude -> flux conversion (MicroLIA's default is 24; its conformance
        data and lia_dask use 22).
    convert, apply_weights : bool
        As MicroLIA's ``extract_all``.
    features : sequence of str, optional
        Compute only these columns (kept in MicroLIA's order); default all 168.

    Returns
    -------
    dict of str to float
        MicroLIA's names in MicroLIA's order; NaN where a value is undefined, and all NaN when the
        lightcurve cannot be processed (fewer than two usable epochs; see :func:`reason_one`).
    """
    t, y, e = _as_1d("time", time), _as_1d("mag", mag), _as_1d("magerr", magerr)
    if not (len(t) == len(y) == len(e)):
        raise InputError(f"time, mag and magerr must have equal lengths, got {len(t)}, {len(y)}, {len(e)}.")
    fs = get_feature_set().restrict(features)
    vals, _reason = fs.compute(np.array([0, len(t)], np.int64), t, y, e, zp=zp, convert=convert,
                               apply_weights=apply_weights)
    return dict(zip(fs.names, vals[0].tolist()))


def reason_one(time, mag, magerr, *, zp: float = 22.0, convert: bool = True) -> str:
    """Why :func:`extract_one` gives an all-NaN result for this lightcurve ("ok" when it does not)."""
    from .preprocess import REASONS, preprocess_batch

    t, y, e = _as_1d("time", time), _as_1d("mag", mag), _as_1d("magerr", magerr)
    p = preprocess_batch(np.array([0, len(t)], np.int64), t, y, e, zp, convert)
    return REASONS[int(p.reason[0])]


def extract_batch_with_reasons(batch: LightcurveBatch, settings: FeatureSettings | None = None
                               ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """Like :func:`extract_batch`, plus the reason code per object (int8, shape (n_objects,))."""
    settings = settings or FeatureSettings()
    fs = get_feature_set(settings.feature_set).restrict(settings.features)
    zp, convert = settings.resolve(batch.photometry, batch.zeropoint)
    vals, reason = fs.compute(batch.offsets, batch.time, batch.y, batch.yerr, zp=zp, convert=convert,
                              apply_weights=settings.apply_weights)
    return vals, list(fs.names), reason


def extract_batch(batch: LightcurveBatch, settings: FeatureSettings | None = None) -> tuple[np.ndarray, list[str]]:
    """Features of every lightcurve of a batch.

    Parameters
    ----------
    batch : LightcurveBatch
        Magnitudes (converted with the zero point) or fluxes (used as given).
    settings : FeatureSettings, optional
        Defaults: zp 22, weighted, the MicroLIA 2.8.1 set, all its columns (``settings.features``
        restricts them: only what those columns need is computed).

    Returns
    -------
    values : ndarray of float64, shape (n_objects, n_features)
    names : list of str, length n_features
        Use :func:`extract_batch_with_reasons` for the per-object reason codes.
    """
    vals, names, _ = extract_batch_with_reasons(batch, settings)
    return vals, names


def _id_dtype(ids: np.ndarray):
    return "int64" if ids.dtype.kind in "iu" else "str"


def features_frame(batch: LightcurveBatch, settings: FeatureSettings | None = None) -> pd.DataFrame:
    """Long feature table of a batch (layout in the module docstring)."""
    vals, names, reason = extract_batch_with_reasons(batch, settings)
    cols: dict[str, object] = {
        S.OBJECT_ID: pd.Series(batch.object_id, dtype=_id_dtype(batch.object_id)),
        S.BAND: pd.Series(batch.band, dtype="str"),
    }
    if batch.label is not None:
        cols[S.LABEL] = pd.Series(batch.label, dtype="str")
    feat = pd.DataFrame(vals, columns=names)
    out = pd.concat([pd.DataFrame(cols), feat], axis=1)
    out[REASON_COLUMN] = reason.astype(np.int8)
    return out


def _meta(names, id_dtype: str, with_label: bool) -> pd.DataFrame:
    cols = {S.OBJECT_ID: pd.Series([], dtype=id_dtype), S.BAND: pd.Series([], dtype="str")}
    if with_label:
        cols[S.LABEL] = pd.Series([], dtype="str")
    meta = pd.concat([pd.DataFrame(cols), pd.DataFrame(np.empty((0, len(names))), columns=list(names))], axis=1)
    meta[REASON_COLUMN] = pd.Series([], dtype=np.int8)
    return meta


def extract_archive(archive, settings: FeatureSettings | None = None, client=None):
    """Lazy feature table of a whole lightcurve archive, one task per partition.

    Parameters
    ----------
    archive : str, os.PathLike or lia_dask.archive.Archive
    settings : FeatureSettings, optional
        ``zp=None`` takes the archive's zero point; flux archives are never converted. The
        partitions are computed with the resolved settings (:func:`archive_settings`).
    client : distributed.Client, optional
        Not needed to build the graph; ``.compute()`` / ``.to_parquet()`` run on the active client
        (or Dask's default scheduler). Accepted so every stage has the same signature.

    Returns
    -------
    dask.dataframe.DataFrame
        Long layout (module docstring) with explicit meta.
    """
    from ..archive import open_archive

    arch = open_archive(archive) if isinstance(archive, (str, os.PathLike)) else archive
    settings = archive_settings(arch, settings)  # fail early on convert=True for a flux archive
    fs = get_feature_set(settings.feature_set).restrict(settings.features)
    schema = arch.schema
    id_dtype = "int64" if pa.types.is_integer(schema.field(S.OBJECT_ID).type) else "str"
    meta = _meta(fs.names, id_dtype, S.LABEL in schema.names)
    return arch.map_batches(partial(features_frame, settings=settings), meta=meta, label="features")


def archive_settings(archive, settings: FeatureSettings | None = None) -> FeatureSettings:
    """``settings`` resolved for an archive: its zero point and photometry fixed (what a table records).

    Parameters
    ----------
    archive : str, os.PathLike or lia_dask.archive.Archive
    settings : FeatureSettings, optional

    Returns
    -------
    FeatureSettings
        ``zp`` a float, ``convert`` a bool, ``features`` as given.
    """
    from ..archive import open_archive

    arch = open_archive(archive) if isinstance(archive, (str, os.PathLike)) else archive
    return (settings or FeatureSettings()).resolved(arch.photometry, arch.zeropoint)


def write_feature_table(ddf, out, settings: FeatureSettings, client: Any = None, **to_parquet_kwargs) -> None:
    """Write a feature table (dask DataFrame) to Parquet with its resolved settings as metadata.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
        From :func:`extract_archive`.
    out : str or os.PathLike
        Output directory.
    settings : FeatureSettings
        The *resolved* settings the table was computed with (:func:`archive_settings`).
    client : distributed.Client, optional
        Where to compute (default: Dask's current scheduler), with a progress display.
    """
    from ..cluster import compute_with_progress

    task = ddf.to_parquet(str(out), write_index=False, custom_metadata=settings_metadata(settings), compute=False,
                          **to_parquet_kwargs)
    compute_with_progress([task], client)


def settings_metadata(settings: FeatureSettings) -> dict[str, str]:
    """Parquet key-value metadata recording resolved feature settings (``{SETTINGS_METADATA_KEY: json}``).

    Raises
    ------
    ValueError
        ``settings`` not resolved (zp or convert None): resolve them for the data first.
    """
    if settings.zp is None or settings.convert is None:
        raise ValueError("feature-table metadata needs resolved settings (zp and convert fixed); "
                         "use archive_settings(archive, settings) or settings.resolved(photometry, zeropoint).")
    return {SETTINGS_METADATA_KEY: json.dumps(settings.to_dict(), sort_keys=True)}


def read_feature_settings(path) -> FeatureSettings | None:
    """The resolved settings a Parquet feature table (file or directory) records; None if it has none."""
    import pyarrow.parquet as pq

    p = Path(path)
    files = sorted(p.glob("*.parquet")) if p.is_dir() else [p]
    if not files:
        return None
    md = pq.read_schema(files[0]).metadata or {}
    raw = md.get(SETTINGS_METADATA_KEY.encode())
    if raw is None:
        return None
    try:
        return FeatureSettings.from_dict(json.loads(raw))
    except (ValueError, TypeError) as exc:
        raise InputError(f"feature table {path}: its {SETTINGS_METADATA_KEY} metadata is unreadable ({exc}); "
                         "recompute the table with `lia-dask features`.") from None


def to_wide(df: pd.DataFrame, names=None) -> pd.DataFrame:
    """Long feature table -> one row per object with columns ``<band>_<feature>``.

    Parameters
    ----------
    df : pandas.DataFrame
        Long layout (``object_id``, ``band``, features..., ``feature_reason``, optional ``label``).
    names : sequence of str, optional
        Feature columns; default: every column except the id, band, label and reason columns.

    Returns
    -------
    pandas.DataFrame
        Index ``object_id``; columns ``<band>_<feature>`` and ``<band>_feature_reason`` per band
        (bands sorted), plus ``label`` when the input has one (first label per object).
    """
    if hasattr(df, "compute") and not isinstance(df, pd.DataFrame):
        df = df.compute()
    skip = {S.OBJECT_ID, S.BAND, S.LABEL, REASON_COLUMN}
    names = [c for c in df.columns if c not in skip] if names is None else list(names)
    if df.duplicated([S.OBJECT_ID, S.BAND]).any():
        dup = df.loc[df.duplicated([S.OBJECT_ID, S.BAND]), S.OBJECT_ID].iloc[0]
        raise InputError(f"object {dup!r} has more than one row for the same band; wide layout needs one.")
    bands = sorted(df[S.BAND].astype(str).unique())
    ids = pd.Index(pd.unique(df[S.OBJECT_ID]), name=S.OBJECT_ID)
    parts = []
    for b in bands:
        sub = df[df[S.BAND].astype(str) == b].set_index(S.OBJECT_ID)
        block = sub[names + ([REASON_COLUMN] if REASON_COLUMN in sub else [])].reindex(ids)
        if REASON_COLUMN in block:
            block[REASON_COLUMN] = block[REASON_COLUMN].fillna(REASON_NO_BAND).astype(np.int8)
        block.columns = [f"{b}_{c}" for c in block.columns]
        parts.append(block)
    wide = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=ids)
    if S.LABEL in df:
        wide[S.LABEL] = df.groupby(S.OBJECT_ID, sort=False)[S.LABEL].first().reindex(ids)
    return wide
