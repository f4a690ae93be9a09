import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lia_dask.archive import open_archive, split_batch, write_archive
from lia_dask.batch import LightcurveBatch, concat_batches
from lia_dask.errors import ArchiveError, InputError, MissingInputError, PartitionError


def make_batch(n=50, bands=("g", "r"), seed=1):
    rng = np.random.default_rng(seed)
    ids, bs, times, ys, es = [], [], [], [], []
    for i in range(n):
        for b in bands:
            k = int(rng.integers(5, 60))
            ids.append(i)
            bs.append(b)
            times.append(np.sort(rng.uniform(0, 1000, k)))
            ys.append(rng.uniform(100, 1000, k))
            es.append(rng.uniform(1, 5, k))
    return LightcurveBatch.from_lightcurves(ids, times, ys, es, bands=bs, photometry="flux", zeropoint=31.4)


def test_round_trip_archive_batches_archive(tmp_path):
    b = make_batch()
    a = write_archive(b, tmp_path / "a", partition_bytes=20_000)
    assert a.n_partitions > 1 and a.n_objects == len(b)
    assert a.photometry == "flux" and a.zeropoint == 31.4 and a.bands == ["g", "r"]
    back = concat_batches(list(a.batches()))
    for x, y in zip(b, back):
        assert (x.object_id, x.band) == (y.object_id, y.band)
        np.testing.assert_array_equal(x.time, y.time)
        np.testing.assert_array_equal(x.y, y.y)
    a2 = write_archive(a.batches(), tmp_path / "b", partition_bytes=20_000)
    assert a2.n_objects == a.n_objects and a2.n_partitions == a.n_partitions


def test_partitions_never_split_an_object(tmp_path):
    a = write_archive(make_batch(80), tmp_path / "a", partition_bytes=10_000)
    seen = set()
    for batch in a.batches():
        ids = set(batch.object_id.tolist())
        assert not ids & seen, "an object appears in two partitions"
        seen |= ids
        assert all(np.sum(batch.object_id == i) == 2 for i in ids)  # both bands together
    assert len(seen) == 80


def test_split_batch_respects_row_cap():
    pieces = split_batch(make_batch(30, bands=("g",)), 1e12, partition_rows=7)
    assert [len(p) for p in pieces] == [7, 7, 7, 7, 2]


def test_metadata_in_every_part(tmp_path):
    import pyarrow.parquet as pq

    a = write_archive(make_batch(20), tmp_path / "a", partition_bytes=5_000)
    for p in a.partitions:
        kv = pq.read_metadata(p).metadata
        assert kv[b"lia_dask.schema_version"] == b"1" and kv[b"photometry"] == b"flux"
        assert kv[b"zeropoint"] == b"31.4"


def test_to_dask_and_map_batches(tmp_path):
    b = make_batch(40)
    a = write_archive(b, tmp_path / "a", partition_bytes=15_000)
    ddf = a.to_dask()
    assert ddf.npartitions == a.n_partitions
    df = ddf.compute()
    assert len(df) == len(b) and isinstance(df["time"].dtype, pd.ArrowDtype)
    meta = pd.DataFrame({"object_id": pd.Series([], dtype="int64"), "n": pd.Series([], dtype="int64")})
    out = a.map_batches(lambda x: pd.DataFrame({"object_id": x.object_id, "n": x.lengths}), meta).compute()
    assert out["n"].sum() == b.n_epochs


def test_error_in_partition_names_partition(tmp_path):
    a = write_archive(make_batch(10), tmp_path / "a", partition_rows=4)

    def boom(batch):
        raise ZeroDivisionError("nope")

    meta = pd.DataFrame({"x": pd.Series([], dtype="int64")})
    with pytest.raises(PartitionError, match=r"partition (\d+) \(.*part\.0*\1\.parquet\)") as info:
        a.map_batches(boom, meta).compute(scheduler="sync")
    assert isinstance(info.value.cause, ZeroDivisionError)


def test_corrupted_part_is_reported_by_name(tmp_path):
    a = write_archive(make_batch(10), tmp_path / "a", partition_rows=4)
    bad = a.partitions[1]
    with open(bad, "r+b") as fh:
        fh.seek(0)
        fh.write(b"garbage!" * 8)
    with pytest.raises(ArchiveError, match="part.00001.parquet"):
        a.read_batch(1)
    with pytest.raises(ArchiveError, match="part.00001.parquet"):
        open_archive(tmp_path / "a").validate()
    # the good parts stay readable
    assert len(a.read_batch(0)) == 4


def test_open_archive_errors(tmp_path):
    with pytest.raises(MissingInputError, match="does not exist"):
        open_archive(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveError, match="no part"):
        open_archive(tmp_path / "empty")
    write_archive(make_batch(3), tmp_path / "a")
    with pytest.raises(InputError, match="already exists"):
        write_archive(make_batch(3), tmp_path / "a")
    a = write_archive(make_batch(4), tmp_path / "a", overwrite=True)
    assert a.n_objects == 8


def test_quarantine_table_written_beside(tmp_path):
    q = [{"object_id": "x1", "source": "f.dat", "reason": "empty lightcurve (no epochs)"}]
    a = write_archive(make_batch(3), tmp_path / "a", quarantine=q)
    assert a.quarantine().to_dict("records") == q
    assert a.summary["counts"] == {"read": 7, "archived": 6, "quarantined": 1}
