"""Accuracy on real OGLE-II data of classifiers trained on simulated lightcurves, and training cost.

MicroLIA's OGLE-II recipe (spec §5.1) with lia_dask: simulate a 5-class training set on the
cadences of the real OGLE-II microlensing lightcurves in ``../shared/data/ogle2_dev`` with a noise
model fitted to them (zp 22, 30 s, magnitudes between the lightcurves' extreme medians), extract
the 168 features (zp 22, weighted), train, then classify the 47 real microlensing events (recall =
fraction predicted ML) and the 13 real variable stars (false-alert rate = fraction predicted ML).

Configurations (each for every simulation seed):
  default      xgb, KNN imputation, library-default hyperparameters
  +gmm         the same, sample weights from GMMReweighter towards the 60 real lightcurves' features
  select+tune  Boruta-SHAP (--select-trials) then Optuna (--tune-trials, --cv folds) on the cluster
  select+tune+gmm  the selected features and tuned parameters of "select+tune", refitted with GMM weights

Also measured (one run each): training time against MicroLIA 2.8.1 ``Classifier.create`` on the
same feature matrix with equal settings (benchmarks/.venv-microlia), and Optuna tuning wall time
with 1 and 2 LocalCluster workers.

XGBoost runs single-threaded in both packages by default (--threads): on the shared 2-core VM an
OpenMP XGBoost fit with 2 threads ran 15x slower than with 1 under the other helpers' load.

Usage: .venv/bin/python benchmarks/train_ogle2_accuracy.py [--seeds 1 2 3] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
OGLE = SHARED / "data" / "ogle2_dev"
WORK = ROOT / "benchmarks" / "_work" / "train_ogle2"
MICROLIA_PY = ROOT / "benchmarks" / ".venv-microlia" / "bin" / "python"

MICROLIA_SCRIPT = r"""
import sys, time, json, os, io, contextlib, warnings
import numpy as np
warnings.simplefilter("ignore")
from MicroLIA.ensemble_model import Classifier
d = np.load(sys.argv[1])
X, y = d["X"], d["y"].astype(str)
opt = json.loads(sys.argv[2])
clf = Classifier(X.copy(), y.copy(), clf="xgb", impute=True, optimize=opt["optimize"], n_iter=opt["n_iter"],
                 boruta_trials=opt["boruta_trials"], opt_cv=opt["opt_cv"])
t = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    clf.create()
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


def real_features(settings, client):
    from lia_dask.archive import ingest_directory, open_archive
    from lia_dask.features import extract_archive

    arch = WORK / "ogle2_real"
    if not arch.exists():
        ingest_directory(OGLE, arch)
    a = open_archive(arch)
    df = extract_archive(a, settings).compute()
    return a, df


def simulate(seed, n_per_class, settings):
    from lia_dask.archive import open_archive
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.noise import NoiseModel, lightcurve_scatter
    from lia_dask.simulate.simulate import simulate_training_set

    ml_arch = WORK / "ogle2_ml"
    if not ml_arch.exists():
        from lia_dask.archive import ingest_directory

        ingest_directory(OGLE / "microlensing", ml_arch, labels=False)
    from lia_dask.batch import concat_batches

    batch = concat_batches(list(open_archive(ml_arch).batches()))
    med, _ = lightcurve_scatter(batch)
    noise = NoiseModel.from_batch(batch)
    cfg = SimulationConfig(min_mag=float(med.min()), max_mag=float(med.max()), seed=seed, noise=noise,
                           noise_zeropoint=22.0, exptime=30.0)
    out = WORK / f"sim_seed{seed}_n{n_per_class}"
    feats = out.with_suffix(".features")
    if not feats.exists():
        simulate_training_set(ml_arch, n_per_class, out, cfg, overwrite=True, features_out=feats,
                              feature_settings=settings)
    return pd.read_parquet(feats)


