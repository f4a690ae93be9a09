"""``lia-dask simulate``: a labelled training archive on a survey's cadences."""
from __future__ import annotations

import argparse
import json

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
    p.add_argument("--min-mag", type=float, default=14.0, help="brightest baseline magnitude drawn (default %(default)s)")
    p.add_argument("--max-mag", type=float, default=21.0, help="faintest baseline magnitude drawn (default %(default)s)")
    p.add_argument("--noise-from", metavar="ARCHIVE_OR_DIR", default=None,
                   help="fit the empirical noise model σ(m) to these real lightcurves (default: photon noise)")
    p.add_argument("--zp", type=float, default=24.0, help="zero point of the photon noise (mag at 1 count/s)")
    p.add_argument("--exptime", type=float, default=60.0, help="exposure time of the photon noise (s)")
    p.add_argument("--flux", action="store_true", help="write fluxes in nJy instead of magnitudes")
    p.add_argument("--seed", type=int, default=0, help="random seed: one seed, one training set on any cluster (default %(default)s)")
    p.add_argument("--partition-size", type=int, default=20_000, help="lightcurves per task and archive part")
    p.add_argument("--features-out", default=None, metavar="DIR", help="also write the feature table here")
    p.add_argument("--out", required=True, metavar="TRAIN_ARCHIVE", help="training archive directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing archive at --out")
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
    cfg = SimulationConfig(classes=tuple(args.classes), min_mag=args.min_mag, max_mag=args.max_mag, seed=args.seed,
                           noise=noise, zp=args.zp, exptime=args.exptime,
                           photometry="flux" if args.flux else "mag", partition_size=args.partition_size)
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
