"""Ingest survey files into the nested lightcurve archive, as Dask jobs.

- :func:`ingest_directory`: OGLE-style whitespace text files (time, mag, magerr), one per object,
  ``object_id`` = file stem, class label = sub-directory name (one folder per class).
- :func:`ingest_long`: long tables (one row per epoch, Parquet or CSV) with a column mapping, e.g.
  Rubin DiaSource; grouped by object with a Dask shuffle, so tables larger than memory work.

Each task writes its own archive part and returns a small summary plus its quarantine records;
the client only gathers those. ``read = archived + quarantined`` is checked at the end.

Inputs and the output archive may be local paths or fsspec URLs (``s3://...``); one
``storage_options`` dict serves both (see :mod:`lia_dask.archive.storage`).
"""
from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import InputError, MissingInputError
from . import storage
from .lightcurves import Archive, clear_archive, open_archive, write_partition, write_quarantine, write_summary
from .validate import ValidationConfig, check_lightcurve

#: column mappings for long tables as surveys publish them (source column -> archive column)
PRESETS: dict[str, dict] = {
    "rubin-dia": {
        "columns": {"diaObjectId": S.OBJECT_ID, "midpointMjdTai": S.TIME, "psfFlux": S.FLUX,
                    "psfFluxErr": S.FLUX_ERR, "band": S.BAND},
        "photometry": "flux", "zeropoint": 31.4, "time_system": "MJD-TAI", "allow_nonpositive_flux": True,
    },
    "rubin-forced": {
        "columns": {"diaObjectId": S.OBJECT_ID, "midpointMjdTai": S.TIME, "psfFlux": S.FLUX,
                    "psfFluxErr": S.FLUX_ERR, "band": S.BAND},
        "photometry": "flux", "zeropoint": 31.4, "time_system": "MJD-TAI",
    },
}


@dataclass(frozen=True)
class IngestConfig:
    """Settings of an ingest job.

    Attributes
    ----------
    photometry : {"mag", "flux"}
    zeropoint : float
        Zero point of the magnitudes / fluxes (22 for OGLE I-band as MicroLIA uses it; 31.4 for nJy).
    time_system : str
        Written to the archive metadata (e.g. "HJD-2450000", "MJD-TAI").
    band : str
        Band of single-band inputs (text files).
    validation : ValidationConfig
    files_per_partition : int
        Text files handled by one task (one archive part each).
    partition_bytes : float
        Target in-memory size of a part for long-table ingest.
    overwrite : bool
    """

    photometry: str = "mag"
    zeropoint: float = S.DEFAULT_ZEROPOINT
    time_system: str = S.DEFAULT_TIME_SYSTEM
    band: str = S.DEFAULT_BAND
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    files_per_partition: int = 2000
    partition_bytes: float = 100e6
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.photometry not in S.PHOTOMETRY_COLUMNS:
            raise InputError(f"photometry must be 'mag' or 'flux', got {self.photometry!r}.")
        if self.files_per_partition < 1:
            raise InputError(f"files_per_partition must be >= 1, got {self.files_per_partition}.")


@dataclass
class IngestReport:
    """What an ingest job did; ``read == archived + quarantined`` always."""

    archive: Archive
    read: int
    archived: int
    quarantined: int
    repaired: int
    n_epochs: int
    duplicate_epochs: int = 0

    def __str__(self) -> str:
        return (f"read {self.read} lightcurves: archived {self.archived} ({self.n_epochs} epochs, "
                f"{self.repaired} re-sorted, {self.duplicate_epochs} with duplicate epochs kept), "
                f"quarantined {self.quarantined} "
                f"-> {self.archive.path}")


