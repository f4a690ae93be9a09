"""MicroLIA 2.8.1 side of benchmarks/simulate_vs_microlia.py (run inside benchmarks/.venv-microlia).

Calls MicroLIA's public functions only; prints one JSON object on stdout.
Usage: python _microlia_simulate.py CADENCE_DIR N_CREATE N_PER_CLASS N_VARIABLE
"""
import contextlib
import glob
import io
import json
import random
import sys
import time

CLOCK = time.process_time  # CPU seconds of this process: per-core cost, robust to other load
import warnings

import numpy as np

warnings.filterwarnings("ignore")
from MicroLIA import extract_features, noise_models, quality_check, simulate, training_set  # noqa: E402

cad_dir, n_create, n_class, n_var = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
timestamps = [np.loadtxt(f)[:, 0] for f in sorted(glob.glob(cad_dir + "/*.dat"))]
MIN, MAX, ZP, EXP = 14.0, 21.0, 24.0, 60.0
out = {"n_cadences": len(timestamps)}

# 1. training_set.create end to end (it stops at the LPV class in 2.8.1)
random.seed(1)
np.random.seed(1)
t = CLOCK()
status = "completed"
with contextlib.redirect_stdout(io.StringIO()):
    try:
        training_set.create(timestamps, min_mag=MIN, max_mag=MAX, zp=ZP, exptime=EXP, n_class=n_create,
                            save_file=False)
    except AttributeError as exc:
        status = f"AttributeError: {exc}"
out["create"] = {"wall_s": CLOCK() - t, "status": status, "n_class": n_create,
                 "lightcurves_before_failure": 3 * n_create if status != "completed" else 5 * n_create}


# 2. per class, the same calls create() makes (cadence, baseline, model, quality loop, noise, extract_all)
def feats(time_, mag, magerr):
    return extract_features.extract_all(time_, mag, magerr, apply_weights=True, convert=True, zp=ZP)


def one(label):
    for _ in range(100):
        tt = random.choice(timestamps)
        base = np.random.uniform(MIN, MAX)
        if label == "VARIABLE":
            mag, _, _ = simulate.rrlyr_variable(tt, base)
        elif label == "CONSTANT":
            mag = simulate.constant(tt, base)
        elif label == "CV":
            mag, s, e, er, eh = simulate.cv(tt, base)
            if not quality_check.test_cv(tt, s, e, er, eh, n1=7, n2=1):
                continue
        elif label == "ML":
            mag, u0, t0, te, b = simulate.microlensing(tt, base, None, None, None)
        mag, magerr = noise_models.add_gaussian_noise(mag, zp=ZP, exptime=EXP)
        if label == "ML" and not quality_check.test_microlensing(tt, mag, magerr, base, u0, t0, te, b, n=7):
            continue
        return tt, mag, magerr
    raise RuntimeError(label)


out["per_class"] = {}
for label in ("VARIABLE", "CONSTANT", "CV", "ML"):
    n = n_var if label == "VARIABLE" else n_class
    random.seed(2)
    np.random.seed(2)
    sim = ext = 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        for _ in range(n):
            t0 = CLOCK()
            lc = one(label)
            t1 = CLOCK()
            feats(*lc)
            t2 = CLOCK()
            sim += t1 - t0
            ext += t2 - t1
    out["per_class"][label] = {"n": n, "simulate_s": sim, "features_s": ext}
print(json.dumps(out))
