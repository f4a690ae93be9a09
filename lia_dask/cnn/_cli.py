"""``lia-dask cnn simulate | train | evaluate | study | predict``."""
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
    s.add_argument("--difficulty", default="easy", choices=["easy", "survey"],
                   help="easy: bright arcs (tests, demos); survey: Lens Finding Challenge difficulty, LSST bands, "
                        "confusers (docs/cnn.md)")
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
    t.add_argument("--lr-schedule", default="step", choices=["constant", "step", "cosine"],
                   help="learning-rate schedule: constant, step drops (--lr-drop-every) or warm-up + cosine (default %(default)s)")
    t.add_argument("--stretch", default="linear", choices=["linear", "asinh"],
                   help="input scaling per band: min-max, or asinh softened at the sky noise (default %(default)s)")
    t.add_argument("--colour-residuals", action="store_true",
                   help="add lens-light-subtracted colour channels b - k*ref against the reddest band (docs/cnn.md)")
    t.add_argument("--no-psf-match", action="store_true",
                   help="subtract the reddest band as observed, without blurring it to each band's seeing first")
    t.add_argument("--flip", action="store_true", help="random horizontal and vertical flips")
    t.add_argument("--rot90", action="store_true",
                   help="random rotations by multiples of 90 degrees (with --flip: all 8 orientations of the square)")
    t.add_argument("--average-orientations", action="store_true",
                   help="predict (evaluate, predict) as the mean over the 8 orientations of each cutout (8x inference)")
    t.add_argument("--shift", type=int, default=0, help="random shifts up to this many pixels")
    t.add_argument("--rotation", type=float, default=0.0, help="random rotations up to this many degrees")
    t.add_argument("--config", default=None, help="JSON file of CNNConfig fields (command-line options win)")
    t.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    t.add_argument("--overwrite", action="store_true", help="replace an existing artifact at --out")
    t.set_defaults(func=_train)

    e = csub.add_parser("evaluate", help="challenge metrics (AUROC, TPR0, TPR10, TPR at 1%% / 0.1%% FPR) and a "
                                         "log-FPR ROC plot of a model on a labelled cutout store")
    e.add_argument("store", help="labelled cutout store to evaluate on (held out from training)")
    e.add_argument("--model", required=True, help="CNN artifact directory or zip")
    e.add_argument("--out", required=True, help="directory for metrics.json and roc.png")
    e.add_argument("--batch-size", type=int, default=256, help="images per inference batch (default %(default)s)")
    e.set_defaults(func=_evaluate)

    st = csub.add_parser("study", help="train one model under augmentation strengths x learning-rate schedules; "
                                       "write study.csv and curves.png (loss / AUC per epoch, train vs validation)")
    st.add_argument("store", help="training cutout store")
    st.add_argument("--val", required=True, help="labelled validation cutout store (never augmented)")
    st.add_argument("--out", required=True, help="directory for study.csv, history.json and curves.png")
    st.add_argument("--arch", default="resnet", choices=["resnet", "alexnet", "vgg16"], help="network (default %(default)s)")
    st.add_argument("--width", type=float, default=0.5, help="channel width multiplier (default %(default)s)")
    st.add_argument("--stages", type=int, default=3, help="ResNet stages (resnet only)")
    st.add_argument("--units", type=int, default=2, help="ResNet bottleneck units per stage (resnet only)")
    st.add_argument("--epochs", type=int, default=8, help="epochs per configuration (default %(default)s)")
    st.add_argument("--batch-size", type=int, default=64, help="images per training batch (default %(default)s)")
    st.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (default %(default)s)")
    st.add_argument("--image-size", type=int, default=None, help="resize cutouts to this many pixels a side (default: as stored)")
    st.add_argument("--augment", default="none,mild,strong", help="comma-separated names among none, mild, strong")
    st.add_argument("--schedules", default="constant,step,cosine", help="comma-separated among constant, step, cosine")
    st.add_argument("--step-every", type=int, default=3, help="epochs between halvings of the step schedule")
    st.add_argument("--search", default="grid", choices=["grid", "optuna"], help="full grid or an Optuna search (default %(default)s)")
    st.add_argument("--trials", type=int, default=6, help="Optuna trials (with --search optuna)")
    st.add_argument("--seed", type=int, default=0, help="random seed (default %(default)s)")
    st.set_defaults(func=_study)

    p = csub.add_parser("predict", help="classify every cutout of a store, one task per Zarr chunk (resumable)")
    p.add_argument("store", help="Zarr cutout store to classify")
    p.add_argument("--model", required=True, help="CNN artifact directory or zip")
    p.add_argument("--out", required=True, help="output directory of Parquet parts")
    p.add_argument("--batch-size", type=int, default=256, help="images per inference batch (default %(default)s)")
    p.add_argument("--threshold", type=float, default=0.5, help="probability from which a cutout is the positive class (default %(default)s)")
    p.set_defaults(func=_predict)


