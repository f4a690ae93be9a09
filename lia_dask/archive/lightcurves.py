"""The nested Parquet lightcurve archive: one directory, one Parquet file per partition.

Layout::

    ARCHIVE/
      part.00000.parquet   one row per (object, band), list columns time / mag / magerr (or flux)
      part.00001.parquet   ...
      _quarantine.pqt      objects kept out, with the reason (object_id, source, reason), Parquet
      _ingest/             per-task records while an ingest runs (removed when it finishes)
      _archive.json        summary written last: counts, photometry, bands, partitions

Every part carries the key-value metadata of ``lia_dask.schema.archive_metadata``. Each part
is written under a temporary name and renamed, so a crash never leaves half a file.

``ARCHIVE`` may be a local directory or an fsspec URL (``s3://bucket/ogle4``) with
``storage_options`` (see :mod:`lia_dask.archive.storage`); on object stores each file is one PUT.
"""
from __future__ import annotations

import json
import os
from functools import partial
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from .. import schema as S
from ..batch import LightcurveBatch, concat_batches
from ..errors import ArchiveError, InputError, MissingInputError, PartitionError
from . import storage
from .manifest import archive_identity, build_summary, footer_digest, part_entry, verify_parts

if TYPE_CHECKING:  # dask.dataframe is imported where it is used (opening an archive to predict does not need it)
    import dask.dataframe as dd

DEFAULT_PARTITION_BYTES = 100e6


def part_name(index: int) -> str:
    return f"part.{index:05d}.parquet"


def _atomic_write_table(table: pa.Table, path: Path) -> None:
    storage.write_local_table(table, path, row_group_size=max(1, table.num_rows), write_page_checksum=True)


def write_partition(batch: LightcurveBatch, path: str | os.PathLike, index: int,
                    time_system: str = S.DEFAULT_TIME_SYSTEM, storage_options: dict | None = None,
                    extra_metadata: dict[bytes, bytes] | None = None) -> dict:
    """Write one archive part (``part.{index}.parquet``) from inside a task.

    ``path`` is the archive directory or URL; ``storage_options`` go to fsspec for a URL;
    ``extra_metadata`` is added to the part's key-value metadata (e.g. the ingest job).

    Returns
    -------
    dict
        The manifest entry (:func:`lia_dask.archive.manifest.part_entry`) plus ``index``,
        ``path``, ``n_epochs``, for the summary.
    """
    table = batch.to_arrow()
    meta = S.archive_metadata(batch.photometry, batch.zeropoint, time_system)
    table = table.replace_schema_metadata({**meta, **(extra_metadata or {})})
    if storage.is_url(path):
        fs, root = storage.filesystem(str(path), storage_options)
        target = storage.join(root, part_name(index))
        storage.write_table(table, fs, target, row_group_size=max(1, table.num_rows), write_page_checksum=True)
        target = storage.url_of(fs, target)
    else:
        fs, root = None, storage.local(path)
        root.mkdir(parents=True, exist_ok=True)
        target = root / part_name(index)
        _atomic_write_table(table, target)
    entry = part_entry(str(target), fs, batch.n_objects, len(batch), sorted(set(batch.band.tolist())))
    return {**entry, "index": int(index), "path": str(target), "n_epochs": batch.n_epochs}


def write_quarantine(records: Iterable[dict] | pd.DataFrame, path: str | os.PathLike,
                     storage_options: dict | None = None) -> int:
    """Write the quarantine table (object_id, source, reason) beside the archive; returns its rows."""
    df = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records), columns=S.QUARANTINE_SCHEMA.names)
    df = df.reindex(columns=S.QUARANTINE_SCHEMA.names).astype(str)
    table = pa.Table.from_pandas(df, schema=S.QUARANTINE_SCHEMA, preserve_index=False)
    if storage.is_url(path):
        fs, root = storage.filesystem(str(path), storage_options)
        storage.write_table(table, fs, storage.join(root, S.QUARANTINE_FILE), row_group_size=max(1, table.num_rows))
        return len(df)
    Path(path).mkdir(parents=True, exist_ok=True)
    _atomic_write_table(table, Path(path) / S.QUARANTINE_FILE)
    return len(df)


