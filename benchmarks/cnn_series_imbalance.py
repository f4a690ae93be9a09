"""The 1D CNN on flux series at a K2-like positive fraction (~1 %): precision and recall.

For each seed: simulate a training set and a disjoint test set of ``--n`` series each with
``--positive-fraction`` transits (default 1 %, i.e. ~57 positives in 5,700, the K2-like 5 in 570
scaled up so that recall is measured on more than a handful), train the 1D CNN twice — balanced
half-positive batches (``balance="sample"``) and a weighted loss (``balance="weight"``,
pos_weight = n_neg / n_pos) — and report on the test set: precision, recall and F1 of the
positive class at p >= 0.5 and at the threshold of best F1 on a held-out validation split
(chosen there, applied to the test set), average precision, AUROC; the PR curves of the first
seed go to ``benchmarks/_work/cnn_series_pr.png``.

Usage::

    .venv/bin/python benchmarks/cnn_series_imbalance.py --n 5700 --seeds 1 2 3 --epochs 12
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5700)
    ap.add_argument("--positive-fraction", type=float, default=0.01)
    ap.add_argument("--length", type=int, default=512)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--tag", default="")
    args = ap.parse_args()

    from lia_dask.cnn import CNNClassifier, CNNConfig, SeriesSimConfig, simulate_series
    from lia_dask.cnn.evaluate import challenge_metrics, plot_pr, positive_class_metrics

    work = ROOT / "benchmarks" / "_work"
    work.mkdir(parents=True, exist_ok=True)
    sim = SeriesSimConfig(length=args.length, transit_fraction=args.positive_fraction)
    res = {"args": vars(args), "cores": os.cpu_count(), "runs": []}
    curves = {}
    for seed in args.seeds:
        xtr, ytr, _ = simulate_series(args.n, sim, seed=100 + seed)
        xte, yte, _ = simulate_series(args.n, sim, seed=200 + seed)
        y_test = yte == "TRANSIT"
        for balance in ("sample", "weight"):
            cfg = CNNConfig(architecture="cnn1d", model_params={"width": 0.5}, epochs=args.epochs,
                            batch_size=args.batch_size, learning_rate=1e-3, balance=balance,
                            validation_fraction=0.2, seed=seed, lr_schedule="cosine", warmup_epochs=1)
            t = time.perf_counter()
            clf = CNNClassifier(cfg).fit(xtr, ytr)
            fit_s = time.perf_counter() - t
            # threshold of best F1 on the validation split (the same split fit used)
            from lia_dask.cnn.train import _split

            y01 = (ytr == "TRANSIT").astype(np.float32)
            _, vidx = _split(y01, cfg.validation_fraction, cfg.seed)
            pv = clf.predict_positive(xtr[vidx])
            thr = positive_class_metrics(y01[vidx] == 1, pv)["best_f1_threshold"]
            p = clf.predict_positive(xte)
            at05 = positive_class_metrics(y_test, p, 0.5)
            atv = positive_class_metrics(y_test, p, thr)
            ch = challenge_metrics(y_test, p)
            run = {"seed": seed, "balance": balance, "n_train_pos": int((ytr == "TRANSIT").sum()),
                   "n_test_pos": int(y_test.sum()), "n_test": len(y_test), "fit_s": fit_s,
                   "precision_0.5": at05["precision"], "recall_0.5": at05["recall"], "f1_0.5": at05["f1"],
                   "val_threshold": thr, "precision_val_thr": atv["precision"], "recall_val_thr": atv["recall"],
                   "f1_val_thr": atv["f1"], "average_precision": at05["average_precision"], "auroc": ch["auroc"],
                   "load_average": os.getloadavg()}
            res["runs"].append(run)
            print(json.dumps(run), flush=True)
            if seed == args.seeds[0]:
                curves[f"{balance} (seed {seed})"] = (y_test, p)
    plot_pr(curves, work / f"cnn_series_pr{args.tag}.png", title=f"1D CNN, {args.positive_fraction:.0%} positives")
    import pandas as pd

    df = pd.DataFrame(res["runs"])
    summ = df.groupby("balance")[["precision_0.5", "recall_0.5", "precision_val_thr", "recall_val_thr",
                                  "average_precision", "auroc"]].agg(["mean", "std"])
    res["summary"] = json.loads(summ.to_json())
    (work / f"cnn_series_imbalance{args.tag}.json").write_text(json.dumps(res, indent=1, default=float))
    print(df.to_markdown(index=False, floatfmt=".3f"))
    print(summ.to_markdown(floatfmt=".3f"))


if __name__ == "__main__":
    main()
