"""``lia-dask features ARCHIVE --out FEATURES.parquet``."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="compute the feature table of a lightcurve archive (Parquet)")
    p.add_argument("archive", nargs="?", help="lightcurve archive directory")
    p.add_argument("--out", help="output Parquet directory (one file per archive partition); its metadata "
                                 "records the resolved feature settings")
    p.add_argument("--zp", type=float, default=None,
                   help="zero point for magnitude -> flux (default: the archive's, 22 unless it says otherwise)")
    p.add_argument("--no-weights", action="store_true", help="unweighted variants (MicroLIA apply_weights=False)")
    p.add_argument("--flux", action="store_true",
                   help="use the values as fluxes, no conversion (MicroLIA convert=False; automatic for flux archives)")
    p.add_argument("--wide", action="store_true",
                   help="also write <out>.wide.parquet: one row per object, columns <band>_<feature>")
    p.add_argument("--feature-set", default=None, help="registered feature set (default microlia-2.8.1)")
    p.add_argument("--select", default=None, metavar="NAMES",
                   help="compute only these comma-separated columns (e.g. stetsonK,amplitude_deriv)")
    p.add_argument("--list", action="store_true", help="print the columns of the feature set and exit")
    p.add_argument("--multiband", action="store_true",
                   help="one row per object: <band>_<feature> for each band plus the joint point-lens fit features")
    p.add_argument("--bands", default=None, metavar="B1,B2,...", help="with --multiband: bands (default: the archive's)")
    p.add_argument("--min-band-points", type=int, default=5, help="with --multiband: NaN features below this")
    p.set_defaults(func=_features)


def _features(args) -> int:
    from ..cluster import client_from_args
    from ..errors import InputError
    from .extract import REASON_COLUMN, archive_settings, extract_archive, to_wide, write_feature_table
    from .registry import DEFAULT_FEATURE_SET, FeatureSettings, get_feature_set

    if args.multiband:
        return _multiband(args)
    name = args.feature_set or DEFAULT_FEATURE_SET
    if args.list:
        print("\n".join(get_feature_set(name).names))
        return 0
    if not args.archive or not args.out:
        raise InputError("lia-dask features needs an ARCHIVE and --out DIR (or --list).")
    select = None if args.select is None else tuple(c.strip() for c in args.select.split(",") if c.strip())
    settings = FeatureSettings(zp=args.zp, convert=False if args.flux else None,
                               apply_weights=not args.no_weights, feature_set=name, features=select)
    settings = archive_settings(args.archive, settings)
    ddf = extract_archive(args.archive, settings)
    with client_from_args(args) as client:
        write_feature_table(ddf, args.out, settings, client=client, overwrite=True)
        import dask.dataframe as dd

        counts = dd.read_parquet(args.out, columns=[REASON_COLUMN])[REASON_COLUMN].compute().value_counts()
        if args.wide:
            wide = to_wide(dd.read_parquet(args.out).compute())
            wide.to_parquet(str(args.out).rstrip("/") + ".wide.parquet")
    n = int(counts.sum())
    bad = int(counts.drop(0, errors="ignore").sum())
    if n == 0:
        raise InputError(f"archive {args.archive} produced no feature rows; check it with `lia-dask info`.")
    print(f"features: {n} rows written to {args.out}; {bad} rows all-NaN "
          f"(reasons: {_reason_text(counts.drop(0, errors='ignore'))})")
    return 0


def _reason_text(counts) -> str:
    """``{reason code: rows}`` as plain text, with the reasons' meanings (no ``np.int64(1)`` reprs)."""
    from .preprocess import REASONS

    if len(counts) == 0:
        return "none"
    return ", ".join(f"{REASONS.get(int(k), k)} ({int(k)}): {int(v)}" for k, v in counts.items())


def _multiband(args) -> int:
    from ..cluster import client_from_args
    from .extract import REASON_COLUMN
    from .multiband import MultibandSettings, extract_multiband_archive

    mb = MultibandSettings(bands=tuple(args.bands.split(",")) if args.bands else None,
                           min_band_points=args.min_band_points, zp=args.zp, apply_weights=not args.no_weights)
    ddf, mb = extract_multiband_archive(args.archive, mb)
    with client_from_args(args):
        ddf.to_parquet(args.out, write_index=False, overwrite=True)
        import dask.dataframe as dd

        reasons = dd.read_parquet(args.out, columns=[REASON_COLUMN])[REASON_COLUMN].compute()
    print(f"features: {len(reasons)} objects ({','.join(mb.bands)}) written to {args.out}; "
          f"{int((reasons != 0).sum())} without any computable feature ({REASON_COLUMN} 1)")
    return 0
