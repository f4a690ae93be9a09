"""``lia-dask train`` and ``lia-dask evaluate``."""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train an ensemble classifier (impute, select, tune, fit) and save an artifact")
    p.add_argument("source", metavar="TRAIN_ARCHIVE_OR_FEATURES",
                   help="labelled lightcurve archive (features are extracted) or feature table (Parquet/CSV)")
    p.add_argument("--out", required=True, metavar="MODEL_DIR", help="artifact directory to write")
    p.add_argument("--model", choices=("xgb", "rf", "nn"), default="xgb")
    p.add_argument("--impute", action=argparse.BooleanOptionalAction, default=True,
                   help="KNN-impute missing feature values (default on)")
    p.add_argument("--select-trials", type=int, default=0, metavar="N", help="Boruta-SHAP trials (0: no selection)")
    p.add_argument("--tune-trials", type=int, default=0, metavar="N", help="Optuna trials (0: default parameters)")
    p.add_argument("--cv", type=int, default=10, metavar="K", help="folds for tuning and the k-fold evaluation")
    p.add_argument("--scoring", default="f1_macro", help="tuning objective (f1_macro, accuracy, ...)")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="fixed estimator hyperparameter (repeatable; not searched when tuning), e.g. n_estimators=200")
    p.add_argument("--threads", type=int, default=None,
                   help="threads of the central fits (default: all cores); tuning folds on workers use one each")
    p.add_argument("--seed", type=int, default=1909, help="random seed (MicroLIA's 1909 by default)")
    p.add_argument("--reweight-to", metavar="ARCHIVE", default=None,
                   help="GMM re-weight the training set towards this population (archive or feature table)")
    p.add_argument("--gmm-components", type=int, default=4)
    p.add_argument("--max-weight", type=float, default=10.0)
    p.add_argument("--zp", type=float, default=None, help="zero point for features extracted from archives")
    p.add_argument("--no-weights", action="store_true", help="unweighted feature variants (apply_weights=False)")
    p.add_argument("--no-eval", action="store_true", help="skip the k-fold evaluation stored in the artifact")
    p.add_argument("--multiband", action="store_true",
                   help="one row per object from all bands: <band>_<feature> + joint point-lens fit features")
    p.add_argument("--bands", default=None, metavar="B1,B2,...",
                   help="with --multiband: the bands the model uses (default: the archive's bands)")
    p.add_argument("--min-band-points", type=int, default=5,
                   help="with --multiband: fewer epochs in a band give NaN features for that band")
    p.add_argument("--plots", metavar="DIR", default=None, help="write diagnostic plots here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing artifact at --out")
    p.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="evaluate a trained artifact on labelled data")
    e.add_argument("model", metavar="MODEL_DIR")
    e.add_argument("--data", required=True, metavar="ARCHIVE_OR_FEATURES")
    e.add_argument("--plots", metavar="DIR", default=None, help="write confusion matrix, ROC and t-SNE here")
    e.add_argument("--json", metavar="FILE", default=None, help="also write the metrics as JSON")
    e.set_defaults(func=_evaluate)


def _settings(args):
    from ..features import FeatureSettings

    return FeatureSettings(zp=args.zp, convert=None, apply_weights=not args.no_weights)


def _parse_params(items: list[str]) -> dict:
    from ..errors import ConfigError

    out = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--param must look like KEY=VALUE, got {item!r}.")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text  # a bare string such as gini
    return out


