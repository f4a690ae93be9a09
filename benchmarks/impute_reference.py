"""KNN imputation cost vs training-set size (impute14): the pattern-grouped transform and ``max_reference``.

Usage (from the repository root, one BLAS thread)::

    OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/impute_reference.py [--work DIR] [--reps 3]

``--work`` (kept between runs; built when empty, ~2 min): what ``predict_vs_microlia.build`` makes
with ``--n-per-class`` (default 6,400: 32,000 simulated training rows, the survey recipe's size) —
a survey simulated on the OGLE-II cadences and an XGBoost model of the 168 features whose imputer
keeps every training row (``max_reference=None``, i.e. an artifact as written before impute14).

Side by side in one run, CPU time (``time.process_time``), best of ``--reps``, on the features of
one survey partition:

A. µs per imputed row and per lightcurve of ``KNNImputer.transform`` fitted on 1,500 /
   5,000 / 32,000 training rows: the previous algorithm (``lia_dask/train/impute.py`` at
   ``--reference-rev``, loaded from git), the new one on every row, the new one with the default
   ``max_reference``.
B. End to end, ``predict_batch`` on that partition with the 32,000-row model and each imputer
   (read and Parquet write added, as in ``predict_stages.py``): lightcurves per CPU-second, and how
   often the bounded reference changes the predicted class.
C. (``--error``) Imputation error vs ``max_reference`` on held-out training rows (the default's basis).
"""
from __future__ import annotations

