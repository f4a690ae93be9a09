"""Text lightcurve files: find them (special files, hidden and documentation files by rule), name
them (object ids unique by construction) and read them with bounded memory.

Pure of Dask: these functions run inside ingest tasks (:mod:`lia_dask.archive.ingest`).
"""
from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import storage

#: a larger text file is quarantined unread (bytes)
DEFAULT_MAX_FILE_BYTES = 256 * 2**20
#: a text file with a longer line is quarantined unparsed (bytes)
DEFAULT_MAX_LINE_BYTES = 64 * 2**10


def read_text_lightcurve(path: str | os.PathLike, storage_options: dict | None = None, *,
                         max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                         max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one whitespace text lightcurve: columns time, value, error (further columns ignored).

    ``path`` may be an fsspec URL (read with ``storage_options``). The file's size is checked
    before it is read and its longest line before it is parsed, so memory stays below
    ~3 x ``max_file_bytes``.

    Raises
    ------
    InputError
        The file is too large, has a too long line, is unreadable, empty, has fewer than 3
        columns, ragged rows or non-numeric values.
    """
    try:
        if storage.is_url(path):
            fs, fp = storage.filesystem(str(path), storage_options)
            size = int(fs.size(fp))
            _check_size(path, size, max_file_bytes)
            data = fs.cat_file(fp)
        else:
            size = os.path.getsize(path)
            _check_size(path, size, max_file_bytes)
            with open(path, "rb") as fh:
                data = fh.read(max_file_bytes + 1)
    except OSError as exc:
        raise InputError(f"{path}: unreadable file ({exc.__class__.__name__}: {exc}).") from exc
    _check_size(path, len(data), max_file_bytes)  # grew while we looked
    nl = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    longest = int(np.diff(np.r_[-1, nl, len(data)]).max()) - 1 if data else 0
    if longest > max_line_bytes:
        raise InputError(f"{path}: a line of {longest} bytes exceeds max_line_bytes={max_line_bytes} (not a "
                         "lightcurve table; raise IngestConfig.max_line_bytes if it is one).")
    try:  # fast path: NumPy's C parser; the slow path below only explains a failure
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = np.loadtxt(io.BytesIO(data), ndmin=2, comments="#", dtype=np.float64)
        if arr.shape[0] and arr.shape[1] >= 3:
            return arr[:, 0].copy(), arr[:, 1].copy(), arr[:, 2].copy()
    except (ValueError, UnicodeDecodeError, OSError):
        pass
    return _explain_text_failure(path, data)


def _check_size(path, size: int, cap: int) -> None:
    if size > cap:
        raise InputError(f"{path}: file of {size} bytes exceeds max_file_bytes={cap} (not read; raise "
                         "IngestConfig.max_file_bytes if it is a real lightcurve).")


def _explain_text_failure(p: Path | str, data: bytes):
    try:
        text = data.decode()
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


def _special_reason(p: Path) -> str | None:
    """Why a directory entry that is not a regular file cannot be read (never opened: a FIFO would block)."""
    import stat

    if p.is_symlink() and not p.exists():
        return f"dangling symbolic link (to {os.readlink(p)}); not read"
    mode = p.stat().st_mode
    for test, what in ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device")):
        if test(mode):
            return f"not a regular file ({what}); not read"
    return None


def find_remote_text_files(url: str, pattern: str, storage_options: dict | None) -> tuple[list[tuple], int]:
    import fnmatch

    fs, root = storage.filesystem(url, storage_options)
    root = root.rstrip("/")
    out, ignored = [], 0
    for f, info in sorted(fs.find(root, detail=True).items()):
        rel = f[len(root) + 1:].split("/")
        name = rel[-1]
        if not fnmatch.fnmatch(name, pattern):
            continue
        if name.startswith(".") or Path(name).suffix.lower() in _NOT_DATA:
            ignored += 1
            continue
        out.append((storage.url_of(fs, f), rel[0] if len(rel) > 1 else None, "/".join(rel), None,
                    (info.get("size"), str(info.get("mtime", info.get("LastModified", ""))))))
    return out, ignored


def find_text_files(root: Path, pattern: str = "*") -> tuple[list[tuple], int]:
    """``[(path, label, relative name, special reason, (size, mtime)), ...]`` and the number of
    entries ignored by rule (hidden files, documentation / data files of other kinds)."""
    out, ignored = [], 0
    for p in sorted(root.rglob(pattern)):
        if p.is_dir() and not p.is_symlink():
            continue
        rel = p.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or p.suffix.lower() in _NOT_DATA:
            ignored += 1
            continue
        special = None if p.is_file() else _special_reason(p)
        if special is None and not p.is_file():
            continue  # a symlink to a directory
        st = p.lstat()
        out.append((str(p), rel.parts[0] if len(rel.parts) > 1 else None, rel.as_posix(), special,
                    (st.st_size, st.st_mtime_ns)))
    return out, ignored


def object_ids_for(rel_names: list[str]) -> list[str]:
    """Object ids of text files: the file stem, or the relative path when stems collide.

    ``ML/star1.dat`` and ``VARIABLE/star1.dat`` (or ``a.txt`` and ``a.csv``) share the stem
    ``star1`` / ``a``; each of them then gets its path relative to the input directory
    (``ML/star1.dat``), unique by construction. A stem met once stays the id.
    """
    from collections import Counter

    stems = [Path(r).stem for r in rel_names]
    n = Counter(stems)
    return [r if n[st] > 1 else st for r, st in zip(rel_names, stems)]
