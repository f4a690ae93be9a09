"""Archive output on a LocalCluster, the CLI, cadence sources and bad input."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from lia_dask import schema as S
from lia_dask.errors import InputError, MissingInputError
from lia_dask.simulate import CadencePool, SimulationConfig, load_cadences, synthetic_cadences
from lia_dask.simulate.simulate import simulate_batch, simulate_training_set


@pytest.fixture(scope="module")
def local_client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        with Client(cluster) as client:
            yield client


def _read_all(arch):
    from lia_dask.batch import concat_batches

    return concat_batches(list(arch.batches()))


def test_local_cluster_archive_equals_in_memory(ogle_dir, tmp_path, local_client):
    cfg = SimulationConfig(seed=13, partition_size=45)
    arch = simulate_training_set(ogle_dir, 20, tmp_path / "train", cfg, client=local_client)
    assert arch.n_partitions == 3 and arch.n_objects == 100
    got = _read_all(arch)
    ref = simulate_batch(ogle_dir, 20, cfg.replace(partition_size=1000))
    assert np.array_equal(got.object_id, ref.object_id)
    np.testing.assert_array_equal(got.y, ref.y)
    np.testing.assert_array_equal(got.time, ref.time)
    np.testing.assert_array_equal(got.extra["sim_tE"], ref.extra["sim_tE"])
    assert list(got.label) == list(ref.label)
    meta = json.loads((tmp_path / "train" / "_simulation.json").read_text())
    assert meta["counts"]["per_class"] == {c: 20 for c in S.CLASSES}
    assert meta["config"]["seed"] == 13
    # default scheduler (no client) writes the same bytes of data
    arch2 = simulate_training_set(ogle_dir, 20, tmp_path / "train2", cfg)
    np.testing.assert_array_equal(_read_all(arch2).y, got.y)
    with pytest.raises(InputError, match="already exists"):
        simulate_training_set(ogle_dir, 20, tmp_path / "train", cfg)


def test_cli_simulate(ogle_dir, tmp_path, capsys):
    from lia_dask.archive import open_archive
    from lia_dask.cli import main

    out = tmp_path / "cli"
    rc = main(["simulate", "--cadence", str(ogle_dir), "--n-per-class", "6", "--classes", "ML", "CONSTANT",
               "--min-mag", "15", "--max-mag", "19", "--noise-from", str(ogle_dir), "--seed", "3",
               "--out", str(out)])
    assert rc == 0
    arch = open_archive(out)
    b = _read_all(arch)
    assert sorted(set(b.label)) == ["CONSTANT", "ML"] and len(b) == 12
    assert np.all((b.extra["sim_m0"] >= 15) & (b.extra["sim_m0"] <= 19))
    assert json.loads((out / "_simulation.json").read_text())["config"]["noise"]["kind"] == "empirical"
    assert "wrote 12 simulated objects (12 lightcurve rows)" in capsys.readouterr().out
    rc = main(["simulate", "--cadence", str(ogle_dir), "--n-per-class", "3", "--classes", "SN", "--out",
               str(tmp_path / "x")])
    assert rc == 2 and "unknown class name" in capsys.readouterr().err


def test_cadence_sources(ogle_dir, tmp_path):
    from lia_dask.archive import ingest_directory

    from_dir = load_cadences(ogle_dir)
    ingest_directory(ogle_dir, tmp_path / "arch")
    from_arch = load_cadences(tmp_path / "arch")
    assert from_dir.n_cadences == from_arch.n_cadences == len(list(ogle_dir.glob("*.dat")))
    assert sorted(from_dir.lengths) == sorted(from_arch.lengths)
    assert np.array_equal(np.sort(from_dir.time), np.sort(from_arch.time))
    assert load_cadences(ogle_dir, max_cadences=5).n_cadences == 5
    assert load_cadences(tmp_path / "arch", max_cadences=7).n_cadences == 7
    for kind in ("seasonal", "nightly", "lsst"):
        pool = synthetic_cadences(kind, 5, seed=1, years=2)
        assert pool.n_cadences == 5 and np.all(pool.lengths > 20)
        assert np.all(pool.time >= 0) and np.all(pool.time < 2 * 365.25 + 1)
    assert synthetic_cadences("lsst", 3).band_names == tuple(sorted("ugrizy"))
    arch = simulate_training_set(synthetic_cadences("lsst", 6, seed=2), 3, tmp_path / "lsst",
                                 SimulationConfig(seed=1, photometry="flux"))
    meta = json.loads((tmp_path / "lsst" / "_simulation.json").read_text())
    assert meta["counts"]["per_class"] == {c: 3 for c in S.CLASSES}  # objects, not (object, band) rows
    assert arch.n_objects > 15 and arch.photometry == "flux"


def test_bad_input_messages(tmp_path, ogle_pool):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="holds no lightcurve files"):
        load_cadences(empty)
    with pytest.raises(MissingInputError, match="does not exist"):
        load_cadences(tmp_path / "nope")
    with pytest.raises(InputError, match="holds no lightcurves"):
        load_cadences([])
    with pytest.raises(InputError, match="no cadence has at least 10 finite epochs"):
        CadencePool.from_arrays([np.arange(4.0), np.arange(9.0)])
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        pool = CadencePool.from_arrays([np.arange(4.0), np.arange(30.0)])
    assert pool.n_cadences == 1 and "1 of 2 cadences" in str(w[0].message)
    with pytest.raises(InputError, match="min_mag"):
        SimulationConfig(min_mag=21, max_mag=14)
    with pytest.raises(InputError, match="unknown class name"):
        SimulationConfig(classes=("ML", "QSO"))
    for bad in (0, -3, 2.5):
        with pytest.raises(InputError, match="positive integer"):
            simulate_batch(ogle_pool, bad)
    with pytest.raises(InputError, match="unknown class name"):
        simulate_batch(ogle_pool, {"ML": 3, "QSO": 2})


def test_feature_parts_match_feature_extraction(ogle_dir, tmp_path):
    import pandas as pd

    from lia_dask.features import extract_archive
    from lia_dask.features.registry import FeatureSettings

    cfg = SimulationConfig(seed=8, partition_size=9)
    arch = simulate_training_set(ogle_dir, 4, tmp_path / "t", cfg, features_out=tmp_path / "f")
    feats = pd.concat([pd.read_parquet(p) for p in sorted((tmp_path / "f").glob("part.*.parquet"))],
                      ignore_index=True)
    assert len(feats) == arch.n_objects == 20
    assert list(feats["label"]) == [c for c in S.CLASSES for _ in range(4)]
    assert "sim_tE" in feats.columns and (feats["feature_reason"] == 0).all()
    ref = extract_archive(arch, FeatureSettings(zp=None, convert=None)).compute().reset_index(drop=True)
    names = [c for c in ref.columns if c not in ("object_id", "band", "label", "feature_reason")]
    assert len(names) == 168
    np.testing.assert_array_equal(feats[names].to_numpy(), ref[names].to_numpy())
