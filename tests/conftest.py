"""Shared fixtures: paths to the bundled and shared data, and a small real LocalCluster."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TEST_DATA = ROOT / "tests" / "data"
SHARED = (ROOT / ".." / "shared").resolve()


@pytest.fixture(scope="session")
def ogle_dir() -> Path:
    """Bundled real OGLE-II lightcurves (tests/data/ogle2: microlensing/, variables/)."""
    return TEST_DATA / "ogle2"


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"the shared data directory {SHARED} is not beside the repository")
    return SHARED


@pytest.fixture(scope="session")
def local_client():
    """A real two-worker LocalCluster (processes), shared by the session's tests."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                      memory_limit="2GiB") as cluster, Client(cluster) as client:
        yield client
