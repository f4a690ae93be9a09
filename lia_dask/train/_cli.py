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
    p.add_argument("--model", choices=("xgb", "rf", "nn"), default="xgb", help="XGBoost, random forest or neural network (default %(default)s)")
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
    p.add_argument("--gmm-components", type=int, default=4, help="Gaussian components of the --reweight-to density model (default %(default)s)")
    p.add_argument("--max-weight", type=float, default=10.0, help="largest sample weight of --reweight-to (default %(default)s)")
    p.add_argument("--zp", type=float, default=None, help="zero point for features extracted from archives")
    p.add_argument("--no-weights", action="store_true", help="unweighted feature variants (apply_weights=False)")
    p.add_argument("--no-eval", action="store_true",
                   help="skip the k-fold evaluation stored in the artifact (and so the alert stage, fitted on it)")
    p.add_argument("--calibration", choices=("temperature", "none"), default="temperature",
                   help="calibrate class probabilities on the out-of-fold predictions (docs/alerts.md)")
    p.add_argument("--survey-fractions", nargs="+", default=None, metavar="CLASS=FRACTION",
                   help="expected class fractions of the survey for the prior shift and the false-alert "
                        "estimate (default: the issue-11 survey mix, ML 0.8 %%, CV 3 %%, ...)")
    p.add_argument("--max-false-alerts-per-million", type=float, default=100.0, metavar="N",
                   help="operating threshold on P(ML) for this many false alerts per million stars "
                        "(estimated from out-of-fold non-events); a negative value disables the threshold")
    p.add_argument("--alert-negatives", metavar="ARCHIVE_OR_FEATURES", default=None,
                   help="labelled non-events (e.g. a simulated survey, another seed) that estimate the "
                        "false-alert rate instead of the out-of-fold training non-events")
    p.add_argument("--hard-negatives", metavar="ARCHIVE_OR_FEATURES", default=None,
                   help="labelled simulated non-events (another seed): a first model scores them and the "
                        "--hard-top highest-scoring join the training set before the final fit")
    p.add_argument("--hard-top", type=int, default=1000, metavar="N",
                   help="hard negatives added from --hard-negatives per round (default %(default)s)")
    p.add_argument("--hard-rounds", type=int, default=1, metavar="R",
                   help="mining rounds: each refits on what was mined so far and takes --hard-top more "
                        "(default %(default)s)")
    p.add_argument("--feature-set", default=None, metavar="NAME",
                   help="feature set extracted from a training archive (default microlia-2.8.1+physical: "
                        "MicroLIA's 168 statistics and the physical model block); a feature table keeps its own")
    p.add_argument("--multiband", action="store_true",
                   help="one row per object from all bands: <band>_<feature> + joint point-lens fit features")
    p.add_argument("--bands", default=None, metavar="B1,B2,...",
                   help="with --multiband: the bands the model uses (default: the archive's bands)")
    p.add_argument("--min-band-points", type=int, default=5,
                   help="with --multiband: fewer epochs in a band give NaN features for that band")
    p.add_argument("--plots", metavar="DIR", default=None, help="write diagnostic plots here")
    p.add_argument("--overwrite", action="store_true", help="replace an existing artifact at --out")
    p.set_defaults(func=_train)

    e = sub.add_parser("evaluate", help="evaluate trained artifacts: classification metrics, recall and false "
                                        "alerts on real labelled data and on a simulated survey, log ROC")
    e.add_argument("model", nargs="+", metavar="MODEL_DIR", help="one or more artifacts (e.g. one per seed)")
    e.add_argument("--data", default=None, metavar="ARCHIVE_OR_FEATURES",
                   help="labelled data for the classification metrics (accuracy, F1, per-class recall)")
    e.add_argument("--real", default=None, metavar="ARCHIVE_WITH_LABELS",
                   help="real labelled lightcurves: recall on events (label ML or microlensing) and the "
                        "fraction of the others that raise an alert")
    e.add_argument("--survey", default=None, metavar="SIMULATED_SURVEY",
                   help="simulated survey archive or feature table: recall and false alerts per million stars")
    e.add_argument("--event-labels", nargs="+", default=["ML", "microlensing"], metavar="LABEL",
                   help="labels that mark microlensing events (default: ML microlensing)")
    e.add_argument("--plots", metavar="DIR", default=None,
                   help="write roc_alerts.png (log false-positive axis to 1e-6) and, with --data, the "
                        "confusion matrix, ROC and t-SNE of the first model")
    e.add_argument("--json", metavar="FILE", default=None, help="also write the metrics as JSON")
    e.set_defaults(func=_evaluate)


