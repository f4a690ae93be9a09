"""The public API (``import lia_dask as lia``): cheap import, the whole flow on a real LocalCluster,
MicroLIA's ``predict(time, mag, magerr)`` agreeing with archive prediction."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lia_dask as lia
from lia_dask.errors import InputError

ROOT = Path(__file__).resolve().parents[1]


def test_import_is_cheap_and_registers_the_config_defaults():
    code = ("import sys, dask, lia_dask as lia; "
            "heavy = [m for m in ('distributed', 'tensorflow', 'xgboost', 'sklearn', 'numba') if m in sys.modules]; "
            "print(heavy); print(dask.config.get('lia_dask.progress'), dask.config.get('lia_dask.cluster.n_workers')); "
            "import lia_dask.train; print(callable(lia.train_classifier), sorted(set(lia.__all__) - set(dir(lia))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stderr
    heavy, config, names = out.stdout.splitlines()
    assert heavy == "[]"  # no cluster machinery, no TensorFlow, no model libraries at import
    assert config == "None None"  # dask.config.get("lia_dask...") works after import (packaged YAML)
    assert names == "True []"  # every exported name resolves, train_classifier survives `import lia_dask.train`


def test_config_yaml_is_shipped_with_the_package():
    import tomllib

    assert (ROOT / "lia_dask" / "lia_dask.yaml").is_file()
    pkg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["lia_dask"]
    assert "lia_dask.yaml" in pkg


@pytest.fixture(scope="module")
def flow(ogle_dir, tmp_path_factory, local_client):
    """ingest -> simulate (cadences and noise of the archive) -> features -> train, all through the API."""
    w = tmp_path_factory.mktemp("api")
    assert lia.client() is local_client  # the current client is used by default
    report = lia.ingest(ogle_dir, w / "ogle2", files_per_partition=3)
    training = lia.simulate_training_set(report.archive, 20, w / "train", seed=5)
    feats = lia.extract_features(training.path)  # a path works like an Archive
    model = lia.train_classifier(feats, out=w / "model", cv=2, random_state=0, params={"n_estimators": 30})
    return w, report, training, feats, model


def test_the_flow_takes_archives_or_paths_and_records_settings(flow):
    w, report, training, feats, model = flow
    assert report.read == report.archived + report.quarantined == 7
    assert training.n_objects == 100 and set(feats["label"]) == {"ML", "CV", "LPV", "VARIABLE", "CONSTANT"}
    assert feats.attrs["feature_settings"]["zp"] == training.zeropoint  # resolved, recorded in the model
    assert model.estimator.feature_settings_["zp"] == training.zeropoint
    assert model.digest == lia.load_model(w / "model").digest != "in-memory"
    assert "kfold" in model.estimator.metrics_  # out-of-fold metrics are in the artifact
    plots = model.plot_report(w / "plots")
    assert [p.name for p in plots[:2]] == ["confusion_matrix.png", "roc.png"]
    with pytest.raises(InputError, match="never plotted"):
        lia.load_model(w / "model").plot_report(w / "plots2")


def test_predict_one_lightcurve_and_lists_like_microlia(flow):
    w, report, _, _, model = flow
    batch = report.archive.read_batch(0)
    lc = batch[0]
    label = model.predict(lc.time, lc.y, lc.yerr)
    proba = model.predict_proba(lc.time, lc.y, lc.yerr)
    assert isinstance(label, str) and label in model.classes_
    assert proba.shape == (len(model.classes_),) and np.isclose(proba.sum(), 1.0)
    assert label == model.estimator.decide(proba[None, :])[0][0]  # the archive prediction's decision
    assert model.estimator.alerts_ is not None  # train_classifier fits the alert stage (the survey recipe)
    many = model.predict_proba([x.time for x in batch], [x.y for x in batch], [x.yerr for x in batch])
    assert many.shape == (len(batch), len(model.classes_)) and np.allclose(many[0], proba)
    # lists may hold lightcurves that cannot be classified: NaN / None, the others unchanged
    short = ([1.0, 2.0], [17.0, 17.1], [0.01, 0.01])
    labels = model.predict([lc.time, short[0]], [lc.y, short[1]], [lc.yerr, short[2]])
    assert labels[0] == label and labels[1] is None
    with pytest.raises(InputError, match="cannot be classified"):
        model.predict(*short)
    with pytest.raises(InputError, match="equally long"):
        model.predict(lc.time, lc.y[:-1], lc.yerr)
    # the artifact reloaded classifies the same way
    assert np.allclose(lia.load_model(w / "model").predict_proba(lc.time, lc.y, lc.yerr), proba)


def test_single_lightcurve_prediction_agrees_with_archive_prediction(flow):
    w, report, _, _, model = flow
    rep = lia.predict_archive(report.archive.path, model, w / "pred", resume=False)
    assert rep.n_input == rep.predicted + rep.quarantined == 7
    pred = lia.read_predictions(w / "pred").sort_values("object_id").reset_index(drop=True)
    lcs = sorted((x for b in report.archive.batches() for x in b), key=lambda x: str(x.object_id))
    proba = model.predict_proba([x.time for x in lcs], [x.y for x in lcs], [x.yerr for x in lcs])
    cols = [f"prob_{c}" for c in model.classes_]
    assert [str(x.object_id) for x in lcs] == pred["object_id"].astype(str).tolist()
    assert np.allclose(pred[cols].to_numpy(), proba, atol=1e-6)


def test_candidates_with_plots_and_bad_top(flow):
    w, report, _, _, model = flow
    lia.predict_archive(report.archive, model, w / "pred_fit", fit_filter=True, resume=False)
    cands = lia.candidates(w / "pred_fit", 2, require_fit=False, plots=w / "cand_plots")
    assert 1 <= len(cands) <= 2 and cands["prob_ML"].is_monotonic_decreasing
    assert len(cands.attrs["plots"]) == len(cands) and all(Path(p).stat().st_size > 5000 for p in cands.attrs["plots"])
    with pytest.raises(InputError, match="top must be >= 1"):
        lia.candidates(w / "pred_fit", 0)

