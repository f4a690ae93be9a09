"""Per value: lia_dask's subset compute vs light-curve (Rust) on the statistics both packages compute.

Usage (from the repository root)::

    .venv/bin/python benchmarks/features_vs_lightcurve.py [--json OUT.json]

light-curve 0.13.3 runs in the benchmark virtualenv ``benchmarks/.venv-microlia`` (``pip install
light-curve==0.13.3`` there; it is not a dependency of lia_dask), in a subprocess pinned to the
same CPU core (or the interpreter named by ``LIA_LIGHTCURVE_PYTHON``). Both sides get the 60 shared OGLE-II lightcurves (``../shared/data/ogle2_dev``),
light-curve in magnitudes (its features are defined on magnitudes), lia_dask in magnitudes
converted with zp 22, weighted, computing only the matched columns (``FeatureSettings.features``).
Each side is timed alone per statistic (one feature / one column) and all matched statistics at
once (lia_dask: one subset; light-curve: one ``Extractor`` over all lightcurves with ``many``,
one thread), CPU time of one core, best of 5, reported as µs per value (per lightcurve and
statistic). lia_dask's time includes its shared passes (preprocessing, sort) because a subset
pays them; light-curve computes nothing it is not asked for.

``--as-given``: lia_dask takes the magnitudes as given (``convert=False``: no magnitude -> flux
conversion, one ``pow`` per epoch, which light-curve does not do either); the values are then
those of the statistics on the magnitudes, not MicroLIA's, so this run measures the machinery only.

Which comparison is the fair one (speed14e): ``--as-given``. Both packages then receive the same
numbers and compute the statistic on them; light-curve never converts, and a light-curve user who
wants MicroLIA's values (statistics of the max-normalised flux) pays the same conversion (a
``pow`` per epoch, ~1.5-1.8 µs per 166-point lightcurve) outside it. The default run (MicroLIA's
conversion inside lia_dask's time) is reported next to it: it is what a MicroLIA-compatible column
costs end to end, against light-curve's cost of a statistic of the magnitudes.
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
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
#: the interpreter with light-curve installed (``LIA_LIGHTCURVE_PYTHON`` overrides the benchmark virtualenv)
VPY = Path(os.environ.get("LIA_LIGHTCURVE_PYTHON", ROOT / "benchmarks" / ".venv-microlia" / "bin" / "python"))

#: statistic -> (lia_dask columns, light-curve constructor expression)
PAIRS = {
    "amplitude": (["amplitude"], "lc.Amplitude()"),
    "skew": (["skewness"], "lc.Skew()"),
    "kurtosis": (["kurtosis"], "lc.Kurtosis()"),
    "Stetson K": (["stetsonK"], "lc.StetsonK()"),
    "beyond 1 std": (["above1", "below1"], "lc.BeyondNStd(1.0)"),
    "MAD": (["medianAbsDev"], "lc.MedianAbsoluteDeviation()"),
    "von Neumann / eta": (["vonNeumannRatio"], "lc.Eta()"),
    "linear trend": (["LinearTrend"], "lc.LinearTrend()"),
    "max slope": (["MaxSlope"], "lc.MaximumSlope()"),
    "percent amplitude": (["PercentAmplitude"], "lc.PercentAmplitude()"),
    "median buffer range": (["median_buffer_range"], "lc.MedianBufferRangePercentage(0.1)"),
    "percentile ratio (mid 50)": (["FluxPercentileRatioMid50"], "lc.MagnitudePercentageRatio(0.25, 0.05)"),
    "percent difference percentile": (["PercentDifferenceFluxPercentile"],
                                      "lc.PercentDifferenceMagnitudePercentile(0.05)"),
    "Anderson-Darling": (["AndersonDarling"], "lc.AndersonDarlingNormal()"),
    "cusum": (["cusum"], "lc.Cusum()"),
}

RUNNER = r"""
import json, sys, time, numpy as np
import light_curve as lc
d = np.load(sys.argv[1]); off, t, m, e = d["off"], d["t"], d["m"], d["e"]
lcs = [(t[a:b].copy(), m[a:b].copy(), e[a:b].copy()) for a, b in zip(off[:-1], off[1:])]
pairs = json.loads(sys.argv[2]); out = {}
for name, expr in pairs.items():
    f = eval(expr)
    for tt, mm, ee in lcs:  # warm-up
        f(tt, mm, ee, sorted=True, check=False)
    best = 1e9
    for _ in range(5):
        c0 = time.process_time()
        for tt, mm, ee in lcs:
            f(tt, mm, ee, sorted=True, check=False)
        best = min(best, time.process_time() - c0)
    out[name] = best / len(lcs) * 1e6
