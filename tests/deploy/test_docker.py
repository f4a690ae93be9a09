"""The container image recipe (no Docker engine here: the Dockerfile is parsed, the entrypoint run)."""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "deploy" / "docker"
VENV_BIN = Path(sys.executable).parent


def _freeze():
    spec = importlib.util.spec_from_file_location("lia_dask_freeze", DOCKER / "freeze.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", (DOCKER / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_base_image_matches_the_python_of_the_tested_environment():
    ins = _instructions()
    args = dict(a.split("=", 1) for k, a in ins if k == "ARG" and "=" in a)
    frm = [a for k, a in ins if k == "FROM"]
    assert frm == ["python:${PYTHON_VERSION}-slim-bookworm"]
    assert args["PYTHON_VERSION"] == f"{sys.version_info.major}.{sys.version_info.minor}"


def test_every_package_is_pinned_to_the_version_installed_here():
    freeze = _freeze()
    pins = freeze.parse((DOCKER / "constraints.txt").read_text())
    for name in ("dask", "distributed", "numpy", "pandas", "pyarrow", "xgboost", "numba", "zarr", "tensorflow",
                 "dask-jobqueue", "dask-kubernetes", "s3fs", "fsspec", "bokeh"):
        assert name in pins, f"{name} is not pinned in constraints.txt"
    mismatched = {}
    for name, version in pins.items():
        if name in freeze.IMAGE_ONLY:
            continue
        try:
            installed = md.version(name)
        except md.PackageNotFoundError:
            mismatched[name] = (version, "not installed")
            continue
        if installed != version:
            mismatched[name] = (version, installed)
    assert not mismatched, f"constraints.txt differs from .venv (rerun deploy/docker/freeze.py): {mismatched}"
    # and nothing lia-dask[all] needs is missing: the file is what freeze.py renders now
    assert freeze.parse(freeze.render()) == pins, "constraints.txt is stale; rerun deploy/docker/freeze.py"


def test_install_uses_the_constraints_and_the_all_extra():
    ins = _instructions()
    runs = " ".join(a for k, a in ins if k == "RUN")
    assert re.search(r'pip install --constraint /opt/lia-dask/constraints.txt "/opt/lia-dask/src\[all\]" s3fs bokeh', runs)
    assert "pip check" in runs
    copies = [shlex.split(a) for k, a in ins if k == "COPY"]
    sources = [s for c in copies for s in c[:-1]]
    for s in sources:
        assert (ROOT / s).exists(), f"COPY source {s} does not exist"
    assert ["deploy/docker/constraints.txt", "/opt/lia-dask/constraints.txt"] in copies
    ignore = (DOCKER / "Dockerfile.dockerignore").read_text().splitlines()
    for s in sources:  # every COPY source is re-included after the catch-all exclusion
        assert any(line.startswith("!") and line[1:].rstrip("/*") == s.rstrip("/") for line in ignore), s


def test_entrypoint_is_the_shipped_script_and_a_non_root_user_runs_it():
    ins = _instructions()
    entry = [a for k, a in ins if k == "ENTRYPOINT"]
    assert entry == ['["/usr/local/bin/lia-dask-entrypoint"]']
    assert ["deploy/docker/entrypoint.sh", "/usr/local/bin/lia-dask-entrypoint"] in [shlex.split(a) for k, a in ins if k == "COPY"]
    assert [a for k, a in ins if k == "USER"] == ["1000"]
    assert set(" ".join(a for k, a in ins if k == "EXPOSE").split()) == {"8786", "8787", "8788"}


def test_numba_cache_is_filled_at_build_time_by_a_script_that_runs():
    ins = _instructions()
    env = " ".join(a for k, a in ins if k == "ENV")
    assert "NUMBA_CACHE_DIR=/opt/lia-dask/numba-cache" in env
    assert any("python /opt/lia-dask/warmup.py" in a for k, a in ins if k == "RUN")
    r = subprocess.run([sys.executable, str(DOCKER / "warmup.py")], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "warm-up: 168 features, PSPL fit (2, " in r.stdout


def _entry(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(["sh", str(DOCKER / "entrypoint.sh"), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.mark.parametrize("command, expect", [
    (["scheduler", "--help"], "Launch a Dask scheduler"),
    (["dask-worker", "--help"], "Launch a Dask worker"),  # same branch as `worker`; the operator's examples use it
    (["job", "--version"], "lia-dask 0.1.0"),
    (["python", "-c", "print('passthrough')"], "passthrough"),
    ([], "scheduler [dask scheduler options]"),
])
def test_entrypoint_commands(command, expect):
    r = _entry(*command)
    assert r.returncode == 0, r.stderr
    assert expect in r.stdout + r.stderr
