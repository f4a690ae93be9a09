"""End-to-end classification throughput: lia_dask ``predict_archive`` vs MicroLIA 2.8.1's ``predict`` loop.

Run: .venv/bin/python benchmarks/predict_vs_microlia.py [--survey 20000] [--microlia 300] [--memory]

One run, same lightcurves (a survey simulated on the real OGLE-II cadences with their noise), same
training features (lia_dask's simulation, 168 MicroLIA features), an XGBoost model on each side:
- MicroLIA: ``Classifier(data_x, data_y, clf='xgb', impute=True).create()`` then
  ``predict(time, mag, magerr, convert=True, zp=22)`` per lightcurve, in its own virtualenv
  (benchmarks/.venv-microlia, made by features_vs_microlia.py), single thread;
- lia_dask: ``predict_archive`` from the Parquet archive to the prediction files on a LocalCluster
  with 1 worker x 1 thread (per core) and 2 workers x 1 thread (scaling efficiency), warm (numba
  cache filled, model trained), with and without the PSPL fit filter.
``--memory``: an archive >= 5x a worker's memory limit, 2 workers with ``--memory-limit``; peak
worker RSS sampled every 0.5 s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
VPY = ROOT / "benchmarks" / ".venv-microlia" / "bin" / "python"

MICROLIA_SCRIPT = r"""
import sys, time, json, warnings, os
import numpy as np
warnings.filterwarnings("ignore")
from MicroLIA.ensemble_model import Classifier
d = np.load(sys.argv[1], allow_pickle=False)
import contextlib, io
with contextlib.redirect_stdout(io.StringIO()):
    clf = Classifier(d["data_x"], d["data_y"], clf="xgb", impute=True)
    t0 = time.perf_counter(); clf.create(); t_train = time.perf_counter() - t0
off, t, m, e = d["off"], d["t"], d["m"], d["e"]
n = len(off) - 1
labels = []
t0 = time.perf_counter()
with contextlib.redirect_stdout(io.StringIO()):
    for i in range(n):
        a, b = off[i], off[i + 1]
        p = clf.predict(t[a:b], m[a:b], e[a:b], convert=True, zp=22)
        labels.append(str(p[np.argmax(p[:, 1].astype(float)), 0]))