def _simulate(args) -> int:
    from .simulate_lenses import LensSimConfig, simulate_lens_store

    kw = dict(image_size=args.image_size, bands=tuple(args.bands.split(",")), lens_fraction=args.lens_fraction)
    cfg = LensSimConfig.survey(**kw) if args.difficulty == "survey" else LensSimConfig(**kw)
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
    if args.flip or args.shift or args.rotation or args.rot90:
        aug = AugmentConfig(horizontal_flip=args.flip, vertical_flip=args.flip, rot90=args.rot90, width_shift=args.shift,
                            height_shift=args.shift, rotation=args.rotation, seed=args.seed)
    base.update(architecture=args.arch, model_params={**base.get("model_params", {}), "width": args.width},
                epochs=args.epochs, batch_size=args.batch_size, learning_rate=args.lr, optimizer=args.optimizer,
                image_size=args.image_size, positive_class=args.positive_class, balance=args.balance,
                validation_fraction=args.val_fraction, monitor=args.monitor, patience=args.patience,
                lr_drop_every=args.lr_drop_every, warmup_epochs=args.warmup_epochs, lr_schedule=args.lr_schedule,
                stretch=args.stretch, colour_residuals=args.colour_residuals, psf_match=not args.no_psf_match,
                average_orientations=args.average_orientations,
                seed=args.seed, verbose=2)
    if aug is not None:
        base["augment"] = aug
    clf = CNNClassifier(CNNConfig.from_dict(base)).fit(args.store)
    m = clf.save(args.out, overwrite=args.overwrite)
    print(json.dumps({"artifact": args.out, "digest": m["digest"], "metrics": m["metrics"]}, indent=1))
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate_cutouts

    res = evaluate_cutouts(args.store, args.model, args.out, batch_size=args.batch_size)
    print(json.dumps(res, indent=1))
    return 0


def _pick(names: str, available: dict, what: str) -> dict:
    from ..errors import InputError

    want = [n.strip() for n in names.split(",") if n.strip()]
    bad = [n for n in want if n not in available]
    if bad or not want:
        raise InputError(f"--{what} takes names among {sorted(available)}, got {names!r}.")
    return {n: available[n] for n in want}


def _study(args) -> int:
    from .study import StudyConfig, default_augmentations, default_schedules, run_study, write_study
    from .train import CNNConfig

    params = {"width": args.width}
    if args.arch == "resnet":
        params.update(stages=args.stages, units_per_stage=args.units)
    base = CNNConfig(architecture=args.arch, model_params=params, epochs=args.epochs,
                     batch_size=args.batch_size, learning_rate=args.lr, image_size=args.image_size, seed=args.seed)
    sc = StudyConfig(augmentations=_pick(args.augment, default_augmentations(), "augment"),
                     schedules=_pick(args.schedules, default_schedules(args.step_every), "schedules"),
                     search=args.search, n_trials=args.trials, seed=args.seed)
    table, hist = run_study(args.store, args.val, base, sc)
    paths = write_study(table, hist, args.out)
    print(table.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    print(json.dumps(paths, indent=1))
    return 0


def _predict(args) -> int:
    from ..cluster import client_from_args
    from ..predict.cutouts import predict_cutouts

    with client_from_args(args) as client:
        report = predict_cutouts(args.store, args.model, args.out, client=client, batch_size=args.batch_size,
                                 threshold=args.threshold)
    print(report)
    return 0
