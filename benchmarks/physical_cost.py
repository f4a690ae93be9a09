"""Issue 11 C / issue 12: cost of the physical model stage and of the multi-band joint point-lens fit.

Run (one thread; normal priority, a quiet moment):
    OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1 PYTHONPATH=$PWD .venv/bin/python benchmarks/physical_cost.py \
        [--n 3000] [--rounds 3] [--json out.json]

Measured, CPU time of this process (``time.process_time``), best of ``--rounds`` (the machine is shared):
* the physical block (:func:`lia_dask.features.physical.physical_block`) per lightcurve, without and with
  the periodic model, on ``--n`` simulated survey lightcurves (SimulationConfig defaults on the 47 shared
  OGLE-II events' cadences and noise; mix 50 % CONSTANT, 20 % VARIABLE, 10 % LPV, 10 % CV, 10 % ML) and on
  the 60 shared real lightcurves;
* ``predict_batch`` end to end (features -> XGBoost -> prediction) with a 168-feature model and a
  168 + physical model trained on the same small simulated set, alternated in each round, and their ratio;
* the multi-band joint fit (``joint_pspl_features``) per object on synthetic LSST cadences (ugrizy, 10 years).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OGLE = (ROOT / ".." / "shared" / "data" / "ogle2_dev").resolve()
BASE, PHYS = "microlia-2.8.1", "microlia-2.8.1+physical"


def _best(fn, rounds):
    best = np.inf
    for _ in range(rounds):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def survey_batches(work: Path, n: int):
    """(survey batch, the 60 real lightcurves, the 47 events' cadences, the SimulationConfig) of the benchmark.

    ``n`` lightcurves simulated with SimulationConfig's defaults on the shared events' cadences and
    noise, 50 % CONSTANT, 20 % VARIABLE, 10 % LPV, 10 % CV, 10 % ML (seed 7); ``work`` holds the archive
    of the real ones.
    """
    from lia_dask.archive import ingest_directory, open_archive
    from lia_dask.batch import concat_batches
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.noise import NoiseModel, lightcurve_scatter
    from lia_dask.simulate.simulate import simulate_batch

    ingest_directory(OGLE, work / "real")
    real = concat_batches(list(open_archive(work / "real").batches()))
    cad = real.take(np.flatnonzero(real.label == "microlensing")).compact()
    med, _ = lightcurve_scatter(cad)
    cfg = SimulationConfig(min_mag=float(med.min()), max_mag=float(med.max()), seed=7,
                           noise=NoiseModel.from_batch(cad), noise_zeropoint=22.0, exptime=30.0)
    mix = {"CONSTANT": n // 2, "VARIABLE": n // 5, "LPV": n // 10, "CV": n // 10, "ML": n - n // 2 - n // 5 - 2 * (n // 10)}
    return simulate_batch(cad, mix, cfg), real, cad, cfg


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=3000)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--n-multiband", type=int, default=300)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import pandas as pd

    from lia_dask.features.extract import features_frame
    from lia_dask.features.physical import physical_block
    from lia_dask.features.registry import FeatureSettings
    from lia_dask.predict import predict_batch
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_batch
    from lia_dask.train import EnsembleClassifier

    out = {"load_average_start": os.getloadavg()}
    work = Path(tempfile.mkdtemp(prefix="physical_cost_"))
    sb, real, cad, cfg = survey_batches(work, args.n)
    out["n"] = int(sb.n_objects)
    out["median_epochs"] = float(np.median(np.diff(sb.offsets)))
    physical_block(sb.offsets[:3], sb.time, sb.y, sb.yerr, zp=22.0)  # compiled / cache loaded
    for name, b in (("survey", sb), ("real60", real)):
        for periodic in (False, True):
            dt = _best(lambda: physical_block(b.offsets, b.time, b.y, b.yerr, zp=22.0, periodic=periodic), args.rounds)
            out[f"block_us_per_lc_{name}_periodic_{periodic}"] = 1e6 * dt / b.n_objects
    # two models on the same small training set
    train = simulate_batch(cad, 100, SimulationConfig(min_mag=cfg.min_mag, max_mag=cfg.max_mag, seed=1,
                                                      noise=cfg.noise, noise_zeropoint=22.0, exptime=30.0))
    df = features_frame(train, FeatureSettings(zp=22.0, feature_set=PHYS))
    df = df[df["feature_reason"] == 0]
    from lia_dask.features.registry import get_feature_set

    paths = {}
    for fs in (BASE, PHYS):
        m = EnsembleClassifier(model="xgb", random_state=1, cv=2, n_jobs=1).fit(
            df[list(get_feature_set(fs).names)], df["label"].to_numpy(), feature_set=fs,
            feature_settings=FeatureSettings(zp=22.0, convert=True, apply_weights=True, feature_set=fs).to_dict())
        paths[fs] = work / f"model_{fs}"
        m.save(paths[fs], overwrite=True)
        predict_batch(sb.take(np.arange(5)).compact(), paths[fs])  # warm
    times = {fs: np.inf for fs in paths}
    for _ in range(args.rounds):
        for fs, path in paths.items():
            t = time.process_time()
            predict_batch(sb, path)
            times[fs] = min(times[fs], time.process_time() - t)
    for fs, dt in times.items():
        out[f"predict_{fs}_lc_per_cpu_s"] = sb.n_objects / dt
    out["predict_ratio_physical_vs_168"] = times[PHYS] / times[BASE]
    # multi-band joint fit
    from lia_dask.features.multiband import MultibandSettings, multiband_frame
    from lia_dask.features import multiband_fit as MF
    from lia_dask.simulate.cadence import synthetic_cadences
    from lia_dask.simulate.multiband import MultibandSimConfig, simulate_multiband

    pool = synthetic_cadences("lsst", 100, seed=5, years=10.0, start=60600.0)
    k = max(args.n_multiband // 5, 1)
    mb = simulate_multiband(pool, {"CONSTANT": 2 * k, "ML": k, "VARIABLE": k, "CV": k}, MultibandSimConfig(), seed=3)
    captured = {}
    orig = MF.joint_pspl_features

    def spy(*a):
        captured["args"] = a
        return orig(*a)

    import lia_dask.features.multiband as MB
    MB.joint_pspl_features = spy
    try:
        multiband_frame(mb, MultibandSettings())
    finally:
        MB.joint_pspl_features = orig
    a = captured["args"]
    n_obj = len(a[0]) - 1
    out["multiband_objects"] = n_obj
    out["multiband_epochs_per_object"] = float(np.median(np.diff(a[0])))
    dt = _best(lambda: orig(*a), args.rounds)
    out["multiband_joint_fit_ms_per_object"] = 1e3 * dt / n_obj
    shutil.rmtree(work, ignore_errors=True)  # the real archive and the two models
    return report(out, args.json)


def report(out: dict, path: str | None) -> int:
    """Add the end load average to ``out``, print it as JSON and write it to ``path`` (if given)."""
    out["load_average_end"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    if path:
        Path(path).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
