"""CNN lens finding on simulated LSST-like cutouts: accuracy and throughput.

Measures, in one run:

* ROC AUC and the true-positive rate at 1% false-positive rate of a DeepLens-style ResNet on a
  held-out simulated set (default 2,000 cutouts), after training on a separate simulated set
  streamed from a Zarr store;
* training images/s per core, single-process inference images/s per core;
* partitioned inference (``predict_cutouts``) on a LocalCluster with 1 vs 2 single-threaded
  worker processes (TensorFlow limited to one thread per worker), model already loaded.

Usage::

    .venv/bin/python benchmarks/cnn_lenses.py --n-train 4000 --n-test 2000 --epochs 8

Results go to ``benchmarks/_work/cnn_lenses_results{tag}.json`` and are printed as Markdown.
No pyBIA side-by-side: pyBIA's lens data and training loop need its own TensorFlow stack
(see the README section).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def tpr_at_fpr(y: np.ndarray, p: np.ndarray, fpr_target: float = 0.01) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.interp(fpr_target, fpr, tpr))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-train", type=int, default=4000)
    ap.add_argument("--n-test", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--image-size", type=int, default=44)
    ap.add_argument("--cutout", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--chunk", type=int, default=250)
    ap.add_argument("--work", default=str(ROOT / "benchmarks" / "_work" / "cnn_lenses"))
    ap.add_argument("--skip-scaling", action="store_true")
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    args = ap.parse_args()

    from lia_dask.cnn import AugmentConfig, CNNClassifier, CNNConfig, LensSimConfig, simulate_lens_store
    from lia_dask.predict.cutouts import predict_cutouts, read_predictions

    work = Path(args.work)
    work = work.with_name(work.name + args.tag)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    res: dict = {"cores": os.cpu_count(), "args": vars(args)}
    sim = LensSimConfig(image_size=args.cutout)
    t = time.perf_counter()
    train = simulate_lens_store(work / "train.zarr", args.n_train, sim, seed=1, chunk=args.chunk)
    test = simulate_lens_store(work / "test.zarr", args.n_test, sim, seed=2, chunk=args.chunk)
    res["simulate_s"] = time.perf_counter() - t

    cfg = CNNConfig(architecture="resnet", model_params=dict(width=args.width, stages=3, units_per_stage=2),
                    image_size=args.image_size, epochs=args.epochs, batch_size=args.batch_size, learning_rate=2e-3,
                    lr_drop_every=max(2, args.epochs // 3), lr_drop_factor=0.5, warmup_epochs=1,
                    validation_fraction=0.1, monitor="val_auc", patience=3, verbose=2,
                    augment=AugmentConfig(horizontal_flip=True, vertical_flip=True, width_shift=2, height_shift=2))
    t, c = time.perf_counter(), time.process_time()
    clf = CNNClassifier(cfg).fit(train)
    train_s, train_cpu = time.perf_counter() - t, time.process_time() - c
    n_epochs = len(clf.history_["loss"])
    n_seen = n_epochs * int(round(args.n_train * (1 - cfg.validation_fraction)))
    res.update(train_s=train_s, epochs_run=n_epochs, train_images_per_s=n_seen / train_s,
               train_images_per_s_per_core=n_seen / train_s / os.cpu_count(), train_cpu_s=train_cpu,
               train_images_per_cpu_s=n_seen / train_cpu, history=clf.history_,
               n_params=int(clf.model_.count_params()))
    clf.save(work / "model")

    # single-process inference (all cores), accuracy on the held-out set
    clf.predict_proba(test.images[:64].compute())  # warm up the predict function
    t, c = time.perf_counter(), time.process_time()
    p = clf.predict_positive(test)
    inf_s, inf_cpu = time.perf_counter() - t, time.process_time() - c
    y = (test.label.astype(str) == "LENS").astype(int)
    from sklearn.metrics import roc_auc_score

    res.update(auc=float(roc_auc_score(y, p)), tpr_at_fpr_1pct=tpr_at_fpr(y, p, 0.01),
               tpr_at_fpr_10pct=tpr_at_fpr(y, p, 0.10), accuracy=float(((p >= 0.5) == y).mean()),
               infer_images_per_s=args.n_test / inf_s, infer_images_per_s_per_core=args.n_test / inf_s / os.cpu_count(),
               infer_images_per_cpu_s=args.n_test / inf_cpu, load_average=os.getloadavg())

    if not args.skip_scaling:
        os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
        from distributed import Client, LocalCluster

        scaling = {}
        for nw in (1, 2):
            with LocalCluster(n_workers=nw, threads_per_worker=1, processes=True, dashboard_address=":0",
                              memory_limit="4GiB") as cluster, Client(cluster) as client:
                predict_cutouts(test, work / "model", work / f"warm{nw}", client=client)  # loads the model per worker
                cpu0 = sum(client.run(time.process_time).values())
                t = time.perf_counter()
                s = predict_cutouts(test, work / "model", work / f"pred{nw}", client=client)
                dt = time.perf_counter() - t
                cpu = sum(client.run(time.process_time).values()) - cpu0
                from lia_dask.predict.cutouts import worker_load_counts

                loads = worker_load_counts(client)
            got = read_predictions(work / f"pred{nw}")
            scaling[nw] = {"seconds": dt, "images_per_s": s["n_predicted"] / dt, "worker_cpu_s": cpu,
                           "images_per_worker_cpu_s": s["n_predicted"] / cpu, "load_average": os.getloadavg(), "loads_per_worker": list(loads.values()),
                           "max_abs_diff_vs_single_process": float(np.abs(got.prob.to_numpy() - p).max())}
        scaling["speedup_2_vs_1"] = scaling[1]["seconds"] / scaling[2]["seconds"]
        res["scaling"] = scaling

    (work.parent / f"cnn_lenses_results{args.tag}.json").write_text(json.dumps(res, indent=1, default=float))
    print(json.dumps({k: v for k, v in res.items() if k != "history"}, indent=1, default=float))


if __name__ == "__main__":
    main()
