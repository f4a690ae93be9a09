"""The numba cache of the kernels is correct: an edit of a helper invalidates the kernels that call it.

numba's default cache stamp is the defining file of each function, but helpers are inlined into
their callers' machine code; ``lia_dask.features.common.kernel`` stamps every kernel with the
digest of all kernel sources instead. Proven on a copy of the package in fresh processes: a
second process loads the kernel from the cache (a cache hit, same value); after an edit of a
helper in ``common.py`` only, the kernel in ``moments.py`` gives the edited value.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, numpy as np
from lia_dask.features.moments import f_meanMag
x = np.array([1.0, 2.0, 4.0]); s = np.full(3, 0.1)
v = f_meanMag(np.arange(3.0), x, s, False, np.argsort(x))
print(json.dumps({"value": v, "hits": sum(f_meanMag.stats.cache_hits.values()),
                  "misses": sum(f_meanMag.stats.cache_misses.values())}))
"""


def _run(pkg_root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_CACHE")}
    env["PYTHONPATH"] = str(pkg_root)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300,
                         cwd=pkg_root)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_helper_edit_invalidates_the_cached_kernels_that_call_it(tmp_path):
    shutil.copytree(ROOT / "lia_dask", tmp_path / "lia_dask", ignore=shutil.ignore_patterns("__pycache__"))
    first = _run(tmp_path)
    assert first["value"] == pytest.approx(7.0 / 3.0) and first["misses"] >= 1
    second = _run(tmp_path)
    assert second["value"] == first["value"] and second["hits"] >= 1 and second["misses"] == 0
    common = tmp_path / "lia_dask" / "features" / "common.py"
    src = common.read_text()
    edited = src.replace("        acc += x[i]\n    return acc / n\n", "        acc += x[i]\n    return acc / n + 1.0\n", 1)
    assert edited != src
    common.write_text(edited)  # a helper only: moments.py (the kernel's own file) is unchanged
    third = _run(tmp_path)
    assert third["value"] == pytest.approx(7.0 / 3.0 + 1.0), "a stale cached kernel ignored the helper edit"
    common.write_text(src)
    assert _run(tmp_path)["value"] == first["value"]
