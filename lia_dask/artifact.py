"""Model artifacts: a directory (or a zip of one) with ``manifest.json`` plus portable files.

Loading never unpickles. Every file of an artifact is listed in the manifest with its SHA-256;
the artifact digest is the SHA-256 over the canonical manifest (without the digest itself), so
it covers every file *and* every manifest field. A changed byte anywhere makes :func:`read_manifest`
fail with :class:`~lia_dask.errors.ArtifactError`.

Shared helpers (used by the ensemble and the CNN artifacts alike):

* :func:`write_manifest` — hash the files already written in a directory, write ``manifest.json``.
* :func:`read_manifest` — read it, check format version and kind, verify every file and the digest.
* :func:`save_arrays` / :func:`load_arrays` — ``.npz`` of plain numeric / string arrays
  (``allow_pickle=False`` both ways).
* :func:`artifact_dir` — the directory of an artifact given as a directory or a ``.zip``.
* :func:`load` — open any artifact and dispatch on its ``kind``.

Manifest fields (see ``docs/design.md``): ``lia_dask_version``, ``format_version``, ``kind``
(``"ensemble"`` or ``"cnn"``), ``classes`` (in order), ``feature_set``, ``feature_settings``,
``selected_features``, ``imputer``, ``training_digest``, ``metrics``, ``created``, ``files``
(name -> sha256) and ``digest``. Kind-specific settings go under ``settings``.
"""
from __future__ import annotations

import atexit
import datetime as _dt
import hashlib
import hmac
import importlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from . import __version__
from .errors import ArtifactError, ConfigError, MissingInputError

MANIFEST = "manifest.json"
#: bump when the layout changes incompatibly; older readers refuse newer formats
FORMAT_VERSION = 1
KINDS = ("ensemble", "cnn")
#: manifest fields every artifact has (others are kind-specific and optional)
MANIFEST_FIELDS = (
    "lia_dask_version", "format_version", "kind", "classes", "feature_set", "feature_settings",
    "selected_features", "imputer", "training_digest", "metrics", "created", "settings",
    "files", "digest",
)

_CHUNK = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 hex digest of one file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def array_digest(*arrays: Any) -> str:
    """SHA-256 over arrays' dtypes, shapes and bytes (e.g. the training-data digest).

    Object / string arrays are hashed through their ``str`` representation element by element.
    """
    h = hashlib.sha256()
    for a in arrays:
        a = np.asarray(a)
        if a.dtype == object or a.dtype.kind in "US":
            a = np.asarray([str(v) for v in a.ravel()], dtype=str)
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _canonical(manifest: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "digest"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=True, default=_json_default).encode()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"manifest field of type {type(obj).__name__} is not JSON-serializable")


def write_manifest(directory: str | Path, fields: Mapping[str, Any], files: list[str]) -> dict:
    """Hash ``files`` (names relative to ``directory``) and write ``directory/manifest.json``.

    Parameters
    ----------
    directory : path
        Artifact directory; the files must already be written there.
    fields : mapping
        Manifest fields; must contain ``kind`` (one of :data:`KINDS`) and ``classes``. Missing
        standard fields are written as ``None``. Values must be JSON-serializable (NumPy scalars and
        arrays are converted).
    files : list of str
        Every file that belongs to the artifact, relative to ``directory`` (no ``manifest.json``).

    Returns
    -------
    dict
        The manifest as written, including ``files`` and ``digest``.
    """
    directory = Path(directory)
    kind = fields.get("kind")
    if kind not in KINDS:
        raise ArtifactError(f"artifact kind must be one of {KINDS}, got {kind!r}; pass fields['kind'].")
    if "classes" not in fields:
        raise ArtifactError("artifact manifest needs 'classes' (the class labels in output order).")
    manifest: dict[str, Any] = {k: None for k in MANIFEST_FIELDS if k not in ("files", "digest")}
    manifest.update({
        "lia_dask_version": __version__,
        "format_version": FORMAT_VERSION,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    })
    manifest.update(dict(fields))
    hashes = {}
    for name in sorted(set(files)):
        if name == MANIFEST or Path(name).is_absolute() or ".." in Path(name).parts:
            raise ArtifactError(f"artifact file name {name!r} must be a relative path inside {directory}.")
        p = directory / name
        if not p.is_file():
            raise ArtifactError(f"artifact file {p} was not written; write it before the manifest.")
        hashes[name] = file_sha256(p)
    manifest["files"] = hashes
    manifest = json.loads(_canonical(manifest))  # normalise NumPy types etc.
    manifest["digest"] = hashlib.sha256(_canonical(manifest)).hexdigest()
    with open(directory / MANIFEST, "w") as fh:
        json.dump(manifest, fh, indent=1, sort_keys=True)
    if signing_key() is not None:  # a key is configured: every artifact written is signed
        sign(directory)
    return manifest