dt = time.perf_counter() - t0
json.dump({"n": n, "seconds": dt, "lc_per_s": n / dt, "train_seconds": t_train, "labels": labels}, open(sys.argv[2], "w"))
"""


def single_thread_env() -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[k] = "1"
    return env


def build(work: Path, n_survey: int, n_per_class: int, seed: int = 7):
    from lia_dask.archive import IngestConfig, ingest_directory, open_archive
    from lia_dask.batch import concat_batches
    from lia_dask.data import ogle2_samples
    from lia_dask.features.registry import get_feature_set
    from lia_dask.simulate import NoiseModel, SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set
    from lia_dask.train.ensemble import EnsembleClassifier

    ingest_directory(ogle2_samples(), work / "ogle", IngestConfig(files_per_partition=20))
    real = open_archive(work / "ogle")
    noise = NoiseModel.from_batch(concat_batches(list(real.batches())))
    simulate_training_set(real.path, n_per_class, work / "train", SimulationConfig(noise=noise, seed=seed),
                          features_out=work / "train_feat")
    feats = pd.read_parquet(work / "train_feat")
    names = list(get_feature_set().names)
    t0 = time.perf_counter()
    clf = EnsembleClassifier(model="xgb", random_state=0, cv=3).fit(
        feats[names], feats["label"], feature_set="microlia-2.8.1",
        feature_settings={"zp": 22.0, "convert": None, "apply_weights": True})
    t_train = time.perf_counter() - t0
    clf.save(work / "model")
    # a model of 30 columns (a fixed random draw): prediction computes only those (issue 14 item 3)
    cols30 = [names[i] for i in sorted(np.random.default_rng(30).choice(len(names), 30, replace=False))]
    EnsembleClassifier(model="xgb", random_state=0, cv=3).fit(
        feats[cols30], feats["label"], feature_set="microlia-2.8.1",
        feature_settings={"zp": 22.0, "convert": None, "apply_weights": True}).save(work / "model30")
    rest = n_survey - n_survey // 100
    mix = {"CONSTANT": int(rest * .8), "VARIABLE": int(rest * .12), "LPV": int(rest * .05)}
    mix["CV"] = rest - sum(mix.values())
    mix["ML"] = n_survey // 100
    survey = simulate_training_set(real.path, mix, work / "survey",
                                   SimulationConfig(noise=noise, seed=seed + 1, partition_size=max(1000, n_survey // 8)))
    return survey, feats[names].to_numpy(), feats["label"].to_numpy(), t_train


def lia_rate(survey, model, out, n_workers, fit_filter, memory_limit="4GiB"):
    from distributed import Client, LocalCluster

    from lia_dask.predict import PredictConfig, predict_archive

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        cfg = PredictConfig(fit_filter=fit_filter, resume=False, show_progress=False)
        small = survey.read_batch(0).take(np.arange(50))
        client.run(_warm, small, str(model))  # numba cache load + xgboost import in every worker
        rep = predict_archive(survey, model, out, client=client, config=cfg)
    return rep.n_input / rep.seconds, rep


def _warm(batch, model):
    from lia_dask.predict import PredictConfig, predict_batch

    predict_batch(batch, model, PredictConfig(fit_filter=True))


def microlia_rate(survey, data_x, data_y, n):
    b = survey.read_batch(0)
    rows = np.random.default_rng(0).choice(len(b), size=min(n, len(b)), replace=False)
    sub = b.take(np.sort(rows))
    with tempfile.TemporaryDirectory() as tmp:
        np.savez(Path(tmp) / "in.npz", data_x=data_x, data_y=data_y.astype(str), off=sub.offsets, t=sub.time,
                 m=sub.y, e=sub.yerr)
        script = Path(tmp) / "run.py"
        script.write_text(MICROLIA_SCRIPT)
        r = subprocess.run([str(VPY), str(script), str(Path(tmp) / "in.npz"), str(Path(tmp) / "out.json")],
                           env=single_thread_env(), capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"MicroLIA run failed:\n{r.stderr[-3000:]}")
        return json.loads((Path(tmp) / "out.json").read_text()), sub


def memory_run(work: Path, memory_limit: str, factor: float):
    """Predict an archive >= factor x the worker memory limit; return peak RSS per worker."""
    import dask
    import psutil
    from distributed import Client, LocalCluster

    from lia_dask.archive import open_archive
    from lia_dask.batch import concat_batches
    from lia_dask.predict import PredictConfig, predict_archive
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set

    limit = dask.utils.parse_bytes(memory_limit)
    real = open_archive(work / "ogle")
    mean_ep = np.mean(concat_batches(list(real.batches())).lengths)
    n = int(factor * limit / (24 * mean_ep + 64)) + 1
    big = simulate_training_set(real.path, {"CONSTANT": n}, work / "big",
                                SimulationConfig(seed=3, partition_size=20_000, classes=("CONSTANT",)), overwrite=True)
    in_memory = sum(b.n_epochs * 24 + 64 * len(b) for b in [big.read_batch(0)]) * big.n_partitions
    peaks: dict = {}
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        stop = threading.Event()

        def sample():
            while not stop.is_set():
                for w, rss in client.run(lambda: psutil.Process().memory_info().rss).items():
                    peaks[w] = max(peaks.get(w, 0), rss)
                time.sleep(0.5)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        rep = predict_archive(big, work / "model", work / "big_pred", client=client,
                              config=PredictConfig(resume=False, show_progress=False))
        stop.set()
        th.join()
    return {"objects": rep.n_input, "partitions": big.n_partitions, "archive_in_memory_bytes": in_memory,
            "memory_limit_bytes": limit, "ratio": in_memory / limit, "peak_rss_bytes": peaks, "seconds": rep.seconds}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--survey", type=int, default=20_000)
    ap.add_argument("--n-per-class", type=int, default=1000)
    ap.add_argument("--microlia", type=int, default=300)
    ap.add_argument("--memory", action="store_true")
    ap.add_argument("--memory-limit", default="1GiB")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lia_pred_bench_"))
    res = {}
    try:
        survey, X, y, t_train = build(work, args.survey, args.n_per_class)
        print(f"survey: {survey.n_objects} lightcurves, {survey.n_partitions} partitions; "
              f"lia_dask XGBoost training {t_train:.1f} s")
        ml, _ = microlia_rate(survey, X, y, args.microlia)
        res["microlia_lc_per_s"] = ml["lc_per_s"]
        res["microlia_train_s"] = ml["train_seconds"]
        print(f"MicroLIA 2.8.1 predict loop: {ml['lc_per_s']:.1f} lc/s ({ml['n']} lightcurves, 1 thread); "
              f"Classifier.create {ml['train_seconds']:.1f} s")
        for ff in (False, True):
            r1, rep1 = lia_rate(survey, work / "model", work / "p1", 1, ff)
            r2, rep2 = lia_rate(survey, work / "model", work / "p2", 2, ff)
            tag = "with fit filter" if ff else "classifier only"
            res[f"lia_1w_{ff}"] = r1
            res[f"lia_2w_{ff}"] = r2
            print(f"lia_dask {tag}: 1 worker {r1:,.0f} lc/s ({r1 / ml['lc_per_s']:.0f}x MicroLIA per core); "
                  f"2 workers {r2:,.0f} lc/s (scaling efficiency {r2 / (2 * r1):.2f})")
        r1, _ = lia_rate(survey, work / "model30", work / "p30a", 1, False)
        r2, _ = lia_rate(survey, work / "model30", work / "p30b", 2, False)
        res["lia_1w_30features"], res["lia_2w_30features"] = r1, r2
        print(f"lia_dask, a model of 30 features (only those computed): 1 worker {r1:,.0f} lc/s "
              f"({r1 / ml['lc_per_s']:.0f}x MicroLIA per core); 2 workers {r2:,.0f} lc/s (efficiency {r2 / (2 * r1):.2f})")
        print(f"load average {os.getloadavg()}")
        if args.memory:
            mem = memory_run(work, args.memory_limit, 5.0)
            res["memory"] = mem
            peak = max(mem["peak_rss_bytes"].values())
            print(f"memory: {mem['objects']:,} lightcurves in {mem['partitions']} partitions, archive "
                  f"{mem['archive_in_memory_bytes'] / 2**30:.2f} GiB in memory = {mem['ratio']:.1f}x the worker limit "
                  f"{mem['memory_limit_bytes'] / 2**30:.2f} GiB; peak worker RSS {peak / 2**30:.2f} GiB; "
                  f"{mem['objects'] / mem['seconds']:,.0f} lc/s")
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1, default=str))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
