"""Archives and cutout stores on s3:// (a real S3-compatible server on loopback: moto)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lia_dask.archive import (IngestConfig, ingest_directory, ingest_long, ingest_npy, open_archive, open_cutouts,
                              write_archive, write_cutouts)
from lia_dask.archive import storage
from lia_dask.batch import LightcurveBatch
from lia_dask.errors import InputError, MissingInputError


def _batch(n=30, seed=0):
    rng = np.random.default_rng(seed)
    times = [np.sort(rng.uniform(0, 100, int(rng.integers(10, 40)))) for _ in range(n)]
    ys = [rng.normal(18, 0.1, len(t)) for t in times]
    es = [np.full(len(t), 0.05) for t in times]
    return LightcurveBatch.from_lightcurves(list(range(n)), times, ys, es, labels=["CONSTANT"] * n)


def _keys(url, so):
    fs, root = storage.filesystem(url, so)
    fs.invalidate_cache()
    return sorted(f[len(root) + 1:] for f in fs.find(root))


def test_write_and_open_archive_on_s3(s3, tmp_path):
    bucket, so = s3
    b = _batch()
    url = f"{bucket}/arch"
    a = write_archive(b, url, partition_rows=8, storage_options=so,
                      quarantine=[{"object_id": "x", "source": "test", "reason": "too few points"}])
    assert a.path == url and a.n_partitions == 4 and a.n_objects == 30
    assert all(p.startswith(f"{url}/part.") for p in a.partitions)
    # one object per file, nothing temporary left behind
    assert _keys(url, so) == ["_archive.json", "_quarantine.pqt"] + [f"part.{i:05d}.parquet" for i in range(4)]
    a2 = open_archive(url, storage_options=so)
    a2.validate()
    got = [a2.read_batch(i) for i in range(a2.n_partitions)]
    assert np.concatenate([g.object_id for g in got]).tolist() == list(range(30))
    np.testing.assert_array_equal(np.concatenate([g.y for g in got]), b.y)
    assert a2.quarantine()["reason"].tolist() == ["too few points"]
    assert a2.bands == ["I"] and a2.photometry == "mag"
    local = write_archive(b, tmp_path / "arch", partition_rows=8)
    assert a2.to_dask().compute().shape == local.to_dask().compute().shape


def test_existing_remote_archive_needs_overwrite(s3):
    bucket, so = s3
    url = f"{bucket}/arch"
    write_archive(_batch(20), url, partition_rows=5, storage_options=so)
    with pytest.raises(InputError, match="already exists"):
        write_archive(_batch(6), url, storage_options=so)
    a = write_archive(_batch(6), url, overwrite=True, storage_options=so)
    assert a.n_partitions == 1 and a.n_objects == 6
    assert [k for k in _keys(url, so) if k.startswith("part.")] == ["part.00000.parquet"]


def test_missing_remote_archive_is_a_clear_error(s3):
    bucket, so = s3
    with pytest.raises(MissingInputError, match=f"{bucket}/nothing does not exist"):
        open_archive(f"{bucket}/nothing", storage_options=so)


def test_ingest_text_to_s3_matches_local(s3, ogle_dir, tmp_path):
    """(Worker processes writing to S3: tests/deploy/test_loopback_cluster.py.)"""
    bucket, so = s3
    cfg = IngestConfig(files_per_partition=3)
    rep = ingest_directory(ogle_dir, f"{bucket}/ogle", cfg, storage_options=so)
    ref = ingest_directory(ogle_dir, tmp_path / "ogle", cfg)
    assert (rep.read, rep.archived, rep.quarantined) == (ref.read, ref.archived, ref.quarantined)
    assert rep.read == rep.archived + rep.quarantined
    a = open_archive(f"{bucket}/ogle", storage_options=so)
    assert a.n_partitions == ref.archive.n_partitions
    for i in range(a.n_partitions):
        x, y = a.read_batch(i), ref.archive.read_batch(i)
        assert x.object_id.tolist() == y.object_id.tolist() and x.label.tolist() == y.label.tolist()
        np.testing.assert_array_equal(x.time, y.time)
    # map_batches tasks open the parts with the archive's (picklable) filesystem
    counts = a.map_batches(lambda b: __import__("pandas").DataFrame({"n": [len(b)]}),
                           meta={"n": "int64"}).compute()
    assert counts["n"].sum() == rep.archived


def test_ingest_text_from_s3_input(s3, ogle_dir, tmp_path):
    bucket, so = s3
    fs, root = storage.filesystem(f"{bucket}/raw", so)
    fs.put(str(ogle_dir) + "/", root, recursive=True)
    rep = ingest_directory(f"{bucket}/raw", f"{bucket}/arch", IngestConfig(files_per_partition=100), storage_options=so)
    ref = ingest_directory(ogle_dir, tmp_path / "arch", IngestConfig(files_per_partition=100))
    got, want = rep.archive.read_batch(0), ref.archive.read_batch(0)
    assert sorted(got.object_id.tolist()) == sorted(want.object_id.tolist())
    assert sorted(set(got.label.tolist())) == sorted(set(want.label.tolist())) == ["microlensing", "variables"]
    assert rep.n_epochs == ref.n_epochs


def test_ingest_long_table_from_and_to_s3(s3):
    import pandas as pd

    bucket, so = s3
    rng = np.random.default_rng(1)
    rows = [(oid, band, t, rng.uniform(1e3, 2e3), 10.0) for oid in range(12) for band in "gr" for t in range(8)]
    df = pd.DataFrame(rows, columns=["diaObjectId", "band", "midpointMjdTai", "psfFlux", "psfFluxErr"])
    fs, root = storage.filesystem(bucket, so)
    with fs.open(f"{root}/dia/src.parquet", "wb") as fh:
        df.to_parquet(fh)
    rep = ingest_long(f"{bucket}/dia/src.parquet", f"{bucket}/lsst", preset="rubin-dia", npartitions=2,
                      storage_options=so)
    assert rep.archived == 24 and rep.quarantined == 0
    a = open_archive(f"{bucket}/lsst", storage_options=so)
    assert a.photometry == "flux" and a.bands == ["g", "r"] and a.n_objects == 24


def test_cutout_store_on_s3(s3, tmp_path):
    bucket, so = s3
    rng = np.random.default_rng(2)
    imgs = rng.normal(size=(10, 8, 8, 2)).astype(np.float32)
    st = write_cutouts(f"{bucket}/cut.zarr", imgs, np.arange(10), label=["a"] * 10, bands=["g", "r"], chunk=4,
                       storage_options=so)
    st2 = open_cutouts(f"{bucket}/cut.zarr", storage_options=so)
    assert st2.n_images == 10 and st2.bands == ["g", "r"] and st2.chunk == 4
    np.testing.assert_array_equal(st2.images.compute(), imgs)
    assert st2.label.tolist() == ["a"] * 10 and len(st2.quarantine()) == 0
    imgs[3, 0, 0, 0] = np.nan
    np.save(tmp_path / "c.npy", imgs)
    st3 = ingest_npy(tmp_path / "c.npy", f"{bucket}/cut2.zarr", chunk=4, storage_options=so)
    assert st3.n_images == 9 and st3.quarantine()["object_id"].tolist() == ["3"]
    with pytest.raises(InputError, match="already exists"):
        write_cutouts(f"{bucket}/cut.zarr", imgs, np.arange(10), storage_options=so)
    with pytest.raises(MissingInputError):
        open_cutouts(f"{bucket}/none.zarr", storage_options=so)


def test_cli_info_of_a_remote_cutout_store(s3, capsys):
    from lia_dask.cli import main

    bucket, so = s3
    write_cutouts(f"{bucket}/c.zarr", np.zeros((5, 4, 4, 1), np.float32), np.arange(5), bands=["r"], chunk=2,
                  storage_options=so)
    assert main(["info", f"{bucket}/c.zarr", "--json", "--storage-options", json.dumps(so)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["cutouts"], info["image_shape"], info["bands"], info["chunk"]) == (5, [4, 4, 1], ["r"], 2)


def test_credentials_from_the_environment(s3, s3_env):
    """On a cluster the pods carry AWS_* variables (deploy/kubernetes/storage-secret.example.yaml)."""
    bucket, so = s3
    write_archive(_batch(10), f"{bucket}/env", storage_options=so)
    a = open_archive(f"{bucket}/env")  # no storage_options
    assert a.n_objects == 10 and len(a.read_batch(0)) == 10


def test_cli_ingest_and_info_with_storage_options(s3, ogle_dir, capsys, loopback_cluster):
    from lia_dask.cli import main

    bucket, so = s3
    opts = json.dumps(so)
    assert main(["--cluster", loopback_cluster, "ingest", "text", str(ogle_dir), "--out", f"{bucket}/cli",
                 "--storage-options", opts]) == 0
    assert "read == archived + quarantined: True" in capsys.readouterr().out
    assert main(["info", f"{bucket}/cli", "--json", "--storage-options", opts]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["objects"] == 7 and info["labels"] == {"microlensing": 4, "variables": 3}
    assert main(["info", f"{bucket}/cli", "--storage-options", "[1]"]) == 2
    assert "--storage-options must be a JSON object" in capsys.readouterr().err


def test_fetch_model_directory_and_zip(s3, tmp_path):
    bucket, so = s3
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "manifest.json").write_text('{"kind": "ensemble"}')
    (src / "sub" / "w.bin").write_bytes(b"\x00\x01")
    fs, root = storage.filesystem(bucket, so)
    fs.put(str(src) + "/", f"{root}/models/m1", recursive=True)
    fs.put(str(src / "manifest.json"), f"{root}/models/m.json")
    got = storage.fetch(f"{bucket}/models/m1", so, cache_dir=tmp_path / "cache")
    assert (got / "manifest.json").read_text() == '{"kind": "ensemble"}' and (got / "sub" / "w.bin").read_bytes() == b"\x00\x01"
    assert storage.fetch(f"{bucket}/models/m.json", so, cache_dir=tmp_path / "c2").read_text() == '{"kind": "ensemble"}'
    assert storage.fetch(str(src)) == src
    with pytest.raises(MissingInputError):
        storage.fetch(f"{bucket}/models/none", so)


@pytest.mark.parametrize("where", ["local", "s3"])
def test_location_writes_lists_reads_and_removes(where, s3, tmp_path):
    import pickle

    import pyarrow as pa

    bucket, so = s3
    loc = storage.Location(tmp_path / "out" if where == "local" else f"{bucket}/out", so if where == "s3" else None)
    loc = pickle.loads(pickle.dumps(loc))  # as a worker receives it
    loc.makedirs()
    assert loc.glob("part.*.parquet") == [] and not loc.exists("part.00000.parquet")
    for i in range(3):
        loc.write_table(pa.table({"x": list(range(i + 1))}), f"part.{i:05d}.parquet")
    loc.write_json({"n": 3}, "_summary.json")
    parts = loc.glob("part.*.parquet")
    assert [p.rsplit("/", 1)[-1] for p in parts] == [f"part.{i:05d}.parquet" for i in range(3)]
    assert parts[0] == loc.join("part.00000.parquet") and loc.exists("part.00002.parquet")
    assert [loc.read_metadata(p).num_rows for p in parts] == [1, 2, 3]
    assert loc.read_table("part.00001.parquet").column("x").to_pylist() == [0, 1]
    assert loc.read_json("_summary.json") == {"n": 3}
    names = sorted(p.rsplit("/", 1)[-1] for p in loc.glob("*"))
    assert names == ["_summary.json"] + [f"part.{i:05d}.parquet" for i in range(3)]  # no temporary files left
    loc.remove(parts[:2])
    assert loc.glob("part.*.parquet") == parts[2:]
