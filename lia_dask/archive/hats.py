"""HATS / LSDB catalogs as a lightcurve source: one HATS pixel = one task, nothing through the client.

A HATS catalog (as Rubin publishes DP1's ``dia_object_collection``) holds one row per object
with the lightcurves nested inside it: a nested column (``diaObjectForcedSource`` or
``diaSource``) whose fields are ``band``, ``midpointMjdTai``, ``psfFlux``, ``psfFluxErr`` (nJy),
``visit`` and flags, plus per-object ``ra``, ``dec`` and ``diaObjectId``. This module turns such a
catalog into :class:`~lia_dask.batch.LightcurveBatch` partitions (rows per (object, band)), with
lsdb / hats / nested-pandas doing every read (the optional ``rubin`` extra).

- :class:`HatsConfig`: nested column, field names, id / position columns, flags (``rubin`` and
  ``rubin-dia`` presets in :data:`HATS_PRESETS`).
- :func:`open_hats`: a catalog path, an ``lsdb.Catalog``, a ``NestedFrame`` or a Dask collection of
  them -> :class:`HatsSource` (lazy: a list of delayed partitions, the HEALPix pixel of each).
- :func:`frame_to_batch`: one partition (NestedFrame) -> (batch, per-object table); pure.
- :func:`ingest_hats`: convert a catalog into a lia_dask archive (one part per pixel).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import InputError, MissingExtraError, MissingInputError

#: HATS spatial index column (hats.pixel_math.spatial_index.SPATIAL_INDEX_COLUMN)
SPATIAL_INDEX = "_healpix_29"
RA, DEC = "ra", "dec"
#: files that mark a HATS catalog or collection directory
_MARKERS = ("collection.properties", "hats.properties", "properties")


@dataclass(frozen=True)
class HatsConfig:
    """Where the lightcurves sit in a HATS catalog (one dataclass for the HATS input stage).

    Attributes
    ----------
    nested : str
        Nested column holding the epochs (DP1: ``diaObjectForcedSource``, or ``diaSource``).
    id_column, ra_column, dec_column : str
        Per-object identifier and position (degrees).
    time, value, error, band : str
        Fields of the nested column: epoch (days), flux or magnitude and its error, filter name.
        ``band=None``: single-band data, every epoch gets ``default_band``.
    flags : tuple of str
        Boolean fields; an epoch with any of them true is left out (counted in ``n_flagged``).
        Flags a catalog lacks are an error unless ``flags_optional``.
    flags_optional : bool
        Skip the listed flags a catalog does not have (the presets: DP1 tables differ in flags).
    label_column : str or None
        Per-object class label (training catalogs).
    photometry : {"flux", "mag"}
    zeropoint : float
        31.4 for nJy.
    time_system : str
    allow_nonpositive_flux : bool
        Difference fluxes may be negative: valid input (features and the point-lens fit work in
        flux with a baseline term).
    default_band : str
    """

    nested: str = "diaObjectForcedSource"
    id_column: str = "diaObjectId"
    ra_column: str = RA
    dec_column: str = DEC
    time: str = "midpointMjdTai"
    value: str = "psfFlux"
    error: str = "psfFluxErr"
    band: str | None = "band"
    flags: tuple[str, ...] = ("psfFlux_flag",)
    flags_optional: bool = True
    label_column: str | None = None
    photometry: str = "flux"
    zeropoint: float = 31.4
    time_system: str = "MJD-TAI"
    allow_nonpositive_flux: bool = True
    default_band: str = S.DEFAULT_BAND

    def __post_init__(self) -> None:
        if self.photometry not in S.PHOTOMETRY_COLUMNS:
            raise InputError(f"HatsConfig.photometry must be 'mag' or 'flux', got {self.photometry!r}.")

    @classmethod
    def preset(cls, name: str = "rubin", **changes) -> "HatsConfig":
        """A named preset of :data:`HATS_PRESETS` with ``changes`` applied (e.g. ``nested="diaSource"``)."""
        if name not in HATS_PRESETS:
            raise InputError(f"unknown HATS preset {name!r}; choose one of {sorted(HATS_PRESETS)}.")
        return replace(HATS_PRESETS[name], **changes)

    @property
    def object_columns(self) -> list[str]:
        cols = [self.id_column, self.ra_column, self.dec_column]
        return cols + ([self.label_column] if self.label_column else [])


#: DP1 ``dia_object_collection``: forced photometry (default) or the detections (``rubin-dia``)
HATS_PRESETS: dict[str, HatsConfig] = {
    "rubin": HatsConfig(),
    "rubin-forced": HatsConfig(),
    "rubin-dia": HatsConfig(nested="diaSource"),
}


def _lsdb():
    try:
        import lsdb
    except ImportError as exc:  # pragma: no cover - the extra is installed by `make`
        raise MissingExtraError.for_extra("reading HATS catalogs", "rubin", "lsdb") from exc
    return lsdb


def is_hats_catalog(path: str | os.PathLike) -> bool:
    """True when ``path`` is a HATS catalog or collection directory (it has a properties file)."""
    p = Path(path)
    return p.is_dir() and any((p / m).is_file() for m in _MARKERS)


# ------------------------------------------------------------------------ one partition (pure)
def _flag_fields(present: list[str], cfg: HatsConfig, where: str) -> list[str]:
    missing = [f for f in cfg.flags if f not in present]
    if missing and not cfg.flags_optional:
        raise InputError(f"{where}: nested column {cfg.nested!r} has no flag field(s) {missing} "
                         f"(it has {present}); fix HatsConfig.flags.")
    return [f for f in cfg.flags if f in present]


def frame_to_batch(frame: pd.DataFrame, cfg: HatsConfig, where: str = "catalog partition"
                   ) -> tuple[LightcurveBatch, pd.DataFrame]:
    """One partition of a HATS catalog -> lightcurves per (object, band) and the per-object table.

    Parameters
    ----------
    frame : nested_pandas.NestedFrame
        One row per object (index: the HATS spatial index ``_healpix_29`` when it comes from a
        catalog), the nested column ``cfg.nested``.
    cfg : HatsConfig
    where : str
        Named in error messages (the pixel).

    Returns
    -------
    batch : LightcurveBatch
        Rows grouped by object (in frame order), bands sorted within an object, epochs sorted by
        time; ``extra`` holds ``ra``, ``dec`` and ``_healpix_29`` per row. An object without any
        unflagged epoch has no row.
    objects : pandas.DataFrame, one row per input object (frame order)
        ``object_id``, ``ra``, ``dec``, ``_healpix_29``, ``n_epochs`` (unflagged), ``n_flagged``,
        optional ``label``.
    """
    for c in cfg.object_columns + [cfg.nested]:
        if c not in frame.columns:
            raise InputError(f"{where}: no column {c!r} (it has {list(frame.columns)}); set HatsConfig "
                             "(nested / id_column / ra_column / dec_column / label_column) or the --preset.")
    nested = frame[cfg.nested]
    fields_ = list(nested.nest.columns)
    want = [cfg.time, cfg.value, cfg.error] + ([cfg.band] if cfg.band else [])
    absent = [f for f in want if f not in fields_]
    if absent:
        raise InputError(f"{where}: nested column {cfg.nested!r} has no field(s) {absent} (it has {fields_}); "
                         "set HatsConfig time / value / error / band.")
    flags = _flag_fields(fields_, cfg, where)
    lengths = np.asarray(nested.nest.len(), dtype=np.int64) if len(frame) else np.zeros(0, np.int64)
    flat = nested.nest.to_flat(want + flags) if lengths.sum() else pd.DataFrame({c: [] for c in want + flags})
    n = len(frame)
    obj_of = np.repeat(np.arange(n, dtype=np.int64), lengths)
    t = np.asarray(flat[cfg.time].to_numpy(dtype=np.float64, na_value=np.nan))
    y = np.asarray(flat[cfg.value].to_numpy(dtype=np.float64, na_value=np.nan))
    e = np.asarray(flat[cfg.error].to_numpy(dtype=np.float64, na_value=np.nan))
    if cfg.band:
        bands = flat[cfg.band].astype(object).to_numpy()
        bands = np.where(pd.isna(bands), "", bands).astype(str)
    else:
        bands = np.full(len(t), cfg.default_band, dtype=object).astype(str)
    flagged = np.zeros(len(t), dtype=bool)
    for f in flags:
        flagged |= np.asarray(flat[f].fillna(False).to_numpy(dtype=bool))
    keep = ~flagged
    n_flagged = np.bincount(obj_of[flagged], minlength=n)
    obj_k, t, y, e, bands = obj_of[keep], t[keep], y[keep], e[keep], bands[keep]
    ub, bcode = np.unique(bands, return_inverse=True)
    order = np.lexsort((t, bcode, obj_k))  # object (frame order), band, time
    obj_k, t, y, e, bcode = obj_k[order], t[order], y[order], e[order], bcode[order]
    key = obj_k * (len(ub) + 1) + bcode
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, np.int64)
    offsets = np.r_[starts, len(key)].astype(np.int64)
    row_obj = obj_k[starts]
    ids = frame[cfg.id_column].to_numpy()
    ids = ids.astype(np.int64) if pd.api.types.is_integer_dtype(frame[cfg.id_column].dtype) else ids.astype(str).astype(object)
    ra = frame[cfg.ra_column].to_numpy(dtype=np.float64)
    dec = frame[cfg.dec_column].to_numpy(dtype=np.float64)
    hpx = (np.asarray(frame.index.to_numpy(), dtype=np.int64) if frame.index.name == SPATIAL_INDEX
           else np.full(n, -1, np.int64))
    labels = None
    if cfg.label_column:
        labels = frame[cfg.label_column].astype(str).to_numpy().astype(object)[row_obj]
    batch = LightcurveBatch(
        ids[row_obj], ub[bcode[starts]].astype(object) if len(starts) else np.zeros(0, object), offsets,
        t, y, e, cfg.photometry, float(cfg.zeropoint), labels,
        {RA: ra[row_obj], DEC: dec[row_obj], SPATIAL_INDEX: hpx[row_obj]})
    objects = pd.DataFrame({S.OBJECT_ID: ids, RA: ra, DEC: dec, SPATIAL_INDEX: hpx,
                            "n_epochs": np.bincount(obj_k, minlength=n), "n_flagged": n_flagged})
    if cfg.label_column:
        objects[S.LABEL] = frame[cfg.label_column].astype(str).to_numpy()
    return batch, objects


# ------------------------------------------------------------------------ the source
@dataclass
class HatsSource:
    """A lazily read HATS catalog (or nested frames): one delayed NestedFrame per partition.

    Attributes
    ----------
    partitions : list of dask.delayed.Delayed
        Partition ``i`` computes to a NestedFrame (one row per object).
    pixels : list
        ``hats.pixel_math.HealpixPixel`` of each partition (None for frames without one).
    config : HatsConfig
    catalog : lsdb.Catalog or None
        The catalog when the source is one (HATS output writes through it).
    name : str
    """

    partitions: list
    pixels: list
    config: HatsConfig
    catalog: Any = None
    name: str = "catalog"

    @property
    def n_partitions(self) -> int:
        return len(self.partitions)

    def describe(self, index: int) -> str:
        pix = self.pixels[index]
        return f"{self.name} pixel {pix}" if pix is not None else f"{self.name} partition {index}"

    def read_batch(self, index: int, scheduler: str = "sync") -> tuple[LightcurveBatch, pd.DataFrame]:
        """Partition ``index`` as (batch, objects), in this process (the single-partition path)."""
        frame = self.partitions[index].compute(scheduler=scheduler)
        return frame_to_batch(frame, self.config, self.describe(index))


def open_hats(source: Any, config: HatsConfig | None = None, *, preset: str | None = None,
              storage_options: dict | None = None) -> HatsSource:
    """A lightcurve source from a HATS catalog path, an ``lsdb.Catalog``, a NestedFrame or Dask frames.

    Parameters
    ----------
    source : str, os.PathLike, lsdb.Catalog, nested_pandas.NestedFrame or dask DataFrame
        A directory (catalog or collection; fsspec URLs work through lsdb), an open catalog, one
        in-memory frame (one partition) or a Dask collection of NestedFrames (one task each).
    config : HatsConfig, optional
        Default: ``preset`` ("rubin": DP1 forced photometry).
    preset : str, optional
        ``"rubin"`` / ``"rubin-forced"`` (``diaObjectForcedSource``) or ``"rubin-dia"`` (``diaSource``).

    Only the object columns and the nested column are loaded from a catalog.
    """
    cfg = config or HatsConfig.preset(preset or "rubin")
    if isinstance(source, (str, os.PathLike)):
        lsdb = _lsdb()
        if "://" not in str(source) and not Path(source).exists():
            raise MissingInputError(f"HATS catalog {source} does not exist.")
        cols = list(dict.fromkeys(cfg.object_columns + [cfg.nested]))
        try:
            source = lsdb.open_catalog(str(source), columns=cols, storage_options=storage_options)
            source.margin = None  # classification needs no margin: one pass over the main pixels
        except (KeyError, ValueError) as exc:
            raise InputError(f"HATS catalog {source} cannot be opened with columns {cols} ({exc}); "
                             "check HatsConfig / --preset against the catalog's columns.") from exc
        except (FileNotFoundError, OSError) as exc:
            raise InputError(f"{source} is not a readable HATS catalog ({exc}).") from exc
    kind = type(source).__module__.split(".")[0]
    if kind == "lsdb":
        missing = [c for c in cfg.object_columns + [cfg.nested] if c not in source.columns]
        if missing:
            raise InputError(f"catalog {source.name} has no column(s) {missing} (it has {list(source.columns)}); "
                             "set HatsConfig or --preset.")
        return HatsSource(list(source.to_delayed()), list(source.get_healpix_pixels()), cfg, source, str(source.name))
    if hasattr(source, "to_delayed") and hasattr(source, "npartitions"):  # dask collection of NestedFrames
        return HatsSource(list(source.to_delayed()), [None] * source.npartitions, cfg, None, "frames")
    if isinstance(source, pd.DataFrame):
        import dask

        return HatsSource([dask.delayed(source)], [None], cfg, None, "frame")
    raise InputError(f"cannot read lightcurves from a {type(source).__name__}; give a HATS catalog path, "
                     "an lsdb.Catalog, a NestedFrame or a Dask collection of NestedFrames.")


# ------------------------------------------------------------------------ catalog -> archive
def _ingest_pixel(frame: pd.DataFrame, index: int, where: str, out: str, cfg: HatsConfig, icfg, job: str,
                  storage_options: dict | None = None) -> tuple[dict, list[dict]]:
    from .ingest import _write_task_part, validate_batch

    batch, objects = frame_to_batch(frame, cfg, where)
    good, quarantine, stats = validate_batch(batch, cfg.photometry, icfg.validation, where)
    empty = objects.loc[objects["n_epochs"] == 0, S.OBJECT_ID]
    quarantine += [{"object_id": str(o), "source": where, "reason": "no unflagged epochs in "
                    f"{cfg.nested}"} for o in empty]
    return _write_task_part(good, index, out, icfg, job, len(batch) + len(empty), stats["repaired"],
                            stats["duplicates"], quarantine, storage_options)


def ingest_hats(source: Any, out: str | os.PathLike, config: HatsConfig | None = None, ingest_config=None, *,
                preset: str | None = None, client=None, storage_options: dict | None = None):
    """Convert a HATS catalog into a lia_dask lightcurve archive, one archive part per HATS pixel.

    Parameters
    ----------
    source : as :func:`open_hats`
    out : path-like or URL
    config : HatsConfig, optional
    ingest_config : lia_dask.archive.IngestConfig, optional
        Validation (``min_points`` counts the object's epochs over all bands) and overwrite;
        photometry / zero point / time system come from ``config``.

    Returns
    -------
    lia_dask.archive.IngestReport
        ``read`` counts (object, band) lightcurves plus objects without any unflagged epoch.
    """
    import dask

    from .ingest import IngestConfig, _compute, _finish, _prepare_out, job_digest

    src = source if isinstance(source, HatsSource) else open_hats(source, config, preset=preset,
                                                                   storage_options=storage_options)
    cfg = src.config
    base = ingest_config or IngestConfig()
    val = replace(base.validation, allow_nonpositive_flux=base.validation.allow_nonpositive_flux
                  or (cfg.photometry == "flux" and cfg.allow_nonpositive_flux))
    icfg = IngestConfig(cfg.photometry, cfg.zeropoint, cfg.time_system, cfg.default_band, val,
                        base.files_per_partition, base.partition_bytes, base.overwrite)
    n = len(src.partitions)
    job = job_digest("hats", [src.describe(i) for i in range(n)], repr(cfg), repr(replace(icfg, overwrite=False)))
    outp, done = _prepare_out(out, icfg.overwrite, job, n, storage_options)  # a rerun resumes an unfinished ingest
    todo = [i for i in range(n) if i not in done]
    tasks = [dask.delayed(_ingest_pixel)(src.partitions[i], i, src.describe(i), str(outp), cfg, icfg, job,
                                         storage_options) for i in todo]
    results = dict(done)
    results.update(zip(todo, _compute(tasks, client)))
    return _finish(outp, [results[i] for i in range(n)], icfg, storage_options, {"resumed_parts": len(done)})


# ------------------------------------------------------------------------ batch -> catalog
def batch_to_nested(batch: LightcurveBatch, ra: np.ndarray, dec: np.ndarray, config: HatsConfig | None = None,
                    *, detection_snr: float | None = 5.0, seed: int = 0) -> pd.DataFrame:
    """Lightcurves (rows per (object, band), fluxes) -> a NestedFrame in the DP1 schema.

    Parameters
    ----------
    batch : LightcurveBatch
        Flux photometry (nJy); rows of one object adjacent.
    ra, dec : ndarray, shape (n_objects,)
        Position of each distinct object (order of first appearance), degrees.
    config : HatsConfig, optional
        Column names (default: the ``rubin`` preset).
    detection_snr : float or None
        Also build ``diaSource`` from the epochs with ``|flux| / err >= detection_snr`` (None: skip).
    seed : int
        Seed of the synthetic ``visit`` numbers.

    Returns
    -------
    nested_pandas.NestedFrame
        One row per object: id, ra, dec, optional label, the nested forced photometry (and diaSource).
    """
    import nested_pandas as npd

    cfg = config or HatsConfig()
    if batch.photometry != "flux":
        batch = batch.to_flux()
    ids = batch.object_id
    first = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(batch) else np.zeros(0, np.int64)
    obj_index = np.cumsum(np.r_[False, ids[1:] != ids[:-1]]) if len(batch) else np.zeros(0, np.int64)
    lengths = batch.lengths
    a, b = int(batch.offsets[0]), int(batch.offsets[-1])
    rng = np.random.default_rng(seed)
    flat = pd.DataFrame({
        cfg.band or "band": np.repeat(batch.band.astype(str), lengths),
        cfg.time: batch.time[a:b], cfg.value: batch.y[a:b], cfg.error: batch.yerr[a:b],
        "visit": rng.integers(0, 2**40, b - a), "psfFlux_flag": np.zeros(b - a, bool),
    }, index=np.repeat(obj_index, lengths))
    objects = pd.DataFrame({cfg.id_column: ids[first], cfg.ra_column: np.asarray(ra, np.float64),
                            cfg.dec_column: np.asarray(dec, np.float64)})
    if batch.label is not None:
        objects[cfg.label_column or S.LABEL] = batch.label[first].astype(str)
    nf = npd.NestedFrame(objects).join_nested(flat, cfg.nested)
    if detection_snr is not None:
        det = flat[np.abs(flat[cfg.value].to_numpy()) >= detection_snr * flat[cfg.error].to_numpy()]
        other = "diaSource" if cfg.nested != "diaSource" else "diaObjectForcedSource"
        nf = nf.join_nested(det, other)
    return nf


def write_hats_catalog(frame: pd.DataFrame, path: str | os.PathLike, *, name: str = "dia_object_collection",
                       ra_column: str = RA, dec_column: str = DEC, partition_rows: int = 20_000,
                       margin_arcsec: float | None = None, overwrite: bool = False) -> Path:
    """Write a NestedFrame as a HATS catalog with lsdb (``from_dataframe`` + ``write_catalog``).

    ``margin_arcsec``: also write a margin cache of that width (a collection); None: the main
    catalog only (classification needs no margin).
    """
    lsdb = _lsdb()
    cat = lsdb.from_dataframe(frame, ra_column=ra_column, dec_column=dec_column, catalog_name=name,
                              partition_rows=int(partition_rows), margin_threshold=margin_arcsec)
    cat.write_catalog(str(path), overwrite=overwrite, progress_bar=False, as_collection=margin_arcsec is not None)
    return Path(path)


def write_generated_catalog(generate, pixels: list, meta: pd.DataFrame, path: str | os.PathLike, *,
                            name: str = "dia_object_collection", ra_column: str = RA, dec_column: str = DEC,
                            map_kwargs: dict | None = None, compression_level: int | None = None,
                            overwrite: bool = False) -> Path:
    """Write a HATS catalog whose pixels a function generates, one task per pixel, with lsdb's writer.

    Nothing is built on the client: each task generates one pixel and lsdb writes it (Parquet file,
    histogram); lsdb then writes the catalog's metadata (``_metadata``, partition info, skymap,
    ``hats.properties``). Peak memory is one pixel per worker thread, whatever the catalog size.
    The tasks run on Dask's current scheduler (the active distributed Client, if any).

    Parameters
    ----------
    generate : callable
        ``generate(pixel: HealpixPixel, **kwargs) -> NestedFrame``: the rows of that pixel, index
        ``_healpix_29`` (sorted, inside the pixel), columns ``ra_column`` / ``dec_column``.
    pixels : list of hats.pixel_math.HealpixPixel
        The catalog's pixels (non-overlapping).
    meta : NestedFrame
        Empty frame with the columns and dtypes ``generate`` returns (the catalog's schema).
    path : path-like
    map_kwargs : dict of lists, optional
        Per-pixel keyword arguments of ``generate`` (each list as long as ``pixels``).
    compression_level : int, optional
        ZSTD level of the pixel files (None: hats' default, 15, several times slower to write;
        reading speed is about the same).
    overwrite : bool

    Returns
    -------
    Path of the catalog.
    """
    lsdb = _lsdb()
    import hats
    from hats.catalog import CatalogType, TableProperties
    from hats.pixel_math.spatial_index import healpix_to_spatial_index
    from lsdb.io.schema import get_arrow_schema
    from lsdb.operations.lsdb_ops import FromHealpixMap

    order = np.argsort([int(healpix_to_spatial_index(p.order, p.pixel)) for p in pixels], kind="stable")
    pixels = [pixels[i] for i in order]
    kw = {k: [v[i] for i in order] for k, v in (map_kwargs or {}).items()}
    op = FromHealpixMap(generate, pixels, meta=meta, map_kwargs=kw or None)
    info = TableProperties(catalog_name=name, catalog_type=CatalogType.OBJECT, ra_column=ra_column,
                           dec_column=dec_column, healpix_column=SPATIAL_INDEX, healpix_order=29)
    structure = hats.catalog.Catalog(info, pixels, schema=get_arrow_schema(meta))
    zstd = None if compression_level is None else {"compression": "zstd", "compression_level": int(compression_level)}
    lsdb.Catalog(op, structure).write_catalog(str(path), overwrite=overwrite, progress_bar=False, as_collection=False,
                                              write_table_kwargs=zstd)
    return Path(path)


__all__ = ["batch_to_nested", "write_generated_catalog", "write_hats_catalog", "HATS_PRESETS", "HatsConfig", "HatsSource", "RA", "DEC", "SPATIAL_INDEX", "frame_to_batch",
           "ingest_hats", "is_hats_catalog", "open_hats"]