def score_real(clf, real):
    lab = real["label"].to_numpy()
    pred = clf.predict(real[list(clf.feature_names_in_)])
    ml, var = lab == "microlensing", lab == "variables"
    return {"ml_recall": float(np.mean(pred[ml] == "ML")), "false_alert": float(np.mean(pred[var] == "ML")),
            "n_ml": int(ml.sum()), "n_var": int(var.sum()),
            "var_predicted": {k: int(v) for k, v in zip(*np.unique(pred[var], return_counts=True))}}


def run_accuracy(args, client, settings, real, names):
    from lia_dask.train import EnsembleClassifier, GMMReweighter

    rows = []
    for seed in args.seeds:
        sim = simulate(seed, args.n_per_class, settings)
        sim = sim[sim["feature_reason"] == 0]
        X, y = sim[names], sim["label"].to_numpy()
        w = GMMReweighter(args.gmm_components, random_state=seed).fit(X.to_numpy(), real[names].to_numpy()) \
            .weights(X.to_numpy(), args.max_weight)
        common = dict(model="xgb", random_state=seed, cv=args.cv, n_jobs=args.threads)
        t = time.perf_counter()
        base = EnsembleClassifier(**common).fit(X, y, client=client)
        rows.append(dict(seed=seed, config="default", fit_s=time.perf_counter() - t, **score_real(base, real)))
        t = time.perf_counter()
        g = EnsembleClassifier(**common).fit(X, y, sample_weight=w, client=client)
        rows.append(dict(seed=seed, config="+gmm", fit_s=time.perf_counter() - t, **score_real(g, real)))
        if args.tune_trials or args.select_trials:
            t = time.perf_counter()
            st = EnsembleClassifier(select_trials=args.select_trials, tune_trials=args.tune_trials, **common)
            st.fit(X, y, client=client)
            rows.append(dict(seed=seed, config="select+tune", fit_s=time.perf_counter() - t,
                             n_selected=len(st.selected_features_), tune_cv=st.metrics_.get("tune_cv_f1_macro"),
                             **score_real(st, real)))
            t = time.perf_counter()
            stg = EnsembleClassifier(params=st.best_params_, **common).fit(X[st.selected_features_], y,
                                                                           sample_weight=w, client=client)
            rows.append(dict(seed=seed, config="select+tune+gmm", fit_s=time.perf_counter() - t,
                             **score_real(stg, real)))
            if args.plots and seed == args.seeds[0]:
                from lia_dask.plots import plot_training_report, plot_tsne
                from lia_dask.train import cross_val_proba

                d = Path(args.plots)
                oof = cross_val_proba(st, X, y, cv=args.cv, client=client)
                plot_training_report(st, d, None, y, oof, data=f"out-of-fold, {args.cv}-fold CV, {len(y):,} simulated")
                real_lab = np.where(real["label"].to_numpy() == "microlensing", "ML", "VARIABLE")
                plot_tsne(st.transform_features(X), y, d / "tsne_sim_vs_real.png",
                          extra_X=st.transform_features(real), extra_labels=real_lab,
                          title=f"t-SNE, {len(st.selected_features_)} selected features: simulated (dots) "
                                "and real OGLE-II (stars)")
        for r in rows[-4:]:
            print(json.dumps(r), flush=True)
    return rows