def read_manifest(path: str | Path, expected_kind: str | None = None) -> dict:
    """Read and verify an artifact's manifest.

    Parameters
    ----------
    path : path
        Artifact directory or ``.zip`` file.
    expected_kind : str, optional
        Fail unless the manifest's ``kind`` equals this.

    Returns
    -------
    dict
        The manifest, with an extra key ``"path"``: the (extracted) artifact directory as a str.

    Raises
    ------
    ArtifactError
        Missing manifest or files, unknown/newer format, wrong kind, changed file or manifest.
    """
    directory = artifact_dir(path)
    mpath = directory / MANIFEST
    if not mpath.is_file():
        raise ArtifactError(f"{path} is not a lia_dask artifact: {MANIFEST} is missing.")
    try:
        manifest = json.loads(mpath.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{mpath} is not valid JSON ({exc}); the artifact is damaged, re-create it.") from None
    if not isinstance(manifest, dict) or "format_version" not in manifest or "digest" not in manifest:
        raise ArtifactError(f"{mpath} lacks 'format_version'/'digest'; it was not written by lia_dask.")
    fv = manifest["format_version"]
    if not isinstance(fv, int) or fv > FORMAT_VERSION:
        raise ArtifactError(
            f"artifact {path} has format_version {fv!r} but this lia_dask {__version__} reads up to "
            f"{FORMAT_VERSION}; upgrade lia_dask or re-train the model."
        )
    if expected_kind is not None and manifest.get("kind") != expected_kind:
        raise ArtifactError(
            f"artifact {path} is of kind {manifest.get('kind')!r}, expected {expected_kind!r}; "
            "load it with the matching loader."
        )
    files = manifest.get("files") or {}
    for name, sha in files.items():
        p = directory / name
        if not p.is_file():
            raise ArtifactError(f"artifact {path} is incomplete: file {name!r} listed in the manifest is missing.")
        if file_sha256(p) != sha:
            raise ArtifactError(
                f"artifact file {p} does not match its SHA-256 in the manifest; it was modified "
                "after saving (tampered or damaged) — do not use it, re-create the artifact."
            )
    if hashlib.sha256(_canonical(manifest)).hexdigest() != manifest["digest"]:
        raise ArtifactError(
            f"{mpath} was edited after saving (its digest does not match its content); "
            "re-create the artifact."
        )
    manifest["path"] = str(directory)
    return manifest


def save_arrays(directory: str | Path, name: str, arrays: Mapping[str, Any]) -> str:
    """Write ``arrays`` as ``directory/name`` (an uncompressed ``.npz``, no pickled objects).

    Returns the file name (for the manifest's file list).
    """
    if not name.endswith(".npz"):
        name += ".npz"
    clean = {}
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            a = np.asarray([str(x) for x in a.ravel()], dtype=str).reshape(a.shape)
        clean[k] = a
    with open(Path(directory) / name, "wb") as fh:
        np.savez(fh, **clean)
    return name


def load_arrays(directory: str | Path, name: str) -> dict[str, np.ndarray]:
    """Read an ``.npz`` written by :func:`save_arrays`; never unpickles."""
    if not name.endswith(".npz"):
        name += ".npz"
    p = Path(directory) / name
    if not p.is_file():
        raise ArtifactError(f"artifact array file {p} is missing; the artifact is incomplete.")
    try:
        with np.load(p, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as exc:
        raise ArtifactError(f"{p} holds pickled objects or is damaged ({exc}); refusing to load it.") from None


_EXTRACTED: list[str] = []


def _cleanup() -> None:  # pragma: no cover - process exit
    for d in _EXTRACTED:
        shutil.rmtree(d, ignore_errors=True)


atexit.register(_cleanup)


def artifact_dir(path: str | Path) -> Path:
    """Directory holding the artifact: ``path`` itself, or a temporary extraction of a ``.zip``."""
    path = Path(path)
    if not path.exists():
        raise MissingInputError(f"model artifact {path} does not exist; train one with `lia-dask train`.")
    if path.is_dir():
        return path
    if not zipfile.is_zipfile(path):
        raise ArtifactError(f"{path} is neither an artifact directory nor a zip of one.")
    tmp = tempfile.mkdtemp(prefix="lia_dask_artifact_")
    _EXTRACTED.append(tmp)
    with zipfile.ZipFile(path) as zf:
        for info in zf.infolist():
            target = (Path(tmp) / info.filename).resolve()
            if not str(target).startswith(str(Path(tmp).resolve())):
                raise ArtifactError(f"zip artifact {path} holds an unsafe path {info.filename!r}.")
        zf.extractall(tmp)
    entries = [p for p in Path(tmp).iterdir()]
    if not (Path(tmp) / MANIFEST).exists() and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return Path(tmp)


def zip_artifact(directory: str | Path, zip_path: str | Path) -> Path:
    """Pack an artifact directory into a zip (files at the zip's top level)."""
    directory = Path(directory)
    read_manifest(directory)
    zip_path = Path(zip_path)
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in sorted(directory.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(directory).as_posix())
    return zip_path


def prepare_dir(path: str | Path, overwrite: bool = False) -> Path:
    """Create an empty artifact directory; refuse to write into a non-empty one unless ``overwrite``."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ArtifactError(f"artifact path {path} exists and is not a directory; choose another --out.")
        if any(path.iterdir()):
            if not overwrite:
                raise ArtifactError(f"artifact directory {path} is not empty; pass overwrite=True or choose another path.")
            if not (path / MANIFEST).exists():
                raise ArtifactError(f"refusing to overwrite {path}: it is not empty and holds no artifact.")
            shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    return path


#: loaders per kind: "module:callable" taking the artifact path, returning the model
LOADERS = {
    "ensemble": "lia_dask.train.ensemble:EnsembleClassifier.load",
    "cnn": "lia_dask.cnn:load_artifact",
}


def load(path: str | Path) -> Any:
    """Load any lia_dask model artifact, dispatching on its manifest ``kind``."""
    kind = read_manifest(path).get("kind")
    if kind not in LOADERS:
        raise ArtifactError(f"artifact {path} has unknown kind {kind!r}; expected one of {sorted(LOADERS)}.")
    mod, _, attr = LOADERS[kind].partition(":")
    try:
        obj: Any = importlib.import_module(mod)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ArtifactError(f"no loader for artifacts of kind {kind!r} ({LOADERS[kind]}: {exc}).") from None
    return obj(path)


def digest(path: str | Path) -> str:
    """The verified digest of an artifact (what predictions record as ``model_digest``)."""
    return read_manifest(path)["digest"]


def describe(path: str | Path) -> dict[str, Any]:
    """What ``lia-dask info MODEL`` prints: a verified artifact's kind, classes, features and settings.

    Every file's digest is checked first (:func:`read_manifest`), so a damaged artifact is refused
    with the same sentence ``load`` would give.

    Parameters
    ----------
    path : path
        Artifact directory or ``.zip`` file.

    Returns
    -------
    dict
        JSON-able summary: ``kind``, ``classes``, ``model``, ``feature_set``, ``feature_settings``,
        ``features`` (counts) and ``selected_features``, ``imputer``, ``training`` (rows per class,
        k-fold metrics), ``alerts`` (calibration and threshold) where present, ``signed``,
        ``created``, ``lia_dask_version``, ``digest``.
    """
    m = read_manifest(path)
    settings = m.get("settings") or {}
    spec = settings.get("model") if isinstance(settings.get("model"), dict) else {}
    names, selected = m.get("feature_names") or [], m.get("selected_features") or []
    metrics = m.get("metrics") or {}
    out: dict[str, Any] = {
        "path": str(path), "kind": m.get("kind"), "classes": m.get("classes"),
        "model": (spec or {}).get("kind") or (settings.get("config") or {}).get("model") or settings.get("architecture"),
        "feature_set": m.get("feature_set"), "feature_settings": m.get("feature_settings"),
        "features": {"input": len(names), "selected": len(selected)} if names else None,
        "selected_features": selected if len(selected) <= 40 else selected[:40] + [f"... {len(selected) - 40} more"],
        "imputer": m.get("imputer"),
        "input_shape": settings.get("input_shape"), "bands": settings.get("bands"),
        "training": {k: v for k, v in metrics.items() if not isinstance(v, (list, dict)) or k == "class_counts"},
    }
    alerts = m.get("alerts")
    if alerts:
        out["alerts"] = {k: alerts.get(k) for k in (
            "target", "calibration", "temperature", "survey_prior", "threshold", "max_false_alerts_per_million",
            "expected_false_alerts_per_million", "plugin_false_alerts_per_million", "resolution_per_million",
            "resolved", "false_alerts_from", "oof_recall_at_threshold")
            if k in alerts}
    out["signed"] = (Path(m["path"]) / SIGNATURE).is_file()
    out.update(created=m.get("created"), lia_dask_version=m.get("lia_dask_version"), digest=m.get("digest"))
    return {k: v for k, v in out.items() if v is not None}


# ------------------------------------------------------------------------ keyed signatures
#: signature file beside the manifest (not in ``files``: it signs the digest that covers them)
SIGNATURE = "signature.json"
KEY_ENV = "LIA_DASK_ARTIFACT_KEY"
KEY_CONFIG = "lia_dask.artifact_key"


def signing_key() -> bytes | None:
    """The user's signing key: ``$LIA_DASK_ARTIFACT_KEY``, else the Dask config ``lia_dask.artifact_key``."""
    key = os.environ.get(KEY_ENV)
    if not key:
        try:
            import dask

            key = dask.config.get(KEY_CONFIG, default=None)
        except ImportError:  # pragma: no cover
            key = None
    return str(key).encode() if key else None


def _hmac(key: bytes, digest: str) -> str:
    return hmac.new(key, f"lia_dask-artifact:{digest}".encode(), hashlib.sha256).hexdigest()


def sign(path: str | Path, key: bytes | str | None = None) -> str:
    """Sign an artifact directory: HMAC-SHA256 of its digest with ``key`` into ``signature.json``.

    The digest catches damage; only the signature catches deliberate edits (a manifest with
    permuted classes and a recomputed digest), since it needs the key. Returns the signature.

    Raises
    ------
    ConfigError
        No key given and none configured.
    """
    key = key.encode() if isinstance(key, str) else (key or signing_key())
    if not key:
        raise ConfigError(f"no signing key: set {KEY_ENV} or the Dask config {KEY_CONFIG}.")
    directory = Path(path)
    if not directory.is_dir():
        raise ArtifactError(f"{path}: only an artifact directory can be signed (sign it before zipping).")
    d = read_manifest(directory)["digest"]
    sig = _hmac(key, d)
    (directory / SIGNATURE).write_text(json.dumps({"algorithm": "hmac-sha256", "digest": d, "signature": sig}))
    return sig


def verify_signature(path: str | Path, key: bytes | str | None = None, required: bool = True) -> bool:
    """Check an artifact's HMAC signature with ``key`` (default: :func:`signing_key`).

    Returns True when signed and valid, False when unsigned and not ``required``.

    Raises
    ------
    ArtifactError
        A signature that does not match (tampered, or another key), or none while ``required``.
    ConfigError
        ``required`` but no key is configured.
    """
    key = key.encode() if isinstance(key, str) else (key or signing_key())
    manifest = read_manifest(path)
    sp = Path(manifest["path"]) / SIGNATURE
    if not sp.is_file():
        if required:
            raise ArtifactError(f"model artifact {path} is not signed but a signature is required; sign it with "
                                f"lia_dask.artifact.sign (key in {KEY_ENV}) or drop --require-signature.")
        return False
    if not key:
        raise ConfigError(f"model artifact {path} is signed but no key is configured; set {KEY_ENV} or the Dask "
                          f"config {KEY_CONFIG}.")
    try:
        sig = json.loads(sp.read_text())
        ok = sig.get("digest") == manifest["digest"] and hmac.compare_digest(str(sig.get("signature")),
                                                                             _hmac(key, manifest["digest"]))
    except (ValueError, AttributeError):
        ok = False
    if not ok:
        raise ArtifactError(f"model artifact {path} has an invalid signature (modified after signing, or signed "
                            "with another key); do not use it.")
    return True
