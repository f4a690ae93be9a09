import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from lia_dask.batch import LightcurveBatch, concat_batches
from lia_dask.errors import ArchiveError, InputError


def _batch(n=5, seed=0, photometry="mag"):
    rng = np.random.default_rng(seed)
    lens = rng.integers(0, 30, n)
    times = [np.sort(rng.uniform(0, 100, k)) for k in lens]
    ys = [rng.normal(18, 0.1, k) for k in lens]
    es = [rng.uniform(0.01, 0.05, k) for k in lens]
    return LightcurveBatch.from_lightcurves(np.arange(n) * 10, times, ys, es, labels=[f"c{i % 2}" for i in range(n)],
                                            photometry=photometry), times, ys, es


def test_from_lightcurves_views_match_inputs():
    b, times, ys, es = _batch()
    assert len(b) == 5 and b.n_epochs == sum(map(len, times))
    for i, lc in enumerate(b):
        np.testing.assert_array_equal(lc.time, times[i])
        np.testing.assert_array_equal(lc.y, ys[i])
        np.testing.assert_array_equal(lc.yerr, es[i])
        assert lc.object_id == i * 10 and lc.label == f"c{i % 2}"
    assert np.shares_memory(b[1].time, b.time)  # views, not copies


def test_arrow_round_trip_is_zero_copy_and_lossless():
    b, *_ = _batch(8)
    table = b.to_arrow()
    assert table.schema.metadata[b"photometry"] == b"mag"
    b2 = LightcurveBatch.from_arrow(table)
    assert np.shares_memory(b2.time, table.column("time").chunk(0).values.to_numpy())
    for a, c in zip(b, b2):
        np.testing.assert_array_equal(a.time, c.time)
        np.testing.assert_array_equal(a.y, c.y)
        assert a.object_id == c.object_id and a.label == c.label


def test_from_arrow_on_a_sliced_table_keeps_absolute_offsets():
    b, times, *_ = _batch(6)
    sl = LightcurveBatch.from_arrow(b.to_arrow().slice(2, 3))
    assert len(sl) == 3
    np.testing.assert_array_equal(sl[0].time, times[2])
    np.testing.assert_array_equal(sl.compact()[2].time, times[4])
    assert sl.compact().offsets[0] == 0


def test_from_arrow_rejects_lists_of_different_lengths():
    t = pa.table({"object_id": [1, 2], "time": [[1.0, 2.0], [3.0]], "mag": [[1.0, 2.0], [3.0, 4.0]],
                  "magerr": [[0.1, 0.1], [0.1]]})
    with pytest.raises(ArchiveError, match="object 2"):
        LightcurveBatch.from_arrow(t)


def test_from_arrow_missing_column_names_it():
    t = pa.table({"object_id": [1], "time": [[1.0]], "mag": [[1.0]]})
    with pytest.raises(ArchiveError, match="magerr"):
        LightcurveBatch.from_arrow(t)


def test_long_to_nested_and_back():
    b, *_ = _batch(7)
    long = b.to_long()
    shuffled = long.sample(frac=1.0, random_state=1)  # from_long sorts (lossless)
    b2 = LightcurveBatch.from_long(shuffled, label_col="label")
    nonempty = [lc for lc in b if len(lc.time)]
    assert len(b2) == len(nonempty)
    for a, c in zip(nonempty, b2):
        np.testing.assert_array_equal(a.time, c.time)
        np.testing.assert_array_equal(a.y, c.y)
        assert a.label == c.label


def test_from_long_multiband_groups_by_object_and_band():
    df = pd.DataFrame({"id": [1, 1, 1, 2], "t": [2.0, 1.0, 1.5, 0.0], "f": [1.0, 2, 3, 4], "fe": [0.1] * 4,
                       "b": ["g", "g", "r", "g"]})
    b = LightcurveBatch.from_long(df, object_col="id", time_col="t", y_col="f", yerr_col="fe", band_col="b",
                                  photometry="flux")
    assert list(b.object_id) == [1, 1, 2] and list(b.band) == ["g", "r", "g"]
    np.testing.assert_array_equal(b[0].time, [1.0, 2.0])
    np.testing.assert_array_equal(b[0].y, [2.0, 1.0])


def test_take_concat_and_flux_conversion():
    b, times, ys, _ = _batch(5)
    t = b.take([4, 0])
    np.testing.assert_array_equal(t[0].time, times[4])
    c = concat_batches([b, t])
    assert len(c) == 7
    np.testing.assert_array_equal(c[5].y, ys[4])
    f = b.to_flux()
    np.testing.assert_allclose(f[0].y, 10 ** (-(ys[0] - 22.0) / 2.5))
    with pytest.raises(InputError):
        concat_batches([b, _batch(2, photometry="flux")[0]])


def test_inconsistent_inputs_are_rejected():
    with pytest.raises(InputError, match="differ in length"):
        LightcurveBatch.from_lightcurves([1], [np.arange(3.0)], [np.arange(2.0)], [np.arange(3.0)])
    with pytest.raises(IndexError):
        _batch(2)[0][5]
