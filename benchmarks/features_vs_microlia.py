"""lia_dask feature extraction vs MicroLIA 2.8.1 ``extract_all``, side by side, single core.

Usage (from the repository root)::

    .venv/bin/python benchmarks/features_vs_microlia.py [--quick] [--no-cluster] [--only SET] [--json OUT.json]

What it does, in one run:

1. Makes sure MicroLIA 2.8.1 is installed in its own virtualenv ``benchmarks/.venv-microlia``
   (``python3 -m venv`` + ``pip install microlia==2.8.1``; it is not a dependency of lia_dask).
2. Data sets: the 60 real OGLE-II lightcurves of ``../shared/data/ogle2_dev`` and simulated
   lightcurves (sinusoid + noise, magnitudes rounded to 0.001 like OGLE) of 100, 1,000 and
   10,000 points.
3. lia_dask: numba compile time measured in a fresh process with empty caches (cold) and with
   the caches filled (warm start), then lightcurves/s of ``extract_batch`` in this process.
4. MicroLIA: lightcurves/s of ``extract_all`` (zp=22, convert=True, weighted), in a subprocess
   running in the MicroLIA virtualenv, on the same lightcurves (fewer of the long ones); its
   values are compared with lia_dask's (share of the 168 values equal within rtol 1e-6).
5. ``extract_archive`` throughput on a LocalCluster: 1 and 2 single-threaded worker processes,
   and 1 worker with 1 and 2 threads (the kernels release the GIL); scaling efficiency =
   rate(2) / (2 · rate(1)). Each cluster first runs the whole job once (imports and numba cache
   loads in the workers); the best of 3 timed runs with distinct task keys is reported.

Both sides are pinned to one CPU core (``os.sched_setaffinity``) for steps 3 and 4. Rates are
given per CPU-second of that core (``time.process_time``; both sides are single-threaded), which
stays meaningful when other jobs share the machine, and per wall-clock second.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
VENV = ROOT / "benchmarks" / ".venv-microlia"
VPY = VENV / "bin" / "python"
sys.path.insert(0, str(ROOT))

MICROLIA_RUNNER = r"""
import sys, time, warnings, numpy as np
warnings.filterwarnings("ignore")
from MicroLIA.extract_features import extract_all
d = np.load(sys.argv[1])
off, t, y, e = d["off"], d["t"], d["y"], d["e"]
w = bool(int(sys.argv[3]))
n = len(off) - 1
extract_all(t[off[0]:off[1]], y[off[0]:off[1]], e[off[0]:off[1]], apply_weights=w, convert=True, zp=22)  # warm-up
out = np.full((n, 168), np.nan)
t0 = time.perf_counter()
c0 = time.process_time()
for i in range(n):
    a, b = off[i], off[i + 1]
    try:
        out[i] = extract_all(t[a:b], y[a:b], e[a:b], apply_weights=w, convert=True, zp=22)
    except Exception:
        pass
