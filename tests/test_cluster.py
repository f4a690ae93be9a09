import sys

import dask
import pytest

from lia_dask import cluster
from lia_dask.errors import ConfigError, MissingExtraError


def test_local_client_runs_work_and_reports_dashboard(caplog):
    with caplog.at_level("INFO", logger="lia_dask"):
        with cluster.client("local", n_workers=1, threads_per_worker=1, memory_limit="1GiB") as c:
            assert len(c.scheduler_info()["workers"]) == 1
            assert c.submit(sum, [1, 2, 3]).result() == 6
            assert cluster.current_client() is c
        assert c.cluster.status.name == "closed"  # the cluster lia_dask started closes with its client
    assert any("dashboard: http" in r.getMessage() for r in caplog.records if r.name == "lia_dask.cluster")


def test_dashboard_link_is_logged_for_a_client_the_user_made(local_client, caplog):
    import lia_dask as lia
    from lia_dask import api

    api._ANNOUNCED.discard(id(local_client))
    with caplog.at_level("INFO", logger="lia_dask"):
        assert lia.client() is local_client
    assert any("using the current client; dashboard: http" in r.getMessage() for r in caplog.records)


def test_progress_setting_follows_argument_then_dask_config():
    assert cluster.progress_wanted(True) is True and cluster.progress_wanted(False) is False
    with dask.config.set({"lia_dask.progress": True}):
        assert cluster.progress_wanted() is True
        with cluster.progress_setting(False):
            assert cluster.progress_wanted() is False
    with dask.config.set({"lia_dask.progress": None}):
        assert cluster.progress_wanted() == sys.stderr.isatty()  # pytest: not a notebook


def test_local_settings_come_from_dask_config():
    with dask.config.set({"lia_dask.cluster.n_workers": 1, "lia_dask.cluster.threads_per_worker": 2}):
        with cluster.client("local", processes=False) as c:
            workers = c.scheduler_info()["workers"].values()
            assert [w["nthreads"] for w in workers] == [2]


def test_scheduler_address_connects(local_client):
    addr = local_client.scheduler.address
    with cluster.client(addr) as c:
        assert c.submit(lambda: 41 + 1).result() == 42


def test_unknown_spec_and_bad_adapt():
    with pytest.raises(ConfigError, match="unknown cluster spec 'yarn'"):
        cluster.client("yarn")
    assert cluster.parse_adapt("2:10") == (2, 10)
    with pytest.raises(ConfigError, match="MIN:MAX"):
        cluster.parse_adapt("ten")
    with pytest.raises(ConfigError, match="MIN <= MAX"):
        cluster.parse_adapt("5:1")


@pytest.mark.parametrize("spec, module", [("slurm", "dask_jobqueue"), ("kubernetes", "dask_kubernetes.operator")])
def test_missing_extra_gives_one_sentence_install_hint(spec, module, monkeypatch):
    monkeypatch.setitem(sys.modules, module, None)  # makes the import fail as if the extra were absent
    with pytest.raises(MissingExtraError, match=r"pip install lia-dask\["):
        cluster.client(spec)


def test_compute_with_progress_without_client():
    tasks = [dask.delayed(pow)(i, 2) for i in range(4)]
    assert cluster.compute_with_progress(tasks, None, show=True) == [0, 1, 4, 9]


# ------------------------------------------------------------------------ SLURM (no SLURM here: job scripts only)
SLURM_CFG = {"jobqueue.slurm.cores": 8, "jobqueue.slurm.memory": "32GB", "jobqueue.slurm.processes": 2,
             "jobqueue.slurm.walltime": "02:30:00", "jobqueue.slurm.queue": "astro-cpu",
             "jobqueue.slurm.account": "proj42"}


def test_slurm_job_script_carries_configured_resources():
    pytest.importorskip("dask_jobqueue")
    with dask.config.set(SLURM_CFG):
        c = cluster.slurm_cluster()
        try:
            script = c.job_script()
        finally:
            c.close()
    for line in ("#SBATCH -p astro-cpu", "#SBATCH -A proj42", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=30G",
                 "#SBATCH -t 02:30:00"):
        assert line in script.splitlines(), line
    assert "--nworkers 2" in script and "--nthreads 4" in script  # 8 cores / 2 processes


def test_slurm_precedence_lia_dask_config_then_keywords():
    pytest.importorskip("dask_jobqueue")
    with dask.config.set({**SLURM_CFG, "lia_dask.cluster.slurm": {"queue": "predict", "job-extra-directives": ["--requeue"]}}):
        c = cluster.slurm_cluster(account="other", walltime="00:10:00")
        try:
            lines = c.job_script().splitlines()
        finally:
            c.close()
    assert "#SBATCH -p predict" in lines and "#SBATCH -A other" in lines and "#SBATCH -t 00:10:00" in lines
    assert "#SBATCH --requeue" in lines and "#SBATCH --cpus-per-task=8" in lines


