"""Issue 11 measurements: recall and false alerts on real OGLE-II data and on a simulated survey.

Run: .venv/bin/python benchmarks/ogle2_recipes.py [--seeds 1 2 3] [--n-per-class 500]
         [--survey-constant 50000] [--json out.json]

Simulation (``--sim``): ``survey`` = SimulationConfig's defaults (survey realism: lognormal tE,
source-flux blending, peaks beyond the data, dwarf novae, underestimated errors, outliers, ...;
docs/simulation.md), ``microlia`` = ``SimulationConfig.microlia`` (MicroLIA 2.8.1's recipe).

Part A — the shared samples (../shared/data/ogle2_dev: 47 real events, 13 real variables) under two
training recipes, each for every seed:
  microlia  MicroLIA's recipe: cadences and the empirical noise model from the 47 events, magnitudes
            between their extreme medians, zp 22, exptime 30, ``--n-per-class`` per class; tested on
            the 47 events (recall) and the 13 variables (false alerts = fraction predicted ML).
  twofold   the 47 events split at random (by seed) into halves; train on one half's cadences and
            noise, test on the other half and the 13 variables, then swap: no tested event lends
            its cadence. Recall over the 47 (each tested once); false alerts over the 2 x 13 tests.
Per recipe and seed, three classifiers on the same simulated lightcurves:
  lia 168       lia_dask XGBoost on MicroLIA's 168 features (``microlia-2.8.1``)
  lia +physical lia_dask XGBoost on the 168 + the physical block (``microlia-2.8.1+physical``)
  MicroLIA      MicroLIA 2.8.1 ``Classifier(clf='xgb', impute=True)`` trained on the same 168-feature
                matrix, predicting the real files with its own ``predict`` (own feature extraction),
                in benchmarks/.venv-microlia (made by features_vs_microlia.py)
and, for the lia_dask models, "flag": predicted ML *and* the candidate flag (``passes_fit``,
lia_dask.predict.fitfilter) true; "rescue": the flag true and predicted ML, CV or LPV (the classes
the missed events go to).

Part B — a simulated survey on the real cadences (47 events' cadences and noise): ``--survey-constant``
constant stars, 8,000 RR Lyrae-like VARIABLE, 3,000 LPV, 2,000 CV, 500 ML (the issue's mix), seed 101;
the models of recipe ``microlia`` seed 1 (another seed). Recall on the 500 events and false alerts
per million non-events, classifier alone and with the flag; per-class breakdown of false alerts.

Part C — cost: the physical block per lightcurve (µs of CPU, one thread, with and without the periodic
model), the flag per fitted lightcurve, and ``predict_batch`` end to end (lightcurves per CPU second,
one thread) with the 168-feature and the +physical model, without and with the flag.

XGBoost single-threaded in both packages (OMP_NUM_THREADS=1 for MicroLIA); the load average is recorded.
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
WORK = Path(os.environ.get("LIA_BENCH_WORK", ROOT / "benchmarks" / "_work" / "ogle2_recipes"))
MICROLIA_PY = ROOT / "benchmarks" / ".venv-microlia" / "bin" / "python"
BASE, PHYS = "microlia-2.8.1", "microlia-2.8.1+physical"
#: simulation: "survey" (SimulationConfig defaults: survey realism, docs/simulation.md) or "microlia" (its preset)
SIM = "survey"

MICROLIA_SCRIPT = r"""
import sys, json, io, contextlib, warnings
import numpy as np
warnings.simplefilter("ignore")
from MicroLIA.ensemble_model import Classifier
d = np.load(sys.argv[1], allow_pickle=False)
with contextlib.redirect_stdout(io.StringIO()):
    clf = Classifier(d["X"], d["y"].astype(str), clf="xgb", impute=True)
    clf.create()
    out = []
    off, t, m, e = d["off"], d["t"], d["m"], d["e"]
    for i in range(len(off) - 1):
        a, b = off[i], off[i + 1]
        p = clf.predict(t[a:b], m[a:b], e[a:b], convert=True, zp=22)
        out.append(p[np.argmax(p[:, 1].astype(float)), 0])
