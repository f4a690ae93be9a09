"""Same seed -> bit-identical lightcurves whatever the partitioning, class list or scheduler."""
from __future__ import annotations

import numpy as np

from lia_dask.simulate import SimulationConfig, synthetic_cadences
from lia_dask.simulate.simulate import simulate_batch


def _same(a, b):
    assert np.array_equal(a.object_id, b.object_id)
    assert np.array_equal(a.offsets - a.offsets[0], b.offsets - b.offsets[0])
    for x, y in ((a.time, b.time), (a.y, b.y), (a.yerr, b.yerr)):
        assert np.array_equal(x[a.offsets[0]:a.offsets[-1]], y[b.offsets[0]:b.offsets[-1]])
    assert list(a.label) == list(b.label)
    for k in a.extra:
        assert np.array_equal(a.extra[k], b.extra[k], equal_nan=True), k


def test_partitioning_does_not_change_lightcurves(ogle_pool):
    cfg = SimulationConfig(seed=77, partition_size=1000)
    whole = simulate_batch(ogle_pool, 30, cfg)
    for size in (7, 31, 64):
        _same(whole, simulate_batch(ogle_pool, 30, cfg.replace(partition_size=size)))
    # a sub-range simulated alone equals the same rows of the whole set
    part = simulate_batch(ogle_pool, 30, cfg, start=40, stop=95)
    _same(part, whole.take(np.arange(40, 95)))


def test_objects_do_not_depend_on_other_classes_or_counts(ogle_pool):
    cfg = SimulationConfig(seed=5)
    full = simulate_batch(ogle_pool, 12, cfg)
    ml_only = simulate_batch(ogle_pool, 8, cfg.replace(classes=("ML",)))
    full_ml = full.take(np.flatnonzero(full.label == "ML")[:8])
    for k in ("time", "y", "yerr"):
        assert np.array_equal(getattr(full_ml, k), getattr(ml_only, k))
    assert np.array_equal(full_ml.extra["sim_t0"], ml_only.extra["sim_t0"])


def test_seed_changes_everything_and_multiband_rows(ogle_pool):
    a = simulate_batch(ogle_pool, 5, SimulationConfig(seed=1))
    b = simulate_batch(ogle_pool, 5, SimulationConfig(seed=2))
    assert not np.array_equal(a.extra["sim_m0"], b.extra["sim_m0"])
    pool = synthetic_cadences("lsst", 10, seed=3)
    m = simulate_batch(pool, 4, SimulationConfig(seed=1, partition_size=3))
    # one row per (object, band); rows of an object are adjacent, times sorted per row
    assert set(m.band) <= set("ugrizy") and len(m) > 20
    assert all(np.all(np.diff(lc.time) >= 0) for lc in m)
    keys = list(zip(m.object_id, m.band))
    assert len(set(keys)) == len(keys)
    _same(m, simulate_batch(pool, 4, SimulationConfig(seed=1, partition_size=20)))


def test_block_size_inside_a_task_does_not_matter(ogle_pool, monkeypatch):
    from lia_dask.simulate import engine

    cfg = SimulationConfig(seed=31)
    ref = simulate_batch(ogle_pool, 25, cfg)
    monkeypatch.setattr(engine, "BLOCK", 9)
    _same(ref, simulate_batch(ogle_pool, 25, cfg))
