"""Survey alerts with the calibrated operating threshold, against the classifier's argmax, on real and simulated data.

MicroLIA's OGLE-II recipe with the survey-realism simulator (``SimulationConfig()`` defaults): cadences
and the empirical noise model of the 47 real OGLE-II events in ``../shared/data/ogle2_dev``, zp 22,
30 s, magnitudes between the events' extreme medians, ``--n-per-class`` per class (optionally more
non-events), 168 features, XGBoost with library defaults. Per seed:

* the alert stage of ``lia-dask train`` (temperature calibration on ``--cv``-fold out-of-fold
  probabilities, prior shift to the survey fractions, threshold on P(ML) for
  ``--max-false-alerts-per-million``), and
* classification of the 60 real lightcurves (47 events, 13 variables) and of a simulated survey on the
  same cadences from another seed (``--survey`` counts; the issue-11 mix scaled down),

reporting recall and false alerts for the argmax ("classifier") and for the alert threshold ("alert").
No MicroLIA run here: MicroLIA has no calibration or threshold (its argmax figures are in
``train_ogle2_accuracy.py`` / ``predict_vs_microlia.py``).

Usage: .venv/bin/python benchmarks/alerts_survey.py [--seeds 1 2 3] [--n-per-class 500] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
OGLE = SHARED / "data" / "ogle2_dev"
WORK = ROOT / "benchmarks" / "_work" / "alerts_survey"


def setup(settings):
    from lia_dask.archive import ingest_directory, open_archive
    from lia_dask.batch import concat_batches
    from lia_dask.simulate.noise import NoiseModel, lightcurve_scatter

    real, ml = WORK / "real", WORK / "ogle2_ml"
    if not real.exists():
        ingest_directory(OGLE, real)
    if not ml.exists():
        ingest_directory(OGLE / "microlensing", ml, labels=False)
    batch = concat_batches(list(open_archive(ml).batches()))
    med, _ = lightcurve_scatter(batch)
    return real, ml, NoiseModel.from_batch(batch), float(med.min()), float(med.max())


def sim_features(ml, cfg, counts, name, settings):
    from lia_dask.simulate.simulate import simulate_training_set

    out = WORK / name
    feats = out.with_suffix(".features")
    if not feats.exists():
        simulate_training_set(ml, counts, out, cfg, overwrite=True, features_out=feats, feature_settings=settings)
    df = pd.read_parquet(feats)
    return df[df["feature_reason"] == 0].reset_index(drop=True), int((df["feature_reason"] != 0).sum())


def score(labels, proba, clf, alerts):
    from lia_dask.train.evaluate import alert_metrics

    names = [str(c) for c in clf.classes_]
    k = names.index("ML")
    argmax = clf.classes_[np.argmax(proba, axis=1)] == "ML"
    out = {"classifier": alert_metrics(labels, proba[:, k], argmax)}
    if alerts is not None:
        from lia_dask.train.calibrate import calibrated, decide

        q = calibrated(proba, alerts)
        out["alert"] = alert_metrics(labels, q[:, k], decide(q, alerts)[1])
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--n-per-class", type=int, default=500)
    p.add_argument("--extra-negatives", type=int, default=0,
                   help="additional CONSTANT and VARIABLE training lightcurves (more non-events than events)")
    p.add_argument("--survey", type=int, nargs=5, default=[20_000, 3_200, 1_200, 800, 500],
                   metavar=("CONSTANT", "VARIABLE", "LPV", "CV", "ML"))
    p.add_argument("--cv", type=int, default=5)
    p.add_argument("--max-false-alerts-per-million", type=float, default=100.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    WORK.mkdir(parents=True, exist_ok=True)
    from distributed import Client, LocalCluster

    from lia_dask.features import FeatureSettings, extract_archive, get_feature_set
    from lia_dask.archive import open_archive
    from lia_dask.simulate import SimulationConfig
    from lia_dask.train import EnsembleClassifier, cross_val_proba
    from lia_dask.train.calibrate import AlertConfig

    settings = FeatureSettings(zp=22.0, convert=True, apply_weights=True)
    names = list(get_feature_set().names)
    result = {"load_average_start": os.getloadavg(), "args": vars(args), "rows": []}
    t_start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c):
        real_arch, ml, noise, lo, hi = setup(settings)
        real = extract_archive(open_archive(real_arch), settings).compute()
        real = real[real["feature_reason"] == 0]
        real_lab = np.where(real["label"].to_numpy() == "microlensing", "ML", "VARIABLE")
        base = SimulationConfig(min_mag=lo, max_mag=hi, noise=noise, noise_zeropoint=22.0, exptime=30.0,
                                partition_size=2000)
        sc = dict(zip(("CONSTANT", "VARIABLE", "LPV", "CV", "ML"), args.survey))
        survey, n_sx = sim_features(ml, base.replace(seed=100), sc, "survey_" + "_".join(map(str, args.survey)),
                                    settings)
        result["survey_counts"] = sc
        result["survey_without_features"] = n_sx
        for seed in args.seeds:
            counts = {c: args.n_per_class for c in ("CONSTANT", "CV", "LPV", "ML", "VARIABLE")}
            counts["CONSTANT"] += args.extra_negatives
            counts["VARIABLE"] += args.extra_negatives
            train, _ = sim_features(ml, base.replace(seed=seed), counts,
                                    f"train_s{seed}_n{args.n_per_class}_x{args.extra_negatives}", settings)
            X, y = train[names], train["label"].to_numpy()
            t = time.perf_counter()
            clf = EnsembleClassifier(model="xgb", random_state=seed, cv=args.cv, n_jobs=args.threads).fit(X, y)
            oof = cross_val_proba(clf, X, y, cv=args.cv)
            spec = clf.fit_alerts(oof, y, AlertConfig(max_false_alerts_per_million=args.max_false_alerts_per_million))
            fit_s = time.perf_counter() - t
            row = {"seed": seed, "fit_s": fit_s, "threshold": spec["threshold"], "temperature": spec["temperature"],
                   "oof_log_loss_raw": spec["oof_log_loss_raw"], "oof_log_loss_cal": spec["oof_log_loss_calibrated"],
                   "resolved": spec["resolved"], "expected_fa_per_million": spec["expected_false_alerts_per_million"],
                   "oof_recall_at_threshold": spec["oof_recall_at_threshold"]}
            row["real"] = score(real_lab, clf.raw_proba(real[names]), clf, spec)
            row["survey"] = score(survey["label"].to_numpy(), clf.raw_proba(survey[names]), clf, spec)
            result["rows"].append(row)
            for kind in ("real", "survey"):
                for mode in ("classifier", "alert"):
                    m = row[kind][mode]
                    print(f"seed {seed} {kind:6s} {mode:10s} recall {m['recall']:.3f}  false alerts "
                          f"{m['n_false_alerts']:4d} ({m['false_alert_fraction']:.4f} of non-events, "
                          f"{m['false_alerts_per_million']:.0f} per million)  by class {m['false_alerts_by_class']}",
                          flush=True)
    result["seconds"] = time.perf_counter() - t_start
    result["load_average_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