el = time.perf_counter() - t0
cpu = time.process_time() - c0
np.savez(sys.argv[2], values=out, seconds=el, cpu_seconds=cpu)
"""


def ensure_microlia() -> None:
    """Create benchmarks/.venv-microlia with microlia==2.8.1 if it is not there yet."""
    if VPY.exists() and subprocess.run([str(VPY), "-c", "import MicroLIA.extract_features"],
                                       capture_output=True).returncode == 0:
        return
    if not VPY.exists():
        subprocess.run(["python3", "-m", "venv", str(VENV)], check=True)
    r = subprocess.run([str(VPY), "-m", "pip", "install", "-q", "microlia==2.8.1"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"pip install microlia==2.8.1 failed:\n{r.stderr[-3000:]}")


def pin_one_core() -> int:
    core = sorted(os.sched_getaffinity(0))[-1]
    os.sched_setaffinity(0, {core})
    return core


# ------------------------------------------------------------------ data
def ogle_lightcurves():
    files = sorted((SHARED / "data" / "ogle2_dev").rglob("*.dat"))
    return [np.loadtxt(f, usecols=(0, 1, 2)).T for f in files]


def simulated(n_points: int, count: int, seed: int = 0):
    r = np.random.default_rng(seed + n_points)
    out = []
    for _ in range(count):
        t = np.sort(r.uniform(0, 1500, n_points)) + 2450000.0
        err = r.uniform(0.005, 0.05, n_points)
        mag = 17.5 + 0.3 * np.sin(2 * np.pi * t / r.uniform(5, 300)) + r.normal(0, 1, n_points) * err
        out.append((t, np.round(mag, 3), np.round(err, 3)))
    return out


def to_arrays(lcs):
    lens = [len(a[0]) for a in lcs]
    off = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    return off, np.concatenate([a[0] for a in lcs]), np.concatenate([a[1] for a in lcs]), \
        np.concatenate([a[2] for a in lcs])


# ------------------------------------------------------------------ lia_dask side
COMPILE_PROBE = r"""
import time, numpy as np
t0 = time.perf_counter()
from lia_dask.features import extract_one
t1 = time.perf_counter()
r = np.random.default_rng(0); n = 50
extract_one(np.sort(r.uniform(0, 100, n)), 18 + r.normal(0, .1, n), np.full(n, .02))
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def compile_times() -> dict:
    """Cold (empty numba and driver caches) and warm (cached) first-call times, in fresh processes."""
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, NUMBA_CACHE_DIR=tmp, LIA_DASK_CACHE_DIR=tmp)
        res = {}
        for kind in ("cold", "warm"):
            out = subprocess.run([sys.executable, "-c", COMPILE_PROBE], env=env, capture_output=True, text=True,
                                 cwd=ROOT, check=True).stdout.split()
            res[kind] = {"import_s": float(out[0]), "first_call_s": float(out[1])}
    return res


def lia_rate(lcs, weighted=True, min_seconds=2.0):
    from lia_dask.batch import LightcurveBatch
    from lia_dask.features import FeatureSettings, extract_batch

    b = LightcurveBatch.from_lightcurves(list(range(len(lcs))), [a[0] for a in lcs], [a[1] for a in lcs],
                                         [a[2] for a in lcs])
    s = FeatureSettings(apply_weights=weighted)
    vals, _ = extract_batch(b, s)  # warm-up (compiled already)
    reps, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        extract_batch(b, s)
        reps += 1
        el = time.perf_counter() - t0
        if el >= min_seconds:
            break
    cpu = time.process_time() - c0
    return reps * len(lcs) / cpu, reps * len(lcs) / el, vals


def microlia_rate(lcs, weighted=True):
    with tempfile.TemporaryDirectory() as tmp:
        off, t, y, e = to_arrays(lcs)
        np.savez(Path(tmp) / "in.npz", off=off, t=t, y=y, e=e)
        script = Path(tmp) / "run.py"
        script.write_text(MICROLIA_RUNNER)
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        subprocess.run([str(VPY), str(script), str(Path(tmp) / "in.npz"), str(Path(tmp) / "out.npz"),
                        str(int(weighted))], check=True, env=env)
        d = np.load(Path(tmp) / "out.npz")
        return len(lcs) / float(d["cpu_seconds"]), len(lcs) / float(d["seconds"]), d["values"]


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    same = (np.isnan(a) & np.isnan(b)) | (np.abs(a - b) <= np.maximum(1e-6 * np.abs(b), 1e-9))
    return float(same.mean())


