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

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd

from .. import schema as S
from ..batch import LightcurveBatch
from ..errors import InputError, LiaDaskError, MissingInputError
from . import storage
from .lightcurves import (INGEST_DIR, Archive, clear_archive, open_archive, remove_ingest_records, write_partition,
                          write_quarantine, write_summary)
from .textfiles import (DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_LINE_BYTES, find_remote_text_files, find_text_files,
                        object_ids_for, read_text_lightcurve)
from .validate import ValidationConfig, check_lightcurve

#: part metadata key: the digest of the ingest job that wrote the part (inputs + settings)
META_INGEST_JOB = "lia_dask.ingest_job"

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
        Replace an existing lia_dask archive at ``out`` (only its own files are removed).
    max_file_bytes, max_line_bytes : int
        A text file larger than ``max_file_bytes`` (256 MiB) or with a line longer than
        ``max_line_bytes`` (64 KiB) is quarantined with that reason, unparsed: memory per file is
        bounded by ~3 x ``max_file_bytes`` (the bytes, and one pass over them for line ends).
    """

    photometry: str = "mag"
    zeropoint: float = S.DEFAULT_ZEROPOINT
    time_system: str = S.DEFAULT_TIME_SYSTEM
    band: str = S.DEFAULT_BAND
    validation: ValidationConfig = field(default_factory=ValidationConfig)
    files_per_partition: int = 2000
    partition_bytes: float = 100e6
    overwrite: bool = False
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES

    def __post_init__(self) -> None:
        if self.photometry not in S.PHOTOMETRY_COLUMNS:
            raise InputError(f"photometry must be 'mag' or 'flux', got {self.photometry!r}.")
        for name in ("files_per_partition", "max_file_bytes", "max_line_bytes"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise InputError(f"{name} must be a positive integer, got {v!r}.")
        if not (isinstance(self.partition_bytes, (int, float)) and self.partition_bytes > 0):
            raise InputError(f"partition_bytes must be a positive number, got {self.partition_bytes!r}.")


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
def _ingest_text_group(index: int, items: list[tuple], out: str, cfg: IngestConfig, with_label: bool,
                       job: str, storage_options: dict | None = None) -> tuple[dict, list[dict]]:
    ids, times, ys, es, labels, sources, quarantine, repaired, dups = [], [], [], [], [], [], [], 0, 0
    for path, label, oid, special in items:
        if special:
            quarantine.append({"object_id": oid, "source": path, "reason": special})
            continue
        try:
            t, y, e = read_text_lightcurve(path, storage_options, max_file_bytes=cfg.max_file_bytes,
                                           max_line_bytes=cfg.max_line_bytes)
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
        sources.append(path)
    batch = LightcurveBatch.from_lightcurves(
        ids, times, ys, es, bands=cfg.band, labels=labels if with_label else None,
        photometry=cfg.photometry, zeropoint=cfg.zeropoint,
        extra={S.SOURCE_FILE: np.asarray(sources, dtype=object)})
    return _write_task_part(batch, index, out, cfg, job, len(items), repaired, dups, quarantine, storage_options)


def _write_task_part(batch: LightcurveBatch, index: int, out: str, cfg: IngestConfig, job: str, read: int,
                     repaired: int, dups: int, quarantine: list[dict], storage_options: dict | None
                     ) -> tuple[dict, list[dict]]:
    """Write a task's part, then its record ``_ingest/NNNNN.json`` (the marker a resumed ingest trusts)."""
    part = write_partition(batch, out, index, cfg.time_system, storage_options,
                           extra_metadata={META_INGEST_JOB: job.encode()})
    part.update(read=read, repaired=repaired, duplicates=dups)
    records = storage.Location(storage.join(str(out), INGEST_DIR) if storage.is_url(out)
                               else os.path.join(str(out), INGEST_DIR), storage_options)
    records.makedirs()
    records.write_json({"job": job, "part": part, "quarantine": quarantine}, f"{index:05d}.json")
    return part, quarantine


