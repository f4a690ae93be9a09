"""Column names, dtypes, class labels and metadata keys: the one place the data contracts live.

See ``docs/design.md`` for the contracts themselves.
"""
from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = "1"

# --- lightcurve archive (nested layout: one row per (object, band)) -------------------------
OBJECT_ID = "object_id"
BAND = "band"
TIME = "time"
MAG = "mag"
MAGERR = "magerr"
FLUX = "flux"
FLUX_ERR = "flux_err"
LABEL = "label"
SIM_PREFIX = "sim_"
#: optional archive column: the file (or table) each lightcurve was read from
SOURCE_FILE = "source_file"

PHOTOMETRY_COLUMNS = {"mag": (MAG, MAGERR), "flux": (FLUX, FLUX_ERR)}
DEFAULT_BAND = "I"
DEFAULT_ZEROPOINT = 22.0
DEFAULT_TIME_SYSTEM = "HJD-2450000"

# Parquet key-value metadata keys (values are UTF-8 strings)
META_SCHEMA_VERSION = "lia_dask.schema_version"
META_PHOTOMETRY = "photometry"
META_ZEROPOINT = "zeropoint"
META_TIME_SYSTEM = "time_system"

# archive directory layout
PART_GLOB = "part.*.parquet"
#: the quarantine table (Parquet). The name starts with "_" (pyarrow / pandas skip it) and does not
#: end in .parquet / .parq / .pq (dask.dataframe.read_parquet skips it), so reading an archive
#: directory with either reads the lightcurves only.
QUARANTINE_FILE = "_quarantine.pqt"
#: name of the quarantine table in archives written before the rename
LEGACY_QUARANTINE_FILE = "_quarantine.parquet"
ARCHIVE_MANIFEST = "_archive.json"

# --- quarantine table --------------------------------------------------------------------
QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("object_id", pa.string()),
        pa.field("source", pa.string()),
        pa.field("reason", pa.string()),
    ]
)

# --- class labels (MicroLIA's) -----------------------------------------------------------
CLASSES = ("CONSTANT", "CV", "LPV", "ML", "VARIABLE")

# --- cutout store (Zarr) -----------------------------------------------------------------
CUTOUT_IMAGES = "images"
CUTOUT_OBJECT_ID = "object_id"
CUTOUT_LABEL = "label"
CUTOUT_ATTR_BANDS = "bands"
CUTOUT_ATTR_PIXEL_SCALE = "pixel_scale"
CUTOUT_ATTR_SCHEMA_VERSION = "schema_version"

# --- predictions -------------------------------------------------------------------------
PREDICTION = "prediction"
PROB_PREFIX = "prob_"
MODEL_DIGEST = "model_digest"


def lightcurve_schema(
    photometry: str = "mag",
    *,
    object_id_type: pa.DataType = pa.int64(),
    with_label: bool = False,
    extra: list[pa.Field] | None = None,
) -> pa.Schema:
    """Arrow schema of the nested lightcurve archive.

    Parameters
    ----------
    photometry : {"mag", "flux"}
        Which pair of value / error columns the archive holds.
    object_id_type : pyarrow.DataType
        ``int64`` or ``string``; ids are kept as the survey gives them.
    with_label : bool
        Add the optional string ``label`` column (training archives).
    extra : list of pyarrow.Field, optional
        Further columns, e.g. ``sim_*`` truth.
    """
    if photometry not in PHOTOMETRY_COLUMNS:
        raise ValueError(f"photometry must be 'mag' or 'flux', got {photometry!r}.")
    y, yerr = PHOTOMETRY_COLUMNS[photometry]
    fields = [
        pa.field(OBJECT_ID, object_id_type),
        pa.field(BAND, pa.string()),
        pa.field(TIME, pa.list_(pa.float64())),
        pa.field(y, pa.list_(pa.float64())),
        pa.field(yerr, pa.list_(pa.float64())),
    ]
    if with_label:
        fields.append(pa.field(LABEL, pa.string()))
    fields.extend(extra or [])
    return pa.schema(fields)


def archive_metadata(photometry: str, zeropoint: float, time_system: str) -> dict[bytes, bytes]:
    """Parquet key-value metadata every archive partition carries."""
    return {
        META_SCHEMA_VERSION.encode(): SCHEMA_VERSION.encode(),
        META_PHOTOMETRY.encode(): photometry.encode(),
        META_ZEROPOINT.encode(): repr(float(zeropoint)).encode(),
        META_TIME_SYSTEM.encode(): time_system.encode(),
    }
