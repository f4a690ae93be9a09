"""Partitioned, resumable CNN inference on a real LocalCluster; CLI; Optuna tuning."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from lia_dask.archive import write_cutouts  # noqa: E402
from lia_dask.predict.cutouts import predict_cutouts, read_predictions, read_quarantine, worker_load_counts  # noqa: E402
from lia_dask.errors import InputError  # noqa: E402


@pytest.fixture(scope="module")
def threaded_client():
    """Two in-process workers (tcp, so the CLI can connect by address)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client


def test_partitioned_inference_matches_single_process_and_loads_once(tiny_lens_model, threaded_client, tmp_path):
    store, model, clf = tiny_lens_model
    assert store.n_images // store.chunk == 4
    s = predict_cutouts(store, model, tmp_path / "p", client=threaded_client)
    assert s.n_input == 64 == s.predicted and s.quarantined == 0 and s.partitions == 4
    df = read_predictions(tmp_path / "p")
    np.testing.assert_array_equal(df.object_id.to_numpy(), np.arange(64))
    np.testing.assert_allclose(df.prob.to_numpy(), clf.predict_positive(store), atol=1e-6)
    np.testing.assert_allclose(df.prob_LENS + df.prob_NONLENS, 1.0)
    assert (df.model_digest == clf.digest_).all()
    assert set(df.prediction) <= {"LENS", "NONLENS"}
    # a second job with the same model: still one model built per worker (keyed by digest)
    predict_cutouts(store, model, tmp_path / "p2", client=threaded_client)
    loads = worker_load_counts(threaded_client)
    assert len(loads) == 2 and all(v <= 1 for v in loads.values()) and sum(loads.values()) >= 1
    summary = json.loads((tmp_path / "p" / "_summary.json").read_text())
    assert summary["model_digest"] == clf.digest_ and summary["kind"] == "cutouts" and summary["predicted"] == 64


def test_rerun_skips_finished_parts_and_refuses_another_model(tiny_lens_model, tmp_path):
    store, model, clf = tiny_lens_model
    out = tmp_path / "p"
    predict_cutouts(store, model, out)  # default scheduler (threads)
    first = read_predictions(out)
    (out / "part.00002.parquet").unlink()
    s = predict_cutouts(store, model, out)
    assert s.skipped == 3 and s.predicted == 64
    pd.testing.assert_frame_equal(read_predictions(out), first)
    assert not list(out.glob(".*.tmp"))
    # parts written by another model are not mixed in
    import pyarrow.parquet as pq

    t = pq.read_table(out / "part.00000.parquet")
    meta = dict(t.schema.metadata)
    meta[b"lia_dask.model_digest"] = b"other"
    pq.write_table(t.replace_schema_metadata(meta), out / "part.00000.parquet")
    with pytest.raises(InputError, match="another model"):
        predict_cutouts(store, model, out)


def test_nan_only_cutouts_are_quarantined_and_counts_reconcile(tiny_lens_model, tmp_path):
    store, model, clf = tiny_lens_model
    imgs = np.asarray(store.images[:20]).copy()
    imgs[3] = np.nan
    imgs[17, :5] = np.nan  # partly NaN: predicted (NaN-safe normalisation)
    st = write_cutouts(tmp_path / "s", imgs, np.arange(100, 120), bands=["g", "r", "i"], chunk=8)
    s = predict_cutouts(st, model, tmp_path / "p")
    assert (s.n_input, s.predicted, s.quarantined) == (20, 19, 1)
    q = read_quarantine(tmp_path / "p")
    assert q.object_id.tolist() == ["103"] and "no finite pixel" in q.reason.iloc[0]
    df = read_predictions(tmp_path / "p")
    assert 103 not in df.object_id.values and np.isfinite(df.prob).all()


def test_wrong_shape_store_is_refused(tiny_lens_model, tmp_path):
    _, model, _ = tiny_lens_model
    st = write_cutouts(tmp_path / "s", np.zeros((4, 10, 10, 3), np.float32), np.arange(4), bands=["g", "r", "i"])
    with pytest.raises(InputError, match="needs"):
        predict_cutouts(st, model, tmp_path / "p")


