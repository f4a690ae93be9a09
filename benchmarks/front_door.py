"""The front door, measured: notebook imports and lines, ``import lia_dask`` time, and one-lightcurve
``predict(time, mag, magerr)`` first and warm, side by side with MicroLIA 2.8.1's ``predict``.

Run: .venv/bin/python benchmarks/front_door.py [--n-per-class 100] [--warm 30] [--before 7dc92fc]

1. Notebook flow (``notebooks/01_survey_classification.ipynb``): import statements, lia_dask
   modules imported and code lines, at git revision ``--before`` and now.
2. ``import lia_dask``: wall time (median of 5 fresh interpreters) and modules loaded, at
   ``--before`` (extracted with ``git archive``) and now.
3. One lightcurve: both sides trained on the same simulated feature table (OGLE-II cadences,
   XGBoost); the 60 real OGLE-II lightcurves classified one at a time. lia_dask:
   ``lia.load_model(path).predict(time, mag, magerr)`` in a fresh interpreter (first call, then
   the median of ``--warm`` calls); MicroLIA: ``Classifier(...).create()`` then
   ``predict(time, mag, magerr, convert=True, zp=22)`` in ``benchmarks/.venv-microlia`` (made by
   features_vs_microlia.py), same timings. Single thread on both sides.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
VPY = ROOT / "benchmarks" / ".venv-microlia" / "bin" / "python"
NOTEBOOK = "notebooks/01_survey_classification.ipynb"

LIA_ONE = r"""
import json, sys, time
import numpy as np
t0 = time.perf_counter()
import lia_dask as lia
model = lia.load_model(sys.argv[1])
t_load = time.perf_counter() - t0
d = np.load(sys.argv[2])
off, t, m, e = d["off"], d["t"], d["m"], d["e"]
lcs = [(t[a:b], m[a:b], e[a:b]) for a, b in zip(off[:-1], off[1:])]
t0 = time.perf_counter(); first = model.predict(*lcs[0]); t_first = time.perf_counter() - t0
warm, labels = [], []
for k in range(int(sys.argv[3])):
    lc = lcs[k % len(lcs)]
    t0 = time.perf_counter(); labels.append(model.predict(*lc)); warm.append(time.perf_counter() - t0)
t0 = time.perf_counter(); many = model.predict([x[0] for x in lcs], [x[1] for x in lcs], [x[2] for x in lcs])
t_list = time.perf_counter() - t0
json.dump({"load_s": t_load, "first_s": t_first, "warm_median_s": float(np.median(warm)), "list_s": t_list,
           "n_list": len(lcs), "labels": [str(x) for x in many]}, open(sys.argv[4], "w"))
"""

MICROLIA_ONE = r"""
import contextlib, io, json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
t0 = time.perf_counter()
from MicroLIA.ensemble_model import Classifier
d = np.load(sys.argv[1], allow_pickle=False)
with contextlib.redirect_stdout(io.StringIO()):
    clf = Classifier(d["data_x"], d["data_y"], clf="xgb", impute=True)
    clf.create()
t_load = time.perf_counter() - t0
off, t, m, e = d["off"], d["t"], d["m"], d["e"]
lcs = [(t[a:b], m[a:b], e[a:b]) for a, b in zip(off[:-1], off[1:])]
def one(lc):
    with contextlib.redirect_stdout(io.StringIO()):
        p = clf.predict(lc[0], lc[1], lc[2], convert=True, zp=22)
    return str(p[np.argmax(p[:, 1].astype(float)), 0])
t0 = time.perf_counter(); one(lcs[0]); t_first = time.perf_counter() - t0
warm = []
for k in range(int(sys.argv[2])):
    t0 = time.perf_counter(); one(lcs[k % len(lcs)]); warm.append(time.perf_counter() - t0)