import argparse
import functools
import io
import os
import subprocess
import sys
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def old_imputer_module(rev: str) -> types.ModuleType:
    """``lia_dask/train/impute.py`` as it was at git revision ``rev``, as a module."""
    src = subprocess.run(["git", "show", f"{rev}:lia_dask/train/impute.py"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    mod = types.ModuleType("impute_before")
    sys.modules[mod.__name__] = mod  # dataclasses look the module up
    exec(compile(src.replace("from ..errors import", "from lia_dask.errors import"), f"{rev}:impute.py", "exec"),
         mod.__dict__)
    return mod


from predict_stages import _best as best  # noqa: E402  (best CPU time of reps calls, and the last result)


def build_work(work: Path, n_per_class: int) -> None:
    import lia_dask.train.ensemble as ens
    from predict_vs_microlia import build

    from lia_dask.train.impute import KNNImputer

    ens.KNNImputer = functools.partial(KNNImputer, max_reference=None)  # an artifact as before impute14
    try:
        build(work, 4000, n_per_class)
    finally:
        ens.KNNImputer = KNNImputer


def reference_size_error(train: np.ndarray, sizes=(None, 16000, 8000, 4000, 2000, 1000, 500), seed=0) -> None:
    """C. Imputation error vs reference size: 3,000 held-out training rows, each blanked with the NaN
    pattern of a random training row, imputed from the others; |imputed - true| / IQR of the column."""
    from lia_dask.train.impute import KNNImputer, clean_features

    X = clean_features(train)
    rng = np.random.default_rng(seed)
    test = rng.choice(len(X), 3000, replace=False)
    fit = np.setdiff1d(np.arange(len(X)), test)
    T = X[test]
    pats = np.isnan(X[fit][np.isnan(X[fit]).any(axis=1)])
    P = pats[rng.integers(0, len(pats), len(T))] & ~np.isnan(T)
    Tq = np.where(P, np.nan, T)
    q75, q25 = np.nanpercentile(X[fit], [75, 25], axis=0)
    iqr = np.where(q75 - q25 > 0, q75 - q25, 1.0)
    print("\nC. | max_reference | median |error|/IQR | mean |error|/IQR | mean |Δ vs every row|/IQR | "
          "µs/imputed row |\n|---:|---:|---:|---:|---:|")
    full = None
    for m in sizes:
        res = []
        for s in (0, 1, 2) if m else (0,):
            imp = KNNImputer(max_reference=m, seed=s).fit(X[fit])
            c = time.process_time()
            out = imp.transform(Tq)
            dt = time.process_time() - c
            ok = P & ~imp.constant_[None, :]
            full = out if full is None else full
            e, d = (np.abs(out - T) / iqr)[ok], (np.abs(out - full) / iqr)[ok]
            res.append((np.median(e), e.mean(), d.mean(), dt / max(1, int(ok.any(axis=1).sum())) * 1e6))
        a = np.mean(res, axis=0)
        print(f"| {m or 'every row'} | {a[0]:.3f} | {a[1]:.3f} | {a[2]:.3f} | {a[3]:,.0f} |", flush=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/impute_reference")
    ap.add_argument("--n-per-class", type=int, default=6400)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--error", action="store_true", help="also C: imputation error vs reference size")
    ap.add_argument("--reference-rev", default="2acea87", help="git revision of the previous imputer")
    args = ap.parse_args(argv)
    from lia_dask.archive import open_archive
    from lia_dask.features.extract import extract_batch_with_reasons
    from lia_dask.features.registry import model_feature_settings
    from lia_dask.predict import PredictConfig, predict_batch
    from lia_dask.predict.lightcurves import load_model
    from lia_dask.train.impute import MAX_REFERENCE, KNNImputer, draw_reference

    warnings.simplefilter("ignore", UserWarning)
    work = Path(args.work)
    if not (work / "model").exists():
        build_work(work, args.n_per_class)
    old = old_imputer_module(args.reference_rev)
    survey = open_archive(work / "survey")
    m = load_model(work / "model")
    clf = m.classifier
    full_state = clf.imputer_.state()
    n_train = full_state["fit_X"].shape[0]
    b = survey.read_batch(min(1, survey.n_partitions - 1))
    st = model_feature_settings(clf.feature_settings_, clf.selected_features_, b.photometry)
    vals, names, reason = extract_batch_with_reasons(b, st)
    Q = pd.DataFrame(vals[reason == 0], columns=names)[clf.selected_features_].to_numpy()
    print(f"load average {os.getloadavg()}; {len(Q)} survey lightcurves, model trained on {n_train} rows, "
          f"default max_reference {MAX_REFERENCE}")

    def variant(kind, rows):
        s = dict(full_state, fit_X=full_state["fit_X"][rows], params=full_state["params"][:4])
        if kind == "before":
            return old.KNNImputer.from_state(s)
        imp = KNNImputer.from_state(s)
        if kind == "bounded":
            sub = draw_reference(rows.size, MAX_REFERENCE, 0)
            imp = KNNImputer.from_state(dict(s, fit_X=s["fit_X"][sub],
                                             params=np.r_[s["params"], MAX_REFERENCE or 0, 0, rows.size]))
        return imp

    train = pd.read_parquet(work / "train_feat")[clf.selected_features_].to_numpy()
    print("\nA. | training rows | NaN column threshold | imputed lc | before µs/imputed row | new (all rows) "
          "| new (max_reference) | before µs/lc | new µs/lc | bounded µs/lc |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(0)
    for thr in (0.5, 0.6):  # 0.6: shannon_entropy_deriv (~54 % NaN in this table) is kept and imputed
        for n in (1500, 5000, len(train)):
            Xn = train[np.sort(rng.choice(len(train), size=min(n, len(train)), replace=False))]
            imps = {"before": old.KNNImputer(nan_threshold=thr).fit(Xn),
                    "new": KNNImputer(nan_threshold=thr, max_reference=None).fit(Xn),
                    "bounded": KNNImputer(nan_threshold=thr).fit(Xn)}
            t, out = {}, {}
            for kind, imp in imps.items():
                t[kind], out[kind] = best(lambda: imp.transform(Q), args.reps)
            np.testing.assert_allclose(out["new"], out["before"], rtol=1e-9, atol=1e-9)  # exact speed-up
            Qc = Q.copy()
            Qc[:, imps["new"].constant_] = 0.0
            k = int(np.isnan(Qc).any(axis=1).sum())
            print(f"| {n:,} | {thr} | {k} | {t['before'] / k * 1e6:,.0f} | {t['new'] / k * 1e6:,.0f} | "
                  f"{t['bounded'] / k * 1e6:,.0f} | {t['before'] / len(Q) * 1e6:,.1f} | "
                  f"{t['new'] / len(Q) * 1e6:,.1f} | {t['bounded'] / len(Q) * 1e6:,.1f} |", flush=True)

    cfg = PredictConfig(fit_filter=False)
    predict_batch(b.take(np.arange(50)), m, cfg)
    t_read, _ = best(lambda: survey.read_batch(min(1, survey.n_partitions - 1)), args.reps)
    print("\nB. | imputer (model on %d rows) | clean + impute µs/lc | predict_batch µs/lc | lc per CPU-s "
          "(read + predict + write) |" % n_train)
    print("|---|---:|---:|---:|")
    preds = {}
    allrows = np.arange(n_train)
    for kind in ("before", "new", "bounded"):
        clf.imputer_ = variant(kind, allrows)
        t_imp, _ = best(lambda: clf.transform_features(pd.DataFrame(Q, columns=clf.selected_features_)), args.reps)
        t_all, (pred, _q) = best(lambda: predict_batch(b, m, cfg), args.reps)
        t_w, _ = best(lambda: pq.write_table(pa.Table.from_pandas(pred, preserve_index=False), io.BytesIO()),
                      args.reps)
        preds[kind] = pred
        n = len(b)
        print(f"| {kind} ({clf.imputer_.fit_X_.shape[0]:,} reference rows) | {t_imp / len(Q) * 1e6:,.1f} | "
              f"{t_all / n * 1e6:,.1f} | {n / (t_all + t_read + t_w):,.0f} |")
    cls = [c for c in preds["new"].columns if c.startswith("prob_")] or None
    same = (preds["new"]["prediction"] == preds["bounded"]["prediction"]).mean() \
        if "prediction" in preds["new"] else float("nan")
    print(f"\npredicted class unchanged by the bounded reference: {same:.4f} of {len(preds['new'])} lightcurves"
          + (f"; max |Δ probability| {np.abs(preds['new'][cls].to_numpy() - preds['bounded'][cls].to_numpy()).max():.3f}"
             if cls else ""))
    if args.error:
        reference_size_error(train)
    print(f"load average {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
