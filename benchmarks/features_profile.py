"""Per-kernel CPU cost of the MicroLIA feature set: where the time per lightcurve goes.

Usage (from the repository root)::

    .venv/bin/python benchmarks/features_profile.py [--points N] [--count K] [--unweighted] [--top 20]

Without ``--points`` it uses the 60 real OGLE-II lightcurves of ``../shared/data/ogle2_dev``;
with it, K simulated lightcurves of N points (as in ``features_vs_microlia.py``). Every kernel is
called on both passes of every lightcurve from Python (dispatch overhead, ~0.5 µs per call, is
measured with an empty kernel and subtracted); times are CPU time (``time.process_time``), best of
7. It also times the batch stages of ``driver.compute_microlia`` (preprocessing, the NumPy
argsorts, the generated numba loop).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numba
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


@numba.njit
def _empty(t, x, s, w, o):
    return 0.0


def main(argv=None) -> int:
    from features_vs_microlia import ogle_lightcurves, simulated

    from lia_dask.features import driver
    from lia_dask.features.preprocess import deriv_pass, flux_pass, preprocess_batch

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--points", type=int, default=None)
    ap.add_argument("--count", type=int, default=20)
    ap.add_argument("--unweighted", action="store_true")
    ap.add_argument("--top", type=int, default=20)
    args = ap.parse_args(argv)
    w = not args.unweighted
    lcs = ogle_lightcurves() if args.points is None else simulated(args.points, args.count)

    from lia_dask.features.registry import kernel_table

    table = kernel_table()
    kernels = {sp.name: sp.kernel for sp in table}
    owner = {sp.name: sp.module.rsplit(".", 1)[-1] for sp in table}
    raw = {sp.name for sp in table if sp.series == "raw"}
    cases = []
    for t, m, e in lcs:
        t0, x0, s0, f0, sf0 = flux_pass(t, m, e, 22.0, True)
        t1, d1, e1, t2, n2, e2 = deriv_pass(t0, f0, sf0, s0)
        cases.append(((t0, x0, s0, np.argsort(x0)), (t2, n2, e2, np.argsort(n2)),
                      (t0, f0, sf0, np.argsort(f0)), (t1, d1, e1, np.argsort(d1))))

    def cost(fn, name, reps=7):
        unnorm = name in raw
        best = np.inf
        for _ in range(reps):
            c0 = time.process_time()
            for flux, deriv, flux_u, deriv_u in cases:
                a, b = (flux_u, deriv_u) if unnorm else (flux, deriv)
                fn(a[0], a[1], a[2], w, a[3])
                fn(b[0], b[1], b[2], w, b[3])
            best = min(best, time.process_time() - c0)
        return best / len(cases) * 1e6

    for name, fn in kernels.items():  # compile / load caches
        cost(fn, name, 1)
    cost(_empty, "", 1)
    base = cost(_empty, "")
    per = {k: max(cost(fn, k) - base, 0.0) for k, fn in kernels.items()}

    off = np.concatenate([[0], np.cumsum([len(a[0]) for a in lcs])]).astype(np.int64)
    T, Y, E = (np.concatenate([a[i] for a in lcs]) for i in range(3))
    driver.compute_microlia(off, T, Y, E, apply_weights=w)

    def stage(f, reps=7):
        best = np.inf
        for _ in range(reps):
            c0 = time.process_time()
            f()
            best = min(best, time.process_time() - c0)
        return best / len(lcs) * 1e6

    p = preprocess_batch(off, T, Y, E)
    t_pre = stage(lambda: preprocess_batch(off, T, Y, E))
    t_ord = stage(lambda: [driver._orders(sr.offsets, sr.value) for sr in (p.flux, p.deriv_raw, p.deriv)])
    t_all = stage(lambda: driver.compute_microlia(off, T, Y, E, apply_weights=w))

    npts = np.mean([len(a[0]) for a in lcs])
    print(f"{len(lcs)} lightcurves, mean {npts:.0f} points, {'weighted' if w else 'unweighted'}; µs per lightcurve (CPU)")
    print(f"compute_microlia total {t_all:.0f} | preprocess {t_pre:.1f} | argsorts {t_ord:.1f} | "
          f"sum of kernels {sum(per.values()):.0f}")
    by_owner = {}
    for k, v in per.items():
        by_owner[owner[k]] = by_owner.get(owner[k], 0.0) + v
    print("by module:", ", ".join(f"{m} {v:.0f}" for m, v in by_owner.items()))
    print(f"\n| kernel | module | µs / lightcurve (both passes) |\n|---|---|---:|")
    for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"| {k} | {owner[k]} | {v:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
