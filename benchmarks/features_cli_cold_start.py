"""What a user gets from the CLI: `lia-dask predict` from a cold start vs the warm rate, and `--resume`.

Usage (from the repository root)::

    .venv/bin/python benchmarks/features_cli_cold_start.py [--survey 100000] [--partition 20000]
        [--work DIR] [--reps 3] [--tree DIR ...]

1. A model (XGBoost, default parameters) trained on a small simulated set on the OGLE-II cadences.
2. A survey of ``--survey`` lightcurves simulated on the same cadences in partitions of
   ``--partition`` (100,000 in 5 partitions of 20,000 reproduces issue 14's case: fewer partitions
   than a multiple of the worker threads).
   With ``--work DIR`` both are built there once and reused by the next run with the same ``DIR``
   (build them under ``nice``; time the runs at normal priority).
3. Cold: ``python -m lia_dask predict SURVEY --model M --out O`` in a fresh process with the default
   local cluster (one worker per core), wall clock from the command to its exit (cluster start,
   imports, numba cache load, model broadcast included). The numba caches are warm (a user's
   second command; the first-ever compile is in features_vs_microlia.py's "compile").
   ``--tree DIR`` (repeatable) runs the CLI from other source trees in the same run, alternating
   (e.g. a clone of main, then this tree: before / after side by side).
4. Resume: the same command again with every partition done.
5. Warm: ``predict_archive`` on an already started LocalCluster of the same shape, after one
   warm-up call on every worker.

Steps 3-5 are repeated ``--reps`` times (each cold run into a new output directory); the best of
each is reported with every run's figures.
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


def build(work: Path, n_survey: int, partition: int, n_per_class: int):
    """The model and the survey archive in ``work`` (kept when they exist)."""
    from lia_dask.archive import IngestConfig, ingest_directory, open_archive
    from lia_dask.data import ogle2_samples
    from lia_dask.features import get_feature_set, read_feature_settings
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set
    from lia_dask.train.ensemble import EnsembleClassifier

    if (work / "survey" / "_archive.json").exists() and (work / "model").exists():
        return open_archive(work / "survey")
    ingest_directory(ogle2_samples(), work / "ogle", IngestConfig(files_per_partition=20))
    simulate_training_set(work / "ogle", n_per_class, work / "train", SimulationConfig(seed=3),
                          features_out=work / "feat")
    feats = pd.read_parquet(work / "feat")
    names = list(get_feature_set().names)
    EnsembleClassifier(model="xgb", random_state=0, cv=3).fit(
        feats[names], feats["label"], feature_set="microlia-2.8.1",
        feature_settings=read_feature_settings(work / "feat").to_dict()).save(work / "model")
    return simulate_training_set(work / "ogle", {"CONSTANT": n_survey}, work / "survey",
                                 SimulationConfig(seed=4, partition_size=partition, classes=("CONSTANT",)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--survey", type=int, default=100_000)
    ap.add_argument("--partition", type=int, default=20_000)
    ap.add_argument("--n-per-class", type=int, default=300)
    ap.add_argument("--work", default=None, help="build the model and survey here once and keep them")
    ap.add_argument("--reps", type=int, default=1, help="cold / resume / warm runs; the best of each is reported")
    ap.add_argument("--skip-warm", action="store_true", help="cold and resume only")
    ap.add_argument("--tree", action="append", default=None,
                    help="run the cold CLI from this source tree (repeat: trees alternate within each rep, e.g. "
                         "a checkout of main and this one); default: this tree")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from distributed import Client, LocalCluster

    from lia_dask.archive import open_archive
    from lia_dask.predict import PredictConfig, predict_archive

    keep = args.work is not None
    work = Path(args.work) if keep else Path(tempfile.mkdtemp(prefix="lia_cold_"))
    work.mkdir(parents=True, exist_ok=True)
    res: dict = {"survey": args.survey, "partition": args.partition, "cores": os.cpu_count(), "runs": []}
    try:
        survey = build(work, args.survey, args.partition, args.n_per_class)
        res["partitions"] = survey.n_partitions
        n_workers = os.cpu_count() or 1
        trees = [str(Path(t).resolve()) for t in (args.tree or [ROOT])]
        for rep in range(args.reps):
            run: dict = {"load_average_start": os.getloadavg()}
            for tree in trees:
                tag = "" if len(trees) == 1 else f"[{tree}] "
                env = dict(os.environ, PYTHONPATH=tree)
                out = work / f"cold{rep}"
                shutil.rmtree(out, ignore_errors=True)
                cmd = [sys.executable, "-m", "lia_dask", "predict", str(survey.path), "--model", str(work / "model"),
                       "--out", str(out)]
                for kind in ("cold", "resume"):
                    t0 = time.perf_counter()
                    r = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tree)
                    wall = time.perf_counter() - t0
                    if r.returncode:
                        raise SystemExit(f"lia-dask predict failed:\n{r.stderr[-3000:]}")
                    run[f"{tag}{kind}_wall_s"] = wall
                    run[f"{tag}{kind}_report"] = r.stdout.strip().splitlines()[0]
                    print(f"run {rep + 1} {tag}{kind}: {wall:.1f} s wall; {run[f'{tag}{kind}_report']}", flush=True)
                shutil.rmtree(out, ignore_errors=True)
            if len(trees) > 1:  # the last tree's figures are the run's
                for kind in ("cold", "resume"):
                    run[f"{kind}_wall_s"] = run[f"[{trees[-1]}] {kind}_wall_s"]
            run["cold_lc_per_s"] = args.survey / run["cold_wall_s"]
            if not args.skip_warm:
                with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cl, Client(cl) as client:
                    client.run(_warm, open_archive(survey.path).read_batch(0).take(np.arange(50)), str(work / "model"))
                    rep_w = predict_archive(survey, work / "model", work / "warm", client=client,
                                            config=PredictConfig(resume=False, show_progress=False))
                shutil.rmtree(work / "warm", ignore_errors=True)
                run["warm_lc_per_s"] = rep_w.throughput
                run["cold_over_warm"] = run["cold_lc_per_s"] / run["warm_lc_per_s"]
                for tree in trees if len(trees) > 1 else []:
                    w = run[f"[{tree}] cold_wall_s"]
                    print(f"run {rep + 1} [{tree}]: cold {args.survey / w:,.0f} lc/s = "
                          f"{100 * args.survey / w / run['warm_lc_per_s']:.0f} % of warm; --resume "
                          f"{run[f'[{tree}] resume_wall_s']:.1f} s", flush=True)
            run["load_average_end"] = os.getloadavg()
            res["runs"].append(run)
            warm = f"warm {run['warm_lc_per_s']:,.0f} lc/s: cold = {100 * run['cold_over_warm']:.0f} % of warm; " \
                if "warm_lc_per_s" in run else ""
            print(f"run {rep + 1}: {args.survey:,} lightcurves in {survey.n_partitions} partitions, {n_workers} workers "
                  f"x 1 thread: cold CLI {run['cold_lc_per_s']:,.0f} lc/s ({run['cold_lc_per_s'] / n_workers:,.0f} per "
                  f"core), {warm}--resume with nothing to do {run['resume_wall_s']:.1f} s; load average "
                  f"{run['load_average_start']} -> {run['load_average_end']}", flush=True)
        runs = res["runs"]
        res["best_cold_wall_s"] = min(r["cold_wall_s"] for r in runs)
        res["best_resume_wall_s"] = min(r["resume_wall_s"] for r in runs)
        if not args.skip_warm:
            res["best_warm_lc_per_s"] = max(r["warm_lc_per_s"] for r in runs)
            res["cold_over_warm"] = [round(r["cold_over_warm"], 3) for r in runs]
        print(f"best of {len(runs)}: cold {res['best_cold_wall_s']:.1f} s ({args.survey / res['best_cold_wall_s']:,.0f} "
              f"lc/s), resume {res['best_resume_wall_s']:.1f} s"
              + (f", warm {res['best_warm_lc_per_s']:,.0f} lc/s; cold / warm per run {res['cold_over_warm']}"
                 if not args.skip_warm else ""))
        if args.json:
            Path(args.json).write_text(json.dumps(res, indent=1))
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