def _resumable(out: Path | str, job: str, n_tasks: int, storage_options: dict | None) -> dict[int, tuple]:
    """Results of the tasks an unfinished ingest of the same job already wrote (index -> result)."""
    from .manifest import footer_digest

    records = storage.Location(storage.join(str(out), INGEST_DIR) if storage.is_url(out)
                               else os.path.join(str(out), INGEST_DIR), storage_options)
    done = {}
    for f in records.glob("*.json"):
        try:
            rec = records.read_json(f.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1])
            idx = int(rec["part"]["index"])
            if rec.get("job") != job or not 0 <= idx < n_tasks:
                continue
            size, sha = footer_digest(rec["part"]["path"], records.fs if storage.is_url(out) else None)
            if (size, sha) == (rec["part"]["size"], rec["part"]["footer_sha256"]):
                done[idx] = (rec["part"], rec["quarantine"])
        except (ValueError, KeyError, TypeError, OSError, LiaDaskError):
            continue  # a damaged record or part: that task runs again
    return done


def job_digest(*items) -> str:
    """SHA-256 of an ingest job's inputs and settings (what a resume must match)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(items, sort_keys=True, default=repr).encode()).hexdigest()


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
        files, ignored = find_remote_text_files(str(path), pattern, storage_options)
        root = path
    else:
        root = Path(path)
        if root.is_file():
            raise InputError(f"input {root} is a file; give the directory that holds the lightcurve files.")
        if not root.is_dir():
            raise MissingInputError(f"input directory {root} does not exist.")
        files, ignored = find_text_files(root, pattern)
    if not files:
        raise InputError(f"input directory {root} holds no files to ingest.")
    if labels is None:
        labels = any(f[1] is not None for f in files)
    ids = object_ids_for([f[2] for f in files])
    items = [(f[0], f[1], oid, f[3]) for f, oid in zip(files, ids)]
    k = cfg.files_per_partition
    groups = [items[i:i + k] for i in range(0, len(items), k)]
    job = job_digest("text", [(f[2], f[4]) for f in files], repr(replace(cfg, overwrite=False)), bool(labels))
    out, done = _prepare_out(out, cfg.overwrite, job, len(groups), storage_options)
    todo = [i for i in range(len(groups)) if i not in done]
    tasks = [dask.delayed(_ingest_text_group)(i, groups[i], str(out), cfg, bool(labels), job, storage_options)
             for i in todo]
    results = dict(done)
    results.update(zip(todo, _compute(tasks, client)))
    return _finish(out, [results[i] for i in range(len(groups))], cfg, storage_options,
                   {"ignored": ignored, "resumed_parts": len(done)})


# ------------------------------------------------------------------------ long tables
def _long_partition_to_part(df: pd.DataFrame, index: int, out: str, cfg: IngestConfig, has_band: bool,
                            has_label: bool, source: str, job: str, names: dict[str, str],
                            storage_options: dict | None = None) -> tuple[dict, list[dict]]:
    ycol, ecol = S.PHOTOMETRY_COLUMNS[cfg.photometry]
    if not has_band:
        df = df.assign(**{S.BAND: cfg.band})
    quarantine: list[dict] = []
    null_id, null_band = df[S.OBJECT_ID].isna().to_numpy(), df[S.BAND].isna().to_numpy()
    read_extra = 0
    if null_id.any() or null_band.any():  # rule: one quarantine record per band (null id) / per object (null band)
        for b, n in df.loc[null_id, S.BAND].astype(str).value_counts(dropna=False).sort_index().items():
            quarantine.append({"object_id": "<null>", "source": f"{source} band={b}",
                               "reason": f"{n} epoch rows with a null object id (column {names[S.OBJECT_ID]})"})
        only_band = null_band & ~null_id
        for o, n in df.loc[only_band, S.OBJECT_ID].astype(str).value_counts().sort_index().items():
            quarantine.append({"object_id": o, "source": f"{source} band=<null>",
                               "reason": f"{n} epoch rows with a null band (column {names.get(S.BAND, S.BAND)})"})
        read_extra = len(quarantine)
        df = df.loc[~(null_id | null_band)]
    bad_num = np.zeros(len(df), dtype=bool)
    conv = {}
    for c in (S.TIME, ycol, ecol):  # non-numeric values: the lightcurve is quarantined, named by column
        v = pd.to_numeric(df[c], errors="coerce")
        bad = (v.isna() & df[c].notna()).to_numpy()
        bad_num |= bad
        conv[c] = v.astype("float64")
    df = df.assign(**conv, _bad_numeric=bad_num)
    df[S.BAND] = df[S.BAND].astype(str)
    df = df.sort_values([S.OBJECT_ID, S.BAND, S.TIME], kind="stable")
    batch = LightcurveBatch.from_long(df, object_col=S.OBJECT_ID, time_col=S.TIME, y_col=ycol, yerr_col=ecol,
                                      band_col=S.BAND, label_col=S.LABEL if has_label else None,
                                      photometry=cfg.photometry, zeropoint=cfg.zeropoint, assume_sorted=True)
    nonnum = np.add.reduceat(df["_bad_numeric"].to_numpy().astype(np.int64), batch.offsets[:-1]) if len(df) else []
    columns = f"{names[S.TIME]}, {names[ycol]}, {names[ecol]}"
    good, more, stats = validate_batch(batch, cfg.photometry, cfg.validation, source, nonnum, columns)
    return _write_task_part(good, index, out, cfg, job, len(batch) + read_extra, stats["repaired"],
                            stats["duplicates"], quarantine + more, storage_options)


def validate_batch(batch: LightcurveBatch, photometry: str, validation: ValidationConfig, source: str,
                   non_numeric: np.ndarray | None = None, columns: str = "time, value, error"
                   ) -> tuple[LightcurveBatch, list[dict], dict]:
    """Check every (object, band) lightcurve of a batch; ``min_points`` counts an object's epochs over all bands.

    Parameters
    ----------
    non_numeric : ndarray of int, shape (len(batch),), optional
        Epochs per lightcurve whose time / value / error was not a number (the lightcurve is
        quarantined, naming ``columns``).

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
        if non_numeric is not None and non_numeric[i]:
            quarantine.append({"object_id": str(lc.object_id), "source": f"{source} band={lc.band}",
                               "reason": f"{int(non_numeric[i])} epochs have a non-numeric time/value/error "
                                         f"(columns {columns})"})
            continue
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
    inverse = {v: k for k, v in columns.items()}
    for c in (S.TIME, ycol, ecol):
        kind = ddf[c].dtype.kind
        if kind in "mM":
            raise InputError(f"long table {paths[0]}: column {inverse[c]!r} holds dates/times ({ddf[c].dtype}); "
                             f"convert it to days (e.g. MJD) before ingesting.")
        if kind == "b":
            raise InputError(f"long table {paths[0]}: column {inverse[c]!r} is boolean; map a numeric column.")
    if npartitions is not None and (isinstance(npartitions, bool) or int(npartitions) < 1):
        raise InputError(f"npartitions must be a positive integer, got {npartitions!r}.")
    if npartitions is None:
        total = int(ddf.memory_usage(deep=True, index=False).sum().compute()) if ddf.npartitions > 1 else 0
        npartitions = max(ddf.npartitions, int(np.ceil(total / cfg.partition_bytes)), 1)
    job = job_digest("long", [str(p) for p in paths], _input_stamps(paths, storage_options), columns,
                     repr(replace(cfg, overwrite=False)), int(npartitions))
    out, done = _prepare_out(out, cfg.overwrite, job, int(npartitions), storage_options)
    shuffled = ddf.shuffle(on=S.OBJECT_ID, npartitions=npartitions)
    has_band, has_label = S.BAND in ddf.columns, S.LABEL in ddf.columns
    parts = shuffled.to_delayed()
    todo = [i for i in range(len(parts)) if i not in done]
    tasks = [dask.delayed(_long_partition_to_part)(parts[i], i, str(out), cfg, has_band, has_label, str(paths[0]),
                                                   job, inverse, storage_options)
             for i in todo]
    results = dict(done)
    results.update(zip(todo, _compute(tasks, client)))
    return _finish(out, [results[i] for i in range(len(parts))], cfg, storage_options, {"resumed_parts": len(done)})


