"""Where archives, cutout stores, models and outputs live: a local path or any fsspec URL.

Local paths (``str`` or ``os.PathLike`` without ``://``) keep the plain ``pathlib`` / ``os`` code
paths of the archive package. A URL such as ``s3://bucket/ogle4`` (or ``gs://``, ``abfs://``,
``memory://`` ...) is opened with fsspec; ``storage_options`` go to the filesystem (for s3fs e.g.
``{"key": ..., "secret": ..., "client_kwargs": {"endpoint_url": ...}}``). With
``storage_options=None`` the Dask config key ``lia_dask.storage_options`` is used, and otherwise
the filesystem's own defaults, i.e. for S3 the ``AWS_*`` environment variables
(``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL``) — the usual way on a
cluster, where every worker has them.

Writes are atomic as on local disk: on object stores a single PUT (an object appears whole or
not at all), elsewhere a temporary name then a rename.
"""
from __future__ import annotations

import json
import os
import posixpath
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..errors import MissingExtraError, MissingInputError

#: fsspec protocols whose writes are single atomic PUTs and whose renames are copies
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "abfss", "az", "adl", "oss", "memory"}


def is_url(path: Any) -> bool:
    """True for an fsspec URL (``proto://...``), False for a local path."""
    return isinstance(path, str) and "://" in path and not path.startswith("file://")


def local(path: str | os.PathLike) -> Path:
    """A local path (``file://`` prefix removed)."""
    s = str(path)
    return Path(s[len("file://"):] if s.startswith("file://") else s)


