"""``lia-dask ingest ...`` and ``lia-dask info ARCHIVE``."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .. import schema as S


def register(sub: argparse._SubParsersAction) -> None:
    ing = sub.add_parser("ingest", help="turn survey files into a lightcurve archive or a cutout store")
    isub = ing.add_subparsers(dest="ingest_kind", metavar="KIND")
    isub.required = True

    t = isub.add_parser("text", help="directory of whitespace text files (time, mag, magerr), label = sub-directory")
    t.add_argument("path", help="directory of text lightcurves (searched recursively)")
    t.add_argument("--out", required=True, help="archive directory to write")
    t.add_argument("--band", default=S.DEFAULT_BAND, help="band name stored for every lightcurve (default %(default)s)")
    t.add_argument("--pattern", default="*", help="glob of the data files (default: all but docs)")
    t.add_argument("--flux", action="store_true", help="values are fluxes, not magnitudes")
    t.add_argument("--files-per-partition", type=int, default=2000, help="text files per archive part (default %(default)s)")
    _common(t)
    t.set_defaults(func=_ingest_text)

    lg = isub.add_parser("long", help="long table (Parquet/CSV, one row per epoch) with a column mapping")
    lg.add_argument("source", nargs="+", help="Parquet or CSV file(s), globs or s3:// URLs")
    lg.add_argument("--out", required=True, help="archive directory to write")
    lg.add_argument("--preset", choices=sorted(__import__("lia_dask.archive.ingest", fromlist=["PRESETS"]).PRESETS),
                    help="a named column mapping with its photometry, zero point and time system")
    lg.add_argument("--map", action="append", default=[], metavar="SRC=DST",
                    help="column mapping, e.g. --map diaObjectId=object_id (repeatable)")
    lg.add_argument("--flux", action="store_true", help="the mapped values are fluxes, not magnitudes")
    lg.add_argument("--npartitions", type=int, default=None, help="archive parts to write (default: one per ~partition size of input)")
    _common(lg)
    lg.set_defaults(func=_ingest_long)

    h = isub.add_parser("hats", help="HATS / LSDB catalog (e.g. Rubin DP1 dia_object_collection) -> archive, "
                                     "one part per HATS pixel")
    h.add_argument("source", help="HATS catalog or collection directory")
    h.add_argument("--out", required=True, help="lia_dask archive directory to write (one part per HATS pixel)")
    add_hats_arguments(h)
    h.add_argument("--min-points", type=int, default=5, help="quarantine objects with fewer epochs over all bands")
    h.add_argument("--overwrite", action="store_true", help="replace an existing lia_dask archive at --out")
    h.set_defaults(func=_ingest_hats)

    c = isub.add_parser("cutouts", help=".npy array (N,H,W,C) or a directory of FITS files -> Zarr store")
    c.add_argument("source", help=".npy array (N, H, W, C) or a directory of FITS files")
    c.add_argument("--out", required=True, help="Zarr cutout store to write")
    c.add_argument("--labels", default=None, help=".npy of labels (for .npy input)")
    c.add_argument("--bands", default=None, help="comma-separated band names")
    c.add_argument("--pixel-scale", type=float, default=None, help="arcsec per pixel, stored with the images")
    c.add_argument("--chunk", type=int, default=256, help="images per Zarr chunk (default %(default)s)")
    c.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    _storage_option(c)
    c.set_defaults(func=_ingest_cutouts)

    info = sub.add_parser("info", help="summary of a lightcurve archive, cutout store or model artifact")
    info.add_argument("path", help="lightcurve archive, cutout store (directory or URL) or model artifact "
                                   "(directory or .zip)")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.add_argument("--allow-incomplete", action="store_true",
                      help="summarize the intact parts of an archive whose parts do not match its _archive.json")
    _storage_option(info)
    info.set_defaults(func=_info)


def _storage_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--storage-options", default=None, metavar="JSON",
                   help="fsspec options for s3:// (etc.) paths, e.g. '{\"anon\": true}'; default: the "
                        "lia_dask.storage_options Dask config, else the environment (AWS_* variables)")


def storage_options(args) -> dict | None:
    """The parsed ``--storage-options`` JSON (None when not given)."""
    from ..errors import InputError

    text = getattr(args, "storage_options", None)
    if not text:
        return None
    try:
        so = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"--storage-options must be a JSON object, got {text!r} ({exc}).") from exc
    if not isinstance(so, dict):
        raise InputError(f"--storage-options must be a JSON object, got {text!r}.")
    return so


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--zp", type=float, default=None, help="zero point (default 22, or the preset's)")
    p.add_argument("--time-system", default=None, help="time system of the epochs, e.g. HJD or MJD (default HJD, or the preset's)")
    p.add_argument("--min-points", type=int, default=5, help="fewest finite epochs a lightcurve needs; fewer are quarantined (default %(default)s)")
    p.add_argument("--allow-nonpositive-flux", action="store_true", help="keep fluxes <= 0 (difference imaging) instead of quarantining them")
    p.add_argument("--duplicate-epochs", choices=["keep", "drop-exact", "quarantine"], default="keep",
                   help="lightcurves with two epochs at one time: keep them (MicroLIA), drop exact repeats, or quarantine")
    p.add_argument("--overwrite", action="store_true", help="replace an existing archive at --out")
    _storage_option(p)


def _config(args, **kw):
    from .ingest import IngestConfig
    from .validate import ValidationConfig

    val = ValidationConfig(min_points=args.min_points, allow_nonpositive_flux=args.allow_nonpositive_flux,
                           duplicate_epochs=args.duplicate_epochs)
    fields = {"photometry": "flux" if args.flux else "mag", "validation": val, "overwrite": args.overwrite, **kw}
    if args.zp is not None:
        fields["zeropoint"] = args.zp
    if args.time_system:
        fields["time_system"] = args.time_system
    return IngestConfig(**fields)


def _print_report(report) -> None:
    print(report)
    print(f"counts: read={report.read} archived={report.archived} quarantined={report.quarantined} "
          f"(read == archived + quarantined: {report.read == report.archived + report.quarantined})")


def _ingest_text(args) -> int:
    from ..cluster import client_from_args
    from .ingest import ingest_directory

    cfg = _config(args, band=args.band, files_per_partition=args.files_per_partition)
    with client_from_args(args) as client:
        report = ingest_directory(args.path, args.out, cfg, pattern=args.pattern, client=client,
                                  storage_options=storage_options(args))
    _print_report(report)
    return 0


def _ingest_long(args) -> int:
    from ..cluster import client_from_args
    from ..errors import InputError
    from .ingest import ingest_long

    mapping = {}
    for item in args.map:
        if "=" not in item:
            raise InputError(f"--map expects SRC=DST, got {item!r}.")
        src, dst = item.split("=", 1)
        mapping[src] = dst
    cfg = _config(args)
    with client_from_args(args) as client:
        report = ingest_long(args.source if len(args.source) > 1 else args.source[0], args.out, mapping or None, cfg,
                             preset=args.preset, npartitions=args.npartitions, client=client,
                             storage_options=storage_options(args))
    _print_report(report)
    return 0


def add_hats_arguments(p: argparse.ArgumentParser) -> None:
    """Options naming where the lightcurves sit in a HATS catalog (``ingest hats``, ``predict``)."""
    from .hats import HATS_PRESETS

    g = p.add_argument_group("HATS catalog input")
    g.add_argument("--hats-preset", choices=sorted(HATS_PRESETS), default="rubin",
                   help="rubin / rubin-forced: DP1 diaObjectForcedSource (default); rubin-dia: diaSource")
    g.add_argument("--nested", default=None, help="nested column with the epochs (default: the preset's)")
    g.add_argument("--id-column", default=None, help="object id column (default diaObjectId)")
    g.add_argument("--label-column", default=None, help="per-object class label column (training catalogs)")
    g.add_argument("--field", action="append", default=[], metavar="ROLE=NAME",
                   help="nested field for ROLE in time, value, error, band (repeatable), e.g. --field value=psfDiffFlux")


def hats_config(args):
    """The :class:`~lia_dask.archive.hats.HatsConfig` of the ``add_hats_arguments`` options."""
    from ..errors import InputError
    from .hats import HatsConfig

    changes = {k: v for k, v in (("nested", args.nested), ("id_column", args.id_column),
                                  ("label_column", args.label_column)) if v}
    for item in args.field:
        role, sep, name = item.partition("=")
        if not sep or role not in ("time", "value", "error", "band"):
            raise InputError(f"--field expects ROLE=NAME with ROLE in time, value, error, band; got {item!r}.")
        changes[role] = name
    return HatsConfig.preset(args.hats_preset, **changes)


def _ingest_hats(args) -> int:
    from ..cluster import client_from_args
    from .hats import ingest_hats
    from .ingest import IngestConfig
    from .validate import ValidationConfig

    icfg = IngestConfig(validation=ValidationConfig(min_points=args.min_points), overwrite=args.overwrite)
    with client_from_args(args) as client:
        report = ingest_hats(args.source, args.out, hats_config(args), icfg, client=client)
    _print_report(report)
    return 0


def _ingest_cutouts(args) -> int:
    from .cutouts import ingest_fits, ingest_npy

    bands = args.bands.split(",") if args.bands else None
    so = storage_options(args)
    if Path(args.source).is_dir():
        store = ingest_fits(args.source, args.out, bands=bands, pixel_scale=args.pixel_scale, chunk=args.chunk,
                            overwrite=args.overwrite, storage_options=so)
    else:
        store = ingest_npy(args.source, args.out, label=args.labels, bands=bands, pixel_scale=args.pixel_scale,
                           chunk=args.chunk, overwrite=args.overwrite, storage_options=so)
    q = len(store.quarantine())
    print(f"{store}: stored {store.n_images} cutouts, quarantined {q}")
    return 0


def archive_info(path: str, storage_options: dict | None = None, allow_incomplete: bool = False) -> dict:
    """Summary numbers of a lightcurve archive (objects, bands, epochs per object, time span...)."""
    import pyarrow.compute as pc

    from .lightcurves import _read_part, open_archive

    a = open_archive(path, storage_options, allow_incomplete=allow_incomplete)
    lens, tmin, tmax = [], np.inf, -np.inf
    for p in a.partitions:
        col = _read_part(p, [S.TIME], a.fs).column(0)
        lens.append(pc.list_value_length(col).to_numpy(zero_copy_only=False))
        flat = pc.list_flatten(col)
        if len(flat):
            mm = pc.min_max(flat).as_py()
            tmin, tmax = min(tmin, mm["min"]), max(tmax, mm["max"])
    lens = np.concatenate(lens) if lens else np.zeros(0, int)
    return {
        "path": str(a.path), "objects": int(len(lens)), "partitions": a.n_partitions, "bands": a.bands,
        "photometry": a.photometry, "zeropoint": a.zeropoint, "time_system": a.time_system,
        "epochs_per_object": {"min": int(lens.min()) if len(lens) else 0,
                              "median": float(np.median(lens)) if len(lens) else 0.0,
                              "max": int(lens.max()) if len(lens) else 0},
        "epochs_total": int(lens.sum()),
        "time_span": [float(tmin), float(tmax)] if len(lens) else None,
        "quarantined": int(len(a.quarantine())),
        "labels": _label_counts(a),
        "complete": a.complete, "identity": a.identity,
    }


def _label_counts(a) -> dict:
    from .lightcurves import _read_part

    if S.LABEL not in a.schema.names:
        return {}
    import collections

    cnt = collections.Counter()
    for p in a.partitions:
        cnt.update(_read_part(p, [S.LABEL], a.fs).column(0).to_pylist())
    return dict(sorted(cnt.items(), key=lambda kv: str(kv[0])))


def _info(args) -> int:
    from . import storage
    from .cutouts import open_cutouts

    so = storage_options(args)
    if not storage.is_url(args.path) and _is_artifact(Path(args.path)):
        from ..artifact import describe

        return _print_info(describe(args.path), args.json)
    if storage.is_url(args.path):
        fs, root = storage.filesystem(args.path, so)
        is_store = fs.exists(storage.join(root, "zarr.json"))
    else:
        is_store = (Path(args.path) / "zarr.json").exists()
    if is_store:
        s = open_cutouts(args.path, so)
        info = {"path": str(args.path), "cutouts": s.n_images, "image_shape": list(s.image_shape), "bands": s.bands,
                "pixel_scale": s.pixel_scale, "chunk": s.chunk, "quarantined": int(len(s.quarantine()))}
    else:
        info = archive_info(args.path, so, getattr(args, "allow_incomplete", False))
    return _print_info(info, args.json)


def _is_artifact(p: Path) -> bool:
    """A model artifact: a directory with ``manifest.json`` or a ``.zip`` file."""
    from ..artifact import MANIFEST

    return (p / MANIFEST).is_file() or (p.is_file() and p.suffix == ".zip")


def _print_info(info: dict, as_json: bool) -> int:
    if as_json:
        print(json.dumps(info, indent=1, default=str))
        return 0
    for k, v in info.items():
        if isinstance(v, dict):
            print(f"{k:>18}:")
            for kk, vv in v.items():
                print(f"{'':>18}  {kk}: {vv}")
        else:
            print(f"{k:>18}: {v}")
    return 0