def run_timing(args, client, settings, names):
    from lia_dask.train import EnsembleClassifier
    from lia_dask.train.impute import KNNImputer
    from lia_dask.train.tune import tune

    sim = simulate(args.seeds[0], args.n_per_class, settings)
    sim = sim[sim["feature_reason"] == 0]
    X, y = sim[names].to_numpy(), sim["label"].to_numpy()
    out = {}
    settings_list = [("default", dict(optimize=False, n_iter=0, boruta_trials=0, opt_cv=args.cv), {}),
                     ("select+tune", dict(optimize=True, n_iter=args.time_trials, boruta_trials=args.time_trials,
                                          opt_cv=args.cv),
                      dict(select_trials=args.time_trials, tune_trials=args.time_trials, cv=args.cv))]
    for name, mopt, ours in settings_list:
        t = time.perf_counter()
        EnsembleClassifier(model="xgb", random_state=1909, n_jobs=args.threads, **ours).fit(X, y, client=client)
        lia = time.perf_counter() - t
        mic = None
        if MICROLIA_PY.exists():
            with tempfile.TemporaryDirectory() as td:
                np.savez(Path(td) / "d.npz", X=X, y=y.astype(str))
                (Path(td) / "m.py").write_text(MICROLIA_SCRIPT)
                env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
                r = subprocess.run([str(MICROLIA_PY), str(Path(td) / "m.py"), str(Path(td) / "d.npz"), json.dumps(mopt)],
                                   capture_output=True, text=True, env=env)
                if r.returncode == 0:
                    mic = json.loads(r.stdout.strip().splitlines()[-1])["seconds"]
                else:
                    print("MicroLIA failed:", r.stderr[-2000:], file=sys.stderr)
        out[name] = {"lia_dask_s": lia, "microlia_s": mic, "ratio": (mic / lia) if mic else None}
        print(name, json.dumps(out[name]), flush=True)
    # tuning wall time with 1 and 2 workers (same trials, same folds)
    from distributed import Client, LocalCluster

    Xi = KNNImputer().fit_transform(X)
    codes = np.unique(y, return_inverse=True)[1]
    for n in (1, 2):
        with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c) as cl:
            cl.run(lambda: __import__("xgboost"))
            t = time.perf_counter()
            r = tune(Xi, codes, "xgb", n_trials=args.time_trials, cv=args.cv, random_state=0, client=cl, prune=False)
            out[f"tune_{n}_workers_s"] = time.perf_counter() - t
            out[f"tune_{n}_workers_best"] = r.best_value
        print(f"tune {n} workers", out[f"tune_{n}_workers_s"], flush=True)
    out["tune_speedup_2_vs_1"] = out["tune_1_workers_s"] / out["tune_2_workers_s"]
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--n-per-class", type=int, default=100)
    p.add_argument("--select-trials", type=int, default=25)
    p.add_argument("--tune-trials", type=int, default=25)
    p.add_argument("--cv", type=int, default=5)
    p.add_argument("--gmm-components", type=int, default=3)
    p.add_argument("--max-weight", type=float, default=10.0)
    p.add_argument("--time-trials", type=int, default=10, help="trials for the timing comparison")
    p.add_argument("--threads", type=int, default=1,
                   help="threads per XGBoost fit, both packages (MicroLIA through OMP_NUM_THREADS); 1 on a shared VM")
    p.add_argument("--skip-timing", action="store_true")
    p.add_argument("--skip-accuracy", action="store_true")
    p.add_argument("--plots", default=None, help="write diagnostic plots of the first seed's select+tune model here")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    WORK.mkdir(parents=True, exist_ok=True)
    from distributed import Client, LocalCluster

    from lia_dask.features import FeatureSettings, get_feature_set

    settings = FeatureSettings(zp=22.0, convert=True, apply_weights=True)
    names = list(get_feature_set().names)
    result = {"load_average_start": os.getloadavg(), "args": vars(args)}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c) as client:
        _, real = real_features(settings, client)
        real = real[real["feature_reason"] == 0]
        if not args.skip_accuracy:
            rows = run_accuracy(args, client, settings, real, names)
            result["accuracy"] = rows
            df = pd.DataFrame(rows)
            summary = df.groupby("config")[["ml_recall", "false_alert", "fit_s"]].agg(["mean", "min", "max"])
            print(summary.to_string())
            result["summary"] = json.loads(df.groupby("config")[["ml_recall", "false_alert", "fit_s"]].mean().to_json())
    if not args.skip_timing:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c) as client:
            result["timing"] = run_timing(args, client, settings, names)
    result["load_average_end"] = os.getloadavg()
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
