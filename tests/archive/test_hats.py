"""HATS / LSDB input: real catalogs written by lsdb in the DP1 schema, read back one pixel per task."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("lsdb")

from lia_dask.archive import open_archive
from lia_dask.archive.hats import (
    SPATIAL_INDEX, HatsConfig, batch_to_nested, frame_to_batch, ingest_hats, is_hats_catalog, open_hats,
    write_hats_catalog,
)
from lia_dask.archive.ingest import IngestConfig
from lia_dask.archive.validate import ValidationConfig
from lia_dask.batch import LightcurveBatch
from lia_dask.errors import InputError


def _dia_batch(n=60, seed=3):
    rng = np.random.default_rng(seed)
    ids, times, ys, es, bands = [], [], [], [], []
    for k in range(n):
        for b in rng.choice(list("ugrizy"), size=rng.integers(1, 5), replace=False):
            m = int(rng.integers(2, 12))
            t = np.sort(rng.uniform(60600, 61000, m))
            ids.append(10**15 + k)
            times.append(t)
            ys.append(rng.normal(0.0, 300.0, m))  # difference fluxes: about half negative
            es.append(np.full(m, 50.0))
            bands.append(str(b))
    order = np.lexsort((np.array(bands), np.array(ids)))
    pick = lambda a: [a[i] for i in order]  # noqa: E731
    return LightcurveBatch.from_lightcurves(pick(ids), pick(times), pick(ys), pick(es), bands=pick(bands),
                                            photometry="flux", zeropoint=31.4)


@pytest.fixture(scope="module")
def dp1_catalog(tmp_path_factory):
    batch = _dia_batch()
    n = len(np.unique(batch.object_id))
    rng = np.random.default_rng(0)
    nf = batch_to_nested(batch, rng.uniform(50, 70, n), rng.uniform(-35, -20, n))
    path = write_hats_catalog(nf, tmp_path_factory.mktemp("hats") / "dp1", partition_rows=15, margin_arcsec=5.0)  # a collection, as DP1
    return path, batch, nf


def test_catalog_is_detected_and_read_one_pixel_per_partition(dp1_catalog):
    path, batch, nf = dp1_catalog
    assert is_hats_catalog(path) and not is_hats_catalog(path.parent)
    src = open_hats(path)
    assert src.n_partitions >= 3 and all(p is not None for p in src.pixels)
    got = {}
    n_rows = 0
    for i in range(src.n_partitions):
        b, objects = src.read_batch(i)
        n_rows += len(b)
        assert (b.extra[SPATIAL_INDEX] >= 0).all()
        for lc in b:
            assert np.all(np.diff(lc.time) >= 0)
            got[(int(lc.object_id), lc.band)] = (lc.time.copy(), lc.y.copy())
    assert n_rows == len(batch)  # every (object, band) lightcurve exactly once
    for lc in batch:
        t, y = got[(int(lc.object_id), lc.band)]
        np.testing.assert_array_equal(t, lc.time)
        np.testing.assert_array_equal(y, lc.y)
    assert (batch.y < 0).mean() > 0.3


def test_dia_source_preset_and_nested_frame_source(dp1_catalog):
    _, batch, nf = dp1_catalog
    src = open_hats(nf, preset="rubin-dia")  # an in-memory NestedFrame: one partition
    b, objects = src.read_batch(0)
    assert len(objects) == len(nf)
    assert np.all(np.abs(b.y) >= 5 * b.yerr)  # diaSource holds the detections only
    assert b.n_epochs < batch.n_epochs


def test_flags_drop_epochs_and_bad_names_are_named(dp1_catalog):
    _, _, nf = dp1_catalog
    frame = nf.copy()
    flat = frame["diaObjectForcedSource"].nest.to_flat()
    flags = np.zeros(len(flat), bool)
    flags[::4] = True
    frame["diaObjectForcedSource.psfFlux_flag"] = flags
    b, objects = frame_to_batch(frame, HatsConfig())
    assert objects["n_flagged"].sum() == flags.sum()
    assert b.n_epochs == len(flat) - flags.sum()
    with pytest.raises(InputError, match="psfDiffFlux"):
        frame_to_batch(frame, HatsConfig(value="psfDiffFlux"))
    with pytest.raises(InputError, match="'objectId'"):
        frame_to_batch(frame, HatsConfig(id_column="objectId"))
    with pytest.raises(InputError, match="no flag field"):
        frame_to_batch(frame, HatsConfig(flags=("pixelFlags_bad",), flags_optional=False))


def test_ingest_hats_counts_min_points_over_the_object_and_keeps_negative_fluxes(dp1_catalog, tmp_path, local_client):
    path, batch, _ = dp1_catalog
    cfg = IngestConfig(validation=ValidationConfig(min_points=12))
    report = ingest_hats(path, tmp_path / "arch", ingest_config=cfg, client=local_client)
    assert report.read == len(batch) == report.archived + report.quarantined
    arch = open_archive(tmp_path / "arch")
    assert arch.n_partitions == open_hats(path).n_partitions
    kept = pd.concat([arch.read_batch(i).to_long() for i in range(arch.n_partitions)])
    totals = pd.Series(batch.lengths, index=batch.object_id).groupby(level=0).sum()
    assert set(kept["object_id"].unique()) == set(totals.index[totals >= 12])  # per object, not per band
    assert (kept["flux"] < 0).any()  # difference fluxes are valid, not quarantined
    q = arch.quarantine()
    assert q["reason"].str.contains("over all bands").all() and len(q) == report.quarantined


def test_long_table_rubin_dia_preset_keeps_difference_fluxes(tmp_path):
    batch = _dia_batch(n=20)
    df = batch.to_long().rename(columns={"object_id": "diaObjectId", "time": "midpointMjdTai", "flux": "psfFlux",
                                         "flux_err": "psfFluxErr"})
    df.to_parquet(tmp_path / "dia.parquet")
    from lia_dask.archive import ingest_long

    rep = ingest_long(str(tmp_path / "dia.parquet"), tmp_path / "a", preset="rubin-dia", npartitions=1,
                      config=IngestConfig(validation=ValidationConfig(min_points=1)))
    assert rep.quarantined == 0 and rep.archived == len(batch)
    assert (open_archive(tmp_path / "a").read_batch(0).y < 0).mean() > 0.3


def test_cli_ingest_hats(dp1_catalog, tmp_path, local_client, capsys):
    from lia_dask.cli import main

    path, batch, _ = dp1_catalog
    rc = main(["--cluster", local_client.scheduler.address, "ingest", "hats", str(path), "--out", str(tmp_path / "a"),
               "--min-points", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and f"read={len(batch)} archived={len(batch)} quarantined=0" in out
    rc = main(["ingest", "hats", str(path), "--out", str(tmp_path / "b"), "--field", "value=psfDiffFlux"])
    assert rc == 2 and "psfDiffFlux" in capsys.readouterr().err
