"""``lia-dask simulate``: a labelled training archive on a survey's cadences."""
from __future__ import annotations

import argparse
import json

import numpy as np
import pandas as pd

from .. import schema as S


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate a labelled training set on a survey's cadences")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--cadence", metavar="ARCHIVE_OR_DIR",
                     help="lightcurve archive or directory of text lightcurves whose epochs the simulation uses")
    src.add_argument("--synthetic", choices=["seasonal", "nightly", "lsst"],
                     help="synthetic cadences instead of survey data")
    p.add_argument("--n-cadences", type=int, default=200, help="number of synthetic cadences (with --synthetic)")
    p.add_argument("--max-cadences", type=int, default=None,
                   help="use at most this many lightcurves of --cadence (the first ones; default all)")
    p.add_argument("--n-per-class", nargs="+", required=True, metavar="N_OR_CLASS=N",
                   help="lightcurves per class: one number for every class, or CLASS=N items "
                        "(e.g. ML=500 CONSTANT=5000: many more non-events than events)")
    p.add_argument("--classes", nargs="+", default=list(S.CLASSES), metavar="CLASS",
                   help=f"classes to simulate (default: all of {' '.join(S.CLASSES)})")
    p.add_argument("--min-mag", type=float, default=14.0, help="brightest baseline magnitude drawn (default %(default)s)")
    p.add_argument("--max-mag", type=float, default=21.0, help="faintest baseline magnitude drawn (default %(default)s)")
    p.add_argument("--noise-from", metavar="ARCHIVE_OR_DIR", default=None,
                   help="fit the empirical noise model σ(m) to these real lightcurves (default: photon noise)")
    p.add_argument("--noise-zp", type=float, default=24.0,
                   help="zero point of the photon noise (mag at 1 count/s); not the features' --zp")
    p.add_argument("--exptime", type=float, default=60.0, help="exposure time of the photon noise (s)")
    p.add_argument("--archive-zp", type=float, default=None,
                   help="zero point written to the archive for mag->flux conversion by the features "
                        "(default: --noise-zp)")
    p.add_argument("--recipe", choices=("survey", "microlia"), default="survey",
                   help="survey: realistic blending, tE, t0, CV outbursts, systematics and a detection cut "
                        "(docs/simulation.md); microlia: MicroLIA 2.8.1's distributions")
    p.add_argument("--ml-cut", choices=("detect", "microlia"), default=None,
                   help="ML quality cut: detect = N consecutive epochs >= Z sigma above baseline within 2 tE and "
                        "the event's delta chi2 >= --ml-detect-dchi2 (default of the survey recipe); microlia = "
                        "spec §2.1 (7 epochs in t0 ± tE, 33 %% significant)")
    p.add_argument("--ml-n-detect", type=int, default=None, metavar="N",
                   help="consecutive epochs an event needs at >= --ml-min-z sigma (detect cut; default 3)")
    p.add_argument("--ml-detect-dchi2", type=float, default=None, metavar="D",
                   help="delta chi2 of the event against the baseline it needs (detect cut; default 100; 0: off)")
    p.add_argument("--ml-min-z", type=float, default=None, metavar="Z", help="significance of a detection (3)")
    p.add_argument("--error-scale", type=float, nargs=2, default=None, metavar=("LOW", "HIGH"),
                   help="range of the pipeline's error underestimation factor gamma (survey: 1 2)")
    p.add_argument("--outlier-rate", type=float, default=None, help="mean fraction of outlier epochs (0.005)")
    p.add_argument("--flux", action="store_true", help="write fluxes in nJy instead of magnitudes")
    p.add_argument("--seed", type=int, default=0, help="random seed: one seed, one training set on any cluster (default %(default)s)")
    p.add_argument("--partition-size", type=int, default=20_000, help="lightcurves per task and archive part")
    p.add_argument("--features-out", default=None, metavar="DIR", help="also write the feature table here")
    p.add_argument("--feature-set", default=None, metavar="NAME",
                   help="feature set of --features-out (default microlia-2.8.1+physical, the training recipe's)")
    p.add_argument("--out", required=True, metavar="TRAIN_ARCHIVE", help="training archive directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing archive at --out")
    q = p.add_argument_group("quality cuts of the microlia cut (--ml-cut microlia; an event must be visible in its cadence)")
    q.add_argument("--ml-n1", type=int, default=None, help="ML: epochs within t0 ± tE (default 7)")
    q.add_argument("--ml-frac-significant", type=float, default=None, help="ML: share of event epochs >= 3σ (0.33)")
    q.add_argument("--ml-min-brightening", type=float, default=None, help="ML: mean brightening in mag (0.05)")
    q.add_argument("--cv-n1", type=int, default=None, help="CV: epochs within one outburst (7)")
    q.add_argument("--cv-n2", type=int, default=None, help="CV: epochs in its rise or decline (1)")
    mb = p.add_argument_group("multi-band (one physical model for all bands of an object)")
    mb.add_argument("--multiband", action="store_true",
                    help="simulate every band of the cadences together (achromatic ML, chromatic variables), "
                         "LSST depth noise in nJy; --cadence may be a HATS catalog")
    mb.add_argument("--difference", action="store_true", help="with --multiband: write difference fluxes")
    mb.add_argument("--m5", action="append", default=[], metavar="BAND=MAG",
                    help="with --multiband: single-visit 5σ depth of a band (default LSST's), repeatable")
    p.set_defaults(func=_simulate)


