"""Audit of the simulated microlensing events against the real OGLE-II events: the same PSPL fit to both.

The PSPL-with-blending fit of ``lia_dask.predict.fitfilter`` (flux = fs A(u) + fb, zero point 22) is run
on the 47 real events of ``../shared/data/ogle2_dev/microlensing`` and on ``--n`` simulated events per
recipe on their cadences with the empirical noise model fitted to them (MicroLIA's OGLE-II recipe):
``microlia`` (``SimulationConfig.microlia()``) and ``survey`` (the defaults). Printed: quantiles
(10/25/50/75/90 %) of the fitted source flux fraction fs/(fs+fb), tE, the peak position
(t0 - t_first)/span, the baseline scatter / median reported error (epochs beyond 2 tE of t0) and the
reduced chi^2 of the fit. Degenerate fits (fs fraction > 1.5, tE > 2000 d) are left out of fs and tE.

Usage: .venv/bin/python benchmarks/simulation_audit.py [--n 300] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OGLE = (ROOT / ".." / "shared" / "data" / "ogle2_dev" / "microlensing").resolve()
Q = (10, 25, 50, 75, 90)


def fit_stats(lcs):
    from lia_dask.predict.fitfilter import fit_pspl

    rows = []
    for t, m, e in lcs:
        F = 10 ** (-0.4 * (m - 22.0))
        Fe = F * e * np.log(10) / 2.5
        t0, u0, tE, fs, fb, chi = fit_pspl(t, F, Fe)
        frac = fs / (fs + fb) if fs + fb > 0 else np.nan
        base = np.abs(t - t0) > 2 * max(tE, 1.0) if np.isfinite(tE) else np.ones(len(t), bool)
        ratio = np.std(m[base]) / np.median(e[base]) if base.sum() > 20 else np.nan
        rows.append((frac, tE, (t0 - t.min()) / (t.max() - t.min()), ratio, chi))
    a = np.asarray(rows, float)
    ok = (a[:, 0] <= 1.5) & (a[:, 1] <= 2000)
    out = {}
    for k, name in enumerate(("fs_fraction", "tE", "t0_position", "scatter_over_error", "chi2_red")):
        v = a[ok, k] if k < 2 else a[:, k]
        v = v[np.isfinite(v)]
        out[name] = [round(float(x), 3) for x in np.percentile(v, Q)] if len(v) else None
    out["n"] = int(len(a))
    out["n_degenerate"] = int((~ok).sum())
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    from lia_dask.batch import LightcurveBatch
    from lia_dask.simulate import NoiseModel, SimulationConfig, load_cadences
    from lia_dask.simulate.simulate import simulate_range

    files = sorted(OGLE.glob("*.dat"))
    real = [tuple(np.loadtxt(f, usecols=(0, 1, 2)).T) for f in files]
    batch = LightcurveBatch.from_lightcurves([f.stem for f in files], *zip(*real))
    noise = NoiseModel.from_batch(batch)
    med = np.array([np.median(m) for _, m, _ in real])
    pool = load_cadences(batch)
    result = {"load_average": os.getloadavg(), "real": fit_stats(real)}
    common = dict(classes=("ML",), min_mag=float(med.min()), max_mag=float(med.max()), noise=noise,
                  noise_zeropoint=22.0, exptime=30.0, seed=args.seed)
    for name, cfg in (("microlia", SimulationConfig.microlia(**common)), ("survey", SimulationConfig(**common))):
        b = simulate_range([("ML", args.n)], 0, args.n, pool, cfg)
        result[name] = fit_stats([(lc.time, lc.y, lc.yerr) for lc in b])
        result[name]["truth_fs_fraction"] = [round(float(x), 3) for x in
                                             np.percentile(1 / (1 + b.extra["sim_blend"]), Q)]
        result[name]["truth_tE"] = [round(float(x), 2) for x in np.percentile(b.extra["sim_tE"], Q)]
    print(json.dumps(result, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
