"""Rubin-native path: HATS catalog -> multi-band predictions -> HATS catalog, and multi-band vs single-band.

Run: .venv/bin/python benchmarks/rubin_hats.py [--sizes 10000,100000] [--objects-per-pixel 5000]
     [--selected 40] [--years 10] [--survey-stars 5000] [--survey-events 200] [--n-per-class 300]
     [--skip-throughput] [--skip-accuracy] [--json OUT]

1. Throughput and memory (``--sizes``): a synthetic LSST-like catalog (ugrizy, ``--years`` of
   visits, 98 % constant stars + 2 % microlensing events) generated and written pixel by pixel on
   the cluster (``simulate_hats_catalog``: one task per HATS pixel, lsdb's writer; the catalog is
   never in memory), then classified by multi-band models (g, r, i, z) with ``predict_hats``:
   - per core: ``_predict_pixel`` on 1,000 objects of one pixel in this process, warm;
   - LocalCluster of 2 workers x 1 thread: objects/s from opening the catalog to the finished HATS
     output, peak worker RSS (sampled every 0.5 s), client RSS before / peak / after;
   - models: all 4 x 168 + 14 joint-fit columns, and (``--selected K``) a model of the K most
     important columns (XGBoost gain; only those are computed at prediction).
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


def _du(path: Path) -> int:
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


def _model(out: Path, n_per_class: int, bands: tuple[str, ...], years: float, selected: int, client) -> list[Path]:
    """A multi-band model on every column, and (selected > 0) one on the ``selected`` most important."""
    from lia_dask.features.multiband import MultibandSettings, load_multiband_features
    from lia_dask.simulate.cadence import synthetic_cadences
    from lia_dask.simulate.multiband import simulate_multiband_archive
    from lia_dask.train.ensemble import EnsembleClassifier

    pool = synthetic_cadences("lsst", 200, seed=99, years=years, start=60600.0)
    arch = simulate_multiband_archive(pool, n_per_class, out / "train", partition_objects=250, client=client,
                                      overwrite=True)
    table = load_multiband_features(arch.path, MultibandSettings(bands=bands), client)

    def fit(cols, name):
        clf = EnsembleClassifier(model="xgb", impute=False, params={"n_estimators": 200, "max_depth": 6},
                                 random_state=0, n_jobs=2)
        clf.fit(table.X[cols], table.labels, feature_set="multiband", feature_settings=table.feature_settings)
        clf.save(out / name, overwrite=True)
        return clf

    full = fit(list(table.X.columns), "model_all")
    paths = [out / "model_all"]
    if selected:
        gain = full.predictor_.booster.get_score(importance_type="gain")
        names = list(full.selected_features_)
        top = sorted(gain, key=gain.get, reverse=True)[:selected]
        cols = [names[int(k[1:])] if k.startswith("f") and k[1:].isdigit() else k for k in top]
        fit([c for c in table.X.columns if c in set(cols)], f"model_top{selected}")
        paths.insert(0, out / f"model_top{selected}")  # the cheaper model first
    return paths


def _warm() -> int:
    """Load the numba kernels in a worker (the first call reads the cache), so timing starts warm."""
    from lia_dask.batch import LightcurveBatch
    from lia_dask.features.multiband import MultibandSettings, multiband_frame

    t = np.linspace(0, 100, 30)
    b = LightcurveBatch.from_lightcurves([1, 1], [t, t], [np.sin(t) + 10, np.cos(t) + 10], [np.ones(30)] * 2,
                                         bands=["g", "r"], photometry="flux")
    return len(multiband_frame(b, MultibandSettings(bands=("g", "r")))[0])


class _Sampler:
    """Peak RSS of the workers (``client.run``) and of this process, every 0.5 s."""

    def __init__(self, client):
        self.client, self.peak, self.client_peak, self.stop = client, 0, _rss(), False
        self.t = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop:
            try:
                self.peak = max(self.peak, max(self.client.run(_rss).values()))
            except Exception:  # a worker restarting: sample again
                pass
            self.client_peak = max(self.client_peak, _rss())
            time.sleep(0.5)

    def __enter__(self):
        self.t.start()
        return self

    def __exit__(self, *exc):
        self.stop = True
        self.t.join()


def _per_core(cat: Path, model: Path, n: int = 1000) -> tuple[float, float]:
    """Objects/s and epochs per object of ``_predict_pixel`` on ``n`` objects of the first pixel, warm."""
    from lia_dask.archive.hats import open_hats
    from lia_dask.predict.hats import _predict_pixel
    from lia_dask.predict.lightcurves import PredictConfig, load_model

    src = open_hats(cat)
    m = load_model(model)
    frame = src.partitions[0].compute(scheduler="sync").iloc[:n]
    _predict_pixel(frame.iloc[:20], src.pixels[0], m, PredictConfig(), src.config)  # warm
    t0 = time.perf_counter()
    k = len(_predict_pixel(frame, src.pixels[0], m, PredictConfig(), src.config))
    rate = k / (time.perf_counter() - t0)
    return rate, frame["diaObjectForcedSource"].nest.flat_length / max(k, 1)


def throughput(sizes: list[int], years: float, work: Path, per_pixel: int, selected: int) -> list[dict]:
    from distributed import Client, LocalCluster

    from lia_dask.predict.hats import predict_hats
    from lia_dask.predict.lightcurves import PredictConfig
    from lia_dask.simulate.cadence import synthetic_cadences
    from lia_dask.simulate.multiband import simulate_hats_catalog

    rows = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit="4GiB",
                      dashboard_address=":0") as lc, Client(lc) as client:
        client.run(_warm)
        models = _model(work / "m", 150, ("g", "r", "i", "z"), years, selected, client)
        pool = synthetic_cadences("lsst", 200, seed=7, years=years, start=60600.0)
        for n in sizes:
            cat = work / f"cat{n}"
            rss0 = _rss()
            t0 = time.perf_counter()
            with _Sampler(client) as sb:
                simulate_hats_catalog(pool, n, cat, objects_per_pixel=per_pixel, seed=n, overwrite=True)
            build = {"build_seconds": time.perf_counter() - t0, "build_objects_s": n / (time.perf_counter() - t0),
                     "catalog_gib": _du(cat) / 2**30, "build_peak_worker_rss_gib": sb.peak / 2**30,
                     "build_client_rss_gib": [rss0 / 2**30, sb.client_peak / 2**30, _rss() / 2**30]}
            print(json.dumps({"objects": n, **build}), flush=True)
            for model in models:
                per_core, epochs = _per_core(cat, model)
                out = work / f"pred{n}"
                rss0 = _rss()
                with _Sampler(client) as s:
                    rep = predict_hats(cat, model, out, client=client, config=PredictConfig(resume=False))
                rows.append({"objects": n, "model": model.name, "pixels": rep.partitions, "epochs_per_object": epochs,
                             "per_core_objects_s": per_core, "cluster_objects_s": rep.throughput,
                             "cluster_seconds": rep.seconds, "peak_worker_rss_gib": s.peak / 2**30,
                             "client_rss_gib": [rss0 / 2**30, s.client_peak / 2**30, _rss() / 2**30],
                             "predicted": rep.predicted, "quarantined": rep.quarantined,
                             "load_average": os.getloadavg(), **build})
                print(json.dumps(rows[-1]), flush=True)
                shutil.rmtree(out, ignore_errors=True)
            shutil.rmtree(cat, ignore_errors=True)
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
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--objects-per-pixel", type=int, default=5000)
    ap.add_argument("--selected", type=int, default=40, help="also a model of the K most important columns (0: no)")
    ap.add_argument("--workdir", default=None, help="scratch directory (default: a temporary one)")
    ap.add_argument("--years", type=float, default=10.0)
    ap.add_argument("--n-per-class", type=int, default=300)
    ap.add_argument("--survey-stars", type=int, default=5000)
    ap.add_argument("--survey-events", type=int, default=200)
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-accuracy", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="rubin_hats_", dir=args.workdir))
    res = {"load_average": os.getloadavg(), "started": time.strftime("%H:%M UTC", time.gmtime())}
    try:
        if not args.skip_accuracy:
            res["accuracy"] = accuracy(args.n_per_class, args.survey_stars, args.survey_events, args.years, work)
        if not args.skip_throughput:
            res["throughput"] = throughput([int(s) for s in args.sizes.split(",")], args.years, work,
                                           args.objects_per_pixel, args.selected)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["load_average_end"] = os.getloadavg()
    print(json.dumps(res, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