# ------------------------------------------------------------------------ text files
def read_text_lightcurve(path: str | os.PathLike, storage_options: dict | None = None
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one whitespace text lightcurve: columns time, value, error (further columns ignored).

    ``path`` may be an fsspec URL (read with ``storage_options``).

    Raises
    ------
    InputError
        The file is unreadable, empty, has fewer than 3 columns, ragged rows or non-numeric values.
    """
    if storage.is_url(path):
        try:
            fs, fp = storage.filesystem(str(path), storage_options)
            data = fs.cat_file(fp)
        except OSError as exc:
            raise InputError(f"{path}: unreadable file ({exc.__class__.__name__}: {exc}).") from exc
        source, p = io.BytesIO(data), path
    else:
        source = p = Path(path)
    try:  # fast path: NumPy's C parser; the slow path below only explains a failure
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(source, ndmin=2, comments="#", dtype=np.float64)
        if arr.shape[0] and arr.shape[1] >= 3:
            return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()
    except (ValueError, UnicodeDecodeError, OSError):
        pass
    return _explain_text_failure(p, source.getvalue() if storage.is_url(path) else None)


def _explain_text_failure(p: Path | str, data: bytes | None = None):
    try:
        text = p.read_text() if data is None else data.decode()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{p}: unreadable file ({exc.__class__.__name__}: {exc}).") from exc
    rows = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not rows:
        raise InputError(f"{p}: empty file (no data rows).")
    ncols = {len(r) for r in rows}
    if min(ncols) < 3:
        raise InputError(f"{p}: wrong column count ({min(ncols)}), expected at least 3 columns time, mag, magerr.")
    if len(ncols) > 1:
        line = next(i for i, r in enumerate(rows) if len(r) != len(rows[0]))
        raise InputError(f"{p}: ragged rows (data row {line + 1} has {len(rows[line])} columns, the first has {len(rows[0])}).")
    try:
        arr = np.array([r[:3] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{p}: non-numeric value ({exc}).") from exc
    return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()


_NOT_DATA = (".md", ".rst", ".json", ".yaml", ".yml", ".parquet", ".npy")


def _find_remote_text_files(url: str, pattern: str, storage_options: dict | None) -> list[tuple[str, str | None]]:
    import fnmatch

    fs, root = storage.filesystem(url, storage_options)
    root = root.rstrip("/")
    out = []
    for f in sorted(fs.find(root)):
        rel = f[len(root) + 1:].split("/")
        name = rel[-1]
        if name.startswith(".") or Path(name).suffix.lower() in _NOT_DATA or not fnmatch.fnmatch(name, pattern):
            continue
        out.append((storage.url_of(fs, f), rel[0] if len(rel) > 1 else None))
    return out


def _find_text_files(root: Path, pattern: str = "*") -> list[tuple[Path, str | None]]:
    files = sorted(p for p in root.rglob(pattern) if p.is_file() and not p.name.startswith(".")
                   and p.suffix.lower() not in _NOT_DATA)
    out = []
    for f in files:
        rel = f.relative_to(root)
        out.append((f, rel.parts[0] if len(rel.parts) > 1 else None))
    return out


def _ingest_text_group(index: int, items: list[tuple[str, str | None]], out: str, cfg: IngestConfig,
                       with_label: bool, storage_options: dict | None = None) -> tuple[dict, list[dict]]:
    ids, times, ys, es, labels, quarantine, repaired, dups = [], [], [], [], [], [], 0, 0
    for path, label in items:
        oid = Path(path).stem
        try:
            t, y, e = read_text_lightcurve(path, storage_options)
        except InputError as exc:
            quarantine.append({"object_id": oid, "source": path, "reason": str(exc).split(": ", 1)[-1]})
            continue
        t2, y2, e2, reason = check_lightcurve(t, y, e, cfg.photometry, cfg.validation)
        if reason:
            quarantine.append({"object_id": oid, "source": path, "reason": reason})
            continue
        repaired += int(len(t2) != len(t) or not np.array_equal(t2, t))
        dups += int(np.any(np.diff(t2) == 0))
        ids.append(oid)
        times.append(t2)
        ys.append(y2)
        es.append(e2)
        labels.append(label)
    batch = LightcurveBatch.from_lightcurves(
        ids, times, ys, es, bands=cfg.band, labels=labels if with_label else None,
        photometry=cfg.photometry, zeropoint=cfg.zeropoint)
    part = write_partition(batch, out, index, cfg.time_system, storage_options)
    part.update(read=len(items), repaired=repaired, duplicates=dups)
    return part, quarantine


def ingest_directory(
    path: str | os.PathLike,
    out: str | os.PathLike,
    config: IngestConfig | None = None,
    *,
    labels: bool | None = None,
    pattern: str = "*",
    client=None,
    storage_options: dict | None = None,
) -> IngestReport:
    """Ingest a directory of OGLE-style text lightcurves into a nested archive.

    Parameters
    ----------
    path : path-like or URL
        Directory of files (any name, one object per file, ``object_id`` = file stem). Files in
        sub-directories take the sub-directory name as class label.
    out : path-like or URL
        Archive directory to write (e.g. ``s3://bucket/ogle4``).
    config : IngestConfig, optional
    labels : bool, optional
        Store the label column; by default when any file lies in a sub-directory.
    pattern : str
        Glob of the data files (searched recursively); documentation files (``.md``, ``.json``,
        ...) and hidden files are never taken.
    client : distributed.Client, optional
        Run on this cluster; ``None`` uses Dask's current default scheduler.
    storage_options : dict, optional
        fsspec options for URL inputs / outputs.
    """
    cfg = config or IngestConfig()
    if storage.is_url(path):
        fs, root_p = storage.filesystem(str(path), storage_options)
        if not fs.isdir(root_p):
            raise MissingInputError(f"input directory {path} does not exist.")
        files = _find_remote_text_files(str(path), pattern, storage_options)
        root = path
    else:
        root = Path(path)
        if not root.is_dir():
            raise MissingInputError(f"input directory {root} does not exist.")
        files = _find_text_files(root, pattern)
    if not files:
        raise InputError(f"input directory {root} holds no files to ingest.")
    if labels is None:
        labels = any(lab is not None for _, lab in files)
    out = _prepare_out(out, cfg.overwrite, storage_options)
    k = cfg.files_per_partition
    groups = [[(str(f), lab) for f, lab in files[i:i + k]] for i in range(0, len(files), k)]
    tasks = [dask.delayed(_ingest_text_group)(i, g, str(out), cfg, bool(labels), storage_options)
             for i, g in enumerate(groups)]
    results = _compute(tasks, client)
    return _finish(out, results, cfg, storage_options)


# ------------------------------------------------------------------------ long tables
def _long_partition_to_part(df: pd.DataFrame, index: int, out: str, cfg: IngestConfig, has_band: bool,
                            has_label: bool, source: str, storage_options: dict | None = None) -> tuple[dict, list[dict]]:
    ycol, ecol = S.PHOTOMETRY_COLUMNS[cfg.photometry]
    if not has_band:
        df = df.assign(**{S.BAND: cfg.band})
    df = df.sort_values([S.OBJECT_ID, S.BAND, S.TIME], kind="stable")
    batch = LightcurveBatch.from_long(df, object_col=S.OBJECT_ID, time_col=S.TIME, y_col=ycol, yerr_col=ecol,
                                      band_col=S.BAND, label_col=S.LABEL if has_label else None,
                                      photometry=cfg.photometry, zeropoint=cfg.zeropoint, assume_sorted=True)
    good, quarantine, stats = validate_batch(batch, cfg.photometry, cfg.validation, source)
    part = write_partition(good, out, index, cfg.time_system, storage_options)
    part.update(read=len(batch), **stats)
    return part, quarantine


def validate_batch(batch: LightcurveBatch, photometry: str, validation: ValidationConfig, source: str
                   ) -> tuple[LightcurveBatch, list[dict], dict]:
    """Check every (object, band) lightcurve of a batch; ``min_points`` counts an object's epochs over all bands.

    Returns the good lightcurves (repaired losslessly), the quarantine records and the counts
    ``{"repaired", "duplicates"}``. A band with too few points of an object that has enough in
    total is kept (its features may be NaN); rows of one object must be adjacent.
    """
    from dataclasses import replace as _replace

    per_band = _replace(validation, min_points=1)
    lengths = batch.lengths
    ids = batch.object_id
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]]) if len(batch) else np.zeros(0, np.int64)
    totals = np.repeat(np.add.reduceat(lengths, starts) if len(starts) else lengths,
                       np.diff(np.r_[starts, len(batch)]))
    keep, times, ys, es, quarantine, repaired, dups = [], [], [], [], [], 0, 0
    for i, lc in enumerate(batch):
        t, y, e, reason = check_lightcurve(lc.time, lc.y, lc.yerr, photometry, per_band)
        if reason is None and totals[i] < validation.min_points:
            reason = f"too few points ({int(totals[i])} over all bands < min_points={validation.min_points})"
        if reason:
            quarantine.append({"object_id": str(lc.object_id), "source": f"{source} band={lc.band}", "reason": reason})
            continue
        repaired += int(len(t) != len(lc.time))
        dups += int(np.any(np.diff(t) == 0))
        keep.append(i)
        times.append(t)
        ys.append(y)
        es.append(e)
    kept = batch.take(np.asarray(keep, dtype=np.int64))
    good = LightcurveBatch.from_lightcurves(kept.object_id, times, ys, es, bands=kept.band, labels=kept.label,
                                            photometry=photometry, zeropoint=batch.zeropoint, extra=kept.extra)
    return good, quarantine, {"repaired": repaired, "duplicates": dups}


def ingest_long(
    source: str | os.PathLike | list,
    out: str | os.PathLike,
    columns: dict[str, str] | None = None,
    config: IngestConfig | None = None,
    *,
    preset: str | None = None,
    fmt: str | None = None,
    npartitions: int | None = None,
    client=None,
    storage_options: dict | None = None,
) -> IngestReport:
    """Ingest a long table (one row per epoch) into a nested archive.

    Parameters
    ----------
    source : path, glob or list of paths
        Parquet or CSV file(s), local or fsspec URLs (``s3://bucket/dia/*.parquet``).
    columns : dict
        Mapping from source column names to archive names (``object_id``, ``time``, ``mag``/``magerr``
        or ``flux``/``flux_err``, optional ``band`` and ``label``).
    preset : str, optional
        A named mapping from :data:`PRESETS` (e.g. ``"rubin-dia"``); sets photometry, zero point and time system.
    fmt : {"parquet", "csv"}, optional
        Guessed from the file suffix when omitted.
    npartitions : int, optional
        Output parts; by default one per ~``config.partition_bytes`` of input.
    storage_options : dict, optional
        fsspec options for URL sources and a URL ``out``.
    """
    cfg = config or IngestConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise InputError(f"unknown preset {preset!r}; choose one of {sorted(PRESETS)}.")
        p = PRESETS[preset]
        columns = {**p["columns"], **(columns or {})}
        val = cfg.validation
        if p.get("allow_nonpositive_flux"):  # difference fluxes: negative values are valid
            from dataclasses import replace as _replace

            val = _replace(val, allow_nonpositive_flux=True)
        cfg = IngestConfig(p["photometry"], p["zeropoint"], p["time_system"], cfg.band, val,
                           cfg.files_per_partition, cfg.partition_bytes, cfg.overwrite)
    if not columns:
        raise InputError("ingest_long needs a column mapping (columns=...) or a preset.")
    ycol, ecol = S.PHOTOMETRY_COLUMNS[cfg.photometry]
    required = {S.OBJECT_ID, S.TIME, ycol, ecol}
    missing = required - set(columns.values())
    if missing:
        raise InputError(f"the column mapping does not map any source column to {sorted(missing)}.")
    paths = source if isinstance(source, list) else [str(source)]
    fmt = fmt or ("csv" if str(paths[0]).endswith((".csv", ".csv.gz")) else "parquet")
    src_cols = list(columns)
    so = {"storage_options": storage_options} if storage_options else {}
    try:
        ddf = dd.read_csv(paths, blocksize="64MB", **so) if fmt == "csv" else dd.read_parquet(paths, **so)
    except (FileNotFoundError, OSError) as exc:
        raise MissingInputError(f"long table {paths[0]} cannot be opened ({exc}).") from exc
    except ValueError as exc:
        raise InputError(f"long table {paths[0]} cannot be read as {fmt} ({exc}).") from exc
    absent = [c for c in src_cols if c not in ddf.columns]
    if absent:
        raise InputError(f"long table {paths[0]} has no column(s) {absent} (it has {list(ddf.columns)}); fix the column mapping.")
    ddf = ddf[src_cols]
    ddf = ddf.rename(columns=columns)
    for c in (S.TIME, ycol, ecol):
        ddf[c] = ddf[c].astype("float64")
    out = _prepare_out(out, cfg.overwrite, storage_options)
    if npartitions is None:
        total = int(ddf.memory_usage(deep=True, index=False).sum().compute()) if ddf.npartitions > 1 else 0
        npartitions = max(ddf.npartitions, int(np.ceil(total / cfg.partition_bytes)), 1)
    shuffled = ddf.shuffle(on=S.OBJECT_ID, npartitions=npartitions)
    has_band, has_label = S.BAND in ddf.columns, S.LABEL in ddf.columns
    parts = shuffled.to_delayed()
    tasks = [dask.delayed(_long_partition_to_part)(p, i, str(out), cfg, has_band, has_label, str(paths[0]),
                                                   storage_options)
             for i, p in enumerate(parts)]
    results = _compute(tasks, client)
    return _finish(out, results, cfg, storage_options)


# ------------------------------------------------------------------------ shared plumbing
def _prepare_out(out: str | os.PathLike, overwrite: bool, storage_options: dict | None = None) -> Path | str:
    """Check / clear the output archive; returns it as a Path (local) or the URL."""
    out = str(out) if storage.is_url(out) else storage.local(out)
    try:
        clear_archive(out, overwrite, storage_options)
    except InputError as exc:
        raise InputError(f"output archive {out} already exists and is not empty; choose another --out or use "
                         "--overwrite.") from exc
    if isinstance(out, Path):
        out.mkdir(parents=True, exist_ok=True)
    return out


def _compute(tasks: list, client) -> list:
    from ..cluster import compute_with_progress

    return compute_with_progress(tasks, client)


def _finish(out: Path | str, results: list, cfg: IngestConfig, storage_options: dict | None = None) -> IngestReport:
    parts = [r[0] for r in results]
    quarantine = [q for r in results for q in r[1]]
    archived = sum(p["n_objects"] for p in parts)
    # one file, or one (object, band) row of a long table, counts as one lightcurve read
    rows_read = sum(p["read"] for p in parts)
    if rows_read != archived + len(quarantine):
        raise AssertionError(f"ingest counts do not reconcile: read {rows_read} != archived {archived} + quarantined {len(quarantine)}")
    write_quarantine(quarantine, out, storage_options)
    write_summary(out, parts, cfg.photometry, cfg.zeropoint, cfg.time_system,
                  {"read": rows_read, "archived": archived, "quarantined": len(quarantine),
                   "repaired": sum(p["repaired"] for p in parts),
                   "duplicate_epochs": sum(p["duplicates"] for p in parts)}, storage_options)
    return IngestReport(open_archive(out, storage_options), rows_read, archived, len(quarantine),
                        sum(p["repaired"] for p in parts), sum(p["n_epochs"] for p in parts),
                        sum(p["duplicates"] for p in parts))
