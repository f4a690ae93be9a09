"""The start-up of a prediction job: workers warmed while the client prepares, the model as artifact bytes,
the CLI's concurrent cluster start (same files and counts as the API on a started cluster)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lia_dask import artifact
from lia_dask.cluster_warm import warm_spec_for_model, warm_status, warm_workers


def _driver_keys() -> list:
    from lia_dask.features import driver

    return [list(k) for k in driver._DRIVERS]


def _lia_modules() -> list[str]:
    import sys

    return sorted(m for m in ("lia_dask.predict.lightcurves", "lia_dask.train.ensemble", "xgboost") if m in sys.modules)


def test_warm_plugin_loads_the_models_driver_and_predictions_are_unchanged(model_dir, tmp_path, make_survey):
    """A fresh worker warmed for the model has imported the engine and the model library and holds the
    driver of exactly the model's columns; the job then gives the in-process probabilities bit for bit
    and the model still reaches the worker once."""
    from distributed import Client, LocalCluster

    from lia_dask.predict import PredictConfig, predict_archive, predict_batch, read_predictions, received_counts

    manifest = artifact.read_manifest(model_dir)
    spec = warm_spec_for_model(manifest, "mag")
    assert spec.selected_features == tuple(manifest["selected_features"])
    arch = make_survey(tmp_path / "s", n_objects=60, partition_rows=30, seed=5)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                      memory_limit="2GiB") as cl, Client(cl) as client:
        assert list(client.run(_driver_keys).values()) == [[]]  # nothing loaded in a fresh worker
        name, remove = warm_workers(client, spec)
        seconds = client.run(warm_status, name, 300)
        assert all(s is not None and s > 0 for s in seconds.values()), seconds
        (keys,) = client.run(_driver_keys).values()
        assert keys == [list(spec.selected_features)]
        assert list(client.run(_lia_modules).values()) == [["lia_dask.predict.lightcurves", "lia_dask.train.ensemble",
                                                            "xgboost"]]
        assert list(client.run(received_counts).values()) == [{}]  # warming never touches the model
        rep = predict_archive(arch, model_dir, tmp_path / "p", client=client, config=PredictConfig(show_progress=False))
        assert list(client.run(received_counts).values()) == [{manifest["digest"]: 1}]
        remove()
    got = read_predictions(tmp_path / "p")
    ref = pd.concat([predict_batch(arch.read_batch(k), artifact.load(model_dir))[0] for k in range(arch.n_partitions)],
                    ignore_index=True)
    probs = [c for c in ref.columns if c.startswith("prob_")]
    assert rep.predicted + rep.quarantined == 60 and len(got) == len(ref)
    np.testing.assert_array_equal(got[probs].to_numpy(), ref[probs].to_numpy())
    assert (got["prediction"].to_numpy() == ref["prediction"].to_numpy()).all()




def test_cli_concurrent_start_gives_the_files_and_counts_of_a_started_cluster(ogle_archive, model_dir, tmp_path,
                                                                               local_client, capsys):
    """`lia-dask predict` (cluster started in the background, workers warmed, model sent as bytes) writes
    the same predictions and counts as predict_archive on a started cluster, and a rerun resumes."""
    from lia_dask.cli import main
    from lia_dask.predict import PredictConfig, predict_archive, read_predictions

    out = tmp_path / "cli"
    assert main(["--workers", "2", "predict", str(ogle_archive.path), "--model", str(model_dir), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "input=7 predicted=7 quarantined=0 (input == predicted + quarantined: True)" in text
    ref = predict_archive(ogle_archive, model_dir, tmp_path / "api", client=local_client,
                          config=PredictConfig(show_progress=False))
    a, b = read_predictions(out), read_predictions(tmp_path / "api")
    pd.testing.assert_frame_equal(a, b)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in (tmp_path / "api").iterdir())
    import json

    sa, sb = (json.loads((d / "_summary.json").read_text()) for d in (out, tmp_path / "api"))
    assert {k: sa[k] for k in ("n_input", "predicted", "quarantined", "partitions", "model_digest")} == \
        {k: sb[k] for k in ("n_input", "predicted", "quarantined", "partitions", "model_digest")} and ref.predicted == 7
    assert main(["predict", str(ogle_archive.path), "--model", str(model_dir), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith("nothing to do")


def test_artifact_payload_checks_the_manifest_only_and_refuses_another_kind(model_dir, tmp_path):
    import shutil

    from lia_dask.errors import InputError
    from lia_dask.predict.lightcurves import artifact_payload

    m, recorded = artifact_payload(model_dir)
    assert m.digest == artifact.digest(model_dir) and recorded == artifact.read_manifest(model_dir)["feature_settings"]
    clf = m.classifier  # built from the bytes, as a worker does
    assert clf.digest_ == m.digest and list(clf.selected_features_) == artifact.read_manifest(model_dir)["selected_features"]
    bad = tmp_path / "m"
    shutil.copytree(model_dir, bad)
    man = artifact.read_manifest(bad)
    import json

    raw = json.loads((bad / "manifest.json").read_text())
    raw["kind"] = "cnn"
    (bad / "manifest.json").write_text(json.dumps(raw))
    try:
        artifact_payload(bad)
    except Exception as exc:  # the edited manifest's digest no longer matches: refused before its kind
        assert "edited" in str(exc) or isinstance(exc, InputError)
    else:
        raise AssertionError("an edited artifact was accepted")
    assert man["kind"] == "ensemble"
