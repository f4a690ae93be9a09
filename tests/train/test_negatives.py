"""Hard-negative mining: the helper and `lia-dask train --hard-negatives --alert-negatives` end to end."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from lia_dask.cli import main
from lia_dask.train import EnsembleClassifier
from lia_dask.train.negatives import hard_negative_rows


def test_hard_negative_rows_takes_the_most_event_like_non_events():
    score = np.array([0.9, 0.1, 0.8, np.nan, 0.95, 0.3])
    labels = np.array(["CONSTANT", "CV", "ML", "CV", "ML", "CONSTANT"])
    assert hard_negative_rows(score, labels, 2).tolist() == [0, 5]  # events (rows 2, 4) are never taken
    assert hard_negative_rows(score, labels, 10).tolist() == [0, 5, 1, 3]  # NaN scores last
    assert hard_negative_rows(score, labels, 0).tolist() == []


def _table(n, seed, ml_fraction):
    """Two classes on 4 features; a few CONSTANT rows sit inside the ML cloud (the hard negatives)."""
    rng = np.random.default_rng(seed)
    n_ml = int(n * ml_fraction)
    X = rng.normal(size=(n, 4))
    X[:n_ml, :2] += 3.0
    hard = rng.random(n) < 0.03
    hard[:n_ml] = False
    X[hard, :2] += 3.0
    y = np.where(np.arange(n) < n_ml, "ML", "CONSTANT")
    return pd.DataFrame(X, columns=[f"f{i}" for i in range(4)]).assign(
        label=y, object_id=np.arange(n), band="I", feature_reason=np.int8(0))


def test_train_with_hard_negatives_and_alert_negatives(tmp_path, tcp_cluster, capsys):
    _table(600, 1, 0.3).to_parquet(tmp_path / "train.parquet")
    _table(4000, 2, 0.0).to_parquet(tmp_path / "pool.parquet")
    _table(6000, 3, 0.0).to_parquet(tmp_path / "negatives.parquet")
    out = tmp_path / "model"
    rc = main(["--cluster", tcp_cluster, "train", str(tmp_path / "train.parquet"), "--out", str(out), "--cv", "3",
               "--threads", "1", "--param", "n_estimators=30", "--hard-negatives", str(tmp_path / "pool.parquet"),
               "--hard-top", "200", "--alert-negatives", str(tmp_path / "negatives.parquet"),
               "--survey-fractions", "CONSTANT=0.99", "ML=0.01", "--max-false-alerts-per-million", "1000"])
    assert rc == 0, capsys.readouterr().err
    text = capsys.readouterr().out
    assert "200 hard negatives" in text and "'CONSTANT': 200" in text
    man = json.loads((out / "manifest.json").read_text())
    assert np.asarray(man["metrics"]["kfold"]["confusion_matrix"]).sum() == 800  # 600 + 200 mined rows
    clf = EnsembleClassifier.load(out)
    assert clf.alerts_["false_alerts_from"] == "6000 held-out non-events" and clf.alerts_["resolved"]
    # the mined rows are the pool's event-like constants: the final model calls fewer of them ML
    pool = pd.read_parquet(tmp_path / "pool.parquet")
    names = [f"f{i}" for i in range(4)]
    plain = EnsembleClassifier(model="xgb", random_state=0, params={"n_estimators": 30}, n_jobs=1).fit(
        pd.read_parquet(tmp_path / "train.parquet")[names], pd.read_parquet(tmp_path / "train.parquet")["label"])
    k = [str(c) for c in clf.classes_].index("ML")
    assert (clf.raw_proba(pool[names])[:, k] > 0.5).sum() < (plain.raw_proba(pool[names])[:, k] > 0.5).sum()


def test_mining_rounds_take_fresh_rows_each_round():
    from lia_dask.train.negatives import mine_hard_negatives

    tr, pool = _table(400, 4, 0.3), _table(1500, 5, 0.0)
    names = [f"f{i}" for i in range(4)]
    kw = dict(model="xgb", random_state=0, params={"n_estimators": 20}, n_jobs=1)
    one = mine_hard_negatives(tr[names], tr["label"], pool[names], pool["label"], 30, **kw)
    two = mine_hard_negatives(tr[names], tr["label"], pool[names], pool["label"], 30, rounds=2, **kw)
    assert len(one) == 30 and len(two) == 60 and len(np.unique(two)) == 60
    assert two[:30].tolist() == one.tolist()  # round 1 is the single-round mining
    assert (pool["label"].to_numpy()[two] != "ML").all()
