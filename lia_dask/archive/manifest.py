"""The archive manifest ``_archive.json``: the authority on what an archive holds.

Written last by every writer (ingest, ``write_archive``, simulate), it lists every part with its
row count, object count, bands, byte size and *footer digest* (SHA-256 of the Parquet footer,
which holds the row count, the column chunk offsets and sizes and the per-column statistics), and
the schema (photometry, zero point, time system, bands, columns). :func:`verify_parts` checks the
parts found on disk against it: a missing, extra, truncated or replaced part, or one of another
schema, is refused with one sentence. Checking a part costs one ``stat`` and one read of its
footer, never a read of its data.

The archive *identity* (:func:`archive_identity`) is the SHA-256 over the schema and the
(name, size, footer digest) of every part: the same data give the same identity, a copy of an
archive keeps it, and any changed part changes it. Prediction outputs record it.
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from .. import schema as S
from ..errors import ArchiveError
from . import storage

#: manifest format (bump when the fields change incompatibly)
MANIFEST_VERSION = 2
#: keys of a part entry
PART_KEYS = ("name", "n_rows", "n_objects", "bands", "size", "footer_sha256")


def _tail(path: str, fs: Any, n: int) -> bytes:
    if fs is None:
        with open(path, "rb") as fh:
            fh.seek(-n, os.SEEK_END)
            return fh.read(n)
    return fs.cat_file(storage.fs_path(fs, path), start=-n)


def _size(path: str, fs: Any) -> int:
    return int(os.path.getsize(path) if fs is None else fs.size(storage.fs_path(fs, path)))


def footer_digest(path: str, fs: Any = None) -> tuple[int, str]:
    """``(size in bytes, SHA-256 hex of the Parquet footer)`` of one file.

    Raises
    ------
    ArchiveError
        The file is shorter than a Parquet file or does not end with the Parquet magic bytes.
    """
    try:
        size = _size(path, fs)
        if size < 12:
            raise ArchiveError(f"archive part {path} is truncated ({size} bytes); re-ingest the archive or "
                               "restore this part.")
        end = _tail(path, fs, 8)
        flen = int.from_bytes(end[:4], "little")
        if end[4:] != b"PAR1" or flen + 12 > size:
            raise ArchiveError(f"archive part {path} is truncated or not Parquet (no footer); re-ingest the "
                               "archive or restore this part.")
        return size, hashlib.sha256(_tail(path, fs, flen + 8)).hexdigest()
    except OSError as exc:
        raise ArchiveError(f"archive part {path} cannot be read ({exc.__class__.__name__}: {exc}); check the "
                           "file and its permissions.") from exc


def part_entry(path: str, fs: Any, n_objects: int, n_rows: int, bands: list[str]) -> dict:
    """The manifest entry of a part just written."""
    size, sha = footer_digest(path, fs)
    return {"name": path.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1], "n_rows": int(n_rows),
            "n_objects": int(n_objects), "bands": sorted(bands), "size": size, "footer_sha256": sha}


def archive_identity(summary: dict) -> str:
    """SHA-256 over the schema and the (name, size, footer digest) of every part."""
    body = {k: summary.get(k) for k in ("photometry", "zeropoint", "time_system", "bands")}
    body["parts"] = [[p["name"], p.get("size"), p.get("footer_sha256")] for p in summary.get("parts", [])]
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def build_summary(parts: list[dict], photometry: str, zeropoint: float, time_system: str,
                  counts: dict | None = None, columns: list[str] | None = None) -> dict:
    """The manifest dict from part entries (see :func:`part_entry`), with its identity."""
    parts = sorted(parts, key=lambda p: p["name"])
    summary = {
        "manifest_version": MANIFEST_VERSION,
        "schema_version": S.SCHEMA_VERSION,
        "photometry": photometry,
        "zeropoint": float(zeropoint),
        "time_system": time_system,
        "columns": list(columns or []),
        "n_partitions": len(parts),
        "n_objects": int(sum(p["n_rows"] for p in parts)),
        "n_epochs": int(sum(p.get("n_epochs", 0) for p in parts)),
        "bands": sorted({b for p in parts for b in p["bands"]}),
        "partitions": [p["name"] for p in parts],
        "parts": [{k: p[k] for k in PART_KEYS} for p in parts],
        "counts": counts or {},
    }
    summary["identity"] = archive_identity(summary)
    return summary


def verify_parts(root: str, found: list[str], summary: dict, fs: Any = None, *,
                 allow_incomplete: bool = False, deep: bool = True) -> list[str]:
    """Check the parts found in ``root`` against the manifest; the part paths to read, in order.

    Parameters
    ----------
    root : str
        The archive directory or URL (for the messages).
    found : list of str
        Full paths / URLs of the ``part.*.parquet`` files present.
    summary : dict
        The parsed ``_archive.json`` (empty when there is none).
    allow_incomplete : bool
        Read what is there: parts listed in the manifest and intact are returned, missing ones
        and unlisted ones are left out (without a manifest, every readable lia_dask part).
    deep : bool
        Also compare sizes and footer digests (otherwise names only).

    Raises
    ------
    ArchiveError
        No manifest, a missing / extra / truncated / replaced part, or a foreign schema.
    """
    by_name = {p.rstrip("/").rsplit("/", 1)[-1].rsplit(os.sep, 1)[-1]: p for p in found}
    hint = "pass allow_incomplete=True (CLI: --allow-incomplete) to read the parts that are there"
    if not summary:
        if allow_incomplete:
            return [by_name[n] for n in sorted(by_name)]
        raise ArchiveError(f"{root} holds {len(found)} part(s) but no {S.ARCHIVE_MANIFEST}: the ingest that wrote "
                           f"it did not finish; rerun the same ingest to resume it, or {hint}.")
    entries = summary.get("parts")
    if entries is None:  # manifest of format 1: names only
        entries = [{"name": n} for n in summary.get("partitions", [])]
        deep = False
    listed = [e["name"] for e in entries]
    missing = [n for n in listed if n not in by_name]
    extra = sorted(set(by_name) - set(listed))
    if not allow_incomplete:
        if missing:
            raise ArchiveError(f"archive {root} is incomplete: {len(missing)} of {len(listed)} parts listed in "
                               f"{S.ARCHIVE_MANIFEST} are missing (first: {missing[0]}); restore them or re-ingest, "
                               f"or {hint}.")
        if extra:
            raise ArchiveError(f"archive {root} holds {len(extra)} part(s) not listed in {S.ARCHIVE_MANIFEST} "
                               f"(first: {extra[0]}), e.g. copied in from another archive; remove them, or {hint}.")
    keep = []
    for e in entries:
        name = e["name"]
        if name not in by_name:
            continue
        path = by_name[name]
        if deep:
            try:
                size, sha = footer_digest(path, fs)
            except ArchiveError:
                if allow_incomplete:
                    continue
                raise
            if size != e.get("size") or sha != e.get("footer_sha256"):
                if allow_incomplete:
                    continue
                what = "truncated or extended" if size != e.get("size") else "replaced or modified"
                raise ArchiveError(f"archive part {path} does not match {S.ARCHIVE_MANIFEST} ({what}: {size} bytes, "
                                   f"footer {sha[:12]}, expected {e.get('size')} bytes, footer "
                                   f"{str(e.get('footer_sha256'))[:12]}); restore the original part or re-ingest, "
                                   f"or {hint}.")
        keep.append(path)
    return keep
