import shutil

import numpy as np
import pandas as pd
import pytest

from lia_dask.archive import IngestConfig, ValidationConfig, ingest_directory, ingest_long, open_archive, read_text_lightcurve
from lia_dask.errors import InputError, MissingInputError


def _write(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(" ".join(str(v) for v in r) for r in rows) + "\n")


def _good_rows(n=20, t0=0.0):
    return [(t0 + i, 18.0 + 0.01 * i, 0.02) for i in range(n)]


def test_real_ogle_directory_on_local_cluster(ogle_dir, tmp_path, local_client):
    rep = ingest_directory(ogle_dir, tmp_path / "a", IngestConfig(files_per_partition=3), client=local_client)
    assert rep.read == 7 and rep.archived == 7 and rep.quarantined == 0
    a = open_archive(tmp_path / "a")
    assert a.n_partitions == 3 and a.n_objects == 7
    labels = {lc.object_id: lc.label for b in a.batches() for lc in b}
    assert labels["10.220492"] == "microlensing" and labels["342"] == "variables"
    # values survive unchanged (file -> archive)
    t, m, e = read_text_lightcurve(ogle_dir / "microlensing" / "14.480480.dat")
    lc = next(lc for b in a.batches() for lc in b if lc.object_id == "14.480480")
    np.testing.assert_array_equal(lc.time, t)
    np.testing.assert_array_equal(lc.y, m)
    assert rep.duplicate_epochs == 1  # 3.541151 has two epochs at one time, kept as MicroLIA does


def test_every_bad_text_input_is_quarantined_with_a_reason(tmp_path):
    src = tmp_path / "in"
    _write(src / "good.dat", _good_rows())
    unsorted = _good_rows()[::-1]
    _write(src / "unsorted.dat", unsorted)
    _write(src / "twocols.dat", [(1, 2)] * 10)
    _write(src / "text.dat", [(1, "abc", 0.1)] + _good_rows()[1:])
    _write(src / "nan.dat", _good_rows()[:-1] + [(99, "nan", 0.1)])
    _write(src / "inf.dat", _good_rows()[:-1] + [(99, 18.0, "inf")])
    _write(src / "short.dat", _good_rows(3))
    (src / "empty.dat").write_text("")
    (src / "binary.dat").write_bytes(b"\xff\xfe\x00\x81" * 10)
    _write(src / "ragged.dat", _good_rows(5) + [(1, 2, 3, 4)])
    dup = _good_rows() + [(5.0, 18.5, 0.02)]
    _write(src / "dupdiff.dat", dup)
    _write(src / "dupsame.dat", _good_rows() + [_good_rows()[5]])
    rep = ingest_directory(src, tmp_path / "a", IngestConfig(files_per_partition=4))
    q = open_archive(tmp_path / "a").quarantine().set_index("object_id")["reason"]
    assert rep.read == 12 and rep.read == rep.archived + rep.quarantined
    assert set(q.index) == {"twocols", "text", "nan", "inf", "short", "empty", "binary", "ragged"}
    assert "column count" in q["twocols"] and "non-numeric" in q["text"]
    assert "NaN or infinite" in q["nan"] and "NaN or infinite" in q["inf"]
    assert "too few points" in q["short"] and "empty" in q["empty"]
    assert "unreadable" in q["binary"] and "ragged" in q["ragged"]
    a = open_archive(tmp_path / "a")
    lcs = {lc.object_id: lc for b in a.batches() for lc in b}
    assert np.all(np.diff(lcs["unsorted"].time) > 0) and len(lcs["unsorted"].time) == 20  # sorted, nothing lost
    assert len(lcs["dupdiff"].time) == 21 and len(lcs["dupsame"].time) == 21  # kept by default
    assert rep.repaired >= 1 and rep.duplicate_epochs == 2


def test_duplicate_epoch_policies(tmp_path):
    src = tmp_path / "in"
    _write(src / "dupdiff.dat", _good_rows() + [(5.0, 18.5, 0.02)])
    _write(src / "dupsame.dat", _good_rows() + [_good_rows()[5]])
    strict = IngestConfig(validation=ValidationConfig(duplicate_epochs="quarantine"))
    rep = ingest_directory(src, tmp_path / "q", strict)
    assert rep.quarantined == 2
    drop = IngestConfig(validation=ValidationConfig(duplicate_epochs="drop-exact"))
    ingest_directory(src, tmp_path / "d", drop)
    lcs = {lc.object_id: lc for b in open_archive(tmp_path / "d").batches() for lc in b}
    assert len(lcs["dupsame"].time) == 20 and len(lcs["dupdiff"].time) == 21


def test_min_points_is_configurable(ogle_dir, tmp_path):
    cfg = IngestConfig(validation=ValidationConfig(min_points=100))
    rep = ingest_directory(ogle_dir, tmp_path / "a", cfg)
    q = open_archive(tmp_path / "a").quarantine()
    assert rep.quarantined == len(q) > 0 and q["reason"].str.contains("min_points=100").all()


