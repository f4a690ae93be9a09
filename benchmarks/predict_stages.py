"""Where one archive partition's classification spends its time: CPU µs per lightcurve by stage.

Usage (from the repository root)::

    .venv/bin/python benchmarks/predict_stages.py [--survey ARCHIVE --models M168 M30] [--work DIR]

Without ``--survey`` it builds what ``predict_vs_microlia.py`` builds (a survey simulated on the
OGLE-II cadences, an XGBoost model of the 168 features and one of 30) in a temporary directory
(or in ``--work DIR``, kept and reused by the next run with the same ``--work``).
Stages of ``lia_dask.predict.predict_batch`` on partition 1, one thread (run it under ``taskset -c
N``), best of 3 each, CPU time (``time.process_time``): ``Archive.read_batch``, the features
(``extract_batch_with_reasons`` with the model's selection), cleaning + KNN imputation
(``transform_features``), XGBoost (``predictor_.predict_proba``), the rest of ``predict_batch``
(frame assembly), and writing the prediction frame as Parquet to memory.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


REPS = 3


def _best(f, reps=None):
    reps = REPS if reps is None else reps
    b, r = np.inf, None
    for _ in range(reps):
        c = time.process_time()
        r = f()
        b = min(b, time.process_time() - c)
    return b, r


def stages(survey, model) -> dict:
    from lia_dask.features.extract import extract_batch_with_reasons
    from lia_dask.features.registry import model_feature_settings
    from lia_dask.predict import PredictConfig, predict_batch
    from lia_dask.predict.lightcurves import load_model

    m = load_model(model)
    clf = m.classifier
    cfg = PredictConfig(fit_filter=False)
    predict_batch(survey.read_batch(0).take(np.arange(50)), m, cfg)  # driver and XGBoost loaded
    t_read, b = _best(lambda: survey.read_batch(min(1, survey.n_partitions - 1)))
    st = model_feature_settings(clf.feature_settings_, getattr(clf, "selected_features_", None), b.photometry)
    t_feat, (vals, names, reason) = _best(lambda: extract_batch_with_reasons(b, st))
    df = pd.DataFrame(vals[reason == 0], columns=names)
    t_imp, xs = _best(lambda: clf.transform_features(df))
    t_xgb, _ = _best(lambda: clf.predictor_.predict_proba(xs))
    t_all, (pred, _q) = _best(lambda: predict_batch(b, m, cfg))
    t_write, _ = _best(lambda: pq.write_table(pa.Table.from_pandas(pred, preserve_index=False), io.BytesIO()))
    n = len(b)
    us = {k: v / n * 1e6 for k, v in dict(read=t_read, features=t_feat, clean_impute=t_imp, xgboost=t_xgb,
                                          rest=t_all - t_feat - t_imp - t_xgb, predict_batch=t_all,
                                          write=t_write).items()}
    us.update(n=n, n_features=len(names), lc_per_cpu_s=n / (t_all + t_read + t_write))
    return us


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--survey", default=None)
    ap.add_argument("--models", nargs="*", default=None)
    ap.add_argument("--work", default=None, help="build the survey and models here once and keep them")
    ap.add_argument("--reps", type=int, default=3, help="repeat the stage timings, report the best")
    args = ap.parse_args(argv)
    global REPS
    REPS = args.reps
    from lia_dask.archive import open_archive

    work = None
    try:
        if args.survey is None:
            from predict_vs_microlia import build

            keep = args.work is not None
            work = Path(args.work) if keep else Path(tempfile.mkdtemp(prefix="lia_stages_"))
            if not (work / "model30").exists():
                work.mkdir(parents=True, exist_ok=True)
                build(work, 4000, 200)
            survey, models = open_archive(work / "survey"), [work / "model", work / "model30"]
            if keep:
                work = None
        else:
            survey, models = open_archive(args.survey), args.models
        print(f"load average {os.getloadavg()}; µs per lightcurve (CPU, one thread)")
        print("| model | read | features | clean + impute | XGBoost | rest of predict_batch | write | lc per CPU-s |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for model in models:
            r = stages(survey, model)
            print(f"| {r['n_features']} features ({r['n']} lc) | {r['read']:.1f} | {r['features']:.1f} | "
                  f"{r['clean_impute']:.1f} | {r['xgboost']:.1f} | {r['rest']:.1f} | {r['write']:.1f} | "
                  f"{r['lc_per_cpu_s']:,.0f} |")
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
