"""A small real model for the prediction tests: simulated on the bundled OGLE-II cadences, XGBoost."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lia_dask.archive import IngestConfig, ingest_directory, open_archive, write_archive
from lia_dask.batch import LightcurveBatch


@pytest.fixture(scope="session")
def ogle_archive(ogle_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("ogle") / "archive"
    ingest_directory(ogle_dir, out, IngestConfig(files_per_partition=3))
    return open_archive(out)


@pytest.fixture(scope="session")
def model_dir(ogle_archive, tmp_path_factory):
    from lia_dask.features.registry import get_feature_set
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set
    from lia_dask.train.ensemble import EnsembleClassifier

    d = tmp_path_factory.mktemp("model")
    simulate_training_set(ogle_archive.path, 40, d / "train", SimulationConfig(seed=1), features_out=d / "feat")
    feats = pd.read_parquet(d / "feat")
    names = list(get_feature_set().names)
    clf = EnsembleClassifier(model="xgb", cv=3, random_state=0, params={"n_estimators": 40, "max_depth": 4})
    clf.fit(feats[names], feats["label"], feature_set="microlia-2.8.1",
            feature_settings={"zp": 22.0, "convert": None, "apply_weights": True})
    clf.save(d / "model")
    return d / "model"


@pytest.fixture(scope="session")
def make_survey():
    """Factory of small synthetic survey archives (see :func:`survey_archive`)."""
    return survey_archive


def survey_archive(path, n_objects=120, partition_rows=20, seed=0, n_ml=10):
    """A small synthetic survey: flat stars with noise and ``n_ml`` PSPL events (truth in sim_is_ml)."""
    rng = np.random.default_rng(seed)
    ids, times, ys, es = [], [], [], []
    is_ml = np.zeros(n_objects, bool)
    is_ml[rng.choice(n_objects, n_ml, replace=False)] = True
    for i in range(n_objects):
        t = np.sort(rng.uniform(0, 1000, int(rng.integers(80, 200))))
        base = rng.uniform(15, 19)
        err = 0.01 + 0.02 * (base - 15) / 4
        m = base + rng.normal(0, err, len(t))
        if is_ml[i]:
            u0, t0, tE = rng.uniform(0.05, 0.8), rng.uniform(200, 800), rng.uniform(10, 60)
            u = np.sqrt(u0 ** 2 + ((t - t0) / tE) ** 2)
            m = m - 2.5 * np.log10((u ** 2 + 2) / (u * np.sqrt(u ** 2 + 4)))
        ids.append(i)
        times.append(t)
        ys.append(m)
        es.append(np.full(len(t), err))
    b = LightcurveBatch.from_lightcurves(ids, times, ys, es, extra={"sim_is_ml": is_ml})
    return write_archive(b, path, partition_rows=partition_rows)
