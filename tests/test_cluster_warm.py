"""Workers warmed while the client prepares a job (lia_dask.cluster_warm) and the background client start."""
from __future__ import annotations

from concurrent.futures import Future

import pytest

from lia_dask import cluster
from lia_dask.cluster_warm import WarmSpec, warm_process


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


def test_quick_exit_is_never_armed_in_the_clients_own_process():
    import os

    assert cluster.arm_quick_exit(os.getpid()) is False