def write_summary(path: str | os.PathLike, parts: list[dict], photometry: str, zeropoint: float,
                  time_system: str, counts: dict | None = None, storage_options: dict | None = None,
                  columns: list[str] | None = None) -> dict:
    """Write ``_archive.json`` from the part entries returned by :func:`write_partition`.

    Written last: its presence means 'complete', and it is the authority :func:`open_archive`
    checks the parts against (see :mod:`lia_dask.archive.manifest`).
    """
    loc = storage.Location(path, storage_options)
    parts = [p if "footer_sha256" in p else _complete_entry(p, loc) for p in parts]
    if columns is None and parts:
        columns = list(loc.read_metadata(parts[0]["path"]).schema.names)
    summary = build_summary(parts, photometry, zeropoint, time_system, counts, columns)
    if storage.is_url(path):
        fs, root = storage.filesystem(str(path), storage_options)
        storage.write_json(summary, fs, storage.join(root, S.ARCHIVE_MANIFEST))
        return summary
    tmp = Path(path) / f".{S.ARCHIVE_MANIFEST}.tmp"
    tmp.write_text(json.dumps(summary, indent=1))
    os.replace(tmp, Path(path) / S.ARCHIVE_MANIFEST)
    return summary


def _complete_entry(p: dict, loc: storage.Location) -> dict:
    """A manifest entry for a part summary of the older form (``index``, ``path``, ``n_objects`` = rows)."""
    md = loc.read_metadata(p["path"])
    entry = part_entry(str(p["path"]), loc.fs, p.get("n_objects", md.num_rows), md.num_rows, list(p.get("bands", [])))
    return {**p, **entry, "n_objects": p.get("n_objects", md.num_rows)}


def split_batch(batch: LightcurveBatch, partition_bytes: float, partition_rows: int | None = None) -> list[LightcurveBatch]:
    """Split a batch into pieces of bounded size, never splitting the rows of one object.

    Rows of one object (its bands) must be adjacent in ``batch``.
    """
    n = len(batch)
    if n == 0:
        return []
    row_bytes = batch.lengths * 24 + 64
    cum = np.cumsum(row_bytes)
    new_obj = np.ones(n, dtype=bool)
    new_obj[1:] = batch.object_id[1:] != batch.object_id[:-1]
    cuts, start_bytes, start_row = [], 0.0, 0
    for i in np.flatnonzero(new_obj)[1:]:
        size = cum[i - 1] - start_bytes
        rows = i - start_row
        if size >= partition_bytes or (partition_rows and rows >= partition_rows):
            cuts.append(i)
            start_bytes, start_row = cum[i - 1], i
    bounds = [0, *cuts, n]
    return [batch.take(np.arange(a, b)) for a, b in zip(bounds[:-1], bounds[1:])]


def write_archive(
    batches: LightcurveBatch | Iterable[LightcurveBatch],
    path: str | os.PathLike,
    *,
    partition_bytes: float = DEFAULT_PARTITION_BYTES,
    partition_rows: int | None = None,
    time_system: str = S.DEFAULT_TIME_SYSTEM,
    quarantine: Iterable[dict] | None = None,
    overwrite: bool = False,
    storage_options: dict | None = None,
) -> "Archive":
    """Write batches as a nested Parquet archive with partitions of bounded size.

    Parameters
    ----------
    batches : LightcurveBatch or iterable of them
        Rows of one object must be adjacent and must not straddle two batches.
    path : path-like or URL
        Archive directory (created), or an fsspec URL such as ``s3://bucket/archive``.
    partition_bytes : float
        Approximate in-memory size of one partition (24 bytes per epoch + 64 per row).
    partition_rows : int, optional
        Also cap the number of rows per partition.
    quarantine : iterable of dict, optional
        Records (object_id, source, reason) to write beside the archive.
    overwrite : bool
        Replace an existing archive; otherwise an existing one is an error.
    storage_options : dict, optional
        fsspec options for a URL ``path``.
    """
    root = str(path) if storage.is_url(path) else storage.local(path)
    clear_archive(root, overwrite, storage_options)
    if isinstance(batches, LightcurveBatch):
        batches = [batches]
    parts, pending, pending_bytes, photometry, zp = [], [], 0.0, None, S.DEFAULT_ZEROPOINT
    seen: set = set()
    for b in batches:
        problem = None
        if photometry is None:
            photometry, zp = b.photometry, b.zeropoint
        elif b.photometry != photometry:
            problem = f"cannot write {b.photometry!r} batches into a {photometry!r} archive at {root}."
        dup = problem is None and _first_duplicate(b, seen)
        if dup:
            problem = (f"object {dup[0]!r} appears twice in band {dup[1]!r}; ids must be unique per (object, band) in "
                       f"an archive, so qualify or drop the duplicate before writing {root}.")
        if problem:
            storage.Location(root, storage_options).remove([p["path"] for p in parts])  # ours, just written
            raise InputError(problem)
        for piece in split_batch(b, partition_bytes, partition_rows):
            pending.append(piece)
            pending_bytes += float(np.sum(piece.lengths * 24 + 64))
            if pending_bytes >= partition_bytes or (partition_rows and sum(map(len, pending)) >= partition_rows):
                parts.append(write_partition(concat_batches(pending), root, len(parts), time_system, storage_options))
                pending, pending_bytes = [], 0.0
    if pending:
        parts.append(write_partition(concat_batches(pending), root, len(parts), time_system, storage_options))
    n_q = write_quarantine(quarantine or [], root, storage_options)
    n_obj = sum(p["n_rows"] for p in parts)
    write_summary(root, parts, photometry or "mag", zp, time_system,
                  {"read": n_obj + n_q, "archived": n_obj, "quarantined": n_q}, storage_options)
    return open_archive(root, storage_options)


