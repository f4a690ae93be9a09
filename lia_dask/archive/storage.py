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


def read_table(fs, url: str, columns: list[str] | None = None) -> pa.Table:
    return pq.read_table(fs_path(fs, url), columns=columns, filesystem=fs)


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