def _train(args) -> int:
    from .. import artifact
    from ..cluster import client_from_args
    from ..errors import InputError
    from .data import load_features
    from .ensemble import EnsembleClassifier
    from .evaluate import classification_metrics, cross_val_proba

    artifact.prepare_dir(args.out, overwrite=args.overwrite)  # fail before any work
    with client_from_args(args) as client:
        settings = _settings(args)
        if args.multiband:
            from ..features.multiband import MultibandSettings, load_multiband_features

            if args.reweight_to:
                raise InputError("--reweight-to does not work with --multiband yet; train without one of them.")
            mb = MultibandSettings(bands=tuple(args.bands.split(",")) if args.bands else None,
                                   min_band_points=args.min_band_points, zp=args.zp, apply_weights=not args.no_weights)
            table = load_multiband_features(args.source, mb, client)
        else:
            table = load_features(args.source, settings, client)
        y = table.labels
        if y is None:
            raise InputError(f"{args.source} has no 'label' column; training needs labelled data.")
        weights = None
        if args.reweight_to:
            from .gmm import GMMReweighter

            pop = load_features(args.reweight_to, settings, client, feature_names=table.features)
            g = GMMReweighter(args.gmm_components, random_state=args.seed).fit(table.X.to_numpy(), pop.X.to_numpy())
            weights = g.weights(table.X.to_numpy(), args.max_weight)
            print(f"train: GMM weights towards {args.reweight_to} ({len(pop.frame)} rows): "
                  f"min {weights.min():.3g}, max {weights.max():.3g}")
        clf = EnsembleClassifier(model=args.model, impute=args.impute, select_trials=args.select_trials,
                                 tune_trials=args.tune_trials, cv=args.cv, scoring=args.scoring,
                                 random_state=args.seed, params=_parse_params(args.param),
                                 n_jobs=args.threads)
        settings_d = table.feature_settings or settings.to_dict()
        clf.fit(table.X, y, weights, client=client, feature_set=settings_d.get("feature_set"),
                feature_settings=settings_d)
        clf.metrics_["n_excluded_no_features"] = table.n_excluded
        proba = None
        if not args.no_eval and args.cv >= 2:
            proba = cross_val_proba(clf, table.X, y, cv=args.cv, sample_weight=weights, client=client)
            m = classification_metrics(y, proba, clf.classes_)
            clf.metrics_["kfold"] = {k: m[k] for k in ("accuracy", "f1_macro", "recall", "precision", "confusion_matrix")}
            clf.metrics_["kfold"]["k"] = args.cv
        manifest = clf.save(args.out, overwrite=args.overwrite)
    if args.plots:
        from ..plots import plot_training_report

        plot_training_report(clf, args.plots, table.X if len(y) <= 5000 else None, y, proba)
    print(f"train: {len(y)} rows ({table.n_excluded} without features excluded), {len(clf.selected_features_)} "
          f"features, model {args.model} -> {args.out} (digest {manifest['digest'][:12]})")
    if "kfold" in clf.metrics_:
        print(f"train: {args.cv}-fold accuracy {clf.metrics_['kfold']['accuracy']:.4f}, "
              f"macro F1 {clf.metrics_['kfold']['f1_macro']:.4f}")
    return 0


def _evaluate(args) -> int:
    from ..cluster import client_from_args
    from ..errors import InputError
    from ..features import FeatureSettings
    from .data import load_features
    from .ensemble import EnsembleClassifier
    from .evaluate import classification_metrics

    from ..features.multiband import MultibandSettings, is_multiband, load_multiband_features

    clf = EnsembleClassifier.load(args.model)
    multiband = is_multiband(clf.feature_settings_)
    settings = (FeatureSettings.from_dict(dict(clf.feature_settings_)) if clf.feature_settings_ and not multiband
                else None)
    with client_from_args(args) as client:
        if multiband:
            table = load_multiband_features(args.data, MultibandSettings.from_dict(dict(clf.feature_settings_)), client)
        else:
            table = load_features(args.data, settings, client, feature_names=list(clf.feature_names_in_))
    y = table.labels
    if y is None:
        raise InputError(f"{args.data} has no 'label' column; evaluation needs labelled data (use `lia-dask predict`).")
    proba = clf.predict_proba(table.X)
    m = classification_metrics(y, proba, clf.classes_)
    m["n_excluded_no_features"] = table.n_excluded
    m["model_digest"] = clf.digest_
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(m, fh, indent=1)
    if args.plots:
        from ..plots import plot_confusion_matrix, plot_roc, plot_tsne

        pred = clf.classes_[proba.argmax(axis=1)]
        plot_confusion_matrix(y, pred, list(clf.classes_), f"{args.plots}/confusion_matrix.png")
        plot_roc(y, proba, list(clf.classes_), f"{args.plots}/roc.png")
        if len(y) >= 5:
            plot_tsne(clf.transform_features(table.X), y, f"{args.plots}/tsne.png")
    json.dump({k: m[k] for k in ("n", "accuracy", "f1_macro", "recall", "precision")}, sys.stdout, indent=1)
    print()
    return 0
