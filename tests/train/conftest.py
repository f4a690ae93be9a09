"""Small synthetic feature tables (with NaNs) and an in-process LocalCluster for the training tests."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

CLASSES = np.array(["CV", "ML", "VARIABLE"])


def make_table(n=240, d=10, informative=4, seed=0, nan_frac=0.05, n_classes=3):
    """DataFrame (n, d) with named columns, string labels, ~nan_frac NaNs; informative columns first."""
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=n, n_features=d, n_informative=informative, n_redundant=0,
                               n_repeated=0, n_classes=n_classes, n_clusters_per_class=1, class_sep=1.5,
                               shuffle=False, random_state=seed)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < nan_frac] = np.nan
    df = pd.DataFrame(X, columns=[f"feat_{i}" for i in range(d)])
    return df, CLASSES[:n_classes][y] if n_classes <= 3 else y


@pytest.fixture(scope="module")
def table():
    return make_table()


@pytest.fixture(scope="module")
def inproc_client():
    """Two single-thread workers in this process (real scheduler, real tasks)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def tcp_cluster():
    """An in-process cluster reachable by address, as `--cluster tcp://...` expects."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp",
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address
