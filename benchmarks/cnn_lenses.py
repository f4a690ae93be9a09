"""CNN lens finding at survey difficulty: challenge metrics, training / inference throughput,
CLI start-up, partitioned inference.

Measures, in one run (results written after every stage, so a run cut short keeps what it did):

* the survey-difficulty set (``LensSimConfig.survey()``: LSST g, r, i, theta_E 0.5-2", source
  S/N 5-150, eight kinds of confusers; see docs/cnn.md), simulated into Zarr stores: training
  (seed 11) and held-out test (seed 12) sets;
* a DeepLens-style ResNet, an AlexNet and a VGG16 (``--models``) trained on it (tf.data pipeline, batched TF
  augmentation), each stopped at the end of the epoch that passes ``--budget-s``; on the test set
  AUROC, TPR0, TPR10, TPR at 1 % / 0.1 % FPR; ROC curves on a log-FPR axis
  (``_work/cnn_lenses_roc{tag}.png``);
* the "old" model: the same ResNet trained on the easy set of the previous stage
  (``LensSimConfig()``, seed 1) and applied to the hard test set, with its own normalisation and
  with the normalisation refit on the hard set;
* with ``--rot90`` the training draws all 8 orientations of the square; with
  ``--average-orientations`` each model is also scored on the mean prediction over the 8
  orientations (``orientations_averaged`` in the results; the saved artifact then predicts so);
  lens vs plain elliptical AUROC per lensed-source S/N bin for every model;
* steady-state training images/s (epochs after the first; wall clock and per process CPU second),
  single-process inference images/s;
* CLI start-up + tracing: ``lia-dask cnn train`` on a small store, total wall time minus the
  steady-state epoch time Keras reports;
* partitioned inference (``predict_cutouts``) on a LocalCluster of 1 and 2 single-threaded workers.

Usage::

    .venv/bin/python benchmarks/cnn_lenses.py --n-train 20000 --n-test 5000 --budget-s 900

Results go to ``benchmarks/_work/cnn_lenses_results{tag}.json`` and are printed.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timer_callback(budget_s: float):
    from lia_dask.cnn._tf import keras

    class EpochTimer(keras().callbacks.Callback):
        """Wall and process-CPU seconds per epoch; stops training after the epoch passing the budget."""

        def __init__(self):
            super().__init__()
            self.wall, self.cpu, self.t0 = [], [], time.perf_counter()

        def on_epoch_begin(self, epoch, logs=None):
            self._w, self._c = time.perf_counter(), time.process_time()

        def on_epoch_end(self, epoch, logs=None):
            self.wall.append(time.perf_counter() - self._w)
            self.cpu.append(time.process_time() - self._c)
            if time.perf_counter() - self.t0 > budget_s:
                self.model.stop_training = True

    return EpochTimer()


def _sim_chunk(args):
    import zarr

    from lia_dask.cnn.simulate_lenses import _plan, _render

    path, n, cfg, seed, start, stop = args
    is_lens, seeds = _plan(n, cfg, seed)
    images, truth = _render(is_lens[start:stop], seeds[start:stop], cfg)
    zarr.open_group(path, mode="r+")["images"][start:stop] = images
    return truth


def simulate_parallel(path, n, cfg, seed, chunk, workers=2):
    """``simulate_lens_store`` with the chunks rendered by ``workers`` processes (same images).

    Returns the store and the simulation truth (one row per cutout, written next to the store as
    ``truth.parquet``)."""
    import pandas as pd

    from concurrent.futures import ProcessPoolExecutor

    from lia_dask.archive import create_cutout_store, open_cutouts
    from lia_dask.cnn.simulate_lenses import LENS, NONLENS, _plan

    is_lens, _ = _plan(n, cfg, seed)
    create_cutout_store(path, n, (cfg.image_size, cfg.image_size, len(cfg.bands)), np.arange(n),
                        np.where(is_lens, LENS, NONLENS), bands=list(cfg.bands), pixel_scale=cfg.pixel_scale,
                        chunk=chunk)
    jobs = [(str(path), n, cfg, seed, s, min(n, s + chunk)) for s in range(0, n, chunk)]
    with ProcessPoolExecutor(workers) as ex:
        truth = pd.DataFrame([row for rows in ex.map(_sim_chunk, jobs) for row in rows])
    assert len(truth) == n and np.array_equal(truth.is_lens.to_numpy(), is_lens)
    truth.to_parquet(Path(path).with_suffix(".truth.parquet"))
    return open_cutouts(path), truth


def _store(args, work, name, n, cfg, seed):
    """A simulated store: reused from ``--stores`` when it holds ``name.zarr`` of ``n`` cutouts (same
    seed, as written by :func:`simulate_parallel`), else simulated into ``work``."""
    import pandas as pd

    from lia_dask.archive import open_cutouts

    if args.stores:
        path = Path(args.stores) / f"{name}.zarr"
        if path.exists() and open_cutouts(path).n_images == n:
            return open_cutouts(path), pd.read_parquet(path.with_suffix(".truth.parquet"))
    return simulate_parallel(work / f"{name}.zarr", n, cfg, seed, args.chunk)


def _train(name, cfg, store, n_seen_per_epoch, budget_s, res, work):
    from lia_dask.cnn import CNNClassifier

    cb = _timer_callback(budget_s)
    t = time.perf_counter()
    clf = CNNClassifier(cfg).fit(store, callbacks=[cb])
    steady = cb.wall[1:] or cb.wall
    steady_cpu = cb.cpu[1:] or cb.cpu
    out = {"train_s": time.perf_counter() - t, "epochs_run": len(cb.wall), "epoch_wall_s": cb.wall,
           "epoch_cpu_s": cb.cpu, "n_params": int(clf.model_.count_params()),
           "first_epoch_images_per_s": n_seen_per_epoch / cb.wall[0],
           "steady_images_per_s": n_seen_per_epoch / float(np.mean(steady)),
           "steady_images_per_s_per_core": n_seen_per_epoch / float(np.mean(steady)) / os.cpu_count(),
           "steady_images_per_cpu_s": n_seen_per_epoch / float(np.mean(steady_cpu)),
           "history": clf.history_, "load_average_after": os.getloadavg()}
    clf.save(work / f"model_{name}", overwrite=True)
    out["artifact"] = str(work / f"model_{name}")
    res[name] = out
    return clf


def _lens_vs_elliptical(truth, y, p) -> dict:
    """AUROC of lenses against plain ellipticals only, overall and per lensed-source S/N bin."""
    from lia_dask.cnn.metrics import rank_auc

    sel = y | (truth.kind == "elliptical").to_numpy()
    out = {"all": rank_auc(y[sel], p[sel])}
    for lo, hi in [(5, 20), (20, 40), (40, 80), (80, 150)]:
        s2 = sel & (~y | ((truth.source_snr >= lo) & (truth.source_snr < hi)).to_numpy())
        out[f"snr_{lo}_{hi}"] = rank_auc(y[s2], p[s2])
    return out


def _score(clf, test, y, key, res, truth=None, orientations=False):
    """Challenge metrics of ``clf`` on the test store; with ``orientations`` also (under
    ``orientations_averaged``) those of the mean prediction over the 8 orientations. Returns the
    plain predictions and the averaged ones (None without)."""
    from lia_dask.cnn.evaluate import breakdown, challenge_metrics

    def run(avg):
        clf.config.average_orientations = avg
        clf.predict_positive(test.images[:64].compute())  # warm the predict function
        t, c = time.perf_counter(), time.process_time()
        p = clf.predict_positive(test)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        r = dict(challenge_metrics(y, p), infer_images_per_s=len(p) / dt,
                 infer_images_per_s_per_core=len(p) / dt / os.cpu_count(), infer_images_per_cpu_s=len(p) / dc)
        if truth is not None:
            r["lens_vs_elliptical"] = _lens_vs_elliptical(truth, y, p)
            r["breakdown_at_1pct_fpr"] = breakdown(truth, y, p, 0.01).to_dict(orient="records")
            r["breakdown_at_10pct_fpr"] = breakdown(truth, y, p, 0.10).to_dict(orient="records")
        return p, r

    p, r = run(False)
    res[key].update(r)
    p8 = None
    if orientations:
        p8, res[key]["orientations_averaged"] = run(True)
        clf.save(res[key]["artifact"], overwrite=True)  # the artifact predicts averaged
    return p, p8


def _cli_startup(work, res):
    """Wall time of a short ``lia-dask cnn train`` minus the steady epoch time Keras prints."""
    from lia_dask.cnn import LensSimConfig, simulate_lens_store

    simulate_lens_store(work / "cli.zarr", 1024, LensSimConfig.survey(), seed=21, chunk=256, overwrite=True)
    cmd = [sys.executable, "-m", "lia_dask", "cnn", "train", str(work / "cli.zarr"), "--out", str(work / "cli_model"),
           "--epochs", "2", "--width", "0.5", "--image-size", "44", "--batch-size", "64", "--flip", "--shift", "2",
           "--overwrite"]
    import resource

    def child_cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_CHILDREN)
        return r.ru_utime + r.ru_stime

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t, c = time.perf_counter(), child_cpu()
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    total, total_cpu = time.perf_counter() - t, child_cpu() - c
    secs = [float(s) for s in re.findall(r"^\s*\d+/\d+ - (\d+(?:\.\d+)?)s", out.stdout + out.stderr, re.M)]
    steady = secs[1] if len(secs) > 1 else float("nan")
    t, c = time.perf_counter(), child_cpu()
    subprocess.run([sys.executable, "-c", "import lia_dask.cli, lia_dask.cnn.train, tensorflow, keras"], env=env,
                   check=True, capture_output=True)
    res["cli"] = {"total_s": total, "total_cpu_s": total_cpu, "keras_epoch_s": secs,
                  "startup_and_tracing_s": total - 2 * steady, "import_s": time.perf_counter() - t,
                  "import_cpu_s": child_cpu() - c, "images": 1024, "load_average": os.getloadavg()}


def _cluster_inference(test, p_ref, work, res):
    os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
    from distributed import Client, LocalCluster

    from lia_dask.predict.cutouts import predict_cutouts, read_predictions

    scaling = {}
    for nw in (1, 2):
        with LocalCluster(n_workers=nw, threads_per_worker=1, processes=True, dashboard_address=":0",
                          memory_limit="4GiB") as cluster, Client(cluster) as client:
            predict_cutouts(test, work / "model_resnet", work / f"warm{nw}", client=client)  # loads the model
            cpu0 = sum(client.run(time.process_time).values())
            t = time.perf_counter()
            s = predict_cutouts(test, work / "model_resnet", work / f"pred{nw}", client=client)
            dt = time.perf_counter() - t
            cpu = sum(client.run(time.process_time).values()) - cpu0
        got = read_predictions(work / f"pred{nw}")
        scaling[nw] = {"seconds": dt, "images_per_s": s.predicted / dt, "worker_cpu_s": cpu,
                       "images_per_worker_cpu_s": s.predicted / cpu, "load_average": os.getloadavg(),
                       "max_abs_diff_vs_single_process": float(np.abs(got.prob.to_numpy() - p_ref).max())}
    scaling["speedup_2_vs_1"] = scaling[1]["seconds"] / scaling[2]["seconds"]
    res["cluster_inference"] = scaling


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=20000)
    ap.add_argument("--n-test", type=int, default=5000)
    ap.add_argument("--n-easy", type=int, default=4000)
    ap.add_argument("--epochs", type=int, default=8, help="epochs of the ResNet (cosine schedule over them)")
    ap.add_argument("--alexnet-epochs", type=int, default=5)
    ap.add_argument("--easy-epochs", type=int, default=3)
    ap.add_argument("--stretch", default="linear", choices=["linear", "asinh"])
    ap.add_argument("--budget-s", type=float, default=1500.0, help="training seconds of the ResNet (hard set)")
    ap.add_argument("--alexnet-budget-s", type=float, default=700.0)
    ap.add_argument("--vgg16-epochs", type=int, default=5)
    ap.add_argument("--vgg16-budget-s", type=float, default=700.0)
    ap.add_argument("--vgg16-width", type=float, default=0.25, help="VGG16 width multiplier (filters and dense units)")
    ap.add_argument("--easy-budget-s", type=float, default=300.0)
    ap.add_argument("--colour-residuals", action="store_true", help="add the b - k*ref colour residual channels")
    ap.add_argument("--no-psf-match", action="store_true",
                    help="colour residuals without blurring the reference band to each band's seeing (cnn16c)")
    ap.add_argument("--jit", action="store_true", help="XLA-compile the training step (also on CPU)")
    ap.add_argument("--rot90", action="store_true", help="train with random rotations by multiples of 90 degrees "
                                                         "(with the flips: the 8 orientations of the square)")
    ap.add_argument("--average-orientations", action="store_true",
                    help="also score the mean prediction over the 8 orientations (the saved artifacts then use it)")
    ap.add_argument("--width", type=float, default=0.5, help="ResNet width multiplier")
    ap.add_argument("--patience", type=int, default=4, help="early stopping on val_auc (epochs)")
    ap.add_argument("--stores", default=None, help="directory of stores written earlier by simulate_parallel "
                                                   "(train / test / easy / easy_test .zarr) to reuse")
    ap.add_argument("--seeds", default="11,12", help="simulation seeds of the training and test stores "
                                                    "(development runs use others, e.g. 41,42)")
    ap.add_argument("--image-size", type=int, default=44)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--chunk", type=int, default=500)
    ap.add_argument("--models", default="resnet,alexnet,easy")
    ap.add_argument("--skip-cli", action="store_true")
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "_work" / "cnn_lenses"))
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    from lia_dask.cnn import AugmentConfig, CNNConfig, LensSimConfig, Normalization
    from lia_dask.cnn.data import ZarrSource, fit_normalization
    from lia_dask.cnn.evaluate import plot_roc

    work = Path(args.work + args.tag)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out_json = work.parent / f"cnn_lenses_results{args.tag}.json"
    res: dict = {"cores": os.cpu_count(), "args": vars(args), "load_average_start": os.getloadavg()}

    def dump():
        out_json.write_text(json.dumps(res, indent=1, default=float))

    models = args.models.split(",")
    t = time.perf_counter()
    hard = LensSimConfig.survey()
    seed_train, seed_test = (int(v) for v in args.seeds.split(","))
    train, train_truth = _store(args, work, "train", args.n_train, hard, seed_train)
    test, test_truth = _store(args, work, "test", args.n_test, hard, seed_test)
    lenses = train_truth[train_truth.is_lens]
    res["lens_definition"] = {"min_source_pixels": hard.min_source_pixels, "min_magnification": hard.min_magnification,
                              "first_draw_pass_rate": float((lenses.lens_draws == 1).mean()),
                              "mean_draws": float(lenses.lens_draws.mean()),
                              "failed_after_all_draws": int((lenses.n_pix_source <= hard.min_source_pixels).sum())}
    res["simulate_s"] = time.perf_counter() - t
    res["simulate_images_per_s"] = (args.n_train + args.n_test) / res["simulate_s"]
    dump()
    y = np.asarray(test.label).astype(str) == "LENS"
    n_seen = int(round(args.n_train * 0.9))
    aug = AugmentConfig(horizontal_flip=True, vertical_flip=True, rot90=args.rot90, width_shift=2, height_shift=2,
                        rotation=0.0)
    common = dict(image_size=args.image_size, epochs=args.epochs, batch_size=args.batch_size,
                  validation_fraction=0.1, monitor="val_auc", patience=args.patience, verbose=2, augment=aug,
                  lr_schedule="cosine", warmup_epochs=1, stretch=args.stretch,
                  colour_residuals=args.colour_residuals, psf_match=not args.no_psf_match,
                  jit_compile=True if args.jit else "auto")
    archs = {"resnet": CNNConfig(architecture="resnet", model_params=dict(width=args.width, stages=3, units_per_stage=2),
                                 learning_rate=2e-3, **common),
             "alexnet": CNNConfig(architecture="alexnet", model_params=dict(width=0.25), learning_rate=1e-3,
                                  **common),
             "vgg16": CNNConfig(architecture="vgg16", model_params=dict(width=args.vgg16_width), learning_rate=1e-3,
                                **common)}
    curves, p_resnet = {}, None
    archs["alexnet"].epochs = args.alexnet_epochs
    archs["vgg16"].epochs = args.vgg16_epochs
    budgets = {"resnet": args.budget_s, "alexnet": args.alexnet_budget_s, "vgg16": args.vgg16_budget_s}
    for name in [m for m in models if m in archs]:
        budget = budgets[name]
        clf = _train(name, archs[name], train, n_seen, budget, res, work)
        p, p8 = _score(clf, test, y, name, res, test_truth, args.average_orientations)
        curves[name] = (y, p)
        if p8 is not None:
            curves[f"{name}, mean of 8 orientations"] = (y, p8)
        if name == "resnet":
            p_resnet = p if p8 is None else p8  # what the saved artifact predicts
        dump()
    if "easy" in models:
        from dataclasses import replace

        easy = _store(args, work, "easy", args.n_easy, LensSimConfig(), 1)[0]
        old = replace(archs["resnet"], epochs=args.easy_epochs, colour_residuals=False, stretch="linear")  # the old recipe
        clf = _train("easy", old, easy, int(round(args.n_easy * 0.9)),
                     args.easy_budget_s, res, work)
        p = _score(clf, test, y, "easy", res, test_truth)[0]
        curves["easy-set ResNet"] = (y, p)
        from lia_dask.cnn.evaluate import challenge_metrics

        refit = fit_normalization(ZarrSource(test))
        own = clf.norm_
        clf.norm_ = Normalization(refit.min_pixel, refit.max_pixel, own.stretch, own.softening)
        p2 = clf.predict_positive(test)
        clf.norm_ = own
        res["easy"]["hard_set_with_refit_normalization"] = challenge_metrics(y, p2)
        easy_test = _store(args, work, "easy_test", 2000, LensSimConfig(), 2)[0]
        ye = np.asarray(easy_test.label).astype(str) == "LENS"
        res["easy"]["easy_test_set"] = challenge_metrics(ye, clf.predict_positive(easy_test))
        dump()
    if curves:
        plot_roc(curves, work.parent / f"cnn_lenses_roc{args.tag}.png",
                 title=f"survey-difficulty test set ({args.n_test} cutouts)")
    if not args.skip_cli:
        _cli_startup(work, res)
        dump()
    if not args.skip_scaling and p_resnet is not None:
        _cluster_inference(test, p_resnet, work, res)
    res["load_average_end"] = os.getloadavg()
    dump()
    print(json.dumps({k: ({kk: vv for kk, vv in v.items() if kk not in ("history",) and not str(kk).startswith("breakdown")}
                          if isinstance(v, dict) else v)
                      for k, v in res.items()}, indent=1, default=float))


if __name__ == "__main__":
    main()