def _input_stamps(paths: list, storage_options: dict | None) -> list:
    """(size, mtime) of local input files (a changed input makes another job); URLs by name only."""
    import glob

    out = []
    for p in paths:
        if storage.is_url(p):
            out.append(str(p))
            continue
        for f in sorted(glob.glob(str(p))) or [str(p)]:
            try:
                st = os.stat(f)
                out.append((f, st.st_size, st.st_mtime_ns))
            except OSError:
                out.append(f)
    return out


# ------------------------------------------------------------------------ shared plumbing
def _prepare_out(out: str | os.PathLike, overwrite: bool, job: str, n_tasks: int,
                 storage_options: dict | None = None) -> tuple[Path | str, dict[int, tuple]]:
    """Check / clear the output archive; returns it (a Path, or the URL) and the finished tasks of
    an unfinished ingest of the same job, which a rerun resumes (``{}`` otherwise)."""
    out = str(out) if storage.is_url(out) else storage.local(out)
    loc = storage.Location(out, storage_options)
    if not overwrite and not loc.exists(S.ARCHIVE_MANIFEST) and loc.exists(INGEST_DIR):
        import fnmatch

        names = [p.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1] for p in loc.glob("*")]
        other = [n for n in names if n not in (INGEST_DIR, S.QUARANTINE_FILE) and not fnmatch.fnmatch(n, S.PART_GLOB)
                 and not n.startswith(".")]
        if other:
            raise InputError(f"{out} holds an unfinished ingest and files lia_dask did not write (e.g. {other[0]}); "
                             "remove them or choose another --out.")
        done = _resumable(out, job, n_tasks, storage_options)
        stale = [p for p in loc.glob(S.PART_GLOB) if int(p.rsplit("part.", 1)[-1].split(".")[0]) not in done]
        for p in stale:  # parts of this unfinished ingest without their record: rewritten, never kept
            kv = loc.read_metadata(p).metadata or {}
            if kv.get(META_INGEST_JOB.encode()) is None:
                raise InputError(f"{p} was not written by a lia_dask ingest; remove it or choose another --out.")
            if kv.get(META_INGEST_JOB.encode()).decode() != job:
                raise InputError(f"{out} holds an unfinished ingest of other inputs or settings ({p}); rerun that "
                                 "ingest to finish it, or pass --overwrite to start this one there.")
        return out, done
    try:
        clear_archive(out, overwrite, storage_options)
    except InputError as exc:
        if "already exists" in str(exc):
            raise InputError(f"output archive {out} already exists and is not empty; choose another --out or use "
                             "--overwrite.") from exc
        raise
    if isinstance(out, Path):
        out.mkdir(parents=True, exist_ok=True)
    return out, {}


