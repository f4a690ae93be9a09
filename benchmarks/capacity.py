"""Per-core figures for the capacity model in docs/scaling.md (one partition, one thread).

Run: .venv/bin/python benchmarks/capacity.py [--epochs 1000 140] [--partition-mb 100] [--json out.json]

For each epochs-per-lightcurve value it builds one archive partition of ~``--partition-mb`` MB
(24 bytes per epoch: time, mag, magerr) of noisy constant stars, writes it as a lia_dask archive
part (Parquet, on local disk), and measures in a fresh child process (so RSS is its own):
- read: ``Archive.read_batch`` of the part (MB/s of in-memory data, page cache warm);
- predict: ``lia_dask.predict.predict_batch`` (features -> impute -> XGBoost) on the whole
  partition, lightcurves per wall second and per CPU second (the latter is what an unshared core
  gives), µs per epoch, single thread (NUMBA_NUM_THREADS=1, XGBoost nthread=1);
- memory: peak RSS of the child while predicting, minus its RSS after the imports and the warm-up.
The model is a small real XGBoost ensemble (features of the bundled OGLE-II lightcurves); model
size barely changes prediction cost, which the 168 features dominate.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
import numpy as np
from lia_dask.archive import open_archive
from lia_dask.predict import load_model, predict_batch
arch, model = open_archive(sys.argv[1]), load_model(sys.argv[2])
booster = getattr(getattr(model.classifier, "predictor_", None), "booster", None)
if booster is not None:
    booster.set_param({"nthread": 1})
warm = arch.read_batch(0).take(np.arange(20))
predict_batch(warm, model)                       # numba cache load, XGBoost init
def rss_mb():
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith("VmRSS")) / 1024
base = rss_mb()
t0 = time.perf_counter(); batch = arch.read_batch(0); t_read = time.perf_counter() - t0
c0 = time.process_time(); t0 = time.perf_counter(); pred, q = predict_batch(batch, model)
t_pred, c_pred = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
mb = batch.n_epochs * 24 / 1e6
print(json.dumps({"n": len(batch), "epochs": int(batch.n_epochs), "data_mb": mb, "read_s": t_read, "read_mb_s": mb / t_read,
                  "predict_s": t_pred, "lc_per_s": len(batch) / t_pred, "predict_cpu_s": c_pred, "lc_per_cpu_s": len(batch) / c_pred, "us_per_epoch": t_pred / batch.n_epochs * 1e6,
                  "rss_base_mb": base, "rss_peak_mb": peak, "peak_over_base_mb": peak - base,
                  "predicted": len(pred), "quarantined": len(q)}))
"""


def make_partition(path: Path, epochs: int, partition_mb: float, seed: int = 0):
    import numpy as np

    from lia_dask.archive import write_archive
    from lia_dask.batch import LightcurveBatch

    n = max(1, int(partition_mb * 1e6 / (24 * epochs)))
    rng = np.random.default_rng(seed)
    t = np.sort(rng.uniform(0, 3000, (n, epochs)), axis=1)
    base = rng.uniform(15, 20, (n, 1))
    err = 0.005 + 0.02 * (base - 15) / 5
    m = base + rng.normal(0, 1, (n, epochs)) * err
    b = LightcurveBatch.from_lightcurves(np.arange(n), list(t), list(m), list(np.broadcast_to(err, (n, epochs))))
    return write_archive(b, path, partition_bytes=1e12)


def make_model(work: Path) -> Path:
    import numpy as np
    import pandas as pd

    from lia_dask.archive import IngestConfig, ingest_directory
    from lia_dask.features.extract import extract_batch_with_reasons
    from lia_dask.features.registry import FeatureSettings
    from lia_dask.train.ensemble import EnsembleClassifier

    root = Path(__file__).resolve().parents[1]
    batch = ingest_directory(root / "tests" / "data" / "ogle2", work / "ogle", IngestConfig()).archive.read_batch(0)
    settings = {"zp": 22.0, "convert": None, "apply_weights": True}
    values, names, _ = extract_batch_with_reasons(batch, FeatureSettings.from_dict(settings))
    rng = np.random.default_rng(0)
    X = pd.DataFrame(np.vstack([values] * 4) * (1 + rng.normal(0, 1e-3, (4 * len(values), values.shape[1]))), columns=names)
    clf = EnsembleClassifier(model="xgb", cv=2, random_state=0, params={"n_estimators": 100, "max_depth": 6})
    clf.fit(X, list(batch.label.astype(str)) * 4, feature_set="microlia-2.8.1", feature_settings=settings)
    clf.save(work / "model")
    return work / "model"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, nargs="+", default=[1000, 140])
    ap.add_argument("--partition-mb", type=float, default=100.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    results = []
    with tempfile.TemporaryDirectory(prefix="lia-capacity-") as tmp:
        work = Path(tmp)
        model = make_model(work)
        for k in args.epochs:
            arch = make_partition(work / f"part{k}", k, args.partition_mb)
            r = subprocess.run([sys.executable, "-c", CHILD, str(arch.path), str(model)], env=env,
                               capture_output=True, text=True, check=True)
            res = {"epochs_per_lc": k, **json.loads(r.stdout.strip().splitlines()[-1]),
                   "loadavg_1min": os.getloadavg()[0]}
            results.append(res)
            print(f"{k:>6} epochs/lc: {res['n']:>7} lc ({res['data_mb']:.0f} MB)  read {res['read_mb_s']:.0f} MB/s  "
                  f"predict {res['lc_per_s']:.0f} lc/s wall, {res['lc_per_cpu_s']:.0f} lc/CPU-s ({res['us_per_epoch']:.2f} µs/epoch wall)  "
                  f"peak RSS +{res['peak_over_base_mb']:.0f} MB over {res['rss_base_mb']:.0f} MB  "
                  f"(load {res['loadavg_1min']:.1f})", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
