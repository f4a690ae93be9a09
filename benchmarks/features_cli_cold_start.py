"""What a user gets from the CLI: `lia-dask predict` from a cold start vs the warm rate, and `--resume`.

Usage (from the repository root)::

    .venv/bin/python benchmarks/features_cli_cold_start.py [--survey 100000] [--partition 20000]

1. A model (XGBoost, default parameters) trained on a small simulated set on the OGLE-II cadences.
2. A survey of ``--survey`` lightcurves simulated on the same cadences in partitions of
   ``--partition`` (100,000 in 5 partitions of 20,000 reproduces issue 14's case: fewer partitions
   than a multiple of the worker threads).
3. Cold: ``python -m lia_dask predict SURVEY --model M --out O`` in a fresh process with the default
   local cluster (one worker per core), wall clock from the command to its exit (cluster start,
   imports, numba cache load, model broadcast included). The numba caches are warm (a user's
   second command; the first-ever compile is in features_vs_microlia.py's "compile").
4. Resume: the same command again with every partition done.
5. Warm: ``predict_archive`` on an already started LocalCluster of the same shape, after one
   warm-up call on every worker.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _warm(batch, model):
    from lia_dask.predict import predict_batch

    predict_batch(batch, model)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--survey", type=int, default=100_000)
    ap.add_argument("--partition", type=int, default=20_000)
    ap.add_argument("--n-per-class", type=int, default=300)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    from lia_dask.archive import IngestConfig, ingest_directory, open_archive
    from lia_dask.data import ogle2_samples
    from lia_dask.features import get_feature_set, read_feature_settings
    from lia_dask.predict import PredictConfig, predict_archive
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set
    from lia_dask.train.ensemble import EnsembleClassifier

    work = Path(tempfile.mkdtemp(prefix="lia_cold_"))
    res: dict = {"survey": args.survey, "partition": args.partition, "cores": os.cpu_count()}
    try:
        ingest_directory(ogle2_samples(), work / "ogle", IngestConfig(files_per_partition=20))
        simulate_training_set(work / "ogle", args.n_per_class, work / "train", SimulationConfig(seed=3),
                              features_out=work / "feat")
        feats = pd.read_parquet(work / "feat")
        names = list(get_feature_set().names)
        EnsembleClassifier(model="xgb", random_state=0, cv=3).fit(
            feats[names], feats["label"], feature_set="microlia-2.8.1",
            feature_settings=read_feature_settings(work / "feat").to_dict()).save(work / "model")
        t0 = time.perf_counter()
        survey = simulate_training_set(work / "ogle", {"CONSTANT": args.survey}, work / "survey",
                                       SimulationConfig(seed=4, partition_size=args.partition,
                                                        classes=("CONSTANT",)))
        res["simulate_s"] = time.perf_counter() - t0
        res["partitions"] = survey.n_partitions
        cmd = [sys.executable, "-m", "lia_dask", "predict", str(survey.path), "--model", str(work / "model"),
               "--out", str(work / "cold")]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        for kind in ("cold", "resume"):
            t0 = time.perf_counter()
            r = subprocess.run(cmd, env=env, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode:
                raise SystemExit(f"lia-dask predict failed:\n{r.stderr[-3000:]}")
            res[f"{kind}_wall_s"] = wall
            res[f"{kind}_report"] = r.stdout.strip().splitlines()[0]
            print(f"{kind}: {wall:.1f} s wall; {res[f'{kind}_report']}", flush=True)
        n_workers = os.cpu_count() or 1
        with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0") as cl, \
                Client(cl) as client:
            client.run(_warm, open_archive(survey.path).read_batch(0).take(np.arange(50)), str(work / "model"))
            rep = predict_archive(survey, work / "model", work / "warm", client=client,
                                  config=PredictConfig(resume=False, show_progress=False))
        res["warm_lc_per_s"] = rep.throughput
        res["cold_lc_per_s"] = args.survey / res["cold_wall_s"]
        res["cold_over_warm"] = res["cold_lc_per_s"] / res["warm_lc_per_s"]
        res["load_average"] = os.getloadavg()
        print(f"{args.survey:,} lightcurves in {survey.n_partitions} partitions, {n_workers} workers x 1 thread: "
              f"cold CLI {res['cold_lc_per_s']:,.0f} lc/s ({res['cold_lc_per_s'] / n_workers:,.0f} per core), "
              f"warm {res['warm_lc_per_s']:,.0f} lc/s: cold = {100 * res['cold_over_warm']:.0f} % of warm; "
              f"--resume with nothing to do {res['resume_wall_s']:.1f} s; load average {res['load_average']}")
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