def _compute(tasks: list, client) -> list:
    from ..cluster import compute_with_progress

    return compute_with_progress(tasks, client)


def _finish(out: Path | str, results: list, cfg: IngestConfig, storage_options: dict | None = None,
            extra_counts: dict | None = None) -> IngestReport:
    parts = [r[0] for r in results]
    quarantine = [q for r in results for q in r[1]]
    archived = sum(p["n_rows"] for p in parts)
    # one file, or one (object, band) row of a long table, counts as one lightcurve read
    rows_read = sum(p["read"] for p in parts)
    if rows_read != archived + len(quarantine):
        raise AssertionError(f"ingest counts do not reconcile: read {rows_read} != archived {archived} + quarantined {len(quarantine)}")
    write_quarantine(quarantine, out, storage_options)
    counts = {"read": rows_read, "archived": archived, "quarantined": len(quarantine),
              "repaired": sum(p["repaired"] for p in parts),
              "duplicate_epochs": sum(p["duplicates"] for p in parts), **(extra_counts or {})}
    write_summary(out, parts, cfg.photometry, cfg.zeropoint, cfg.time_system, counts, storage_options)
    remove_ingest_records(storage.Location(out, storage_options))
    return IngestReport(open_archive(out, storage_options), rows_read, archived, len(quarantine),
                        sum(p["repaired"] for p in parts), sum(p["n_epochs"] for p in parts),
                        sum(p["duplicates"] for p in parts))