def filesystem(url: str, storage_options: dict | None = None):
    """``(fs, path)`` for a URL: the fsspec filesystem and the path inside it (no protocol).

    Raises
    ------
    MissingExtraError
        The protocol's package (s3fs, gcsfs, adlfs) is not installed.
    """
    import dask
    import fsspec

    if storage_options is None:
        storage_options = dask.config.get("lia_dask.storage_options", default=None) or {}
    try:
        return fsspec.core.url_to_fs(url, **storage_options)
    except ImportError as exc:
        proto = url.split("://", 1)[0]
        pkg = {"s3": "s3fs", "s3a": "s3fs", "gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "az": "adlfs"}.get(proto, proto)
        raise MissingExtraError(f"{url}: the {proto}:// protocol needs the package '{pkg}'; "
                                f"install it with `pip install {pkg}`.") from exc


def join(root: str, *names: str) -> str:
    """Join a URL (or fs path) and names with '/'."""
    return posixpath.join(root.rstrip("/"), *names)


def url_of(fs, path: str) -> str:
    """The full URL (with protocol) of a path inside ``fs``."""
    return fs.unstrip_protocol(path)


def fs_path(fs, url: str) -> str:
    """The path inside ``fs`` of a URL."""
    return fs._strip_protocol(url)


def is_nonempty_dir(fs, path: str) -> bool:
    fs.invalidate_cache(path)
    return bool(fs.exists(path) and fs.isdir(path) and fs.ls(path, detail=False))


def write_bytes(fs, path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (object store: one PUT; else temporary name + rename)."""
    protocols = {fs.protocol} if isinstance(fs.protocol, str) else set(fs.protocol)
    if protocols & OBJECT_STORES:
        fs.pipe_file(path, data)
        return
    tmp = join(posixpath.dirname(path), f".{posixpath.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        fs.pipe_file(tmp, data)
        fs.mv(tmp, path)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)


def write_table(table: pa.Table, fs, path: str, **kwargs) -> None:
    """Write an Arrow table as one Parquet object, atomically (serialized in memory, then one write)."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, **kwargs)
    write_bytes(fs, path, sink.getvalue().to_pybytes())


def write_json(obj: Any, fs, path: str) -> None:
    write_bytes(fs, path, json.dumps(obj, indent=1).encode())


def read_json(fs, path: str) -> Any:
    return json.loads(fs.cat_file(path))


def read_table(fs, url: str, columns: list[str] | None = None, **kwargs) -> pa.Table:
    return pq.read_table(fs_path(fs, url), columns=columns, filesystem=fs, **kwargs)


def read_metadata(fs, url: str) -> pq.FileMetaData:
    with fs.open(fs_path(fs, url), "rb") as fh:
        return pq.read_metadata(fh)


def makedirs(fs, path: str) -> None:
    """Create a directory (a no-op on object stores, where prefixes need no creation)."""
    try:
        fs.makedirs(path, exist_ok=True)
    except (OSError, NotImplementedError):
        pass


def fetch(url: str | os.PathLike, storage_options: dict | None = None, cache_dir: str | os.PathLike | None = None) -> Path:
    """A local copy of a remote file or directory (e.g. a model artifact); local paths are returned as is.

    The copy lands in ``cache_dir`` (default: a new temporary directory) under the URL's last name.
    """
    if not is_url(url):
        return local(url)
    fs, path = filesystem(str(url), storage_options)
    fs.invalidate_cache(path)
    if not fs.exists(path):
        raise MissingInputError(f"{url} does not exist.")
    dest = Path(cache_dir or tempfile.mkdtemp(prefix="lia-dask-")) / posixpath.basename(path.rstrip("/"))
    if fs.isdir(path):
        fs.get(path.rstrip("/") + "/", str(dest), recursive=True)
    else:
        fs.get(path, str(dest))
    return dest



def write_local_table(table: pa.Table, path: str | os.PathLike, **kwargs) -> None:
    """Write a Parquet file on a local disk under a temporary name, then rename it (no half files)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        pq.write_table(table, tmp, **kwargs)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()

class Location:
    """An output directory — local path or fsspec URL — with the few operations job outputs need.

    Picklable (it travels to workers as its path and options). Names are relative to the
    directory; paths returned by :meth:`glob` are full paths (local) or full URLs (remote).
    Writes are atomic (local: temporary name + ``os.replace``; object stores: one PUT).
    """

    def __init__(self, path: str | os.PathLike, storage_options: dict | None = None):
        self.remote = is_url(path)
        self.path = str(path) if self.remote else str(local(path))
        self.storage_options = storage_options
        self._fs = None

    def __getstate__(self):
        return {"path": self.path, "remote": self.remote, "storage_options": self.storage_options}

    def __setstate__(self, state):
        self.__dict__.update(state, _fs=None)

    def __repr__(self) -> str:
        return f"Location({self.path!r})"

    def __str__(self) -> str:
        return self.path

    @property
    def fs(self):
        if self.remote and self._fs is None:
            self._fs = filesystem(self.path, self.storage_options)[0]
        return self._fs

    def _p(self, name: str) -> str:
        return fs_path(self.fs, join(self.path, name)) if self.remote else os.path.join(self.path, name)

    def join(self, name: str) -> str:
        """Full path / URL of ``name`` in this directory."""
        return join(self.path, name) if self.remote else os.path.join(self.path, name)

    def makedirs(self) -> None:
        if self.remote:
            makedirs(self.fs, fs_path(self.fs, self.path))
        else:
            Path(self.path).mkdir(parents=True, exist_ok=True)

    def exists(self, name: str) -> bool:
        return self.fs.exists(self._p(name)) if self.remote else os.path.exists(self._p(name))

    def glob(self, pattern: str) -> list[str]:
        """Sorted full paths / URLs of the files matching ``pattern`` (a name pattern, no '/')."""
        if self.remote:
            root = fs_path(self.fs, self.path)
            self.fs.invalidate_cache(root)
            return sorted(url_of(self.fs, p) for p in self.fs.glob(join(root, pattern)))
        return sorted(str(p) for p in Path(self.path).glob(pattern))

    def remove(self, paths: list[str]) -> None:
        """Delete files given as returned by :meth:`glob`."""
        if self.remote:
            if paths:
                self.fs.rm([fs_path(self.fs, p) for p in paths])
        else:
            for p in paths:
                os.unlink(p)

    def write_bytes(self, data: bytes, name: str) -> None:
        if self.remote:
            write_bytes(self.fs, self._p(name), data)
            return
        target = Path(self._p(name))
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_bytes(data)
            os.replace(tmp, target)
        finally:
            if tmp.exists():
                tmp.unlink()

    def write_table(self, table: pa.Table, name: str, **kwargs) -> None:
        """Write ``table`` as Parquet file ``name``, atomically."""
        if self.remote:
            write_table(table, self.fs, self._p(name), **kwargs)
            return
        write_local_table(table, Path(self._p(name)), **kwargs)

    def write_json(self, obj: Any, name: str) -> None:
        self.write_bytes(json.dumps(obj, indent=1).encode(), name)

    def read_json(self, name: str) -> Any:
        return json.loads(self.fs.cat_file(self._p(name)) if self.remote else Path(self._p(name)).read_text())

    def read_metadata(self, path_or_name: str) -> pq.FileMetaData:
        p = path_or_name if ("/" in path_or_name or os.sep in path_or_name) else self.join(path_or_name)
        return read_metadata(self.fs, p) if self.remote else pq.read_metadata(p)

    def read_table(self, path_or_name: str, columns: list[str] | None = None) -> pa.Table:
        p = path_or_name if ("/" in path_or_name or os.sep in path_or_name) else self.join(path_or_name)
        return read_table(self.fs, p, columns) if self.remote else pq.read_table(p, columns=columns)