json.dump({"load_s": t_load, "first_s": t_first, "warm_median_s": float(np.median(warm))}, open(sys.argv[3], "w"))
"""


def single_thread_env(pythonpath: Path | None = None) -> dict:
    env = dict(os.environ)
    for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
        env[k] = "1"
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    return env


def notebook_counts(source: str) -> dict:
    nb = json.loads(source)
    code = [ln for c in nb["cells"] if c["cell_type"] == "code"
            for ln in "".join(c["source"]).splitlines()]
    lines = [ln for ln in code if ln.strip() and not ln.strip().startswith("#")]
    imports = [ln.strip() for ln in lines if ln.startswith(("import ", "from "))]
    lia_modules = sorted({ln.split()[1] for ln in imports if ln.split()[1].startswith("lia_dask")})
    return {"import_statements": len(imports), "lia_dask_modules": len(lia_modules), "modules": lia_modules,
            "code_lines": len(lines)}


def import_time(pythonpath: Path, repeats: int = 5) -> dict:
    code = ("import time, sys; t = time.perf_counter(); import lia_dask; "
            "print(time.perf_counter() - t, len(sys.modules), 'distributed' in sys.modules)")
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env=single_thread_env(pythonpath), cwd=tempfile.gettempdir(), check=True)
        runs.append(out.stdout.split())
    secs = sorted(float(r[0]) for r in runs)
    return {"seconds_median": secs[len(secs) // 2], "modules": int(runs[-1][1]), "distributed": runs[-1][2] == "True"}


def old_tree(rev: str, dest: Path) -> Path:
    data = subprocess.run(["git", "archive", rev, "lia_dask"], cwd=ROOT, capture_output=True, check=True).stdout
    tar = dest / "old.tar"
    tar.write_bytes(data)
    with tarfile.open(tar) as tf:
        tf.extractall(dest / "old", filter="data")
    return dest / "old"


def build_model(work: Path, n_per_class: int):
    """Training features (OGLE-II cadences and noise) -> lia_dask artifact; real lightcurves as arrays."""
    import lia_dask as lia
    from lia_dask.features import get_feature_set

    lia.client(n_workers=1, threads_per_worker=1)  # one worker: the measurement is single-thread
    real = lia.ingest(lia.ogle2_samples(), work / "ogle2", files_per_partition=20).archive
    training = lia.simulate_training_set(real, n_per_class, work / "train", seed=11, progress=False)
    feats = lia.extract_features(training, progress=False)
    names = list(get_feature_set().names)
    feats = feats[feats["feature_reason"] == 0]
    lia.train_classifier(feats, out=work / "model", cv=3, random_state=0, evaluate=False, n_jobs=1)
    lcs = [lc for b in real.batches() for lc in b]
    off = np.concatenate([[0], np.cumsum([len(lc.time) for lc in lcs])])
    np.savez(work / "data.npz", data_x=feats[names].to_numpy(np.float64), data_y=feats["label"].to_numpy(str),
             off=off, t=np.concatenate([lc.time for lc in lcs]), m=np.concatenate([lc.y for lc in lcs]),
             e=np.concatenate([lc.yerr for lc in lcs]))
    return work / "model", work / "data.npz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-per-class", type=int, default=100)
    ap.add_argument("--warm", type=int, default=30)
    ap.add_argument("--before", default="7dc92fc", help="git revision before the public API")
    args = ap.parse_args()
    res: dict = {"load_average": os.getloadavg()}
    old_nb = subprocess.run(["git", "show", f"{args.before}:{NOTEBOOK}"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    res["notebook_before"] = notebook_counts(old_nb)
    res["notebook_after"] = notebook_counts((ROOT / NOTEBOOK).read_text())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        res["import_before"] = import_time(old_tree(args.before, tmp))
        res["import_after"] = import_time(ROOT)
        model, data = build_model(tmp, args.n_per_class)
        out = tmp / "lia.json"
        subprocess.run([sys.executable, "-c", LIA_ONE, str(model), str(data), str(args.warm), str(out)],
                       env=single_thread_env(ROOT), check=True)
        res["lia_dask_predict_one"] = {k: v for k, v in json.loads(out.read_text()).items() if k != "labels"}
        if VPY.exists():
            out = tmp / "microlia.json"
            r = subprocess.run([str(VPY), "-c", MICROLIA_ONE, str(data), str(args.warm), str(out)],
                               env=single_thread_env(), capture_output=True, text=True)
            res["microlia_predict_one"] = json.loads(out.read_text()) if r.returncode == 0 else {"error": r.stderr[-500:]}
        else:
            res["microlia_predict_one"] = "benchmarks/.venv-microlia missing (run features_vs_microlia.py first)"
    res["load_average_after"] = os.getloadavg()
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
