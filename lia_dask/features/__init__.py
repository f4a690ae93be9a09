"""Feature extraction: MicroLIA 2.8.1's 168 lightcurve statistics as numba kernels over batches.

Entry points: :func:`extract_one` (one lightcurve -> dict), :func:`extract_batch` (a
``LightcurveBatch`` -> (values, names)), :func:`extract_archive` (an archive -> lazy dask
DataFrame), :func:`to_wide` (multi-band wide layout). Feature sets live in a registry
(:func:`get_feature_set`); the default is ``"microlia-2.8.1"``. See ``docs/features.md``.
"""
from .extract import (
    REASON_COLUMN, archive_settings, extract_archive, extract_batch, extract_batch_with_reasons, extract_one,
    features_frame, read_feature_settings, reason_one, to_wide, write_feature_table,
)
from .registry import (
    DEFAULT_FEATURE_SET, FeatureSet, FeatureSettings, feature_sets, get_feature_set, register_feature_set,
)

__all__ = [
    "DEFAULT_FEATURE_SET", "FeatureSet", "FeatureSettings", "REASON_COLUMN", "archive_settings", "extract_archive",
    "extract_batch", "extract_batch_with_reasons", "extract_one", "feature_sets", "features_frame",
    "get_feature_set", "read_feature_settings", "reason_one", "register_feature_set", "to_wide",
    "write_feature_table",
]
