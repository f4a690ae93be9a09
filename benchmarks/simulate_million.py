"""One million simulated lightcurves on a LocalCluster: wall time and peak worker memory.

Run (from the repository root):

    .venv/bin/python benchmarks/simulate_million.py [--workers 2] [--runs 1000000:20000,200000:20000,200000:50000]
                                                    [--features 100000:20000]

Each run is TOTAL:PARTITION_SIZE (lightcurves in all, lightcurves per task/part), five classes in
equal numbers on the OGLE-II microlensing cadences, photon noise. A thread polls every worker's
resident memory (RSS) every 0.25 s; the peak must depend on the partition size, not on the total.
``lc/cpu-s`` divides by the CPU seconds the workers used (the per-core rate, independent of other
load on a shared machine); ``lc/s`` is wall-clock throughput of the whole cluster.
``--features`` adds runs that also write the 168-feature table inside the same tasks.
Output goes to benchmarks/_work/ and is deleted after each run.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CADENCES = ROOT / ".." / "shared" / "data" / "ogle2_dev" / "microlensing"
WORK = ROOT / "benchmarks" / "_work"


def _cpu() -> float:
    import psutil

    t = psutil.Process().cpu_times()
    return t.user + t.system


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


class PeakMemory:
    def __init__(self, client, interval: float = 0.25):
        self.client, self.interval, self.peak, self._stop = client, interval, {}, threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            try:
                for w, rss in self.client.run(_rss).items():
                    self.peak[w] = max(self.peak.get(w, 0), rss)
            except Exception:  # noqa: BLE001 - a worker busy at shutdown: skip this sample
                pass
            self._stop.wait(self.interval)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self.thread.join()


def one_run(client, total: int, part: int, features: bool) -> dict:
    from lia_dask.simulate import SimulationConfig, load_cadences
    from lia_dask.simulate.simulate import simulate_training_set

    pool = load_cadences(CADENCES)
    cfg = SimulationConfig(seed=2024, partition_size=part)
    out = WORK / f"sim_{total}_{part}"
    fout = WORK / f"feat_{total}_{part}" if features else None
    client.run(lambda: __import__("gc").collect())
    base = client.run(_rss)
    cpu0 = client.run(_cpu)
    with PeakMemory(client) as mon:
        t = time.perf_counter()
        arch = simulate_training_set(pool, total // 5, out, cfg, client=client, overwrite=True, features_out=fout)
        wall = time.perf_counter() - t
    cpu = sum(client.run(_cpu).values()) - sum(cpu0.values())
    size = sum(f.stat().st_size for f in out.glob("part.*.parquet"))
    res = {"total": arch.n_objects, "partition_size": part, "partitions": arch.n_partitions, "wall_s": wall,
           "lc_per_s": arch.n_objects / wall, "features": features, "worker_cpu_s": cpu,
           "lc_per_cpu_s": arch.n_objects / cpu,
           "peak_rss_mb": max(mon.peak.values()) / 2**20 if mon.peak else float("nan"),
           "baseline_rss_mb": max(base.values()) / 2**20, "archive_gb": size / 1e9,
           "epochs": int(arch.summary.get("n_epochs", 0))}
    shutil.rmtree(out, ignore_errors=True)
    if fout:
        shutil.rmtree(fout, ignore_errors=True)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", default="1000000:20000,200000:20000,200000:50000")
    ap.add_argument("--features", default="", help="TOTAL:PART runs with the feature table, e.g. 100000:20000")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    WORK.mkdir(parents=True, exist_ok=True)
    plan = [(tuple(int(x) for x in r.split(":")), False) for r in args.runs.split(",") if r]
    plan += [(tuple(int(x) for x in r.split(":")), True) for r in args.features.split(",") if r]
    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    os.environ.update(env)
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=None,
                      memory_limit="8GiB") as cluster, Client(cluster) as client:
        print(f"LocalCluster: {args.workers} worker processes x 1 thread; cpu count {os.cpu_count()}")
        # warm-up (numba cache, templates) so the timed runs measure steady state
        one_run(client, 1000, 200, True)
        print(f"{'total':>9s} {'part':>7s} {'tasks':>5s} {'features':>8s} {'wall s':>8s} {'lc/s':>8s} "
              f"{'lc/cpu-s':>9s} {'peak RSS MB':>11s} {'idle RSS MB':>11s} {'archive GB':>10s}")
        for (total, part), feats in plan:
            r = one_run(client, total, part, feats)
            print(f"{r['total']:9d} {part:7d} {r['partitions']:5d} {str(feats):>8s} {r['wall_s']:8.1f} "
                  f"{r['lc_per_s']:8.0f} {r['lc_per_cpu_s']:9.0f} {r['peak_rss_mb']:11.0f} "
                  f"{r['baseline_rss_mb']:11.0f} {r['archive_gb']:10.2f}", flush=True)


if __name__ == "__main__":
    main()
