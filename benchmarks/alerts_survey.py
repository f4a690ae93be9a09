"""Survey alerts (issue 11): recall and false alerts per million on a simulated survey of another seed.

Everything on the cadences and the empirical noise model of the 47 real OGLE-II events in
``../shared/data/ogle2_dev`` (zp 22, 30 s, magnitudes between the events' extreme medians),
``SimulationConfig()`` defaults (survey realism, the consecutive-epoch detection rule), features
``--feature-set`` (default ``microlia-2.8.1+physical``), XGBoost with library defaults. Per seed s:

1. training set (seed s): ``--n-per-class`` per class plus ``--extra`` non-events (many more non-events
   than events);
2. hard-negative mining: a first model scores a negative-only simulated survey (seed 1000 + s,
   ``--hard-pool`` stars in survey proportions); its ``--hard-top`` highest-scoring non-events join the
   training set and the final model is fitted;
3. alert stage as ``lia-dask train --alert-negatives``: temperature calibration on ``--cv``-fold
   out-of-fold probabilities, prior shift to the survey fractions, threshold on P(ML) for
   ``--max-false-alerts-per-million`` estimated on an independent negative-only survey (seed 2000,
   ``--alert-negatives`` stars split as ``negative_mix`` gives; shared by the seeds);
4. the test survey (seed 101: 50,000 CONSTANT, 8,000 VARIABLE, 3,000 LPV, 2,000 CV, 500 ML by
   default) and the 60 real lightcurves (47 events, 13 variables).

Reported per seed for four rules: ``classifier`` (argmax), ``flag`` (argmax ML and the candidate flag
``passes_fit``), ``alert`` (calibrated threshold), ``alert+flag``; the ROC upper bound (recall of the best
threshold set on the test survey itself for <= 10 and <= 100 false alerts per million); recall of the
survey's events in bins of their true signal (noise-free Δχ² against the baseline,
``lia_dask.simulate.quality.event_signal``). ``--save-models`` keeps the models (``model_s<seed>``) for
``lia-dask evaluate --plots``.

Every simulated set is built from per-class pieces cached under ``LIA_BENCH_WORK/sets``, keyed by the
class, the simulation config (seed, noise model, ...), the feature settings and a digest of the code of
``lia_dask/simulate`` and ``lia_dask/features`` (:func:`piece`): changing only the training recipe
(``--events``, ``--params``, ``--binary``, ``--hard-*``) reuses the test survey and the negatives.
Develop on another survey seed (``--survey-seed 202``) and take the figures on seed 101.

Usage: .venv/bin/python benchmarks/alerts_survey.py [--seeds 1 2 3] [--survey-seed 101] [--json out.json]
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SHARED = (ROOT / ".." / "shared").resolve()
OGLE = SHARED / "data" / "ogle2_dev"
WORK = Path(os.environ.get("LIA_BENCH_WORK", ROOT / "benchmarks" / "_work" / "alerts_survey"))
CLASSES = ("CONSTANT", "VARIABLE", "LPV", "CV", "ML")
SIGNAL_BINS = (0, 100, 300, 1000, 1e4, np.inf)


def counts_arg(items):
    out = {}
    for it in items:
        k, _, v = it.partition("=")
        out[k] = int(v)
    return out


def setup():
    from lia_dask.archive import ingest_directory, open_archive
    from lia_dask.batch import concat_batches
    from lia_dask.simulate.noise import NoiseModel, lightcurve_scatter

    real = WORK / "real"
    if not real.exists():
        ingest_directory(OGLE, real)
    rb = concat_batches(list(open_archive(real).batches()))
    ev = rb.take(np.flatnonzero(rb.label == "microlensing")).compact()
    med, _ = lightcurve_scatter(ev)
    return rb, ev, NoiseModel.from_batch(ev), float(med.min()), float(med.max())


def code_digest() -> str:
    """Digest of the code that defines a simulated set and its features (``lia_dask/simulate``,
    ``lia_dask/features``): a cached set is reused only by the code that made it."""
    h = hashlib.sha256()
    for d in ("simulate", "features"):
        for f in sorted((ROOT / "lia_dask" / d).rglob("*.py")):
            h.update(f.relative_to(ROOT).as_posix().encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def piece(cad, cfg, label, n, settings, client, code):
    """The first ``n`` simulated lightcurves of class ``label`` under ``cfg`` (its seed), with features.

    Cached under the work directory, keyed by the class, the simulation config (``repr``, which includes
    the seed and the noise model), the feature settings and :func:`code_digest`, but not ``n``: object
    ``k`` of a class draws from ``SeedSequence(seed, spawn_key=(class, k))`` and does not depend on how
    many others are simulated, so the first ``n`` of a larger cached set are the set of ``n`` (a smaller
    request reuses it, a larger one resimulates). Returns (rows with features, archive path).
    """
    from lia_dask.simulate.simulate import simulate_training_set

    key = hashlib.sha256(json.dumps([label, repr(cfg), settings.to_dict(), code], default=str).encode()).hexdigest()[:16]
    out = WORK / "sets" / f"{label}_s{cfg.seed}_{key}"
    feats, meta = out.parent / (out.name + ".features"), out.parent / (out.name + ".json")
    have = json.loads(meta.read_text())["n"] if meta.exists() else -1
    if have < n:
        t = time.perf_counter()
        simulate_training_set(cad, {label: n}, out, cfg, overwrite=True, features_out=feats, feature_settings=settings,
                              client=client)
        meta.write_text(json.dumps({"n": n, "label": label, "seed": cfg.seed, "code": code, "config": repr(cfg)[:2000]}))
        print(f"simulated {label} x {n} (seed {cfg.seed}) in {time.perf_counter() - t:.0f} s", flush=True)
    df = pd.read_parquet(feats).iloc[:n]  # plan order: object k = 0, 1, ... of the class
    return df[df["feature_reason"] == 0].reset_index(drop=True), out


ID_STRIDE = 10**9  # object ids of piece j are shifted by j * ID_STRIDE (each piece numbers from 0)


def sim(cad, cfg, counts, settings, client, code):
    """A set of ``counts`` (class -> n) under ``cfg``: concatenated cached pieces (object ids made unique
    by :data:`ID_STRIDE`), and their archive paths in piece order."""
    dfs, paths = [], []
    for label, n in counts.items():
        if n > 0:
            d, pth = piece(cad, cfg, label, n, settings, client, code)
            d["object_id"] = d["object_id"].astype(np.int64) + len(paths) * ID_STRIDE
            dfs.append(d)
            paths.append(pth)
    return pd.concat(dfs, ignore_index=True), paths


def load_batch(paths):
    """The lightcurves of a set's pieces as one batch, object ids shifted as in :func:`sim`."""
    from dataclasses import replace

    from lia_dask.archive import open_archive
    from lia_dask.batch import concat_batches

    out = []
    for j, pth in enumerate(paths):
        for b in open_archive(pth).batches():
            out.append(replace(b, object_id=b.object_id.astype(np.int64) + j * ID_STRIDE))
    return concat_batches(out)


