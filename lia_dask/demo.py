"""``make demo``: the main job end to end on the local default cluster (LocalCluster).

1. ingest the bundled real OGLE-II samples (47 microlensing events, 13 variable stars);
2. simulate a training set (ML, CV, LPV, VARIABLE, CONSTANT) on their cadences with their noise,
   with many events (the weak ones are the ones to learn) and many more non-events, and two sets of simulated non-events (other seeds): one
   to mine hard negatives, one to set the alert threshold;
3. train the survey recipe (docs/alerts.md): XGBoost on MicroLIA's 168 features + the physical
   model block, the most event-like mined non-events added, calibrated probabilities shifted to the
   survey's class fractions, alert threshold for ``--max-false-alerts-per-million``; save the artifact;
4. build a synthetic survey of ``--survey-size`` lightcurves on the same real cadences: mostly
   constant and variable stars, with a known number of injected microlensing events (another seed);
5. classify it with the candidate flag; print recall and false alerts per million stars (alert, and
   alert with the flag), throughput, candidates;
6. classify the real OGLE-II samples and print their recall / false alerts;
7. write plots (confusion matrix, ROC, tuning history, candidate lightcurves) under ``--out``.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import pandas as pd


def _stage(name: str, t0: float) -> None:
    print(f"[{name}] done in {time.perf_counter() - t0:.1f} s", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lia_dask.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="demo_output", help="directory for everything the demo writes")
    ap.add_argument("--workers", type=int, default=None, help="LocalCluster workers (default: one per core)")
    ap.add_argument("--n-per-class", type=int, default=500, help="simulated training lightcurves per class")
    ap.add_argument("--n-events", type=int, default=5000,
                    help="simulated training events (ML): many, so that the weak ones are learnt (docs/alerts.md)")
    ap.add_argument("--non-events", type=int, default=12_000,
                    help="extra training non-events (constant stars and variables), and the size of the set of "
                         "non-events hard negatives are mined from")
    ap.add_argument("--threshold-negatives", type=int, default=120_000,
                    help="non-events the alert threshold is set on, split over the classes as negative_mix gives "
                         "(n_c ∝ √π_c): the threshold's bound on the false alerts per million is never below "
                         "1e6 Σ π_c / (n_c + 1), 22 per million for 120,000 (docs/alerts.md)")
    ap.add_argument("--hard-top", type=int, default=1000, help="mined hard negatives added to the training set")
    ap.add_argument("--max-false-alerts-per-million", type=float, default=100.0)
    ap.add_argument("--survey-size", type=int, default=100_000, help="lightcurves in the synthetic survey")
    ap.add_argument("--n-ml", type=int, default=200, help="microlensing events injected into the survey")
    ap.add_argument("--tune-trials", type=int, default=0, help="Optuna trials (the recipe uses XGBoost's defaults)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)

    from . import cluster
    from .archive import IngestConfig, ingest_directory, open_archive
    from .archive._cli import archive_info
    from .predict.candidates import plot_candidates, top_candidates
    from .data import ogle2_samples
    from .features import read_feature_settings
    from .features.registry import get_feature_set
    from .plots import plot_training_report
    from .predict import PredictConfig, predict_archive, read_predictions
    from .simulate import NoiseModel, SimulationConfig
    from .simulate.simulate import simulate_training_set
    from .train.calibrate import AlertConfig
    from .train.ensemble import EnsembleClassifier
    from .train.evaluate import cross_val_proba
    from .train.negatives import TRAIN_FEATURE_SET, mine_hard_negatives
    from .batch import concat_batches
    from .features import FeatureSettings

    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    t_all = time.perf_counter()
    with cluster.client("local", n_workers=args.workers) as client:
        n_cores = sum(w["nthreads"] for w in client.scheduler_info()["workers"].values())
        # 1. ingest -------------------------------------------------------------------------
        t0 = time.perf_counter()
        report = ingest_directory(ogle2_samples(), out / "ogle2_archive", IngestConfig(files_per_partition=20),
                                  client=client)
        print(f"[ingest] {report}")
        info = archive_info(str(out / "ogle2_archive"))
        print(f"[info] {info['objects']} lightcurves, epochs per object {info['epochs_per_object']}, labels {info['labels']}")
        real = open_archive(out / "ogle2_archive")
        _stage("ingest", t0)

        # 2. simulate the training set and two sets of non-events with the survey's cadence and noise --
        t0 = time.perf_counter()
        noise = NoiseModel.from_batch(concat_batches(list(real.batches())))
        sim_cfg = SimulationConfig(noise=noise, seed=args.seed, min_mag=14.0, max_mag=20.0)
        fs = FeatureSettings(zp=None, convert=None, feature_set=TRAIN_FEATURE_SET)
        nn = args.non_events
        # dwarf novae as many as constant stars: the survey's false alerts are the rare CVs whose outburst is
        # caught by a few epochs, so training needs many CVs to hold enough of those (docs/alerts.md)
        counts = {"ML": args.n_events, "CV": args.n_per_class + nn * 5 // 12, "LPV": args.n_per_class + nn // 24,
                  "VARIABLE": args.n_per_class + nn // 8}
        counts["CONSTANT"] = args.n_per_class + nn - (nn // 12 + nn // 24 + nn // 8)
        sets = {}
        # the mining set is CV-rich for the same reason (benchmarks/README.md, issue 11 section J)
        mining = _non_events(nn - nn * 5 // 12)
        mining["CV"] += nn * 5 // 12
        for name, c, seed in (("training", counts, args.seed), ("mining", mining, args.seed + 1),
                              ("negatives", _threshold_mix(args.threshold_negatives), args.seed + 2)):
            simulate_training_set(real.path, c, out / f"{name}_archive", sim_cfg.replace(seed=seed), client=client,
                                  features_out=out / f"{name}_features", feature_settings=fs)
            df = pd.read_parquet(out / f"{name}_features")
            sets[name] = df[df["feature_reason"] == 0].reset_index(drop=True)
        feats = sets["training"]
        names = list(get_feature_set(TRAIN_FEATURE_SET).names)
        print(f"[simulate] {len(feats)} training lightcurves: {feats['label'].value_counts().to_dict()}; "
              f"{len(sets['mining'])} + {len(sets['negatives'])} non-events to mine and to set the threshold")
        _stage("simulate", t0)

        # 3. train the survey recipe ------------------------------------------------------------
        t0 = time.perf_counter()
        kw = dict(model="xgb", cv=3, random_state=args.seed)
        rows = mine_hard_negatives(feats[names], feats["label"].to_numpy(), sets["mining"][names],
                                   sets["mining"]["label"].to_numpy(), args.hard_top, client=client, **kw)
        hard = sets["mining"].iloc[rows]
        print(f"[train] {len(hard)} hard negatives mined: {hard['label'].value_counts().to_dict()}")
        feats = pd.concat([feats, hard], ignore_index=True)
        X, y = feats[names], feats["label"].to_numpy()
        clf = EnsembleClassifier(tune_trials=args.tune_trials, **kw)
        clf.fit(X, y, client=client, feature_set=TRAIN_FEATURE_SET,
                feature_settings=read_feature_settings(out / "training_features").to_dict())
        oof = cross_val_proba(clf, X, y, cv=3, client=client)
        neg = sets["negatives"]
        spec = clf.fit_alerts(oof, y, AlertConfig(max_false_alerts_per_million=args.max_false_alerts_per_million),
                              negatives=(clf.raw_proba(neg[names]), neg["label"].to_numpy()))
        clf.save(out / "model")
        print(f"[train] XGBoost on {len(names)} features ({TRAIN_FEATURE_SET}), {len(y)} lightcurves; alert "
              f"threshold P(ML) >= {spec['threshold']:.3f} for <= {args.max_false_alerts_per_million:g} false alerts "
              f"per million (estimated {spec['expected_false_alerts_per_million']:.0f} on {spec['false_alerts_from']}; "
              f"out-of-fold recall {spec['oof_recall_at_threshold']:.3f})")
        _stage("train", t0)

        # 4. a synthetic survey on the real cadences --------------------------------------------
        t0 = time.perf_counter()
        n_ml = args.n_ml
        rest = args.survey_size - n_ml
        mix = {**_non_events(rest), "ML": n_ml}
        survey_cfg = SimulationConfig(noise=noise, seed=args.seed + 1000, min_mag=14.0, max_mag=20.0)
        survey = simulate_training_set(real.path, mix, out / "survey_archive", survey_cfg, client=client)
        print(f"[survey] {survey.n_objects} lightcurves in {survey.n_partitions} partitions, "
              f"{n_ml} injected microlensing events; mix {mix}")
        _stage("survey", t0)

        # 5. classify the survey ------------------------------------------------------------------
        t0 = time.perf_counter()
        rep = predict_archive(survey, out / "model", out / "survey_predictions", client=client,
                              config=PredictConfig(fit_filter=True))
        print(f"[predict] {rep}")
        print(f"[predict] throughput {rep.throughput:,.0f} lightcurves/s on {n_cores} cores "
              f"= {rep.throughput / n_cores:,.0f} lightcurves/s per core (features + model + fit filter)")
        pred = read_predictions(out / "survey_predictions")
        _score("survey", pred)
        _stage("predict", t0)

        # 6. the real OGLE-II samples ---------------------------------------------------------------
        t0 = time.perf_counter()
        predict_archive(real, out / "model", out / "ogle2_predictions", client=client,
                        config=PredictConfig(fit_filter=True))
        rp = read_predictions(out / "ogle2_predictions")
        rp["label"] = rp["label"].map({"microlensing": "ML", "variables": "VARIABLE"})
        _score("real OGLE-II", rp)
        _stage("real", t0)

    # 7. plots ----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    plots = out / "plots"
    paths = plot_training_report(clf, plots, X=None, y=y, proba=oof,
                                 data=f"out-of-fold, 3-fold CV, {len(y):,} training lightcurves")
    cands = top_candidates(out / "survey_predictions", 5)
    print("[candidates] best survey candidates:")
    cols = ["object_id", "label", "prob_ML", "fit_u0", "fit_tE", "fit_chi2_red"]
    print(cands[[c for c in cols if c in cands.columns]].to_string(index=False))
    paths += plot_candidates(cands, survey, plots / "candidates")
    print(f"[plots] {len(paths)} files under {plots}")
    _stage("plots", t0)
    print(f"[demo] finished in {time.perf_counter() - t_all:.0f} s; outputs under {out}")
    return 0


def _non_events(n: int) -> dict[str, int]:
    """``n`` non-events in the synthetic survey's proportions (80 % constant stars, 12 % RR Lyrae,
    5 % Miras, the rest dwarf novae): the survey, and the sets mined and thresholded for it."""
    mix = {"CONSTANT": int(n * 0.80), "VARIABLE": int(n * 0.12), "LPV": int(n * 0.05)}
    mix["CV"] = n - sum(mix.values())
    return mix


def _threshold_mix(n: int) -> dict[str, int]:
    """``n`` non-events for the alert threshold, split for the best resolution of the survey fractions the
    threshold is set for (:data:`~lia_dask.train.calibrate.DEFAULT_SURVEY_FRACTIONS`)."""
    from .train.calibrate import DEFAULT_SURVEY_FRACTIONS, negative_mix

    return negative_mix(n, {k: v for k, v in DEFAULT_SURVEY_FRACTIONS.items() if k != "ML"})


def _score(name: str, pred: pd.DataFrame) -> None:
    """Recall of ML and false alerts (non-ML objects alerted, per million objects) of the alert
    (``prediction == "ML"``) and of the alert with the candidate flag."""
    truth_ml = pred["label"].to_numpy() == "ML"
    alert = pred["prediction"].to_numpy() == "ML"
    flagged = alert & pred.get("passes_fit", pd.Series(alert)).to_numpy()
    for tag, f in (("alert", alert), ("alert + candidate flag", flagged)):
        recall = f[truth_ml].mean() if truth_ml.any() else float("nan")
        n_fa = int(f[~truth_ml].sum())
        print(f"[{name}] {tag}: recall {recall:.3f} ({int(f[truth_ml].sum())}/{int(truth_ml.sum())}), "
              f"false alerts {n_fa} of {int((~truth_ml).sum())} = {1e6 * n_fa / max(len(pred), 1):,.0f} per million")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
