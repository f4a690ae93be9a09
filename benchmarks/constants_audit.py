"""Audit of simulated constant stars against the baselines of the real OGLE-II events (issue 11, docs/simulation.md).

Baselines: the shared events (``../shared/data/ogle2_dev/microlensing``) outside t0 ± 3 tE of their PSPL
fit (``lia_dask.predict.fitfilter.fit_batch``), kept when >= 40 epochs remain. Simulated: ``--n``
CONSTANT stars on the same cadences with the same empirical noise model (zp 22, 30 s), once with the
absolute red noise of the earlier default (``red_sigma=0.01, red_fraction=0``) and once with the
current defaults. Statistics per lightcurve: robust scatter / median error, von Neumann ratio η,
fractions of epochs >= 3σ brighter / fainter than the median, longest run of consecutive epochs
>= 3σ (>= 2σ) brighter; quantiles 10 / 50 / 90 % per magnitude bin and overall.

Usage: .venv/bin/python benchmarks/constants_audit.py [--n 3000]
"""
from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OGLE = (ROOT / ".." / "shared" / "data" / "ogle2_dev").resolve()


def stats(m, e):
    from lia_dask.simulate.quality import longest_run

    r = m - np.median(m)
    z = -r / e  # brighter = positive
    one = np.zeros(len(m), np.int64)
    return dict(med=np.median(m), ratio=1.4826 * np.median(np.abs(r)) / np.median(e),
                eta=np.mean(np.diff(m) ** 2) / np.var(m), f_bright3=np.mean(z >= 3), f_faint3=np.mean(z <= -3),
                run3=int(longest_run(z >= 3, one, 1)[0]), run2=int(longest_run(z >= 2, one, 1)[0]))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=3000)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    import tempfile

    from lia_dask.archive import ingest_directory, open_archive
    from lia_dask.batch import concat_batches
    from lia_dask.predict.fitfilter import fit_batch
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.cadence import load_cadences
    from lia_dask.simulate.noise import NoiseModel, lightcurve_scatter
    from lia_dask.simulate.simulate import simulate_range

    with tempfile.TemporaryDirectory() as td:
        ingest_directory(OGLE / "microlensing", Path(td) / "a", labels=False)
        ev = concat_batches(list(open_archive(Path(td) / "a").batches()))
    prm = fit_batch(ev.offsets, ev.time, ev.y, ev.yerr, np.arange(ev.n_objects), zp=22.0, convert=True)
    rows = []
    for i in range(ev.n_objects):
        a, b = ev.offsets[i], ev.offsets[i + 1]
        keep = np.abs(ev.time[a:b] - prm[i, 0]) > 3 * min(max(prm[i, 2], 1.0), 300.0)
        if keep.sum() >= 40:
            rows.append(dict(src="real", **stats(ev.y[a:b][keep], ev.yerr[a:b][keep])))
    nm = NoiseModel.from_batch(ev)
    med, _ = lightcurve_scatter(ev)
    pool = load_cadences(ev)
    base = SimulationConfig(min_mag=float(med.min()), max_mag=float(med.max()), noise=nm, noise_zeropoint=22.0,
                            exptime=30.0, seed=7, classes=("CONSTANT",))
    for name, cfg in (("absolute red noise (before)", base.replace(red_sigma=0.01, red_fraction=0.0)),
                      ("defaults (now)", base)):
        sb = simulate_range([("CONSTANT", args.n)], 0, args.n, pool, cfg)
        for i in range(sb.n_objects):
            a, b = sb.offsets[i], sb.offsets[i + 1]
            ok = np.isfinite(sb.y[a:b])
            rows.append(dict(src=name, **stats(sb.y[a:b][ok], sb.yerr[a:b][ok])))
    d = pd.DataFrame(rows)
    d["I"] = pd.cut(d["med"], [13, 15.5, 17, 18, 19.5])
    q = lambda x: " / ".join(f"{v:.3g}" for v in np.nanquantile(x, [0.1, 0.5, 0.9]))  # noqa: E731
    cols = ["ratio", "eta", "f_bright3", "f_faint3", "run3", "run2"]
    print(d.groupby(["I", "src"], observed=True)[cols].agg(q).to_string())
    print(d.groupby("src")[cols].agg(q).to_string())
    for col, k in (("run3", 3), ("run2", 4)):
        print(f"P({col} >= {k}):", d.groupby("src")[col].apply(lambda s: round(float((s >= k).mean()), 4)).to_dict())
    print("load average", os.getloadavg())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
