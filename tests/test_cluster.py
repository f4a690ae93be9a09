import sys

import dask
import pytest

from lia_dask import cluster
from lia_dask.errors import ConfigError, MissingExtraError


def test_local_client_runs_work_and_reports_dashboard(capsys):
    with cluster.client("local", n_workers=1, threads_per_worker=1, memory_limit="1GiB") as c:
        assert len(c.scheduler_info()["workers"]) == 1
        assert c.submit(sum, [1, 2, 3]).result() == 6
    assert "dashboard: http" in capsys.readouterr().err


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
