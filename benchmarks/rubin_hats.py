"""Rubin-native path: HATS catalog -> multi-band predictions -> HATS catalog, and multi-band vs single-band.

Run: .venv/bin/python benchmarks/rubin_hats.py [--sizes 2000,8000] [--years 10] [--survey-stars 5000]
     [--survey-events 200] [--n-per-class 300] [--skip-throughput] [--skip-accuracy]

1. Throughput and memory (``--sizes``): a synthetic LSST-like catalog (ugrizy, ``--years`` of
   visits, constant stars with 2 % microlensing events) written as HATS by lsdb, classified by a
   multi-band model (g, r, i, z) with ``predict_hats``:
   - single-process path (one pixel at a time, ``_predict_pixel``): objects/s per core;
   - LocalCluster of 2 workers x 1 thread: objects/s, peak worker RSS (sampled every 0.5 s),
     client RSS before / after (it must not grow with the catalog).
2. Multi-band vs best single band (``--survey-*``): one simulated training set (all classes), one
   simulated test survey of constant stars + events + variables; the multi-band model against
   single-band models that see only one band's 168 features (each band tried, the best kept).
   ML recall and false alerts per million non-ML objects (prediction == ML).
MicroLIA has no multi-band or HATS path, so there is no reference run here; per-band feature
speed vs MicroLIA is in features_vs_microlia.py.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def _catalog(n: int, years: float, out: Path, seed: int) -> Path:
    from lia_dask.archive.hats import batch_to_nested, write_hats_catalog
    from lia_dask.simulate.cadence import synthetic_cadences
    from lia_dask.simulate.multiband import MultibandSimConfig, simulate_multiband

    pool = synthetic_cadences("lsst", 200, seed=seed, years=years, start=60600.0)
    frames = []
    step = 2000
    for k in range(0, n, step):  # build in chunks so the generator itself stays small
        m = min(step, n - k)
        mix = {"CONSTANT": m - m // 50, "ML": m // 50}
        b = simulate_multiband(pool, mix, MultibandSimConfig(), seed=seed + k, id_offset=k)
        rng = np.random.default_rng(k)
        frames.append(batch_to_nested(b, rng.uniform(50, 70, m), rng.uniform(-35, -20, m), detection_snr=None))
    import nested_pandas as npd

    frame = npd.NestedFrame(pd.concat(frames, ignore_index=True))
    return write_hats_catalog(frame, out, partition_rows=1000, overwrite=True)


def _model(out: Path, n_per_class: int, bands: tuple[str, ...], years: float, client=None) -> Path:
    from lia_dask.features.multiband import MultibandSettings, load_multiband_features
    from lia_dask.simulate.cadence import synthetic_cadences
    from lia_dask.simulate.multiband import simulate_multiband_archive
    from lia_dask.train.ensemble import EnsembleClassifier

    pool = synthetic_cadences("lsst", 200, seed=99, years=years, start=60600.0)
    arch = simulate_multiband_archive(pool, n_per_class, out / "train", partition_objects=500, client=client,
                                      overwrite=True)
    table = load_multiband_features(arch.path, MultibandSettings(bands=bands), client)
    clf = EnsembleClassifier(model="xgb", impute=False, params={"n_estimators": 200, "max_depth": 6}, random_state=0,
                             n_jobs=2)
    clf.fit(table.X, table.labels, feature_set="multiband", feature_settings=table.feature_settings)
    clf.save(out / "model", overwrite=True)
    return out / "model"


def _warm() -> int:
    """Load the numba kernels in a worker (the first call reads the cache), so timing starts warm."""
    from lia_dask.batch import LightcurveBatch
    from lia_dask.features.multiband import MultibandSettings, multiband_frame

    t = np.linspace(0, 100, 30)
    b = LightcurveBatch.from_lightcurves([1, 1], [t, t], [np.sin(t) + 10, np.cos(t) + 10], [np.ones(30)] * 2,
                                         bands=["g", "r"], photometry="flux")
    return len(multiband_frame(b, MultibandSettings(bands=("g", "r")))[0])


class _Sampler:
    def __init__(self, client):
        self.client, self.peak, self.stop = client, 0, False
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop:
            try:
                self.peak = max(self.peak, max(self.client.run(_rss).values()))
            except Exception:
                pass
            time.sleep(0.5)


def throughput(sizes: list[int], years: float, work: Path) -> list[dict]:
    from distributed import Client, LocalCluster

    from lia_dask.archive.hats import open_hats
    from lia_dask.predict.hats import _predict_pixel, predict_hats
    from lia_dask.predict.lightcurves import PredictConfig, load_model

    model = _model(work / "m", 150, ("g", "r", "i", "z"), years)
    rows = []
    for n in sizes:
        cat = _catalog(n, years, work / f"cat{n}", seed=n)
        src = open_hats(cat)
        m = load_model(model)
        # single process, one core: the first pixel warms numba, then time the others
        frames = [p.compute(scheduler="sync") for p in src.partitions[:4]]
        _predict_pixel(frames[0], src.pixels[0], m, PredictConfig(), src.config)
        t0 = time.perf_counter()
        k = sum(len(_predict_pixel(f, p, m, PredictConfig(), src.config)) for f, p in zip(frames[1:], src.pixels[1:4]))
        per_core = k / (time.perf_counter() - t0)
        n_epochs = int(sum(f["diaObjectForcedSource"].nest.flat_length for f in frames[1:]))
        del frames
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="3GiB") as lc, \
                Client(lc) as client:
            client.run(_warm)
            rss0 = _rss()
            s = _Sampler(client)
            s.t.start()
            rep = predict_hats(cat, model, work / f"pred{n}", client=client, config=PredictConfig(resume=False))
            s.stop = True
            s.t.join()
            rss1 = _rss()
        rows.append({"objects": n, "pixels": rep.partitions, "epochs_per_object": n_epochs / max(k, 1),
                     "per_core_objects_s": per_core, "cluster_objects_s": rep.throughput,
                     "cluster_seconds": rep.seconds, "peak_worker_rss_gib": s.peak / 2**30,
                     "client_rss_before_gib": rss0 / 2**30, "client_rss_after_gib": rss1 / 2**30,
                     "predicted": rep.predicted, "quarantined": rep.quarantined})
        print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(work / f"cat{n}", ignore_errors=True)
        shutil.rmtree(work / f"pred{n}", ignore_errors=True)
    return rows


def accuracy(n_per_class: int, stars: int, events: int, years: float, work: Path) -> dict:
    from lia_dask.features.multiband import CROSS_NAMES, MultibandSettings, multiband_frame
    from lia_dask.simulate.cadence import synthetic_cadences
    from lia_dask.simulate.multiband import MultibandSimConfig, simulate_multiband
    from lia_dask.train.ensemble import EnsembleClassifier

    bands = ("u", "g", "r", "i", "z", "y")
    settings = MultibandSettings(bands=bands)
    pool = synthetic_cadences("lsst", 300, seed=5, years=years, start=60600.0)
    train = simulate_multiband(pool, n_per_class, MultibandSimConfig(), seed=1)
    n_var = max(stars // 50, 20)
    test = simulate_multiband(pool, {"CONSTANT": stars, "ML": events, "VARIABLE": n_var, "LPV": n_var, "CV": n_var},
                              MultibandSimConfig(), seed=2, id_offset=10**9)
    Xtr, _ = multiband_frame(train, settings)
    Xte, _ = multiband_frame(test, settings)
    lab = lambda b, X: pd.Series(b.label, index=b.object_id).groupby(level=0).first().reindex(X["object_id"]).to_numpy()
    ytr, yte = lab(train, Xtr), lab(test, Xte)
    names = settings.feature_names()
    out = {"train_per_class": n_per_class, "test_stars": stars, "test_events": int((yte == "ML").sum()),
           "test_other": int((yte != "ML").sum()), "models": {}}

    def score(cols, key):
        clf = EnsembleClassifier(model="xgb", impute=False, params={"n_estimators": 200, "max_depth": 6},
                                 random_state=0, n_jobs=2)
        clf.fit(Xtr[cols], ytr)
        pred = clf.predict(Xte[cols])
        ml = yte == "ML"
        r = {"recall": float((pred[ml] == "ML").mean()),
             "false_alerts_per_million": float(1e6 * (pred[~ml] == "ML").sum() / max((~ml).sum(), 1)),
             "false_alerts": int((pred[~ml] == "ML").sum()), "accuracy": float((pred == yte).mean())}
        out["models"][key] = r
        print(key, json.dumps(r), flush=True)

    score(names, "multiband (ugrizy + joint fit)")
    score([c for c in names if c not in CROSS_NAMES], "multiband, per-band features only")
    for b in bands:
        score([c for c in names if c.startswith(f"{b}_")], f"single band {b}")
    singles = {k: v for k, v in out["models"].items() if k.startswith("single")}
    best = max(singles, key=lambda k: (singles[k]["recall"], -singles[k]["false_alerts_per_million"]))
    out["best_single"] = best
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="2000,8000")
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--n-per-class", type=int, default=300)
    ap.add_argument("--survey-stars", type=int, default=5000)
    ap.add_argument("--survey-events", type=int, default=200)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rubin_hats_"))
    res = {"load_average": os.getloadavg(), "started": time.strftime("%H:%M UTC", time.gmtime())}
    try:
        if not args.skip_accuracy:
            res["accuracy"] = accuracy(args.n_per_class, args.survey_stars, args.survey_events, args.years, work)
        if not args.skip_throughput:
            res["throughput"] = throughput([int(s) for s in args.sizes.split(",")], args.years, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["load_average_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
