"""deploy/slurm/: the jobqueue template gives the intended job scripts; the sbatch script runs end to end.

There is no SLURM here. dask-jobqueue renders job scripts without submitting them; the sbatch
script runs under bash with SLURM's environment variables set and `srun` replaced by a launcher
that starts the step's command once per node on this machine — the scheduler, the workers and
lia-dask are the real programs.
"""
from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import dask
import pytest
import yaml

from lia_dask import cluster

ROOT = Path(__file__).resolve().parents[2]
SLURM = ROOT / "deploy" / "slurm"


def _flatten(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v:
            out.update(_flatten(v, key))
        else:
            out[key] = v
    return out


def test_jobqueue_template_renders_the_intended_job_script():
    pytest.importorskip("dask_jobqueue")
    from dask.utils import parse_timedelta

    cfg = yaml.safe_load((SLURM / "jobqueue.yaml").read_text())
    slurm = cfg["jobqueue"]["slurm"]
    assert slurm["queue"] == slurm["account"] == "CHANGE-ME"
    flat = _flatten(cfg)
    flat.update({"jobqueue.slurm.queue": "astro", "jobqueue.slurm.account": "survey-42"})
    with dask.config.set(flat):
        c = cluster.slurm_cluster()
        try:
            script = c.job_script()
        finally:
            c.close()
    lines = script.splitlines()
    for line in ("#SBATCH -p astro", "#SBATCH -A survey-42", f"#SBATCH --cpus-per-task={slurm['cores']}",
                 "#SBATCH -t 04:00:00", "#SBATCH --requeue", "#SBATCH --mem=120G"):
        assert line in lines, line
    threads = slurm["cores"] // slurm["processes"]
    assert f"--nworkers {slurm['processes']}" in script and f"--nthreads {threads}" in script
    assert "source $HOME/lia-dask/.venv/bin/activate" in lines
    # workers retire before the walltime so adapt() can replace them
    i = slurm["worker-extra-args"].index("--lifetime")
    lifetime = parse_timedelta(slurm["worker-extra-args"][i + 1])
    assert f"--lifetime {slurm['worker-extra-args'][i + 1]}" in script
    h, m, s = (int(x) for x in slurm["walltime"].split(":"))
    assert 0 < lifetime < h * 3600 + m * 60 + s


def test_sbatch_directives():
    text = (SLURM / "lia-dask.sbatch").read_text()
    directives = dict(re.findall(r"^#SBATCH --([\w-]+)(?:=(\S+))?", text, flags=re.M))
    assert {"nodes", "ntasks-per-node", "cpus-per-task", "mem", "time", "partition", "account", "requeue"} <= set(directives)
    assert directives["ntasks-per-node"] == "1"  # one worker per node, all its cores as threads
    r = subprocess.run(["bash", "-n", str(SLURM / "lia-dask.sbatch")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


SRUN_SHIM = """#!/bin/sh
# test stand-in for srun: start the step's command once per node (SLURM_NNODES) on this machine
while [ "$#" -gt 0 ]; do case "$1" in -*) shift ;; *) break ;; esac; done
i=0
while [ "$i" -lt "${SLURM_NNODES:-1}" ]; do "$@" & i=$((i + 1)); done
wait
"""


def test_sbatch_script_runs_scheduler_workers_and_prediction(tiny_model, ogle_dir, tmp_path):
    from lia_dask.archive import IngestConfig, ingest_directory
    from lia_dask.predict import read_predictions, read_quarantine

    arch = ingest_directory(ogle_dir, tmp_path / "ogle", IngestConfig(files_per_partition=3)).archive
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "srun").write_text(SRUN_SHIM)
    (bindir / "srun").chmod((bindir / "srun").stat().st_mode | stat.S_IEXEC)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "SLURM_JOB_ID": "4242", "SLURM_NNODES": "1", "SLURM_CPUS_PER_TASK": "1", "SLURM_MEM_PER_NODE": "1536",
           "SLURM_SUBMIT_DIR": str(run_dir), "LIA_DASK_VENV": "", "TMPDIR": str(tmp_path)}
    out = tmp_path / "pred"
    r = subprocess.run(["bash", str(SLURM / "lia-dask.sbatch"), "predict", str(arch.path), "--model", str(tiny_model),
                        "--out", str(out)], env=env, capture_output=True, text=True, timeout=300, cwd=run_dir)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "input == predicted + quarantined: True" in r.stdout
    assert len(read_predictions(out)) + len(read_quarantine(out)) == arch.n_objects
    workers_log = (run_dir / "lia-dask-workers-4242.log").read_text()
    assert workers_log.count("Registered to:") == 1  # one worker per node
    assert "--memory-limit" not in workers_log and "1.35 GiB" in workers_log  # 90 % of SLURM_MEM_PER_NODE
    assert not (run_dir / "lia-dask-scheduler-4242.json").exists()  # cleaned up at exit