def _noise_source(path: str):
    from ..archive import open_archive
    from ..batch import concat_batches
    from pathlib import Path
    from ..errors import InputError, MissingInputError

    root = Path(path)
    if not root.exists():
        raise MissingInputError(f"noise source {root} does not exist; give a lightcurve archive or directory.")
    if root.is_dir() and any(root.glob(S.PART_GLOB)):
        return concat_batches(list(open_archive(root).batches()))
    from ..archive import read_text_lightcurve
    from ..batch import LightcurveBatch
    files = sorted(f for f in (root.rglob("*") if root.is_dir() else [root])
                   if f.is_file() and not f.name.startswith((".", "_")))
    if not files:
        raise InputError(f"noise source {root} holds no lightcurve files.")
    lcs = [read_text_lightcurve(f) for f in files]
    return LightcurveBatch.from_lightcurves([f.stem for f in files], [x[0] for x in lcs], [x[1] for x in lcs],
                                            [x[2] for x in lcs])


def _counts(items: list[str], classes: tuple[str, ...]) -> int | dict:
    from ..errors import ConfigError

    if len(items) == 1 and "=" not in items[0]:
        try:
            n = int(items[0])
        except ValueError:
            raise ConfigError(f"--n-per-class takes a number or CLASS=N items, got {items[0]!r}.") from None
        if n < 1:
            raise ConfigError(f"--n-per-class must be at least 1, got {n}.")
        return n
    out = {}
    for item in items:
        key, sep, val = item.partition("=")
        if not sep or not val.isdigit():
            raise ConfigError(f"--n-per-class takes a number or CLASS=N items, got {item!r}.")
        out[key] = int(val)
        if out[key] < 1:
            raise ConfigError(f"--n-per-class must be at least 1, got {item!r}.")
    bad = sorted(set(out) - set(classes))
    if bad:
        raise ConfigError(f"--n-per-class names class(es) {bad} that are not simulated ({list(classes)}).")
    return out