def _settings(args):
    from ..features import FeatureSettings
    from .negatives import TRAIN_FEATURE_SET

    return FeatureSettings(zp=args.zp, convert=None, apply_weights=not args.no_weights,
                           feature_set=getattr(args, "feature_set", None) or TRAIN_FEATURE_SET)


def _table_settings(table, default):
    """The resolved FeatureSettings a loaded feature table was computed with (``default`` if unknown)."""
    from ..features import FeatureSettings

    return FeatureSettings.from_dict(dict(table.feature_settings)) if table.feature_settings else default


def _refuse_conflicting_options(args, table) -> None:
    """Training keeps a feature table's settings; an explicit option contradicting them is refused."""
    from ..errors import InputError

    rec = table.feature_settings
    if not rec:
        return
    if args.zp is not None and rec.get("zp") is not None and float(args.zp) != float(rec["zp"]):
        raise InputError(f"feature table {args.source} was computed with zp {rec['zp']}, not --zp {args.zp}; "
                         "drop --zp or recompute the table with `lia-dask features --zp`.")
    if getattr(args, "feature_set", None) and rec.get("feature_set") not in (None, args.feature_set):
        raise InputError(f"feature table {args.source} holds feature set {rec['feature_set']!r}, not --feature-set "
                         f"{args.feature_set}; drop --feature-set or recompute the table with "
                         "`lia-dask features --feature-set`.")
    if args.no_weights and rec.get("apply_weights", True):
        raise InputError(f"feature table {args.source} holds weighted features, not --no-weights; "
                         "drop --no-weights or recompute the table with `lia-dask features --no-weights`.")


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
            _refuse_conflicting_options(args, table)
        y = table.labels
        if y is None:
            raise InputError(f"{args.source} has no 'label' column; training needs labelled data.")
        weights = None
        if args.reweight_to:
            from .gmm import GMMReweighter

            pop = load_features(args.reweight_to, _table_settings(table, settings), client,
                                feature_names=table.features, expect=_table_settings(table, None))
            g = GMMReweighter(args.gmm_components, random_state=args.seed).fit(table.X.to_numpy(), pop.X.to_numpy())
            weights = g.weights(table.X.to_numpy(), args.max_weight)
            print(f"train: GMM weights towards {args.reweight_to} ({len(pop.frame)} rows): "
                  f"min {weights.min():.3g}, max {weights.max():.3g}")
        clf = EnsembleClassifier(model=args.model, impute=args.impute, select_trials=args.select_trials,
                                 tune_trials=args.tune_trials, cv=args.cv, scoring=args.scoring,
                                 random_state=args.seed, params=_parse_params(args.param),
                                 n_jobs=args.threads)
        settings_d = table.feature_settings or settings.to_dict()
        if args.hard_negatives:
            table = _add_hard_negatives(args, table, weights, settings, client)
            y = table.labels
        clf.fit(table.X, y, weights, client=client, feature_set=settings_d.get("feature_set"),
                feature_settings=settings_d)
        clf.metrics_["n_excluded_no_features"] = table.n_excluded
        proba = None
        if not args.no_eval and args.cv >= 2:
            proba = cross_val_proba(clf, table.X, y, cv=args.cv, sample_weight=weights, client=client)
            m = classification_metrics(y, proba, clf.classes_)
            clf.metrics_["kfold"] = {k: m[k] for k in ("accuracy", "f1_macro", "recall", "precision", "confusion_matrix")}
            clf.metrics_["kfold"]["k"] = args.cv
            _fit_alerts(args, clf, proba, y, weights, _table_settings(table, settings), client)
        manifest = clf.save(args.out, overwrite=args.overwrite)
    if args.plots:
        from ..plots import plot_training_report

        plot_training_report(clf, args.plots, table.X if len(y) <= 5000 else None, y, proba,
                             data=f"out-of-fold, {args.cv}-fold CV, {len(y):,} training lightcurves")
    print(f"train: {len(y)} rows ({table.n_excluded} without features excluded), {len(clf.selected_features_)} "
          f"features, model {args.model} -> {args.out} (digest {manifest['digest'][:12]})")
    if "kfold" in clf.metrics_:
        print(f"train: {args.cv}-fold accuracy {clf.metrics_['kfold']['accuracy']:.4f}, "
              f"macro F1 {clf.metrics_['kfold']['f1_macro']:.4f}")
    return 0


