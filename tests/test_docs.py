"""The API reference builds from the docstrings with warnings as errors (``make docs``), covering the public API."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(300)
def test_sphinx_reference_builds_without_warnings(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("numpydoc")
    out = tmp_path / "html"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                          str(ROOT / "docs"), str(out)], capture_output=True, text=True, env=env, timeout=280)
    assert run.returncode == 0, run.stderr[-3000:]
    public = (out / "api" / "public.html").read_text()
    import lia_dask.api

    missing = [n for n in lia_dask.api.__all__
               if not re.search(rf'id="lia_dask\.(api|classifier)\.{n}"', public)]
    assert not missing, f"public API not in the reference: {missing}"
    config = (out / "api" / "configuration.html").read_text()
    assert "threads_per_worker" in config and "storage_options" in config  # the packaged YAML is shown
    assert "DASK_LIA_DASK__CLUSTER__N_WORKERS" in config


def test_makefile_has_a_docs_target():
    text = (ROOT / "Makefile").read_text()
    assert re.search(r"^docs: ", text, re.M) and "sphinx -W" in text
