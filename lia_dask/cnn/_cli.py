"""``lia-dask cnn simulate | train | predict``."""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction) -> None:
    cnn = sub.add_parser("cnn", help="CNN classification of image cutouts (train, predict, simulate lenses)")
    csub = cnn.add_subparsers(dest="cnn_command", metavar="ACTION")
    csub.required = True

    s = csub.add_parser("simulate", help="write simulated LSST-like lens / non-lens cutouts to a Zarr store")
    s.add_argument("--out", required=True, help="Zarr cutout store to write")
    s.add_argument("--n", type=int, default=1000, help="cutouts to simulate (default %(default)s)")
    s.add_argument("--image-size", type=int, default=48, help="cutout side in pixels (default %(default)s)")
    s.add_argument("--bands", default="g,r,i", help="comma-separated band names")
    s.add_argument("--lens-fraction", type=float, default=0.5, help="fraction of lenses, 0 to 1 (default %(default)s)")
    s.add_argument("--chunk", type=int, default=256, help="images per Zarr chunk (default %(default)s)")
    s.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    s.add_argument("--overwrite", action="store_true", help="replace an existing store at --out")
    s.set_defaults(func=_simulate)

    t = csub.add_parser("train", help="train a CNN on a labelled cutout store and save the artifact")
    t.add_argument("store", help="labelled Zarr cutout store")
    t.add_argument("--out", required=True, help="artifact directory")
    t.add_argument("--arch", default="resnet", choices=["resnet", "alexnet", "vgg16"], help="network architecture (default %(default)s)")
    t.add_argument("--width", type=float, default=1.0, help="filter-count multiplier of the architecture")
    t.add_argument("--epochs", type=int, default=10, help="training epochs (default %(default)s)")
    t.add_argument("--batch-size", type=int, default=32, help="images per training batch (default %(default)s)")
    t.add_argument("--lr", type=float, default=1e-3, help="learning rate (default %(default)s)")
    t.add_argument("--optimizer", default="adam", choices=["adam", "adamw", "sgd", "rmsprop"], help="optimizer (default %(default)s)")
    t.add_argument("--image-size", type=int, default=None, help="resize cutouts to this many pixels a side (default: as stored)")
    t.add_argument("--positive-class", default=None, help="label whose probability the network outputs (default: the rarer class)")
    t.add_argument("--balance", default="weight", choices=["weight", "sample", "none"], help="class balance: loss weight, half-positive batches, or none (default %(default)s)")
    t.add_argument("--val-fraction", type=float, default=0.1, help="fraction held out for validation, 0 to 1 (default %(default)s)")
    t.add_argument("--monitor", default="val_loss", help="metric for early stopping, e.g. val_loss, val_f1, val_auc (default %(default)s)")
    t.add_argument("--patience", type=int, default=None, help="stop after this many epochs without improvement (default: never)")
    t.add_argument("--lr-drop-every", type=int, default=0, help="divide the learning rate every N epochs (0: never)")
    t.add_argument("--warmup-epochs", type=int, default=0, help="epochs of linear learning-rate warm-up (default %(default)s)")
    t.add_argument("--flip", action="store_true", help="random horizontal and vertical flips")
    t.add_argument("--shift", type=int, default=0, help="random shifts up to this many pixels")
    t.add_argument("--rotation", type=float, default=0.0, help="random rotations up to this many degrees")
    t.add_argument("--config", default=None, help="JSON file of CNNConfig fields (command-line options win)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing artifact at --out")
    t.set_defaults(func=_train)

    p = csub.add_parser("predict", help="classify every cutout of a store, one task per Zarr chunk (resumable)")
    p.add_argument("store", help="Zarr cutout store to classify")
    p.add_argument("--model", required=True, help="CNN artifact directory or zip")
    p.add_argument("--out", required=True, help="output directory of Parquet parts")
    p.add_argument("--batch-size", type=int, default=256, help="images per inference batch (default %(default)s)")
    p.add_argument("--threshold", type=float, default=0.5, help="probability from which a cutout is the positive class (default %(default)s)")
    p.set_defaults(func=_predict)


def _simulate(args) -> int:
    from .simulate_lenses import LensSimConfig, simulate_lens_store

    cfg = LensSimConfig(image_size=args.image_size, bands=tuple(args.bands.split(",")),
                        lens_fraction=args.lens_fraction)
    st = simulate_lens_store(args.out, args.n, cfg, seed=args.seed, chunk=args.chunk, overwrite=args.overwrite)
    print(st)
    return 0


def _train(args) -> int:
    from .augment import AugmentConfig
    from .train import CNNClassifier, CNNConfig

    base = {}
    if args.config:
        with open(args.config) as fh:
            base = json.load(fh)
    aug = None
    if args.flip or args.shift or args.rotation:
        aug = AugmentConfig(horizontal_flip=args.flip, vertical_flip=args.flip, width_shift=args.shift,
                            height_shift=args.shift, rotation=args.rotation, seed=args.seed)
    base.update(architecture=args.arch, model_params={**base.get("model_params", {}), "width": args.width},
                epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, optimizer=args.optimizer,
                image_size=args.image_size, positive_class=args.positive_class, balance=args.balance,
                validation_fraction=args.val_fraction, monitor=args.monitor, patience=args.patience,
                lr_drop_every=args.lr_drop_every, warmup_epochs=args.warmup_epochs, seed=args.seed, verbose=2)
    if aug is not None:
        base["augment"] = aug
    clf = CNNClassifier(CNNConfig.from_dict(base)).fit(args.store)
    m = clf.save(args.out, overwrite=args.overwrite)
    print(json.dumps({"artifact": args.out, "digest": m["digest"], "metrics": m["metrics"]}, indent=1))
    return 0


def _predict(args) -> int:
    from ..cluster import client_from_args
    from ..predict.cutouts import predict_cutouts

    with client_from_args(args) as client:
        report = predict_cutouts(args.store, args.model, args.out, client=client, batch_size=args.batch_size,
                                 threshold=args.threshold)
    print(report)
    return 0
