"""Fixtures of the feature tests: the conformance lightcurves as one batch, reference values."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lia_dask.batch import LightcurveBatch

SHARED = (Path(__file__).resolve().parents[2] / ".." / "shared").resolve()
CONFORMANCE = SHARED / "conformance" / "microlia_2.8.1_features.json"
REFERENCE_LC = SHARED / "conformance" / "reference_lightcurve.dat"
OGLE_DEV = SHARED / "data" / "ogle2_dev"


@pytest.fixture(scope="session")
def conformance():
    """dict: ``names`` (168), ``keys`` (61 lightcurve keys, reference first), ``batch``
    (LightcurveBatch of the 61, magnitudes, zp 22) and ``ref`` {"weighted"|"unweighted": (61, 168)}."""
    if not CONFORMANCE.exists():
        pytest.skip(f"conformance file {CONFORMANCE} is not present (../shared beside the repository)")
    conf = json.loads(CONFORMANCE.read_text())
    keys = ["reference_lightcurve"] + list(conf["ogle2_dev"])
    paths = [REFERENCE_LC] + [OGLE_DEV / k for k in conf["ogle2_dev"]]
    entries = [conf["reference_lightcurve"]] + [conf["ogle2_dev"][k] for k in conf["ogle2_dev"]]
    data = [np.loadtxt(p, usecols=(0, 1, 2)) for p in paths]
    batch = LightcurveBatch.from_lightcurves(keys, [d[:, 0] for d in data], [d[:, 1] for d in data],
                                             [d[:, 2] for d in data], zeropoint=22.0)
    ref = {mode: np.array([[np.nan if v is None else v for v in e[mode]] for e in entries], dtype=np.float64)
           for mode in ("weighted", "unweighted")}
    return {"names": list(conf["feature_names"]), "keys": keys, "batch": batch, "ref": ref, "data": data}


@pytest.fixture()
def thread_client():
    """A real in-process LocalCluster (threads, 2 workers), closed after the test."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client
