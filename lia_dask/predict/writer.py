"""The one set of file rules every prediction job follows (lightcurve archives and cutout stores).

Output directory (local or fsspec URL)::

    OUT/
      part.NNNNN.parquet             predictions of input part NNNNN (the number of the input part's
                                     own name, or of the Zarr chunk), the done marker of that part
      _quarantine.NNNNN.pqt          objects of that part kept out, with the reason (Parquet; written first)
      _summary.json                  counts of the job (written last)

``pandas.read_parquet(OUT)`` and ``dask.dataframe.read_parquet(OUT)`` read the predictions only:
pyarrow skips names starting with ``_``, and dask reads only names ending in ``.parquet``.

**Provenance.** Both files of a part carry in their Parquet metadata: ``lia_dask.output =
predictions``, the input identity (:attr:`lia_dask.archive.Archive.identity` or the cutout
store's), the input part's name and digest, and the model digest.

**Resume.** Before anything is written, every existing part is checked against the job
(:func:`prepare_output`): a part of another model, another input, or another input part under
that name, an unreadable part, or a file lia_dask did not write, refuses the job with one
sentence; a part matching all three is skipped. Nothing is ever guessed from positions.

**Deletion** (``resume=False``) removes only files whose metadata says lia_dask wrote them as
predictions of this input; anything else in ``OUT`` refuses the job. An ``OUT`` that is the
input, or that holds an archive or a cutout store, is refused.
"""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from .. import schema as S
from ..archive import storage
from ..errors import InputError

SUMMARY_FILE = "_summary.json"
PART_PATTERN = "part.*.parquet"
QUARANTINE_PATTERN = "_quarantine.*.pqt"

META_OUTPUT = b"lia_dask.output"
META_INPUT = b"lia_dask.input_identity"
META_INPUT_PART = b"lia_dask.input_part"
META_INPUT_DIGEST = b"lia_dask.input_digest"
META_MODEL = b"lia_dask.model_digest"
META_SOURCE = b"lia_dask.source"
#: files that mark a directory as an input (never a prediction output)
INPUT_MARKERS = (S.ARCHIVE_MANIFEST, "zarr.json", ".zgroup", "_ingest")


def part_files(index: int) -> tuple[str, str]:
    """``(predictions, quarantine)`` file names of output part ``index``."""
    return f"part.{index:05d}.parquet", f"_quarantine.{index:05d}.pqt"


@dataclass(frozen=True)
class OutputJob:
    """What a prediction job writes: which input, which model, and per output index the input part.

    Attributes
    ----------
    input_path : str
        The archive / store (for messages and ``lia_dask.source``).
    input_identity : str
    model_digest : str
    parts : dict of int to (str, str)
        Output index -> (input part name, input part digest).
    """

    input_path: str
    input_identity: str
    model_digest: str
    parts: dict

    def metadata(self, index: int) -> dict[bytes, bytes]:
        name, digest = self.parts[index]
        return {META_OUTPUT: b"predictions", META_INPUT: self.input_identity.encode(),
                META_INPUT_PART: name.encode(), META_INPUT_DIGEST: digest.encode(),
                META_MODEL: self.model_digest.encode(), META_SOURCE: f"{self.input_path}/{name}".encode()}


def _same_place(a: str, b: str) -> bool:
    if storage.is_url(a) or storage.is_url(b):
        return a.rstrip("/") == b.rstrip("/")
    return os.path.realpath(a) == os.path.realpath(b)


def _names(loc: storage.Location) -> list[str]:
    if loc.remote:
        root = storage.fs_path(loc.fs, loc.path)
        loc.fs.invalidate_cache(root)
        if not loc.fs.exists(root):
            return []
        return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in loc.fs.ls(root, detail=False))
    return sorted(os.listdir(loc.path)) if os.path.isdir(loc.path) else []


def _meta(loc: storage.Location, name: str) -> dict[bytes, bytes]:
    try:
        return dict(loc.read_metadata(name).metadata or {})
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{loc.join(name)} cannot be read ({exc.__class__.__name__}; truncated or damaged); it was "
                         "not left by a finished lia_dask write: delete it yourself and rerun.") from exc