# MicroLIA's xgb returns class codes: indices into np.unique(labels)
classes = np.unique(d["y"].astype(str))
out = [str(classes[int(float(c))]) if str(c).replace(".", "", 1).isdigit() else str(c) for c in out]
print(json.dumps(out))
"""


def load_real():
    """The 60 shared lightcurves as one batch (label microlensing / variables)."""
    from lia_dask.archive import ingest_directory, open_archive
    from lia_dask.batch import concat_batches

    arch = WORK / "ogle2_real"
    if not arch.exists():
        ingest_directory(OGLE, arch)
    return concat_batches(list(open_archive(arch).batches()))


def real_features(batch, settings):
    from lia_dask.features.extract import features_frame
    from lia_dask.predict.fitfilter import FitFilterConfig, fit_batch, passes

    df = features_frame(batch, settings)
    rows = np.arange(batch.n_objects)
    flag = passes(fit_batch(batch.offsets, batch.time, batch.y, batch.yerr, rows, zp=22.0, convert=True),
                  FitFilterConfig())
    df["passes_fit"] = flag
    return df


def simulate(tag, cad_batch, n_per_class, seed, settings, client, mix=None, partition_size=None):
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.noise import NoiseModel, lightcurve_scatter
    from lia_dask.simulate.simulate import simulate_training_set

    med, _ = lightcurve_scatter(cad_batch)
    kw = dict(min_mag=float(med.min()), max_mag=float(med.max()), seed=seed, noise=NoiseModel.from_batch(cad_batch),
              noise_zeropoint=22.0, exptime=30.0)
    if partition_size:
        kw["partition_size"] = partition_size
    out = WORK / f"{SIM}_{tag}"
    feats = out.with_suffix(".features")
    if not feats.exists():
        cfg = SimulationConfig.microlia(**kw) if SIM == "microlia" else SimulationConfig(**kw)
        simulate_training_set(cad_batch, mix or n_per_class, out, cfg, overwrite=True,
                              features_out=feats, feature_settings=settings, client=client)
    return out, pd.read_parquet(feats)


def fit_models(sim, names_by_set, seed, client):
    from lia_dask.features.registry import FeatureSettings
    from lia_dask.train import EnsembleClassifier

    sim = sim[sim["feature_reason"] == 0]
    y = sim["label"].to_numpy()
    models = {}
    for fs, names in names_by_set.items():
        models[fs] = EnsembleClassifier(model="xgb", random_state=seed, cv=3, n_jobs=1).fit(
            sim[names], y, client=client, feature_set=fs,
            feature_settings=FeatureSettings(zp=22.0, convert=None, apply_weights=True, feature_set=fs).to_dict())
    return models, sim


def microlia_predict(X, y, batch, rows):
    """MicroLIA's labels for ``rows`` of ``batch`` (None when its virtualenv is missing or it fails)."""
    if not MICROLIA_PY.exists():
        return None
    sub = batch.take(rows).compact()
    with tempfile.TemporaryDirectory() as td:
        np.savez(Path(td) / "d.npz", X=X, y=y.astype(str), off=sub.offsets, t=sub.time, m=sub.y, e=sub.yerr)
        (Path(td) / "m.py").write_text(MICROLIA_SCRIPT)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        r = subprocess.run([str(MICROLIA_PY), str(Path(td) / "m.py"), str(Path(td) / "d.npz")],
                           capture_output=True, text=True, env=env)
    if r.returncode != 0:
        print("MicroLIA failed:", r.stderr[-1500:], file=sys.stderr)
        return None
    return np.array(json.loads(r.stdout.strip().splitlines()[-1]))


#: the "rescue" rule: the flag also vets objects the classifier calls CV or LPV (where missed events go)
RESCUE_CLASSES = ("ML", "CV", "LPV")


def score(pred, flag, is_ml):
    ml = pred == "ML"
    out = {"recall": float(np.mean(ml[is_ml])), "false_alert": float(np.mean(ml[~is_ml])),
           "n_events": int(is_ml.sum()), "n_variables": int((~is_ml).sum())}
    if flag is not None:
        rescue = flag & np.isin(pred, RESCUE_CLASSES)
        out.update(recall_flag=float(np.mean((ml & flag)[is_ml])), false_alert_flag=float(np.mean((ml & flag)[~is_ml])),
                   recall_rescue=float(np.mean(rescue[is_ml])), false_alert_rescue=float(np.mean(rescue[~is_ml])),
                   missed_as={k: int(v) for k, v in zip(*np.unique(pred[is_ml & ~ml], return_counts=True))})
    return out


