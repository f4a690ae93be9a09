from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
OGLE_ML = SHARED / "data" / "ogle2_dev" / "microlensing"


@pytest.fixture(scope="session")
def ogle_dir() -> Path:
    if not OGLE_ML.is_dir():
        pytest.skip("../shared/data/ogle2_dev is not present")
    return OGLE_ML


@pytest.fixture(scope="session")
def ogle_pool(ogle_dir):
    from lia_dask.simulate import load_cadences

    return load_cadences(ogle_dir)


@pytest.fixture(scope="session")
def dense_pool():
    """20 cadences, one epoch a night for 3 years (plus a little jitter)."""
    from lia_dask.simulate import CadencePool

    rng = np.random.default_rng(0)
    times = [np.arange(1100.0) + rng.uniform(0, 0.3, 1100) for _ in range(20)]
    return CadencePool.from_arrays(times)