def prepare_output(out: str | os.PathLike, job: OutputJob, resume: bool,
                   storage_options: dict | None = None) -> tuple[storage.Location, set[int]]:
    """Check ``out`` against the job before anything is written; returns it and the done indices.

    Raises
    ------
    InputError
        ``out`` is a file, is the input, holds an archive or store, or holds files that do not
        belong to this job (see the module docstring); nothing has been written or deleted then.
    """
    loc = storage.Location(out, storage_options)
    if not loc.remote and os.path.exists(loc.path) and not os.path.isdir(loc.path):
        raise InputError(f"--out {loc.path} is an existing file; give a directory for the predictions.")
    if _same_place(loc.path, str(job.input_path)):
        raise InputError(f"--out {loc.path} is the input itself; give another directory for the predictions.")
    names = _names(loc)
    markers = [n for n in names if n in INPUT_MARKERS]
    if markers:
        raise InputError(f"--out {loc.path} holds a lightcurve archive or cutout store ({markers[0]}); predictions "
                         "never go into (or delete) an input, give another directory.")
    ours = [n for n in names if fnmatch.fnmatch(n, PART_PATTERN) or fnmatch.fnmatch(n, QUARANTINE_PATTERN)]
    done: set[int] = set()
    by_name = {part_files(i)[0]: i for i in job.parts}
    by_qname = {part_files(i)[1]: i for i in job.parts}
    for n in ours:
        kv = _meta(loc, n)
        if kv.get(META_OUTPUT) != b"predictions":
            raise InputError(f"{loc.join(n)} was not written by lia_dask predict; it is never overwritten or deleted: "
                             "choose another --out or remove it yourself.")
        model = kv.get(META_MODEL, b"").decode()
        if model != job.model_digest and resume:
            raise InputError(f"{loc.join(n)} holds predictions of another model ({model[:12]}...); write to a new "
                             "--out directory or rerun with --no-resume to replace them.")
        ident = kv.get(META_INPUT, b"").decode()
        if ident != job.input_identity:
            raise InputError(f"{loc.join(n)} holds predictions of another input ({ident[:12]}..., not "
                             f"{job.input_identity[:12]}... of {job.input_path}); write to a new --out directory.")
        if not resume:
            continue
        idx = by_name.get(n, by_qname.get(n))
        expected = job.parts.get(idx) if idx is not None else None
        found = (kv.get(META_INPUT_PART, b"").decode(), kv.get(META_INPUT_DIGEST, b"").decode())
        if expected is not None and found[0] == expected[0] and found[1] != expected[1]:
            raise InputError(f"{loc.join(n)} holds predictions of an earlier version of input part {found[0]!r} (its "
                             "digest differs: the input changed since); write to a new --out directory or rerun with "
                             "--no-resume.")
        if expected is None or found != tuple(expected):
            raise InputError(f"{loc.join(n)} holds predictions of input part {found[0]!r} ({found[1][:20]}) but this "
                             f"job writes {n} for {expected[0] if expected else 'no input part'!r}; write to a new "
                             "--out directory or rerun with --no-resume.")
        if n in by_name:
            done.add(idx)
    if not resume:
        loc.remove([loc.join(n) for n in ours])
        if SUMMARY_FILE in names:
            loc.remove([loc.join(SUMMARY_FILE)])
    loc.makedirs()
    return loc, done


def done_counts(loc: storage.Location, index: int) -> dict:
    """Counts of a finished output part (from the footers)."""
    pname, qname = part_files(index)
    n_q = loc.read_metadata(qname).num_rows if loc.exists(qname) else 0
    return {"index": index, "predicted": loc.read_metadata(pname).num_rows, "quarantined": n_q, "skipped": True}


def write_part(loc: storage.Location, job: OutputJob, index: int, predictions: pd.DataFrame,
               quarantine: pd.DataFrame) -> dict:
    """Write the quarantine, then the predictions of output part ``index`` (each atomically)."""
    pname, qname = part_files(index)
    meta = job.metadata(index)
    qt = pa.Table.from_pandas(quarantine.reindex(columns=S.QUARANTINE_SCHEMA.names).astype(str),
                              schema=S.QUARANTINE_SCHEMA, preserve_index=False)
    loc.write_table(qt.replace_schema_metadata(meta), qname)
    pt = pa.Table.from_pandas(predictions, preserve_index=False)
    loc.write_table(pt.replace_schema_metadata({**(pt.schema.metadata or {}), **meta}), pname)
    return {"index": index, "predicted": len(predictions), "quarantined": len(quarantine), "skipped": False}


def read_outputs(out: str | os.PathLike, pattern: str = PART_PATTERN, empty_columns: list[str] | None = None,
                 storage_options: dict | None = None) -> pd.DataFrame:
    """All files of ``out`` matching ``pattern`` as one DataFrame, in part order."""
    loc = storage.Location(out, storage_options)
    files = loc.glob(pattern)
    if not files:
        if empty_columns is not None:
            return pd.DataFrame(columns=empty_columns)
        raise InputError(f"{out} holds no prediction files ({pattern}); run `lia-dask predict` first.")
    return pd.concat([loc.read_table(f).to_pandas() for f in files], ignore_index=True)


def summary_dict(report: Any, kind: str, input_identity: str) -> dict:
    """The ``_summary.json`` content of a finished job."""
    import time

    return {"kind": kind, "input": str(report.input), "input_identity": input_identity,
            "input_complete": bool(report.input_complete),
            "model_digest": report.model_digest, "n_input": report.n_input, "predicted": report.predicted,
            "quarantined": report.quarantined, "partitions": report.partitions, "skipped": report.skipped,
            "seconds": report.seconds, "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