def test_slurm_incomplete_or_wrong_config_is_a_config_error():
    pytest.importorskip("dask_jobqueue")
    with dask.config.set({"jobqueue.slurm.cores": None, "jobqueue.slurm.memory": None}):
        with pytest.raises(ConfigError, match="cores and memory per job not set.*deploy/slurm/jobqueue.yaml"):
            cluster.client("slurm")
    with dask.config.set({**SLURM_CFG, "lia_dask.cluster.slurm": {"partition_name": "x"}}):
        with pytest.raises(ConfigError, match="setting .partition_name. is not understood"):
            cluster.slurm_cluster()


def test_slurm_client_with_adapt_submits_nothing_until_work_arrives():
    pytest.importorskip("dask_jobqueue")
    import argparse

    args = argparse.Namespace(cluster="slurm", workers=None, adapt="0:3")  # lia-dask --cluster slurm --adapt 0:3
    with dask.config.set(SLURM_CFG):
        with cluster.client_from_args(args) as c:
            adaptive = c.cluster._adaptive
            assert (adaptive.minimum, adaptive.maximum) == (0, 3)
            assert c.cluster.plan == set() and len(c.scheduler_info()["workers"]) == 0
            c.cluster.close()


# ------------------------------------------------------------------------ Kubernetes (no API server here)
def test_kubernetes_spec_has_configured_image_resources_and_workers():
    pytest.importorskip("dask_kubernetes")
    conf = {"image": "registry.example.org/lia-dask:9", "worker_cores": 8, "worker_memory": "32Gi", "n_workers": 6,
            "env": {"NUMBA_NUM_THREADS": 8}, "env_from_secret": "s3-creds"}
    with dask.config.set({"lia_dask.cluster.kubernetes": conf}):
        spec = cluster.kubernetes_spec(name="ogle4")
        assert cluster.kubernetes_spec(n_workers=3)["spec"]["worker"]["replicas"] == 3  # --workers wins
    assert spec["kind"] == "DaskCluster" and spec["metadata"]["name"] == "ogle4"
    worker, sched = spec["spec"]["worker"], spec["spec"]["scheduler"]["spec"]["containers"][0]
    assert worker["replicas"] == 6
    w = worker["spec"]["containers"][0]
    assert w["image"] == sched["image"] == "registry.example.org/lia-dask:9"
    assert w["resources"] == {"requests": {"cpu": "8", "memory": "32Gi"}, "limits": {"memory": "32Gi"}}
    assert w["args"][:2] == ["dask", "worker"] and sched["args"][:2] == ["dask", "scheduler"]
    i = w["args"].index("--nthreads")
    assert w["args"][i + 1] == "8" and w["args"][w["args"].index("--memory-limit") + 1] == "32Gi"
    assert {"name": "NUMBA_NUM_THREADS", "value": "8"} in w["env"]
    assert w["envFrom"] == sched["envFrom"] == [{"secretRef": {"name": "s3-creds", "optional": True}}]


def test_kubernetes_incomplete_config_and_unreachable_api_are_config_errors(monkeypatch):
    pytest.importorskip("dask_kubernetes")
    with dask.config.set({"lia_dask.cluster.kubernetes.image": ""}):
        with pytest.raises(ConfigError, match="lia_dask.cluster.kubernetes.image is empty"):
            cluster.kubernetes_spec()
    monkeypatch.setenv("KUBECONFIG", "/nonexistent/kubeconfig")
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(ConfigError, match="could not create DaskCluster 'lia-dask'.*operator"):
        cluster.client("kubernetes", n_workers=2)


# ------------------------------------------------------------------------ connecting to a running scheduler
def test_no_spec_uses_dask_scheduler_address(local_client):
    """A DaskJob pod has DASK_SCHEDULER_ADDRESS (Dask config 'scheduler-address'); no --cluster is needed."""
    addr = local_client.scheduler.address
    with dask.config.set({"scheduler-address": addr}):
        with cluster.client(None) as c:
            assert c.scheduler.address == addr


def test_scheduler_file_spec(local_client, tmp_path):
    import json

    f = tmp_path / "scheduler.json"  # what `dask scheduler --scheduler-file` writes (the address is what counts)
    f.write_text(json.dumps({"type": "Scheduler", "address": local_client.scheduler.address}))
    with cluster.client(str(f)) as c:
        assert c.submit(lambda: 6 * 7).result() == 42


def test_unreachable_scheduler_is_a_config_error():
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
            cluster.client("tcp://127.0.0.1:9")


def test_owned_local_cluster_workers_end_on_close_with_the_quick_exit_armed():
    """Closing the cluster lia_dask started arms the quick exit in its worker processes (never in this
    one) and the processes are gone once it returns."""
    import os

    import psutil

    with cluster.client("local", n_workers=1, threads_per_worker=1, memory_limit="1GiB") as c:
        pids = list(c.run(os.getpid).values())
        assert pids and os.getpid() not in pids
        assert list(c.run(cluster.arm_quick_exit, os.getpid()).values()) == [True]
    assert c.cluster.status.name == "closed"
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids)