def test_cli_simulate_train_predict(threaded_client, tmp_path, capsys):
    from lia_dask.cli import main

    assert main(["cnn", "simulate", "--out", str(tmp_path / "s"), "--n", "40", "--image-size", "16",
                 "--bands", "g,i", "--chunk", "16"]) == 0
    assert main(["cnn", "train", str(tmp_path / "s"), "--out", str(tmp_path / "m"), "--epochs", "1",
                 "--width", "0.25", "--batch-size", "16", "--flip", "--shift", "1", "--val-fraction", "0.2",
                 "--colour-residuals", "--rot90", "--average-orientations"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out[out.index("{"):])["digest"]
    settings = json.loads((tmp_path / "m" / "manifest.json").read_text())["settings"]
    assert settings["input"]["channels"] == ["g", "i", "g-k*i"]
    assert settings["config"]["augment"]["rot90"] and settings["config"]["average_orientations"]
    assert main(["--cluster", threaded_client.scheduler.address, "cnn", "predict", str(tmp_path / "s"),
                 "--model", str(tmp_path / "m"), "--out", str(tmp_path / "p")]) == 0
    got = read_predictions(tmp_path / "p")
    assert len(got) == 40
    # the cluster predicts as the artifact says: the mean over the 8 orientations
    from lia_dask.archive import open_cutouts
    from lia_dask.cnn import CNNClassifier

    clf = CNNClassifier.load(tmp_path / "m")
    ids = np.asarray(open_cutouts(tmp_path / "s").object_id).astype(str)
    p8 = pd.Series(clf.predict_positive(tmp_path / "s"), index=ids)
    by_id = got.assign(object_id=got.object_id.astype(str)).set_index("object_id").prob
    np.testing.assert_allclose(by_id.loc[p8.index].to_numpy(), p8.to_numpy(), atol=1e-6)
    clf.config.average_orientations = False
    assert np.abs(clf.predict_positive(tmp_path / "s") - p8.to_numpy()).max() > 1e-6
    assert main(["--cluster", threaded_client.scheduler.address, "cnn", "predict", str(tmp_path / "nope"),
                 "--model", str(tmp_path / "m"), "--out", str(tmp_path / "q")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_optuna_tuning_with_pruning(easy_images, tiny):
    import optuna

    from lia_dask.cnn import CNNConfig
    from lia_dask.cnn.tune import TuneConfig, tune

    x, y = easy_images(32, size=16, seed=5)
    xv, yv = easy_images(16, size=16, seed=6)
    study, cfg, aug = tune(x, y, xv, yv, CNNConfig(epochs=2, **tiny),
                           TuneConfig(n_trials=3, metric="val_auc", max_copies=2, seed=0))
    assert len(study.trials) == 3
    assert {t.state for t in study.trials} <= {optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED}
    assert {"learning_rate", "batch_size", "optimizer", "image_size", "batch", "width_shift"} <= set(study.best_params)
    assert cfg.image_size == aug.image_size == study.best_params["image_size"]
    assert cfg.learning_rate == study.best_params["learning_rate"] and 0 <= study.best_value <= 1


def test_tuning_prunes_trials_after_an_epoch(easy_images, tiny):
    import optuna

    from lia_dask.cnn import CNNConfig
    from lia_dask.cnn.tune import TuneConfig, tune

    x, y = easy_images(16, size=12, seed=7)
    # val_auc can never exceed 1.5: every trial is pruned at its first epoch, none completes
    with pytest.raises(InputError, match="no tuning trial completed"):
        tune(x, y, x, y, CNNConfig(epochs=3, **tiny),
             TuneConfig(n_trials=2, metric="val_auc", pruner=optuna.pruners.ThresholdPruner(lower=1.5),
                        tune_augmentation=False))