def _add_hard_negatives(args, table, weights, settings, client):
    """The training table plus the ``--hard-top`` non-events of ``--hard-negatives`` that a first model
    (same settings, no selection or tuning) scores most event-like."""
    import pandas as pd

    from ..errors import InputError
    from .data import FeatureTable, load_features
    from .negatives import mine_hard_negatives

    if weights is not None:
        raise InputError("--hard-negatives does not work with --reweight-to yet; train without one of them.")
    pool = load_features(args.hard_negatives, _table_settings(table, settings), client, feature_names=table.features,
                         expect=_table_settings(table, None))
    if pool.labels is None:
        raise InputError(f"{args.hard_negatives} has no 'label' column; --hard-negatives needs labelled "
                         "non-events (e.g. a simulated survey).")
    rows = mine_hard_negatives(table.X, table.labels, pool.X, pool.labels, args.hard_top, rounds=args.hard_rounds,
                               client=client,
                               model=args.model, impute=args.impute, cv=args.cv, random_state=args.seed,
                               params=_parse_params(args.param), n_jobs=args.threads)
    hard = pool.frame.iloc[rows]
    print(f"train: {len(rows)} hard negatives from {args.hard_negatives} ({len(pool.frame)} rows): "
          f"{hard['label'].value_counts().to_dict()}")
    frame = pd.concat([table.frame, hard[[c for c in table.frame.columns if c in hard.columns]]], ignore_index=True)
    return FeatureTable(frame, table.features, table.n_excluded, table.feature_settings, table.source)


def _fit_alerts(args, clf, proba, y, weights, settings, client) -> None:
    from .calibrate import AlertConfig, parse_fractions
    from .data import load_features

    target = args.max_false_alerts_per_million
    if "ML" not in {str(c) for c in clf.classes_}:
        print(f"train: no class 'ML' among {[str(c) for c in clf.classes_]}: no alert stage (calibration, threshold)")
        return
    cfg = AlertConfig(calibration=args.calibration, survey_fractions=parse_fractions(args.survey_fractions),
                      max_false_alerts_per_million=None if target is None or target < 0 else target)
    negatives = None
    if args.alert_negatives:
        neg = load_features(args.alert_negatives, settings, client, feature_names=list(clf.feature_names_in_))
        if neg.labels is None:
            from ..errors import InputError

            raise InputError(f"{args.alert_negatives} has no 'label' column; --alert-negatives needs labelled "
                             "non-events (e.g. a simulated survey).")
        negatives = (clf.raw_proba(neg.X), neg.labels)
    spec = clf.fit_alerts(proba, y, cfg, weights, negatives)
    if spec.get("threshold") is not None:
        print(f"train: alert threshold P(ML) >= {spec['threshold']:.4g} for <= {target:g} false alerts per million "
              f"(estimated {spec['expected_false_alerts_per_million']:.3g} from {spec['false_alerts_from']}; "
              f"out-of-fold recall {spec['oof_recall_at_threshold']:.3f})")