def true_signal(arch_paths, df, noise):
    """Noise-free Δχ² and consecutive 3σ run of the ML rows of ``df`` (from the archives' epochs), and
    the survey's lightcurves (one batch)."""
    from lia_dask.simulate import models, quality

    sb = load_batch(arch_paths)
    ml = df.index[df["label"] == "ML"]
    pos = pd.Series(np.arange(sb.n_objects), index=pd.Index(sb.object_id))
    sub = sb.take(pos.loc[df.loc[ml, "object_id"].to_numpy()].to_numpy()).compact()
    obj = np.repeat(np.arange(sub.n_objects), np.diff(sub.offsets))
    g = df.loc[ml]
    mag = models.pspl_magnitudes(sub.time, obj, g["sim_m0"].to_numpy(), g["sim_t0"].to_numpy(),
                                 g["sim_u0"].to_numpy(), g["sim_tE"].to_numpy(), g["sim_blend"].to_numpy())
    d2, run = quality.event_signal(sub.time, obj, g["sim_m0"].to_numpy(), mag, noise.sigma(mag))
    out = pd.DataFrame({"dchi2_true": d2, "run_true": run}, index=ml)
    return out, sb


def flag_for(sb, df, rows_mask):
    """``passes_fit`` for the rows of ``df`` in ``rows_mask`` (others False)."""
    from lia_dask.predict.fitfilter import FitFilterConfig, fit_batch, passes

    pos = pd.Series(np.arange(sb.n_objects), index=pd.Index(sb.object_id))
    cand = np.flatnonzero(rows_mask)
    flag = np.zeros(len(df), bool)
    if len(cand):
        rows = pos.loc[df["object_id"].to_numpy()[cand]].to_numpy().astype(np.int64)
        flag[cand] = passes(fit_batch(sb.offsets, sb.time, sb.y, sb.yerr, rows, zp=sb.zeropoint,
                                      convert=sb.photometry == "mag"), FitFilterConfig())
    return flag