def _first_duplicate(batch: LightcurveBatch, seen: set) -> tuple | None:
    """The first (object_id, band) of ``batch`` already in ``seen`` (or twice in the batch); adds the rest."""
    for key in zip(batch.object_id.tolist(), batch.band.tolist()):
        if key in seen:
            return key
        seen.add(key)
    return None


#: files of an archive lia_dask may remove on ``overwrite`` (parts only when they carry lia_dask metadata)
ARCHIVE_FILES = (S.QUARANTINE_FILE, S.LEGACY_QUARANTINE_FILE, S.ARCHIVE_MANIFEST, "_simulation.json")
INGEST_DIR = "_ingest"


def clear_archive(root: str | Path, overwrite: bool, storage_options: dict | None = None) -> None:
    """Make ``root`` ready for a new archive: create it; an existing non-empty one is an error unless
    ``overwrite``, which removes the parts (only those carrying lia_dask metadata), the quarantine,
    the manifest and the ingest records. Nothing else is ever deleted: a directory holding other
    files, or parts lia_dask did not write, is refused."""
    remote = storage.is_url(root)
    loc = storage.Location(root, storage_options)
    if not remote and Path(root).exists() and not Path(root).is_dir():
        raise InputError(f"output {root} is a file; give a directory for the archive.")
    if remote:
        fs, p = storage.filesystem(str(root), storage_options)
        names = [n.rstrip("/").rsplit("/", 1)[-1] for n in fs.ls(p, detail=False)] if storage.is_nonempty_dir(fs, p) else []
    else:
        names = sorted(os.listdir(root)) if Path(root).is_dir() else []
    names = [n for n in names if not n.startswith(".")]  # e.g. temporary files of a killed write
    if not names:
        loc.makedirs()
        return
    if not overwrite:
        raise InputError(f"archive directory {root} already exists and is not empty; choose another --out or pass "
                         "overwrite=True (--overwrite).")
    import fnmatch

    ours = set(ARCHIVE_FILES) | {INGEST_DIR}
    parts = [n for n in names if fnmatch.fnmatch(n, S.PART_GLOB)]
    other = [n for n in names if n not in ours and n not in parts and not n.startswith(".")]
    if other:
        raise InputError(f"{root} holds files lia_dask did not write (e.g. {other[0]}); --overwrite replaces only a "
                         "lia_dask archive, so choose another --out or remove them yourself.")
    for n in parts:
        kv = _footer(loc.join(n), loc.fs).metadata or {}
        if S.META_SCHEMA_VERSION.encode() not in kv:
            raise InputError(f"{loc.join(n)} was not written by lia_dask (no {S.META_SCHEMA_VERSION} metadata); "
                             "--overwrite never deletes it, remove it yourself or choose another --out.")
    loc.remove([loc.join(n) for n in parts + [n for n in names if n in ARCHIVE_FILES]])
    if INGEST_DIR in names:
        remove_ingest_records(loc)


