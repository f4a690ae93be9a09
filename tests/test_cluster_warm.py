"""Workers warmed while the client prepares a job (lia_dask.cluster_warm) and the background client start."""
from __future__ import annotations

from concurrent.futures import Future

import numpy as np
import pandas as pd
import pytest

from lia_dask import artifact, cluster
from lia_dask.cluster_warm import WarmSpec, warm_process, warm_spec_for_model, warm_status, warm_workers


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


def test_warm_process_in_this_process_and_a_failure_is_only_logged(caplog):
    """Warming runs the selected driver on synthetic series (magnitudes and fluxes); a broken spec fails
    quietly in the plugin's thread (the task that needs it reports the error) but loudly when called."""
    spec = WarmSpec(modules=("lia_dask.features.extract", "no_such_module_lia"),
                    feature_settings={"feature_set": "microlia-2.8.1", "zp": 22.0, "convert": None,
                                      "apply_weights": True}, selected_features=("skew", "Stetson_K"))
    assert warm_process(spec) > 0
    assert warm_process(WarmSpec(modules=(), feature_settings=spec.feature_settings, photometry="flux",
                                 selected_features=("skew",))) > 0
    bad = WarmSpec(modules=(), feature_settings={"feature_set": "no-such-set"})
    with pytest.raises(Exception):
        warm_process(bad)
    from lia_dask import cluster_warm

    with caplog.at_level("DEBUG", logger="lia_dask.cluster_warm"):
        cluster_warm._run("t-bad", bad)
    assert cluster_warm._SECONDS["t-bad"] == -1.0 and any("t-bad failed" in r.getMessage() for r in caplog.records)


class _Args:
    cluster = "local"
    workers = 1
    adapt = None


def test_start_client_runs_on_start_first_and_closes_the_cluster():
    seen = []
    with cluster.start_client(_Args(), on_start=lambda c: seen.append(len(c.scheduler_info()["workers"]))) as fut:
        assert isinstance(fut, Future)
        c = cluster.active_client(fut)  # waits for the start
        assert c.submit(sum, [1, 2]).result() == 3 and seen == [1]
    assert c.status == "closed" and c.cluster.status.name == "closed"


def test_start_client_failure_reaches_the_caller_and_leaves_no_cluster():
    class Boom(RuntimeError):
        pass

    made = []

    def on_start(c):
        made.append(c)
        raise Boom("warm-up registration failed")

    with pytest.raises(Boom):
        with cluster.start_client(_Args(), on_start=on_start) as fut:
            cluster.active_client(fut)
    assert made and made[0].status == "closed" and made[0].cluster.status.name == "closed"