def rules(clf, X, labels, flag_source):
    """Metrics of the four decision rules; ``flag_source(mask)`` -> passes_fit for the masked rows."""
    from lia_dask.train.calibrate import calibrated, decide
    from lia_dask.train.evaluate import alert_metrics

    raw = clf.raw_proba(X)
    names = [str(c) for c in clf.classes_]
    k = names.index("ML")
    argmax = np.argmax(raw, axis=1) == k
    q = calibrated(raw, clf.alerts_)
    alert = decide(q, clf.alerts_)[1]
    flag = flag_source(argmax | alert)
    out = {"classifier": alert_metrics(labels, raw[:, k], argmax), "flag": alert_metrics(labels, raw[:, k], argmax & flag),
           "alert": alert_metrics(labels, q[:, k], alert), "alert+flag": alert_metrics(labels, q[:, k], alert & flag)}
    return out, {"classifier": argmax, "flag": argmax & flag, "alert": alert, "alert+flag": alert & flag}, q[:, k]


def roc_bound(labels, score, per_million=(10.0, 100.0)):
    """Recall of the best threshold on ``score`` allowing at most ``floor(rate * n / 1e6)`` false alerts
    among the ``n`` objects (the threshold set on the test set itself: an upper bound of any threshold)."""
    labels = np.asarray(labels).astype(str)
    ev = labels == "ML"
    neg = np.sort(np.asarray(score)[~ev])[::-1]
    out = {}
    for r in per_million:
        a = int(np.floor(r * len(labels) / 1e6))
        thr = neg[a] if a < len(neg) else -np.inf  # alerts: score > the (a+1)-th highest non-event
        out[f"recall_at_{r:g}_per_million"] = float(np.mean(np.asarray(score)[ev] > thr))
    return out


