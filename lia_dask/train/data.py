"""Reading training / evaluation inputs: a lightcurve archive (features are extracted) or a feature table.

A *feature table* is what ``lia-dask features`` or ``simulate_training_set(features_out=...)``
writes (Parquet file or directory of parts; CSV also accepted): ``object_id``, ``band``,
optional ``label``, one column per feature, optional ``feature_reason``. Rows whose
``feature_reason`` is not 0 have no features and are counted out, never silently dropped.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..errors import InputError, MissingInputError

REASON_COLUMN = "feature_reason"
_NON_FEATURE = {S.OBJECT_ID, S.BAND, S.LABEL, REASON_COLUMN, "filename", "id"}


@dataclass
class FeatureTable:
    """Features of one input.

    Attributes
    ----------
    frame : pandas.DataFrame
        Rows with computed features; columns ``object_id``/``band``/``label`` when present plus features.
    features : list of str
        Feature column names, in order.
    n_excluded : int
        Rows left out because their features could not be computed (``feature_reason`` != 0).
    feature_settings : dict or None
        Resolved settings the features were computed with: those of the extraction here, or those
        the Parquet table records (``lia_dask.feature_settings`` metadata); None for a table without.
    source : str
    """

    frame: pd.DataFrame
    features: list[str]
    n_excluded: int
    feature_settings: dict | None
    source: str

    @property
    def X(self) -> pd.DataFrame:
        return self.frame[self.features]

    @property
    def labels(self) -> np.ndarray | None:
        return self.frame[S.LABEL].to_numpy().astype(str) if S.LABEL in self.frame.columns else None


def _is_archive(path: Path) -> bool:
    if path.is_dir():
        if (path / S.ARCHIVE_MANIFEST).exists():
            return True
        parts = sorted(path.glob(S.PART_GLOB))
        if parts:
            import pyarrow.parquet as pq

            return S.TIME in pq.read_schema(parts[0]).names
    return False


def load_features(source: str | Path, settings: Any = None, client: Any = None,
                  feature_names: list[str] | None = None, expect: Any = None) -> FeatureTable:
    """Feature table of ``source``: a lightcurve archive (features extracted on the cluster) or a table.

    Parameters
    ----------
    source : path
        Archive directory, Parquet file/directory of features, or CSV of features.
    settings : lia_dask.features.FeatureSettings, optional
        For extraction from an archive (default settings when None).
    client : distributed.Client, optional
    feature_names : list of str, optional
        Feature columns expected (e.g. a model's); default: the feature set's names when present,
        else every numeric non-id column.
    expect : lia_dask.features.FeatureSettings, optional
        Resolved settings the features must have been computed with (a model's): a table recording
        other settings is refused with one sentence.
    """
    path = Path(source)
    if not path.exists():
        raise MissingInputError(f"training input {path} does not exist; give an archive or a feature table.")
    used_settings = None
    if _is_archive(path):
        from ..features import archive_settings, extract_archive

        settings = archive_settings(str(path), settings)
        ddf = extract_archive(str(path), settings, client=client)
        df = ddf.compute() if client is None else client.compute(ddf).result()
        used_settings = settings.to_dict()
    elif path.suffix.lower() == ".csv":
        df = pd.read_csv(path)
    else:
        try:
            df = pd.read_parquet(path)
        except Exception as exc:
            raise InputError(f"{path} is neither a lightcurve archive nor a readable Parquet feature table ({exc}).") from None
        from ..features import read_feature_settings

        recorded = read_feature_settings(path)
        if recorded is not None:
            if expect is not None:
                expect.require_same(recorded, "the model", f"feature table {path}")
            used_settings = recorded.to_dict()
    df = df.reset_index(drop=True)
    n_excluded = 0
    if REASON_COLUMN in df.columns:
        bad = df[REASON_COLUMN].to_numpy() != 0
        n_excluded = int(bad.sum())
        df = df.loc[~bad].reset_index(drop=True)
    if feature_names is None:
        try:
            from ..features import get_feature_set

            names = list(get_feature_set((used_settings or {}).get("feature_set", "microlia-2.8.1")).names)
        except Exception:
            names = []
        if names and all(n in df.columns for n in names):
            feature_names = names
        else:
            feature_names = [c for c in df.columns if c not in _NON_FEATURE and not str(c).startswith(S.SIM_PREFIX)
                             and pd.api.types.is_numeric_dtype(df[c])]
    missing = [c for c in feature_names if c not in df.columns]
    if missing:
        raise InputError(f"{path} lacks {len(missing)} feature column(s), e.g. {missing[:5]}; "
                         "extract features with the model's feature set.")
    if not feature_names:
        raise InputError(f"{path} holds no numeric feature columns.")
    if len(df) == 0:
        raise InputError(f"{path} has no rows with computable features ({n_excluded} rows excluded).")
    return FeatureTable(df, list(feature_names), n_excluded, used_settings, str(path))