ext = lc.Extractor(*[eval(expr) for expr in pairs.values()])
ext.many(lcs, sorted=True, check=False, n_jobs=1)
best = 1e9
for _ in range(5):
    c0 = time.process_time()
    ext.many(lcs, sorted=True, check=False, n_jobs=1)
    best = min(best, time.process_time() - c0)
out["_extractor_per_value"] = best / len(lcs) / len(pairs) * 1e6
print(json.dumps(out))
"""


def lia_costs(lcs, convert: bool = True) -> dict:
    from lia_dask.features import get_feature_set

    fs = get_feature_set()
    off = np.concatenate([[0], np.cumsum([len(a[0]) for a in lcs])]).astype(np.int64)
    T, M, E = (np.concatenate([a[j] for a in lcs]) for j in range(3))

    def cost(cols):
        comp = fs.restrict(cols).compute
        comp(off, T, M, E, zp=22.0, convert=convert, apply_weights=True)  # compile / cache load
        best = np.inf
        for _ in range(5):
            c0 = time.process_time()
            comp(off, T, M, E, zp=22.0, convert=convert, apply_weights=True)
            best = min(best, time.process_time() - c0)
        return best / len(lcs) * 1e6

    out = {name: cost(cols) / len(cols) for name, (cols, _) in PAIRS.items()}
    allcols = [c for cols, _ in PAIRS.values() for c in cols]
    out["_matched_subset_per_value"] = cost(allcols) / len(allcols)
    out["_all_168_per_value"] = cost(list(fs.names)) / 168
    return out


def main(argv=None) -> int:
    from features_vs_microlia import ogle_lightcurves, pin_one_core

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", default=None)
    ap.add_argument("--as-given", action="store_true", help="lia_dask without the magnitude -> flux conversion")
    args = ap.parse_args(argv)
    core = pin_one_core()
    lcs = ogle_lightcurves()
    lia = lia_costs(lcs, convert=not args.as_given)
    with tempfile.TemporaryDirectory() as tmp:
        off = np.concatenate([[0], np.cumsum([len(a[0]) for a in lcs])]).astype(np.int64)
        np.savez(Path(tmp) / "in.npz", off=off, t=np.concatenate([a[0] for a in lcs]),
                 m=np.concatenate([a[1] for a in lcs]), e=np.concatenate([a[2] for a in lcs]))
        (Path(tmp) / "run.py").write_text(RUNNER)
        r = subprocess.run(["taskset", "-c", str(core), str(VPY), str(Path(tmp) / "run.py"), str(Path(tmp) / "in.npz"),
                            json.dumps({k: v[1] for k, v in PAIRS.items()})], capture_output=True, text=True,
                           env=dict(os.environ, OMP_NUM_THREADS="1"))
        if r.returncode != 0:
            raise SystemExit(f"light-curve run failed (is light-curve==0.13.3 installed in {VPY}?):\n{r.stderr[-2000:]}")
        rust = json.loads(r.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    print(f"60 OGLE-II lightcurves, mean {np.mean([len(a[0]) for a in lcs]):.0f} points; core {core}; "
          f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}; µs per value (CPU, best of 5); "
          f"lia_dask {'on the magnitudes as given (convert=False)' if args.as_given else 'converted to flux (zp 22)'}")
    print("\n| statistic | lia_dask µs/value (alone) | light-curve µs/value | ratio lia/lc |\n|---|---:|---:|---:|")
    for name in PAIRS:
        print(f"| {name} | {lia[name]:.2f} | {rust[name]:.2f} | {lia[name] / rust[name]:.2f} |")
    print(f"| all matched at once | {lia['_matched_subset_per_value']:.2f} | {rust['_extractor_per_value']:.2f} | "
          f"{lia['_matched_subset_per_value'] / rust['_extractor_per_value']:.2f} |")
    print(f"\nlia_dask, the {sum(len(c) for c, _ in PAIRS.values())} matched columns in one subset: "
          f"{lia['_matched_subset_per_value']:.2f} µs/value; all 168: {lia['_all_168_per_value']:.2f} µs/value; "
          f"light-curve, one Extractor of its {len(PAIRS)} over all lightcurves (`many`, 1 thread): "
          f"{rust['_extractor_per_value']:.2f} µs/value")
    if args.json:
        Path(args.json).write_text(json.dumps({"lia_dask": lia, "light_curve": rust, "load": load}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