def by_signal(sig, decided, labels):
    ev = labels == "ML"
    b = pd.cut(sig["dchi2_true"], SIGNAL_BINS, right=False)
    out = {}
    for rule, d in decided.items():
        s = pd.Series(d[ev.to_numpy() if hasattr(ev, "to_numpy") else ev], index=sig.index)
        g = s.groupby(b, observed=False)
        out[rule] = {str(k): [int(v.size), float(v.mean()) if v.size else None] for k, v in g}
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--n-per-class", type=int, default=500)
    p.add_argument("--extra", nargs="*", default=["CONSTANT=20000", "VARIABLE=3000", "CV=20000", "LPV=1000"],
                   metavar="CLASS=N", help="non-events added to the training set")
    p.add_argument("--events", type=int, default=None, help="simulated events in training (default --n-per-class)")
    p.add_argument("--hard-pool", type=int, default=30000, help="stars of the negative-only mining survey")
    p.add_argument("--pool", nargs="*", default=["CONSTANT=23810", "VARIABLE=3810", "LPV=1429", "CV=20000"],
                   metavar="CLASS=N",
                   help="class counts of the mining survey (default: --hard-pool's 30,000 in survey proportions, "
                        "but 20,000 dwarf novae: the hard CVs are rare among CVs, section J); 'none': --hard-pool")
    p.add_argument("--hard-top", type=int, default=1000, help="highest-scoring mined non-events added per round")
    p.add_argument("--hard-rounds", type=int, default=1, help="mining rounds (each refits and mines anew)")
    p.add_argument("--alert-negatives", type=int, default=120000,
                   help="stars of the threshold's negative survey, split as calibrate.negative_mix gives (n_c ∝ √π_c)")
    p.add_argument("--negatives", nargs="*", default=None, metavar="CLASS=N",
                   help="class counts of the threshold's negative survey instead of --alert-negatives "
                        "(the false-alert estimate weights each class by its survey fraction)")
    p.add_argument("--survey", type=int, nargs=5, default=[50_000, 8_000, 3_000, 2_000, 500],
                   metavar=("CONSTANT", "VARIABLE", "LPV", "CV", "ML"))
    p.add_argument("--survey-seed", type=int, default=101)
    p.add_argument("--feature-set", default="microlia-2.8.1+physical")
    p.add_argument("--params", default="{}", help="XGBoost parameters (JSON), library defaults for the rest")
    p.add_argument("--binary", action="store_true", help="ML vs rest (the non-events relabelled OTHER)")
    p.add_argument("--cv", type=int, default=3, help="folds of the out-of-fold calibration; 0: no calibration")
    p.add_argument("--max-false-alerts-per-million", type=float, default=100.0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--save-models", action="store_true")
    p.add_argument("--no-real", action="store_true", help="skip the 60 real lightcurves")
    p.add_argument("--json", default=None)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    WORK.mkdir(parents=True, exist_ok=True)
    from distributed import Client, LocalCluster

    from lia_dask.features import FeatureSettings, get_feature_set
    from lia_dask.features.extract import features_frame
    from lia_dask.predict.fitfilter import FitFilterConfig, fit_batch, passes
    from lia_dask.simulate import SimulationConfig
    from lia_dask.train import EnsembleClassifier, cross_val_proba
    from lia_dask.train.calibrate import DEFAULT_SURVEY_FRACTIONS, AlertConfig, negative_mix
    from lia_dask.train.negatives import mine_hard_negatives

    fs = args.feature_set
    settings = FeatureSettings(zp=22.0, convert=True, apply_weights=True, feature_set=fs)
    fsd = settings.to_dict()
    names = list(get_feature_set(fs).names)
    params = json.loads(args.params)
    extra = counts_arg(args.extra)
    frac = np.array(args.survey[:4], float) / sum(args.survey[:4])
    code = code_digest()
    relabel = (lambda y: np.where(np.asarray(y) == "ML", "ML", "OTHER")) if args.binary else (lambda y: np.asarray(y))
    fractions = ({"ML": DEFAULT_SURVEY_FRACTIONS["ML"], "OTHER": 1 - DEFAULT_SURVEY_FRACTIONS["ML"]}
                 if args.binary else None)
    result = {"load_average_start": os.getloadavg(), "args": vars(args), "code_digest": code, "rows": []}
    t_start = time.perf_counter()
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as c, Client(c) as client:
        rb, ev, noise, lo, hi = setup()
        base = SimulationConfig(min_mag=lo, max_mag=hi, noise=noise, noise_zeropoint=22.0, exptime=30.0,
                                partition_size=5000)
        real_lab = np.where(rb.label == "microlensing", "ML", "VARIABLE")
        if not args.no_real:
            real = features_frame(rb, settings)
            real_flag = passes(fit_batch(rb.offsets, rb.time, rb.y, rb.yerr, np.arange(rb.n_objects), zp=22.0,
                                         convert=True), FitFilterConfig())
        survey, s_paths = sim(ev, base.replace(seed=args.survey_seed), dict(zip(CLASSES, args.survey)), settings,
                              client, code)
        sig, sb = true_signal(s_paths, survey, noise)
        neg_counts = (negative_mix(args.alert_negatives, dict(zip(CLASSES[:4], frac)))
                      if args.negatives is None else counts_arg(args.negatives))
        negs, _ = sim(ev, base.replace(seed=2000), neg_counts, settings, client, code)
        result["survey_counts"] = survey["label"].value_counts().to_dict()
        result["alert_negative_counts"] = negs["label"].value_counts().to_dict()
        sl = survey["label"].to_numpy()
        for seed in args.seeds:
            t = time.perf_counter()
            counts = {c: args.n_per_class + extra.get(c, 0) for c in CLASSES}
            if args.events is not None:
                counts["ML"] = args.events
            train, _ = sim(ev, base.replace(seed=seed), counts, settings, client, code)
            kw = dict(model="xgb", random_state=seed, cv=max(args.cv, 2), n_jobs=args.threads, params=params)
            fit_kw = dict(feature_set=fs, feature_settings=fsd)
            hard_n = 0
            if args.hard_top > 0 and args.hard_rounds > 0:
                pool_counts = ({c: int(round(args.hard_pool * f)) for c, f in zip(CLASSES[:4], frac)}
                               if args.pool in (None, ["none"]) else counts_arg(args.pool))
                pool, _ = sim(ev, base.replace(seed=1000 + seed), pool_counts, settings, client, code)
                taken = mine_hard_negatives(train[names], relabel(train["label"]), pool[names],
                                            relabel(pool["label"]), args.hard_top, rounds=args.hard_rounds, **kw)
                hard_n = len(taken)
                result.setdefault("hard_by_class", {})[seed] = pool.iloc[taken]["label"].value_counts().to_dict()
                train = pd.concat([train, pool.iloc[taken]], ignore_index=True)
            X, y = train[names], relabel(train["label"])
            clf = EnsembleClassifier(**kw).fit(X, y, **fit_kw)
            acfg = AlertConfig(max_false_alerts_per_million=args.max_false_alerts_per_million, survey_fractions=fractions,
                               calibration="temperature" if args.cv >= 2 else "none")
            oof = cross_val_proba(clf, X, y, cv=args.cv, client=client) if args.cv >= 2 else clf.raw_proba(X)
            spec = clf.fit_alerts(oof, y, acfg, negatives=(clf.raw_proba(negs[names]), relabel(negs["label"])))
            if args.save_models:
                clf.save(WORK / f"model_s{seed}", overwrite=True)
            fit_s = time.perf_counter() - t
            row = {"seed": seed, "n_train": int(len(y)), "train_counts": counts, "n_hard": hard_n, "fit_s": fit_s,
                   "alerts": {k: spec.get(k) for k in ("threshold", "temperature", "resolved", "false_alerts_from",
                                                      "expected_false_alerts_per_million", "oof_recall_at_threshold",
                                                      "oof_log_loss_raw", "oof_log_loss_calibrated")}}
            if not args.no_real:
                row["real"], _, _ = rules(clf, real[names], real_lab, lambda m: m & real_flag)
            row["survey"], decided, score = rules(clf, survey[names], sl, lambda m: flag_for(sb, survey, m))
            row["roc_bound"] = roc_bound(sl, score)
            row["survey_by_signal"] = by_signal(sig, decided, survey["label"])
            result["rows"].append(row)
            for kind in ("real", "survey"):
                for mode, m in row.get(kind, {}).items():
                    print(f"seed {seed} {kind:6s} {mode:11s} recall {m['recall']:.3f}  false alerts {m['n_false_alerts']:4d} "
                          f"({m['false_alerts_per_million']:.0f} per million)  {m['false_alerts_by_class']}", flush=True)
            print(f"  ROC bound {row['roc_bound']}  auc {row['survey']['alert'].get('roc_auc', float('nan')):.5f}  "
                  f"fit {fit_s:.0f} s  load {os.getloadavg()[0]:.1f}", flush=True)
            print("  by true signal (dchi2 bin: [n, recall])", json.dumps(row["survey_by_signal"]["alert"]), flush=True)
            print("  alerts", json.dumps(row["alerts"]), flush=True)
            _dump(args, result)
    result["seconds"] = time.perf_counter() - t_start
    result["load_average_end"] = os.getloadavg()
    _dump(args, result)
    return 0


def _dump(args, result):
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))


if __name__ == "__main__":
    raise SystemExit(main())
