"""Feature table of a simulated batch, through ``lia_dask.features`` (one Parquet part per archive part)."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pyarrow as pa


from ..archive.storage import write_local_table
from ..batch import LightcurveBatch


def default_feature_settings():
    """Features on the training archive's own zero point (``zp`` for magnitudes, 31.4 for nJy),
    as MicroLIA extracts its training features with ``create``'s ``zp``."""
    from ..features.registry import FeatureSettings

    return FeatureSettings(zp=None, convert=None)


def feature_table(batch: LightcurveBatch, settings=None) -> pd.DataFrame:
    """Long feature table (``lia_dask.features.features_frame`` layout) plus the ``sim_*`` truth.

    Parameters
    ----------
    batch : LightcurveBatch
    settings : lia_dask.features.FeatureSettings, optional
        Default: ``default_feature_settings()``.

    Returns
    -------
    pandas.DataFrame, one row per (object, band)
        ``object_id``, ``band``, ``label``, the feature columns in registry order,
        ``feature_reason`` and the ``sim_*`` columns.
    """
    from ..features.extract import features_frame

    df = features_frame(batch, settings or default_feature_settings())
    for k, v in batch.extra.items():
        df[k] = v
    return df


def write_feature_part(batch: LightcurveBatch, path: str | os.PathLike, index: int, settings=None) -> str:
    """Write ``feature_table(batch)`` as ``path/part.{index:05d}.parquet`` (temporary name, then rename)."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    from ..features.extract import settings_metadata

    settings = (settings or default_feature_settings()).resolved(batch.photometry, batch.zeropoint)
    table = pa.Table.from_pandas(feature_table(batch, settings), preserve_index=False)
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), **settings_metadata(settings)})
    target = root / f"part.{index:05d}.parquet"
    write_local_table(table, target)
    return str(target)
