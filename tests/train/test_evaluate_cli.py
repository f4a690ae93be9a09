"""`lia-dask train` with an alert threshold, then `lia-dask evaluate --real --survey` and `predict` on small data."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lia_dask.cli import main


@pytest.fixture(scope="module")
def trained(ogle_dir, tmp_path_factory, tcp_cluster):
    from lia_dask.archive import IngestConfig, ingest_directory
    from lia_dask.simulate import SimulationConfig, load_cadences
    from lia_dask.simulate.simulate import simulate_training_set

    d = tmp_path_factory.mktemp("alerts")
    real = d / "real"
    ingest_directory(ogle_dir, real, IngestConfig(files_per_partition=10))
    pool = load_cadences(ogle_dir / "microlensing")
    cfg = SimulationConfig(seed=1, min_mag=15, max_mag=19, noise_zeropoint=22, exptime=30, partition_size=100)
    simulate_training_set(pool, 40, d / "train", cfg, features_out=d / "feat")
    survey_cfg = cfg.replace(seed=2)
    simulate_training_set(pool, 30, d / "survey", survey_cfg)
    models = []
    for seed in (0, 1):
        out = d / f"model{seed}"
        rc = main(["--cluster", tcp_cluster, "train", str(d / "feat"), "--out", str(out), "--cv", "3", "--param", "n_estimators=30",
                   "--threads", "1", "--seed", str(seed), "--max-false-alerts-per-million", "20000",
                   "--survey-fractions", "CONSTANT=0.8", "VARIABLE=0.1", "LPV=0.05", "CV=0.04", "ML=0.01"])
        assert rc == 0
        models.append(out)
    return d, real, models, tcp_cluster


def test_train_stores_the_alert_stage(trained):
    d, _, models, _ = trained
    man = json.loads((models[0] / "manifest.json").read_text())
    a = man["alerts"]
    assert a["calibration"] == "temperature" and a["max_false_alerts_per_million"] == 20000
    assert a["survey_prior"] == pytest.approx([0.8, 0.04, 0.05, 0.01, 0.1])  # CONSTANT CV LPV ML VARIABLE
    assert 0 < a["threshold"] <= 1
    # ~40 OOF non-events per class cannot promise 20,000 per million: the bound is its floor, one object per class
    if a["resolved"]:
        assert a["expected_false_alerts_per_million"] <= 20000
    else:
        assert a["resolution_per_million"] > 20000
        assert a["expected_false_alerts_per_million"] == pytest.approx(a["resolution_per_million"])
    assert a["train_prior"] == pytest.approx([0.2] * 5, abs=0.01)


def test_evaluate_real_and_survey(trained, ogle_dir, capsys):
    d, real, models, address = trained
    real_dir = ogle_dir
    out = d / "eval"
    rc = main(["--cluster", address, "evaluate", *map(str, models), "--real", str(real), "--survey", str(d / "survey"),
               "--plots", str(out), "--json", str(out / "m.json")])
    assert rc == 0
    res = json.loads((out / "m.json").read_text())
    assert len(res["models"]) == 2
    for r in res["models"]:
        rl, sv = r["real"], r["survey"]
        n_files = len(list(real_dir.rglob("*.dat")))
        n_ml = len(list((real_dir / "microlensing").glob("*.dat")))
        assert rl["n"] + rl["n_excluded_no_features"] == n_files and rl["n_events"] <= n_ml
        assert 0 <= rl["recall"] <= 1 and 0 <= rl["false_alert_fraction"] <= 1
        assert sv["n"] + sv["n_excluded_no_features"] == 150 and sv["n_events"] <= 30
        n_fa = sum(sv["false_alerts_by_class"].values())
        assert n_fa == sv["n_false_alerts"]
        assert sv["false_alerts_per_million"] == pytest.approx(1e6 * n_fa / sv["n"])
        assert sv["recall"] > 0.5  # the same simulator, another seed
    s = res["summary"]
    assert len(s["survey_recall"]["per_model"]) == 2 and "real_false_alert_fraction" in s
    assert (out / "roc_alerts.png").stat().st_size > 10_000
    printed = json.loads(capsys.readouterr().out)
    assert printed["n_models"] == 2


def test_predict_writes_alert_and_candidates_use_it(trained):
    from lia_dask.archive import open_archive
    from lia_dask.predict.candidates import top_candidates
    from lia_dask.predict.lightcurves import PredictConfig, predict_archive, read_predictions
    from lia_dask.train import EnsembleClassifier

    d, _, models, _ = trained
    predict_archive(open_archive(d / "survey"), models[0], d / "pred", config=PredictConfig(show_progress=False))
    pred = read_predictions(d / "pred")
    clf = EnsembleClassifier.load(models[0])
    assert pred["alert"].dtype == bool
    assert ((pred["prediction"] == "ML") == pred["alert"]).all()
    assert (pred.loc[pred["alert"], "prob_ML"] >= clf.alerts_["threshold"]).all()
    assert (pred.loc[~pred["alert"], "prob_ML"] < clf.alerts_["threshold"]).all()
    probs = pred[[c for c in pred.columns if c.startswith("prob_")]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    cand = top_candidates(d / "pred", top=1000)
    assert len(cand) == int(pred["alert"].sum()) and cand["alert"].all()
    assert isinstance(cand, pd.DataFrame)