def test_directory_errors(tmp_path):
    with pytest.raises(MissingInputError, match="does not exist"):
        ingest_directory(tmp_path / "nope", tmp_path / "a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no files"):
        ingest_directory(tmp_path / "empty", tmp_path / "a")
    src = tmp_path / "in"
    _write(src / "good.dat", _good_rows())
    ingest_directory(src, tmp_path / "a")
    with pytest.raises(InputError, match="already exists"):
        ingest_directory(src, tmp_path / "a")


def _rubin_table(n_obj=40, seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_obj):
        for band in "gr":
            k = int(rng.integers(6, 30))
            for t in rng.uniform(60000, 60300, k):
                rows.append((1000 + i, t, rng.uniform(500, 2000), rng.uniform(5, 20), band))
    df = pd.DataFrame(rows, columns=["diaObjectId", "midpointMjdTai", "psfFlux", "psfFluxErr", "band"])
    return df.sample(frac=1.0, random_state=seed).reset_index(drop=True)  # epochs arrive unordered


def test_long_parquet_rubin_preset_with_dask_shuffle(tmp_path, local_client):
    df = _rubin_table()
    df.loc[df.index[:3], "psfFlux"] = -5.0  # non-positive flux: three (object, band) rows quarantined at most
    src = tmp_path / "src"
    src.mkdir()
    for i, chunk in enumerate(np.array_split(np.arange(len(df)), 4)):  # several input files
        chunk = df.iloc[chunk]
        chunk.to_parquet(src / f"dia_{i}.parquet")
    # rubin-forced (direct-image fluxes): non-positive flux is quarantined; rubin-dia keeps it (tests/archive/test_hats.py)
    rep = ingest_long(str(src / "*.parquet"), tmp_path / "a", preset="rubin-forced", npartitions=3, client=local_client)
    a = open_archive(tmp_path / "a")
    assert a.photometry == "flux" and a.zeropoint == 31.4 and a.time_system == "MJD-TAI"
    assert a.n_partitions == 3 and a.bands == ["g", "r"]
    assert rep.read == 80 and rep.read == rep.archived + rep.quarantined and 1 <= rep.quarantined <= 3
    assert a.quarantine()["reason"].str.contains("non-positive flux").all()
    seen = {}
    for b in a.batches():
        for lc in b:
            assert (lc.object_id, lc.band) not in seen
            assert np.all(np.diff(lc.time) > 0)
            seen[(lc.object_id, lc.band)] = len(lc.time)
    expected = df[df.psfFlux > 0].groupby(["diaObjectId", "band"]).size()
    for key, n in seen.items():
        assert expected[key] == n
    objs = [set(b.object_id.tolist()) for b in a.batches()]
    assert sum(map(len, objs)) == len(set().union(*objs))  # objects never split


def test_long_csv_with_explicit_mapping(tmp_path):
    df = _rubin_table(10).rename(columns={"diaObjectId": "id", "midpointMjdTai": "hjd", "psfFlux": "m",
                                          "psfFluxErr": "e"})
    df["m"] = 18 + df["m"] / 1000
    df.to_csv(tmp_path / "t.csv", index=False)
    mapping = {"id": "object_id", "hjd": "time", "m": "mag", "e": "magerr", "band": "band"}
    rep = ingest_long(tmp_path / "t.csv", tmp_path / "a", mapping)
    assert rep.archived == 20 and open_archive(tmp_path / "a").photometry == "mag"
    with pytest.raises(InputError, match="no column"):
        ingest_long(tmp_path / "t.csv", tmp_path / "b", {**mapping, "nope": "label"})
    with pytest.raises(InputError, match="magerr"):
        ingest_long(tmp_path / "t.csv", tmp_path / "c", {"id": "object_id", "hjd": "time", "m": "mag"})
    with pytest.raises(InputError, match="unknown preset"):
        ingest_long(tmp_path / "t.csv", tmp_path / "d", preset="nope")


def test_cli_ingest_and_info(ogle_dir, tmp_path, capsys):
    from lia_dask.cli import main

    assert main(["--workers", "1", "ingest", "text", str(ogle_dir), "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert "read=7 archived=7 quarantined=0" in out
    assert main(["info", str(tmp_path / "a"), "--json"]) == 0
    import json

    info = json.loads(capsys.readouterr().out)
    assert info["objects"] == 7 and info["bands"] == ["I"] and info["quarantined"] == 0
    assert info["epochs_per_object"]["min"] >= 11 and info["labels"] == {"microlensing": 4, "variables": 3}
    assert main(["info", str(tmp_path / "nope")]) == 2
    assert "does not exist" in capsys.readouterr().err