def _simulate(args) -> int:
    from ..cluster import client_from_args
    from .cadence import load_cadences, synthetic_cadences
    from .config import SimulationConfig
    from .noise import NoiseModel
    from .simulate import simulate_training_set

    noise = NoiseModel.from_batch(_noise_source(args.noise_from)) if args.noise_from else None
    changes = dict(classes=tuple(args.classes), min_mag=args.min_mag, max_mag=args.max_mag, seed=args.seed,
                   noise=noise, noise_zeropoint=args.noise_zp, exptime=args.exptime, archive_zeropoint=args.archive_zp,
                   photometry="flux" if args.flux else "mag", partition_size=args.partition_size)
    optional = {"ml_cut": args.ml_cut, "ml_n_detect": args.ml_n_detect, "ml_min_z": args.ml_min_z,
                "ml_detect_dchi2": args.ml_detect_dchi2,
                "ml_n1": args.ml_n1, "ml_frac_significant": args.ml_frac_significant,
                "ml_min_brightening": args.ml_min_brightening, "cv_n1": args.cv_n1, "cv_n2": args.cv_n2,
                "error_scale_range": tuple(args.error_scale) if args.error_scale else None,
                "outlier_rate": args.outlier_rate}
    changes.update({k: v for k, v in optional.items() if v is not None})
    cfg = SimulationConfig.microlia(**changes) if args.recipe == "microlia" else SimulationConfig(**changes)
    if args.multiband:
        return _simulate_multiband(args, cfg)
    if args.synthetic:
        pool = synthetic_cadences(args.synthetic, args.n_cadences, seed=args.seed)
    else:
        pool = load_cadences(args.cadence, min_epochs=cfg.min_epochs, max_cadences=args.max_cadences)
    counts = _counts(args.n_per_class, cfg.classes)  # checked before any cluster starts
    from ..features import FeatureSettings
    from ..train.negatives import TRAIN_FEATURE_SET

    fs = FeatureSettings(zp=None, convert=None, feature_set=args.feature_set or TRAIN_FEATURE_SET)
    with client_from_args(args) as client:
        arch = simulate_training_set(pool, counts, args.out, cfg, client=client, overwrite=args.overwrite,
                                     features_out=args.features_out, feature_settings=fs)
    summary = json.loads((arch.path / "_simulation.json").read_text())["counts"]
    n_obj = sum(summary["per_class"].values())
    print(f"wrote {n_obj} simulated objects ({arch.n_objects} lightcurve rows) in {arch.n_partitions} partitions "
          f"to {arch.path}: {summary['per_class']}")
    return 0


def _multiband_cadences(args):
    from .cadence import load_cadences, synthetic_cadences

    if args.synthetic:
        return synthetic_cadences(args.synthetic, args.n_cadences, seed=args.seed, start=60600.0)
    from ..archive.hats import is_hats_catalog

    if is_hats_catalog(args.cadence):  # the catalog's own per-band cadences, one task per pixel
        import dask

        from ..archive.hats import open_hats
        from ..batch import concat_batches
        from .cadence import CadencePool

        src = open_hats(args.cadence)
        batches = dask.compute(*[dask.delayed(lambda i: src.read_batch(i)[0])(i) for i in range(src.n_partitions)])
        batch = concat_batches(list(batches))
        if args.max_cadences:
            keep = np.flatnonzero(np.isin(batch.object_id, pd.unique(batch.object_id)[:args.max_cadences]))
            batch = batch.take(keep)
        return CadencePool.from_batch(batch, min_epochs=1)
    return load_cadences(args.cadence, min_epochs=1, max_cadences=args.max_cadences)


def _simulate_multiband(args, cfg) -> int:
    from ..cluster import client_from_args
    from ..errors import InputError
    from .multiband import LSST_M5, MultibandSimConfig, simulate_multiband_archive

    m5 = dict(LSST_M5)
    for item in args.m5:
        band, sep, mag = item.partition("=")
        try:
            m5[band] = float(mag)
        except ValueError:
            raise InputError(f"--m5 expects BAND=MAG, got {item!r}.") from None
    mcfg = MultibandSimConfig(base=cfg, min_mag=args.min_mag, max_mag=args.max_mag, m5=m5, difference=args.difference)
    n_per_class = _counts(args.n_per_class, cfg.classes)
    if isinstance(n_per_class, dict):
        raise InputError("--multiband takes one number for --n-per-class (the same count for every class).")
    pool = _multiband_cadences(args)
    with client_from_args(args) as client:
        arch = simulate_multiband_archive(pool, n_per_class, args.out, mcfg, client=client,
                                          overwrite=args.overwrite, partition_objects=args.partition_size)
    print(f"wrote {n_per_class * len(cfg.classes)} simulated multi-band objects ({arch.n_objects} lightcurve rows, "
          f"bands {','.join(arch.bands)}) in {arch.n_partitions} partitions to {arch.path}")
    return 0