def remove_ingest_records(loc: storage.Location) -> None:
    """Remove the ``_ingest/`` records (per-task results of an unfinished or finished ingest)."""
    sub = storage.Location(loc.join(INGEST_DIR), loc.storage_options)
    sub.remove(sub.glob("*.json"))
    if not loc.remote:
        try:
            os.rmdir(sub.path)
        except OSError:
            pass


def _read_part(path: str, columns: list[str] | None = None, fs: Any = None) -> pa.Table:
    try:
        # page CRCs (written with every part) catch a damaged data page the footer digest cannot see
        return (pq.read_table(path, columns=columns, page_checksum_verification=True) if fs is None
                else storage.read_table(fs, path, columns, page_checksum_verification=True))
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(
            f"archive part {path} cannot be read ({exc}); re-ingest the archive or remove this part."
        ) from exc


def _call_on_part(item: tuple[int, str], func: Callable[[LightcurveBatch], pd.DataFrame], fs: Any = None) -> pd.DataFrame:
    index, path = item
    try:
        batch = LightcurveBatch.from_arrow(_read_part(path, fs=fs), source=path)
        return func(batch)
    except Exception as exc:  # wrap with the partition's index and path
        raise PartitionError(index, path, exc) from exc


def _read_part_pandas(item: tuple[int, str], fs: Any = None) -> pd.DataFrame:
    return _read_part(item[1], fs=fs).to_pandas(types_mapper=pd.ArrowDtype)


@dataclass
class Archive:
    """A nested Parquet lightcurve archive (open it with :func:`open_archive`).

    Local archives have a ``Path`` as ``path`` and ``fs=None``; remote ones the URL (``str``) and
    the fsspec filesystem, which travels (pickled, with its options) to the workers. ``partitions``
    holds the part files' paths or URLs.
    """

    path: Path | str
    partitions: list[str]
    photometry: str
    zeropoint: float
    time_system: str
    summary: dict = field(default_factory=dict)
    fs: Any = None

    @property
    def n_partitions(self) -> int:
        return len(self.partitions)

    @property
    def complete(self) -> bool:
        """True when every part listed in ``_archive.json`` is there and intact (not an ``allow_incomplete`` read)."""
        return bool(self.summary.get("identity")) and self.summary.get("complete", True)

    @property
    def identity(self) -> str:
        """The archive identity (:func:`lia_dask.archive.manifest.archive_identity`); for an incomplete
        read, the digest over the parts read."""
        if self.summary.get("identity"):
            return str(self.summary["identity"])
        entries = [{"name": _name(p), **dict(zip(("size", "footer_sha256"), footer_digest(p, self.fs)))}
                   for p in self.partitions]
        return "partial:" + archive_identity({"photometry": self.photometry, "zeropoint": self.zeropoint,
                                              "time_system": self.time_system, "bands": None, "parts": entries})

    def part_digest(self, index: int) -> str:
        """``SIZE:FOOTER_SHA256`` of part ``index`` (from the manifest; read from the file otherwise)."""
        name = _name(self.partitions[index])
        for e in self.summary.get("parts", []):
            if e["name"] == name:
                return f"{e['size']}:{e['footer_sha256']}"
        size, sha = footer_digest(self.partitions[index], self.fs)
        return f"{size}:{sha}"

    @property
    def n_objects(self) -> int:
        """Number of rows (object, band) in the archive, from the part footers."""
        if "n_objects" in self.summary:
            return int(self.summary["n_objects"])
        return int(sum(_footer(p, self.fs).num_rows for p in self.partitions))

    @property
    def bands(self) -> list[str]:
        if "bands" in self.summary:
            return list(self.summary["bands"])
        return sorted({b for p in self.partitions for b in _read_part(p, [S.BAND], self.fs).column(0).to_pylist()})

    @property
    def schema(self) -> pa.Schema:
        return _footer(self.partitions[0], self.fs).schema.to_arrow_schema() if self.partitions else S.lightcurve_schema(self.photometry)

    def quarantine(self) -> pd.DataFrame:
        """The quarantine table (object_id, source, reason); empty when nothing was kept out."""
        if self.fs is not None:
            q = storage.join(str(self.path), S.QUARANTINE_FILE)
            if not self.fs.exists(storage.fs_path(self.fs, q)):
                return pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names)
            return storage.read_table(self.fs, q).to_pandas()
        q = self.path / S.QUARANTINE_FILE
        if not q.exists():
            q = self.path / S.LEGACY_QUARANTINE_FILE
        if not q.exists():
            return pd.DataFrame(columns=S.QUARANTINE_SCHEMA.names)
        return pq.read_table(q).to_pandas()

    def read_batch(self, index: int) -> LightcurveBatch:
        """Partition ``index`` as a LightcurveBatch: the single-partition path, no Dask (for debugging)."""
        path = self.partitions[index]
        return LightcurveBatch.from_arrow(_read_part(path, fs=self.fs), source=path)

    def batches(self) -> Iterator[LightcurveBatch]:
        """One LightcurveBatch per partition, in order."""
        for i in range(self.n_partitions):
            yield self.read_batch(i)

    def meta(self) -> pd.DataFrame:
        """Empty pandas frame with the archive's columns (ArrowDtype, list columns included)."""
        return self.schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)

    def to_dask(self) -> dd.DataFrame:
        """The archive as a dask DataFrame, one partition per part, nested list columns."""
        import dask.dataframe as dd

        return dd.from_map(partial(_read_part_pandas, fs=self.fs), list(enumerate(self.partitions)), meta=self.meta(),
                           label="read-lightcurve-archive", enforce_metadata=False)

    def map_batches(self, func: Callable[[LightcurveBatch], pd.DataFrame], meta: pd.DataFrame,
                    label: str = "map-batches") -> dd.DataFrame:
        """Apply ``func(LightcurveBatch) -> pandas.DataFrame`` to every partition, lazily.

        Errors inside a partition are raised as :class:`lia_dask.errors.PartitionError` naming the
        partition's index and file.
        """
        import dask.dataframe as dd

        return dd.from_map(partial(_call_on_part, func=func, fs=self.fs), list(enumerate(self.partitions)), meta=meta,
                           label=label, enforce_metadata=False)

    def validate(self) -> None:
        """Read every part's footer and check the schema; raise ArchiveError naming the first bad file."""
        for p in self.partitions:
            if self.fs is None:
                with open(p, "rb") as fh:
                    head = fh.read(4)
                    fh.seek(-4, os.SEEK_END)
                    tail = fh.read(4)
            else:
                fp = storage.fs_path(self.fs, p)
                head, tail = self.fs.cat_file(fp, start=0, end=4), self.fs.cat_file(fp, start=-4)
            if head != b"PAR1" or tail != b"PAR1":
                raise ArchiveError(f"archive part {p} is corrupted (no Parquet magic bytes); re-ingest the archive or remove this part.")
            md = _footer(p, self.fs)
            kv = md.metadata or {}
            if kv.get(S.META_SCHEMA_VERSION.encode()) is None:
                raise ArchiveError(f"archive part {p} has no {S.META_SCHEMA_VERSION} metadata; it was not written by lia_dask.")

    def __repr__(self) -> str:
        return (f"Archive({str(self.path)!r}, partitions={self.n_partitions}, photometry={self.photometry!r}, "
                f"zeropoint={self.zeropoint})")