def _evaluate(args) -> int:
    from ..cluster import client_from_args
    from ..errors import InputError
    from .ensemble import EnsembleClassifier
    from .evaluate import model_scores, summarize

    if not (args.data or args.real or args.survey):
        raise InputError("evaluate needs labelled data: give --data, --real and/or --survey.")
    models = [EnsembleClassifier.load(m) for m in args.model]
    results: dict = {"models": []}
    curves = []
    with client_from_args(args) as client:
        cache: dict = {}
        for path, clf in zip(args.model, models):
            r = {"model": str(path), "model_digest": clf.digest_, "alert_threshold": (clf.alerts_ or {}).get("threshold")
                 if getattr(clf, "alerts_", None) else None}
            for kind in ("data", "real", "survey"):
                source = getattr(args, kind)
                if not source:
                    continue
                table = _features_for(source, clf, client, cache)
                y = table.labels
                if y is None:
                    raise InputError(f"{source} has no 'label' column; evaluation needs labelled data "
                                     "(use `lia-dask predict` for unlabelled archives).")
                proba = clf.predict_proba(table.X)
                r[kind] = model_scores(kind, clf, y, proba, tuple(args.event_labels), table.n_excluded)
                if kind in ("real", "survey"):
                    curves.append((kind, path, y, proba[:, list(map(str, clf.classes_)).index("ML")], r[kind]))
                if kind == "data" and args.plots and path == args.model[0]:
                    _classification_plots(args.plots, clf, table, y, proba, source)
            results["models"].append(r)
            _print_line(r)
    results["summary"] = summarize(results["models"])
    if args.plots and curves:
        _roc_plot(args.plots, curves, tuple(args.event_labels))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
    json.dump(results["summary"], sys.stdout, indent=1)
    print()
    return 0


def _features_for(source, clf, client, cache):
    from ..features import FeatureSettings
    from .data import load_features

    from ..features.multiband import MultibandSettings, is_multiband, load_multiband_features

    key = (source, json.dumps(clf.feature_settings_ or {}, sort_keys=True), tuple(clf.feature_names_in_))
    if key not in cache and is_multiband(clf.feature_settings_):
        cache[key] = load_multiband_features(source, MultibandSettings.from_dict(dict(clf.feature_settings_)), client)
    if key not in cache:
        settings = FeatureSettings.from_dict(dict(clf.feature_settings_)) if clf.feature_settings_ else None
        cache[key] = load_features(source, settings, client, feature_names=list(clf.feature_names_in_),
                                   expect=settings if settings is not None and settings.zp is not None else None)
    return cache[key]


def _print_line(r) -> None:
    parts = [f"evaluate {r['model']}:"]
    if "real" in r:
        m = r["real"]
        parts.append(f"real recall {m['recall']:.3f} ({m['n_events']} events), false alerts "
                     f"{m['false_alert_fraction']:.3f} of {m['n'] - m['n_events']} others" if m["recall"] is not None
                     and m["false_alert_fraction"] is not None else f"real: {m}")
    if "survey" in r:
        m = r["survey"]
        parts.append(f"survey recall {m['recall']:.3f} ({m['n_events']} events), "
                     f"{m['false_alerts_per_million']:.0f} false alerts per million ({m['n']} stars)"
                     if m["recall"] is not None else f"survey: {m}")
    if "data" in r:
        parts.append(f"data accuracy {r['data']['accuracy']:.4f}, macro F1 {r['data']['f1_macro']:.4f}")
    print("; ".join(parts), file=sys.stderr)


def _classification_plots(directory, clf, table, y, proba, source) -> None:
    from ..plots import plot_confusion_matrix, plot_roc, plot_tsne

    pred = clf.decide(proba)[0]
    shown = f"held-out: {len(y):,} lightcurves of {source}"
    plot_confusion_matrix(y, pred, list(clf.classes_), f"{directory}/confusion_matrix.png",
                          title=f"confusion matrix (rows normalized)\n{shown}")
    plot_roc(y, proba, list(clf.classes_), f"{directory}/roc.png", title=f"ROC, one class vs rest\n{shown}")
    if len(y) >= 5:
        plot_tsne(clf.transform_features(table.X), y, f"{directory}/tsne.png")


def _roc_plot(directory, curves, event_labels) -> None:
    from pathlib import Path

    from .evaluate import plot_alert_roc, roc_points

    lines = []
    for kind, path, y, score, m in curves:
        fpr, tpr = roc_points(y, score, event_labels)
        n_neg = m["n"] - m["n_events"]
        op = (m["n_false_alerts"] / n_neg, m["recall"]) if n_neg and m["recall"] is not None else None
        lines.append((f"{kind}: {Path(str(path)).name}", fpr, tpr, op))
    plot_alert_roc(lines, f"{directory}/roc_alerts.png")
