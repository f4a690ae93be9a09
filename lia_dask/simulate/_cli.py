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
    p.add_argument("--n-per-class", type=int, required=True, help="lightcurves per class")
    p.add_argument("--classes", nargs="+", default=list(S.CLASSES), metavar="CLASS",
                   help=f"classes to simulate (default: all of {' '.join(S.CLASSES)})")
    p.add_argument("--min-mag", type=float, default=14.0)
    p.add_argument("--max-mag", type=float, default=21.0)
    p.add_argument("--noise-from", metavar="ARCHIVE_OR_DIR", default=None,
                   help="fit the empirical noise model σ(m) to these real lightcurves (default: photon noise)")
    p.add_argument("--zp", type=float, default=24.0, help="zero point of the photon noise (mag at 1 count/s)")
    p.add_argument("--exptime", type=float, default=60.0, help="exposure time of the photon noise (s)")
    p.add_argument("--flux", action="store_true", help="write fluxes in nJy instead of magnitudes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--partition-size", type=int, default=20_000, help="lightcurves per task and archive part")
    p.add_argument("--features-out", default=None, metavar="DIR", help="also write the feature table here")
    p.add_argument("--out", required=True, metavar="TRAIN_ARCHIVE")
    p.add_argument("--overwrite", action="store_true")
    q = p.add_argument_group("quality cuts (a simulated event must be visible in its cadence)")
    q.add_argument("--ml-n1", type=int, default=None, help="ML: epochs within t0 ± tE (default 7)")
    q.add_argument("--ml-min-z", type=float, default=None, help="ML: one epoch at least this many σ above baseline (3)")
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


def _simulate(args) -> int:
    from ..cluster import client_from_args
    from .cadence import load_cadences, synthetic_cadences
    from .config import SimulationConfig
    from .noise import NoiseModel
    from .simulate import simulate_training_set

    noise = NoiseModel.from_batch(_noise_source(args.noise_from)) if args.noise_from else None
    cuts = {k: getattr(args, k) for k in ("ml_n1", "ml_min_z", "ml_frac_significant", "ml_min_brightening", "cv_n1",
                                          "cv_n2") if getattr(args, k) is not None}
    cfg = SimulationConfig(classes=tuple(args.classes), min_mag=args.min_mag, max_mag=args.max_mag, seed=args.seed,
                           noise=noise, zp=args.zp, exptime=args.exptime,
                           photometry="flux" if args.flux else "mag", partition_size=args.partition_size, **cuts)
    if args.multiband:
        return _simulate_multiband(args, cfg)
    if args.synthetic:
        pool = synthetic_cadences(args.synthetic, args.n_cadences, seed=args.seed)
    else:
        pool = load_cadences(args.cadence, min_epochs=cfg.min_epochs, max_cadences=args.max_cadences)
    with client_from_args(args) as client:
        arch = simulate_training_set(pool, args.n_per_class, args.out, cfg, client=client,
                                     overwrite=args.overwrite, features_out=args.features_out)
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
    pool = _multiband_cadences(args)
    with client_from_args(args) as client:
        arch = simulate_multiband_archive(pool, args.n_per_class, args.out, mcfg, client=client,
                                          overwrite=args.overwrite, partition_objects=args.partition_size)
    print(f"wrote {args.n_per_class * len(cfg.classes)} simulated multi-band objects ({arch.n_objects} lightcurve rows, "
          f"bands {','.join(arch.bands)}) in {arch.n_partitions} partitions to {arch.path}")
    return 0