# ------------------------------------------------------------------ cluster side
def archive_scaling(n_objects: int, workdir: Path) -> dict:
    from distributed import Client, LocalCluster

    from lia_dask.archive import write_archive
    from lia_dask.batch import LightcurveBatch
    from lia_dask.features import FeatureSettings, extract_archive

    lcs = simulated(160, n_objects, seed=11)
    b = LightcurveBatch.from_lightcurves(list(range(n_objects)), [a[0] for a in lcs], [a[1] for a in lcs],
                                         [a[2] for a in lcs])
    arch = write_archive(b, workdir / "arch", partition_rows=max(1, n_objects // 16), overwrite=True)
    res = {"n_objects": n_objects, "n_partitions": arch.n_partitions, "points": 160}
    for key, procs, nw, th in (("processes_1x1", True, 1, 1), ("processes_2x1", True, 2, 1),
                               ("threads_1x1", False, 1, 1), ("threads_1x2", False, 1, 2)):
        with LocalCluster(n_workers=nw, threads_per_worker=th, processes=procs, dashboard_address=":0") as cl, \
                Client(cl):
            # warm-up: one full run (imports, numba cache loads in every worker); its keys differ (zp)
            extract_archive(arch, FeatureSettings(zp=21.0)).compute()
            times = []
            for r in range(3):  # distinct zp -> distinct task keys, nothing reused from memory
                ddf = extract_archive(arch, FeatureSettings(zp=22.0 + r))
                t0 = time.perf_counter()
                n = len(ddf.compute())
                times.append(time.perf_counter() - t0)
                assert n == n_objects
            res[key] = {"best_seconds": min(times), "lightcurves_per_s": n_objects / min(times)}
    rate = {k: v["lightcurves_per_s"] for k, v in res.items() if isinstance(v, dict)}
    res["scaling_efficiency_processes"] = rate["processes_2x1"] / (2 * rate["processes_1x1"])
    res["scaling_efficiency_threads"] = rate["threads_1x2"] / (2 * rate["threads_1x1"])
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer lightcurves (smoke run)")
    ap.add_argument("--no-cluster", action="store_true", help="skip the LocalCluster scaling part")
    ap.add_argument("--cluster-only", action="store_true", help="only the LocalCluster scaling part")
    ap.add_argument("--json", default=None, help="write the results as JSON here")
    ap.add_argument("--only", default=None, help="only the data sets whose name contains this (e.g. '10,000')")
    args = ap.parse_args(argv)

    if args.cluster_only:
        with tempfile.TemporaryDirectory() as tmp:
            res = archive_scaling(400 if args.quick else 4000, Path(tmp))
        print("archive:", json.dumps(res), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"archive": res}, indent=2))
        return 0
    ensure_microlia()
    result = {"compile": compile_times()}
    print("compile:", json.dumps(result["compile"]), flush=True)

    core = pin_one_core()
    result["pinned_core"] = core
    q = args.quick
    sets = [
        ("ogle2_dev (60 real)", ogle_lightcurves(), ogle_lightcurves()),
        ("sim 100 pts", simulated(100, 200 if not q else 40), None),
        ("sim 1,000 pts", simulated(1000, 40 if not q else 8), None),
        ("sim 10,000 pts", simulated(10000, 6 if not q else 2), None),
    ]
    sets = [st for st in sets if args.only is None or args.only in st[0]]
    ml_counts = {"sim 100 pts": 40 if not q else 10, "sim 1,000 pts": 8 if not q else 3,
                 "sim 10,000 pts": 2 if not q else 1}
    rows = []
    for name, lcs, ml_lcs in sets:
        ml_lcs = ml_lcs if ml_lcs is not None else lcs[:ml_counts[name]]
        npts = float(np.mean([len(a[0]) for a in lcs]))
        lia, lia_wall, vals = lia_rate(lcs)
        ml, ml_wall, mvals = microlia_rate(ml_lcs)
        agree = agreement(vals[:len(ml_lcs)], mvals)
        row = {"set": name, "mean_points": npts, "lia_dask_lc_per_s": lia, "microlia_lc_per_s": ml,
               "speedup": lia / ml, "lia_dask_lc_per_wall_s": lia_wall, "microlia_lc_per_wall_s": ml_wall,
               "speedup_wall": lia_wall / ml_wall, "n_lia": len(lcs), "n_microlia": len(ml_lcs),
               "lia_us_per_point": 1e6 / (lia * npts), "values_equal_to_microlia": agree}
        rows.append(row)
        print(json.dumps(row), flush=True)
    result["single_core"] = rows
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    if not args.no_cluster:
        with tempfile.TemporaryDirectory() as tmp:
            result["archive"] = archive_scaling(400 if q else 4000, Path(tmp))
        print("archive:", json.dumps(result["archive"]), flush=True)

    print("\nRates per CPU-second of the one core (process_time); wall-clock speed-up in the last column.")
    print("| data | mean points | lia_dask lc/s | MicroLIA lc/s | speed-up | µs/point (lia_dask) | values equal "
          "| speed-up (wall) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['set']} | {r['mean_points']:.0f} | {r['lia_dask_lc_per_s']:.1f} | {r['microlia_lc_per_s']:.3g} | "
              f"{r['speedup']:.0f}x | {r['lia_us_per_point']:.2f} | {100 * r['values_equal_to_microlia']:.2f} % | "
              f"{r['speedup_wall']:.0f}x |")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
