"""Training-set simulation + feature extraction: lia_dask vs MicroLIA 2.8.1, per core, in one run.

Run (from the repository root; needs benchmarks/.venv-microlia with microlia==2.8.1):

    .venv/bin/python benchmarks/simulate_vs_microlia.py [--n-create 4] [--n-microlia 30] [--n-variable 4]
                                                        [--n-lia 2000]

Both sides use the same cadences (the OGLE-II microlensing sample in ../shared/data/ogle2_dev),
m0 ~ U(14, 21), photon noise with zp 24 and exptime 60 s (MicroLIA's defaults), the weighted
168 features with zp 24, one process and one thread (per core). MicroLIA is measured (1) with
``training_set.create`` end to end, which in 2.8.1 stops with AttributeError at the LPV class,
and (2) per class with the calls create() makes (cadence, baseline, model, quality-cut redraws,
noise, extract_all). lia_dask is measured per class with ``simulate_range`` + ``features_frame``.
Times are CPU seconds of the measuring process (``time.process_time``), i.e. the cost on one core,
so other load on a shared machine does not bias the ratio.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CLOCK = time.process_time  # CPU seconds of this process: per-core cost, robust to other load
from pathlib import Path

os.environ.setdefault("NUMBA_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
CADENCES = ROOT / ".." / "shared" / "data" / "ogle2_dev" / "microlensing"
MICROLIA_PY = ROOT / "benchmarks" / ".venv-microlia" / "bin" / "python"


def run_lia(n: int) -> dict:
    sys.path.insert(0, str(ROOT))
    from lia_dask.features.extract import features_frame
    from lia_dask.features.registry import FeatureSettings
    from lia_dask.simulate import SimulationConfig, load_cadences, simulate_range

    pool = load_cadences(CADENCES)
    cfg = SimulationConfig.microlia(min_mag=14, max_mag=21, noise_zeropoint=24, exptime=60, seed=1)
    fset = FeatureSettings(zp=24.0, convert=True, apply_weights=True)
    for label in ("VARIABLE", "CONSTANT", "CV", "ML", "LPV"):  # warm-up: numba cache, template tables
        features_frame(simulate_range([(label, 20)], 0, 20, pool, cfg.replace(classes=(label,))), fset)
    out = {}
    for label in ("VARIABLE", "CONSTANT", "CV", "ML", "LPV"):
        t0 = CLOCK()
        b = simulate_range([(label, n)], 0, n, pool, cfg.replace(classes=(label,)))
        t1 = CLOCK()
        features_frame(b, fset)
        t2 = CLOCK()
        out[label] = {"n": n, "simulate_s": t1 - t0, "features_s": t2 - t1,
                      "mean_epochs": float(b.lengths.mean()), "mean_attempts": float(b.extra["sim_attempts"].mean())}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-create", type=int, default=4, help="MicroLIA create() n_class")
    ap.add_argument("--n-microlia", type=int, default=30, help="MicroLIA per-class lightcurves (not VARIABLE)")
    ap.add_argument("--n-variable", type=int, default=4, help="MicroLIA VARIABLE lightcurves (~4 s each)")
    ap.add_argument("--n-lia", type=int, default=2000, help="lia_dask lightcurves per class")
    args = ap.parse_args()
    if not MICROLIA_PY.exists():
        sys.exit("benchmarks/.venv-microlia is missing: python3 -m venv benchmarks/.venv-microlia && "
                 "benchmarks/.venv-microlia/bin/pip install microlia==2.8.1")
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t = time.perf_counter()
    proc = subprocess.run([str(MICROLIA_PY), str(ROOT / "benchmarks" / "_microlia_simulate.py"), str(CADENCES),
                           str(args.n_create), str(args.n_microlia), str(args.n_variable)],
                          capture_output=True, text=True, env=env, check=True)
    ml = json.loads(proc.stdout.strip().splitlines()[-1])
    ml_wall = time.perf_counter() - t
    lia = run_lia(args.n_lia)

    print(f"cadences: {ml['n_cadences']} OGLE-II microlensing lightcurves; MicroLIA side took {ml_wall:.0f} s\n")
    c = ml["create"]
    rate_create = c["lightcurves_before_failure"] / c["wall_s"]
    print(f"MicroLIA training_set.create(n_class={c['n_class']}): {c['status']}")
    print(f"  {c['lightcurves_before_failure']} lightcurves (VARIABLE, CONSTANT, CV) in {c['wall_s']:.1f} s "
          f"= {rate_create:.2f} lightcurves/s including features\n")
    hdr = (f"{'class':9s} {'MicroLIA lc/s':>14s} {'(sim only)':>11s} {'lia_dask lc/s':>14s} {'(sim only)':>11s}"
           f" {'ratio':>8s}")
    print(hdr)
    print("-" * len(hdr))
    tot_ml = tot_lia = n_ml = n_lia = 0.0
    rows = {}
    for label in ("VARIABLE", "CONSTANT", "CV", "ML", "LPV"):
        L = lia[label]
        r_lia = L["n"] / (L["simulate_s"] + L["features_s"])
        s_lia = L["n"] / L["simulate_s"]
        if label in ml["per_class"]:
            M = ml["per_class"][label]
            r_ml = M["n"] / (M["simulate_s"] + M["features_s"])
            s_ml = M["n"] / M["simulate_s"]
            ratio = r_lia / r_ml
            print(f"{label:9s} {r_ml:14.2f} {s_ml:11.1f} {r_lia:14.0f} {s_lia:11.0f} {ratio:7.0f}x")
            tot_ml += M["simulate_s"] + M["features_s"]
            n_ml += M["n"]
            tot_lia += L["simulate_s"] + L["features_s"]
            n_lia += L["n"]
            rows[label] = {"microlia_lc_s": r_ml, "lia_lc_s": r_lia, "ratio": ratio}
        else:
            print(f"{label:9s} {'fails (2.8.1)':>14s} {'':11s} {r_lia:14.0f} {s_lia:11.0f} {'n/a':>8s}")
    per_lc_ml = sum((ml["per_class"][k]["simulate_s"] + ml["per_class"][k]["features_s"]) / ml["per_class"][k]["n"]
                    for k in ml["per_class"]) / len(ml["per_class"])
    per_lc_lia = sum((lia[k]["simulate_s"] + lia[k]["features_s"]) / lia[k]["n"] for k in ml["per_class"]) \
        / len(ml["per_class"])
    print(f"\nequal mix of VARIABLE, CONSTANT, CV, ML: MicroLIA {1 / per_lc_ml:.2f} lc/s, lia_dask "
          f"{1 / per_lc_lia:.0f} lc/s per core -> {per_lc_ml / per_lc_lia:.0f}x")
    ex = [k for k in ml["per_class"] if k != "VARIABLE"]
    pm = sum((ml["per_class"][k]["simulate_s"] + ml["per_class"][k]["features_s"]) / ml["per_class"][k]["n"]
             for k in ex) / len(ex)
    pl = sum((lia[k]["simulate_s"] + lia[k]["features_s"]) / lia[k]["n"] for k in ex) / len(ex)
    print(f"equal mix of CONSTANT, CV, ML (without MicroLIA's RR Lyrae template fit): MicroLIA {1 / pm:.2f} lc/s, "
          f"lia_dask {1 / pl:.0f} lc/s per core -> {pm / pl:.0f}x")
    print("\nraw:", json.dumps({"microlia": ml, "lia_dask": lia}))


if __name__ == "__main__":
    main()