def part_a(args, client, real_batch, real_df, names_by_set):
    is_ml_all = real_batch.label == "microlensing"
    ev = np.flatnonzero(is_ml_all)
    var = np.flatnonzero(~is_ml_all)
    rows = []
    for recipe in ("microlia", "twofold"):
        for seed in args.seeds:
            if recipe == "microlia":
                folds = [(ev, np.concatenate([ev, var]))]
            else:
                perm = np.random.default_rng(seed).permutation(ev)
                h1, h2 = np.sort(perm[: len(ev) // 2]), np.sort(perm[len(ev) // 2:])
                folds = [(h1, np.concatenate([h2, var])), (h2, np.concatenate([h1, var]))]
            preds = {k: [] for k in list(names_by_set) + ["MicroLIA"]}
            flags, truth = [], []
            t = time.perf_counter()
            for k, (cad, test) in enumerate(folds):
                _, sim = simulate(f"{recipe}_s{seed}_f{k}_n{args.n_per_class}", real_batch.take(cad).compact(),
                                  args.n_per_class, seed, _settings(PHYS), client)
                models, sim = fit_models(sim, names_by_set, seed, client)
                te = real_df.iloc[test]
                for fs, m in models.items():
                    preds[fs].append(m.predict(te[names_by_set[fs]]))
                mic = microlia_predict(sim[names_by_set[BASE]].to_numpy(), sim["label"].to_numpy(), real_batch, test)
                preds["MicroLIA"].append(mic)
                flags.append(te["passes_fit"].to_numpy())
                truth.append(is_ml_all[test])
            flag, is_ml = np.concatenate(flags), np.concatenate(truth)
            for who, p in preds.items():
                if any(x is None for x in p):
                    continue
                r = dict(recipe=recipe, seed=seed, model=who, seconds=time.perf_counter() - t,
                         **score(np.concatenate(p), None if who == "MicroLIA" else flag, is_ml))
                rows.append(r)
                print(json.dumps(r), flush=True)
    return rows


def _settings(fs):
    from lia_dask.features.registry import FeatureSettings

    return FeatureSettings(zp=22.0, convert=True, apply_weights=True, feature_set=fs)


def part_b(args, client, real_batch, names_by_set):
    from lia_dask.predict.fitfilter import FitFilterConfig, fit_batch, passes

    ev = np.flatnonzero(real_batch.label == "microlensing")
    cad = real_batch.take(ev).compact()
    _, train = simulate(f"microlia_s1_f0_n{args.n_per_class}", cad, args.n_per_class, 1, _settings(PHYS), client)
    models, _ = fit_models(train, names_by_set, 1, client)
    mix = {"CONSTANT": args.survey_constant, "VARIABLE": 8000, "LPV": 3000, "CV": 2000, "ML": 500}
    t = time.perf_counter()
    arch_path, survey = simulate(f"survey_c{args.survey_constant}", cad, None, 101, _settings(PHYS), client, mix=mix,
                                 partition_size=5000)
    t_sim = time.perf_counter() - t
    from lia_dask.archive import open_archive
    from lia_dask.batch import concat_batches

    survey = survey[survey["feature_reason"] == 0].reset_index(drop=True)
    sb = concat_batches(list(open_archive(arch_path).batches()))
    pos = pd.Series(np.arange(sb.n_objects), index=pd.Index(sb.object_id))
    out = {"n_stars": int(len(survey)), "mix": mix, "simulate_and_features_s": t_sim,
           "by_class": survey["label"].value_counts().to_dict()}
    is_ml = survey["label"].to_numpy() == "ML"
    for fs, m in models.items():
        pred = m.predict(survey[names_by_set[fs]])
        cand = np.flatnonzero(np.isin(pred, RESCUE_CLASSES))
        rows = pos.loc[survey["object_id"].to_numpy()[cand]].to_numpy().astype(np.int64)
        t = time.perf_counter()
        params = fit_batch(sb.offsets, sb.time, sb.y, sb.yerr, rows, zp=sb.zeropoint, convert=sb.photometry == "mag")
        t_flag = time.perf_counter() - t
        flag = np.zeros(len(survey), bool)
        flag[cand] = passes(params, FitFilterConfig())
        ml = pred == "ML"
        rescue = flag & np.isin(pred, RESCUE_CLASSES)
        n_non = int((~is_ml).sum())
        lab = survey["label"]
        r = {"recall": float(ml[is_ml].mean()), "false_alerts_per_million": 1e6 * float(ml[~is_ml].sum()) / n_non,
             "recall_flag": float((ml & flag)[is_ml].mean()),
             "false_alerts_per_million_flag": 1e6 * float((ml & flag)[~is_ml].sum()) / n_non,
             "recall_rescue": float(rescue[is_ml].mean()),
             "false_alerts_per_million_rescue": 1e6 * float(rescue[~is_ml].sum()) / n_non,
             "false_alerts_by_class": lab[ml & ~is_ml].value_counts().to_dict(),
             "false_alerts_by_class_flag": lab[ml & flag & ~is_ml].value_counts().to_dict(),
             "false_alerts_by_class_rescue": lab[rescue & ~is_ml].value_counts().to_dict(),
             "flag_us_per_object": 1e6 * t_flag / max(len(cand), 1), "n_flag_fitted": int(len(cand))}
        out[fs] = r
        print("survey", fs, json.dumps(r), flush=True)
    return out, sb, models


def part_c(sb, models, n=3000):
    """CPU time per lightcurve, one thread: the physical block, and ``predict_batch`` end to end
    (features -> model -> optional flag) with the 168-feature and the +physical model."""
    from lia_dask.features.physical import physical_block
    from lia_dask.predict import PredictConfig, predict_batch

    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(sb.n_objects, min(n, sb.n_objects), replace=False))
    b = sb.take(rows).compact()
    physical_block(b.offsets[:3], b.time, b.y, b.yerr, zp=22.0)  # compiled / cache loaded
    out = {"n": int(b.n_objects), "median_epochs": float(np.median(np.diff(b.offsets)))}
    for periodic in (False, True):
        t = time.process_time()
        physical_block(b.offsets, b.time, b.y, b.yerr, zp=22.0, convert=True, periodic=periodic)
        out[f"block_us_per_lc_periodic_{periodic}"] = 1e6 * (time.process_time() - t) / b.n_objects
    for fs, m in models.items():
        path = WORK / f"model_{fs}"
        m.save(path, overwrite=True)
        predict_batch(b.take(np.arange(5)).compact(), path)  # warm
        for flag in (False, True):
            t = time.process_time()
            pred, _ = predict_batch(b, path, PredictConfig(fit_filter=flag))
            dt = time.process_time() - t
            out[f"predict_{fs}_flag_{flag}_lc_per_cpu_s"] = b.n_objects / dt
    print("cost", json.dumps(out), flush=True)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--n-per-class", type=int, default=500)
    p.add_argument("--survey-constant", type=int, default=50000)
    p.add_argument("--sim", choices=["survey", "microlia"], default="survey",
                   help="training and survey simulation: survey realism (default) or MicroLIA's preset")
    p.add_argument("--skip-a", action="store_true")
    p.add_argument("--skip-b", action="store_true")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    global SIM
    SIM = args.sim
    warnings.simplefilter("ignore")
    WORK.mkdir(parents=True, exist_ok=True)
    from distributed import Client, LocalCluster

    from lia_dask.features.registry import get_feature_set

    names_by_set = {BASE: list(get_feature_set(BASE).names), PHYS: list(get_feature_set(PHYS).names)}
    result = {"load_average_start": os.getloadavg(), "args": vars(args)}
    real_batch = load_real()
    real_df = real_features(real_batch, _settings(PHYS))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c) as client:
        if not args.skip_a:
            rows = part_a(args, client, real_batch, real_df, names_by_set)
            result["part_a"] = rows
            _dump(args, result)
            df = pd.DataFrame(rows)
            cols = [c for c in ("recall", "false_alert", "recall_flag", "false_alert_flag", "recall_rescue",
                                "false_alert_rescue") if c in df]
            print(df.groupby(["recipe", "model"])[cols].agg(["mean", "min", "max"]).round(3).to_string())
        if not args.skip_b:
            result["part_b"], sb, models = part_b(args, client, real_batch, names_by_set)
            _dump(args, result)
            result["part_c"] = part_c(sb, models)
    result["load_average_end"] = os.getloadavg()
    _dump(args, result)
    return 0


def _dump(args, result):
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    sys.exit(main())