def _footer(path: str, fs: Any = None) -> pq.FileMetaData:
    try:
        return pq.read_metadata(path) if fs is None else storage.read_metadata(fs, path)
    except (OSError, pa.ArrowException) as exc:
        raise ArchiveError(
            f"archive part {path} is not a valid Parquet file ({exc}); re-ingest the archive or remove this part."
        ) from exc


def open_archive(path: str | os.PathLike, storage_options: dict | None = None, *,
                 allow_incomplete: bool = False) -> Archive:
    """Open a lightcurve archive written by lia_dask: a local directory or an fsspec URL.

    The parts are checked against ``_archive.json`` (names, sizes, footer digests; see
    :mod:`lia_dask.archive.manifest`): a missing, extra, truncated or replaced part is refused.

    Parameters
    ----------
    path : path-like or URL
        ``/data/ogle4``, ``s3://bucket/ogle4``, ...
    storage_options : dict, optional
        fsspec options for a URL (default: ``lia_dask.storage_options`` in the Dask config, else
        the environment, e.g. ``AWS_*`` variables).
    allow_incomplete : bool
        Explicit opt-in to read what is there: only the intact parts (listed in the manifest, or
        without a manifest every part of the first part's schema); the archive's counts then
        come from those parts' footers and ``Archive.complete`` is False.

    Raises
    ------
    MissingInputError
        The directory does not exist.
    ArchiveError
        No manifest (an ingest that did not finish), parts missing / extra / damaged, no parts,
        or a part lacking lia_dask metadata.
    """
    if storage.is_url(path):
        fs, root_p = storage.filesystem(str(path), storage_options)
        fs.invalidate_cache(root_p)  # parts were written by other processes
        if not (fs.exists(root_p) and fs.isdir(root_p)):
            raise MissingInputError(f"lightcurve archive {path} does not exist; create it with `lia-dask ingest`.")
        root = storage.url_of(fs, root_p)
        parts = sorted(storage.url_of(fs, p) for p in fs.glob(storage.join(root_p, S.PART_GLOB)))
        mf = storage.join(root_p, S.ARCHIVE_MANIFEST)
        summary = _read_manifest(mf, lambda: storage.read_json(fs, mf)) if fs.exists(mf) else {}
    else:
        fs, root = None, storage.local(path)
        if root.is_file():
            raise InputError(f"{root} is a file, not a lightcurve archive directory; give the archive directory.")
        if not root.is_dir():
            raise MissingInputError(f"lightcurve archive {root} does not exist; create it with `lia-dask ingest`.")
        parts = sorted(str(p) for p in root.glob(S.PART_GLOB))
        mf = root / S.ARCHIVE_MANIFEST
        summary = _read_manifest(mf, lambda: json.loads(mf.read_text())) if mf.exists() else {}
    if not parts and not summary:
        raise ArchiveError(f"{root} holds no {S.PART_GLOB} files; it is not a lightcurve archive.")
    kept = verify_parts(str(root), parts, summary, fs, allow_incomplete=allow_incomplete)
    complete = bool(summary) and kept == [p for p in parts if _name(p) in set(summary.get("partitions", []))] \
        and len(kept) == len(summary.get("partitions", []))
    if not kept:
        if summary.get("n_partitions", None) == 0:
            return Archive(root, [], summary.get("photometry", "mag"), summary.get("zeropoint", S.DEFAULT_ZEROPOINT),
                           summary.get("time_system", S.DEFAULT_TIME_SYSTEM), summary, fs)
        raise ArchiveError(f"{root} holds no intact {S.PART_GLOB} files; re-ingest the archive.")
    kv = _footer(kept[0], fs).metadata or {}
    if S.META_SCHEMA_VERSION.encode() not in kv:
        raise ArchiveError(f"archive part {kept[0]} lacks lia_dask metadata; write archives with lia_dask.")
    photometry = kv.get(S.META_PHOTOMETRY.encode(), b"mag").decode()
    zp = float(kv.get(S.META_ZEROPOINT.encode(), str(S.DEFAULT_ZEROPOINT)).decode())
    ts = kv.get(S.META_TIME_SYSTEM.encode(), S.DEFAULT_TIME_SYSTEM.encode()).decode()
    if not complete:  # read what is there: every kept part must share the first part's schema
        first = _footer(kept[0], fs).schema.to_arrow_schema().remove_metadata()
        for p in kept[1:]:
            md = _footer(p, fs)
            pkv = md.metadata or {}
            if (S.META_SCHEMA_VERSION.encode() not in pkv or pkv.get(S.META_PHOTOMETRY.encode(), b"mag").decode() != photometry
                    or pkv.get(S.META_ZEROPOINT.encode(), b"").decode() != kv.get(S.META_ZEROPOINT.encode(), b"").decode()
                    or not md.schema.to_arrow_schema().remove_metadata().equals(first)):
                raise ArchiveError(f"archive part {p} has another schema than {kept[0]} (photometry, zero point or "
                                   "columns), e.g. copied in from another archive; remove it.")
        summary = {"counts": summary.get("counts", {}), "complete": False, "listed_partitions": summary.get("partitions"),
                   "identity": summary.get("identity"), "parts": summary.get("parts", [])}
    return Archive(root, kept, photometry, zp, ts, summary, fs)


def _name(path: str) -> str:
    return str(path).rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]


def _read_manifest(where: Any, read: Callable[[], Any]) -> dict:
    try:
        summary = read()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"{where} is not valid JSON ({exc.__class__.__name__}); the archive manifest is damaged, "
                           "re-ingest the archive.") from exc
    if not isinstance(summary, dict):
        raise ArchiveError(f"{where} is not an archive manifest (a JSON object); re-ingest the archive.")
    return summary
