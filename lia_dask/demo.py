"""``make demo``: the main job end to end on the local default cluster (LocalCluster).

1. ingest the bundled real OGLE-II samples (47 microlensing events, 13 variable stars);
2. simulate a training set (ML, CV, LPV, VARIABLE, CONSTANT) on their cadences with their noise;
3. train XGBoost with modest Optuna tuning (trials in parallel on the cluster); save the artifact;
4. build a synthetic survey of ``--survey-size`` lightcurves on the same real cadences: mostly
   constant and variable stars, with a known number of injected microlensing events (another seed);
5. classify it with the PSPL fit filter; print recall, false-alert rate, throughput, candidates;
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
    ap.add_argument("--n-per-class", type=int, default=1000, help="simulated training lightcurves per class")
    ap.add_argument("--survey-size", type=int, default=100_000, help="lightcurves in the synthetic survey")
    ap.add_argument("--n-ml", type=int, default=200, help="microlensing events injected into the survey")
    ap.add_argument("--tune-trials", type=int, default=8)
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
    from .train.ensemble import EnsembleClassifier
    from .batch import concat_batches

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

        # 2. simulate the training set with the survey's cadence and noise ------------------
        t0 = time.perf_counter()
        noise = NoiseModel.from_batch(concat_batches(list(real.batches())))
        sim_cfg = SimulationConfig(noise=noise, seed=args.seed, min_mag=14.0, max_mag=20.0)
        simulate_training_set(real.path, args.n_per_class, out / "training_archive", sim_cfg, client=client,
                              features_out=out / "training_features")
        feats = pd.read_parquet(out / "training_features")
        names = list(get_feature_set().names)
        print(f"[simulate] {len(feats)} training lightcurves: {feats['label'].value_counts().to_dict()}")
        _stage("simulate", t0)

        # 3. train ----------------------------------------------------------------------------
        t0 = time.perf_counter()
        clf = EnsembleClassifier(model="xgb", tune_trials=args.tune_trials, cv=3, random_state=args.seed)
        clf.fit(feats[names], feats["label"], client=client, feature_set="microlia-2.8.1",
                feature_settings=read_feature_settings(out / "training_features").to_dict())
        clf.save(out / "model")
        print(f"[train] XGBoost, {args.tune_trials} Optuna trials; best params {clf.best_params_}; "
              f"metrics {({k: v for k, v in (clf.metrics_ or {}).items() if not isinstance(v, (list, dict))})}")
        _stage("train", t0)

        # 4. a synthetic survey on the real cadences --------------------------------------------
        t0 = time.perf_counter()
        n_ml = args.n_ml
        rest = args.survey_size - n_ml
        mix = {"CONSTANT": int(rest * 0.80), "VARIABLE": int(rest * 0.12), "LPV": int(rest * 0.05)}
        mix["CV"] = rest - sum(mix.values())
        mix["ML"] = n_ml
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
    paths = plot_training_report(clf, plots, X=feats[names], y=feats["label"].to_numpy(), cv=3)  # out-of-fold
    cands = top_candidates(out / "survey_predictions", 5)
    print("[candidates] best survey candidates:")
    cols = ["object_id", "label", "prob_ML", "fit_u0", "fit_tE", "fit_chi2_red"]
    print(cands[[c for c in cols if c in cands.columns]].to_string(index=False))
    paths += plot_candidates(cands, survey, plots / "candidates")
    print(f"[plots] {len(paths)} files under {plots}")
    _stage("plots", t0)
    print(f"[demo] finished in {time.perf_counter() - t_all:.0f} s; outputs under {out}")
    return 0


def _score(name: str, pred: pd.DataFrame) -> None:
    """Recall of ML and false-alert rate (non-ML objects flagged) with and without the fit filter."""
    truth_ml = pred["label"].to_numpy() == "ML"
    flagged = pred["prediction"].to_numpy() == "ML"
    flagged_fit = flagged & pred.get("passes_fit", pd.Series(flagged)).to_numpy()
    for tag, f in (("classifier", flagged), ("classifier + fit filter", flagged_fit)):
        recall = f[truth_ml].mean() if truth_ml.any() else float("nan")
        far = f[~truth_ml].mean() if (~truth_ml).any() else float("nan")
        print(f"[{name}] {tag}: recall {recall:.3f} ({int(f[truth_ml].sum())}/{int(truth_ml.sum())}), "
              f"false-alert rate {far:.4f} ({int(f[~truth_ml].sum())}/{int((~truth_ml).sum())})")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
