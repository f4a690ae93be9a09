"""Fixtures of the fault tests: small real archives, a small real XGBoost artifact, file helpers."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lia_dask.archive import write_archive
from lia_dask.batch import LightcurveBatch

SETTINGS = {"zp": 22.0, "convert": None, "apply_weights": True}


def survey_batch(n_objects=40, seed=0, n_ml=8, id_offset=0, band="I"):
    """Flat stars with noise and ``n_ml`` point-lens events (truth in ``sim_is_ml``)."""
    rng = np.random.default_rng(seed)
    is_ml = np.zeros(n_objects, bool)
    is_ml[rng.choice(n_objects, n_ml, replace=False)] = True
    ids, times, ys, es = [], [], [], []
    for i in range(n_objects):
        t = np.sort(rng.uniform(0, 1000, int(rng.integers(60, 120))))
        base, err = rng.uniform(15, 19), rng.uniform(0.01, 0.03)
        m = base + rng.normal(0, err, len(t))
        if is_ml[i]:
            u0, t0, tE = rng.uniform(0.05, 0.5), rng.uniform(200, 800), rng.uniform(10, 60)
            u = np.sqrt(u0 ** 2 + ((t - t0) / tE) ** 2)
            m = m - 2.5 * np.log10((u ** 2 + 2) / (u * np.sqrt(u ** 2 + 4)))
        ids.append(id_offset + i)
        times.append(t)
        ys.append(m)
        es.append(np.full(len(t), err))
    return LightcurveBatch.from_lightcurves(ids, times, ys, es, bands=band, extra={"sim_is_ml": is_ml})


@pytest.fixture
def make_archive(tmp_path):
    """``make_archive(name, n_objects=40, partition_rows=5, seed=0)`` -> a real archive of 8 parts."""
    def make(name="a", n_objects=40, partition_rows=5, seed=0, **kw):
        return write_archive(survey_batch(n_objects, seed, **kw), tmp_path / name, partition_rows=partition_rows)
    return make


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """A real (small) XGBoost ensemble artifact with classes CONSTANT / ML."""
    from lia_dask.features.extract import extract_batch
    from lia_dask.features.registry import FeatureSettings
    from lia_dask.train.ensemble import EnsembleClassifier

    d = tmp_path_factory.mktemp("fault_model")
    b = survey_batch(80, seed=11, n_ml=35)
    values, names = extract_batch(b, FeatureSettings.from_dict(dict(SETTINGS)))
    y = np.where(b.extra["sim_is_ml"], "ML", "CONSTANT")
    clf = EnsembleClassifier(model="xgb", cv=2, random_state=0, params={"n_estimators": 10, "max_depth": 3})
    clf.fit(pd.DataFrame(values, columns=names), pd.Series(y), feature_set="microlia-2.8.1",
            feature_settings=dict(SETTINGS))
    clf.save(d / "model")
    return d / "model"


def write_text(path, rows):
    """A whitespace text lightcurve (time, mag, magerr rows)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(str(v) for v in r) for r in rows) + "\n")


def good_rows(n=20, t0=0.0, err=0.02):
    return [(t0 + i, 18.0 + 0.01 * (i % 7), err) for i in range(n)]


def snapshot(directory):
    """{name: (size, mtime_ns)} of every file under a directory (to prove nothing was written)."""
    return {str(p.relative_to(directory)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture(scope="session")
def fx():
    """The helpers above, for test modules (``--import-mode=importlib`` cannot import conftest)."""
    import types

    return types.SimpleNamespace(survey_batch=survey_batch, write_text=write_text, good_rows=good_rows,
                                 snapshot=snapshot)
