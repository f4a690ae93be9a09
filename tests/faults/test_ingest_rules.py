"""Ingest: resumable, safe overwrite, object identity, and one explicit rule per kind of bad input."""
from __future__ import annotations

import os

import dask
import numpy as np
import pandas as pd
import pytest
from dask.callbacks import Callback

from lia_dask.archive import IngestConfig, ValidationConfig, ingest_directory, ingest_long, open_archive
from lia_dask.errors import ArchiveError, InputError


class _StopAfter(Callback):
    """Interrupt a running Dask computation after ``n`` tasks finished (as a killed client would)."""

    def __init__(self, n):
        super().__init__()
        self.n = n

    def _posttask(self, key, result, dsk, state, id):
        if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], dict) and "footer_sha256" in result[0]:
            self.n -= 1
            if self.n <= 0:
                raise KeyboardInterrupt("stopped by the test")


def _src(tmp_path, fx, n=6):
    src = tmp_path / "in"
    for i in range(n):
        fx.write_text(src / ("ML" if i % 2 else "CONSTANT") / f"s{i}.dat", fx.good_rows(20 + i))
    return src


def _interrupted_ingest(src, out, n_done=2, cfg=None):
    cfg = cfg or IngestConfig(files_per_partition=1)
    with dask.config.set(scheduler="sync"), _StopAfter(n_done), pytest.raises(KeyboardInterrupt):
        ingest_directory(src, out, cfg)


def test_interrupted_ingest_is_not_an_archive_and_a_rerun_resumes(tmp_path, fx):
    src, out = _src(tmp_path, fx), tmp_path / "a"
    _interrupted_ingest(src, out)
    assert len(list(out.glob("part.*.parquet"))) == 2 and not (out / "_archive.json").exists()
    with pytest.raises(ArchiveError, match="did not finish; rerun the same ingest"):
        open_archive(out)
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("part.*.parquet")}
    rep = ingest_directory(src, out, IngestConfig(files_per_partition=1))
    assert rep.read == rep.archived == 6 and rep.archive.summary["counts"]["resumed_parts"] == 2
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("part.*.parquet") if p.name in stamps} == stamps
    assert not (out / "_ingest").exists()
    clean = ingest_directory(src, tmp_path / "clean", IngestConfig(files_per_partition=1))
    assert clean.archive.identity == rep.archive.identity  # the resumed archive is the clean one


def test_rerun_of_an_interrupted_ingest_with_other_settings_is_refused(tmp_path, fx):
    src, out = _src(tmp_path, fx), tmp_path / "a"
    _interrupted_ingest(src, out)
    with pytest.raises(InputError, match="unfinished ingest of other inputs or settings"):
        ingest_directory(src, out, IngestConfig(files_per_partition=1, band="V"))
    rep = ingest_directory(src, out, IngestConfig(files_per_partition=1, band="V", overwrite=True))
    assert rep.archived == 6 and rep.archive.bands == ["V"]


def test_rerun_of_a_finished_ingest_is_refused(tmp_path, fx):
    src = _src(tmp_path, fx)
    ingest_directory(src, tmp_path / "a")
    with pytest.raises(InputError, match="already exists and is not empty"):
        ingest_directory(src, tmp_path / "a")


def test_overwrite_never_deletes_what_lia_dask_did_not_write(tmp_path, fx):
    src, out = _src(tmp_path, fx), tmp_path / "a"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match=r"files lia_dask did not write \(e.g. notes.txt\)"):
        ingest_directory(src, out, IngestConfig(overwrite=True))
    assert (out / "notes.txt").read_text() == "mine"
    (out / "notes.txt").unlink()
    pd.DataFrame({"x": [1]}).to_parquet(out / "part.00000.parquet")
    with pytest.raises(InputError, match="was not written by lia_dask"):
        ingest_directory(src, out, IngestConfig(overwrite=True))
    assert (out / "part.00000.parquet").exists()


def test_output_or_input_that_is_a_file(tmp_path, fx):
    src = _src(tmp_path, fx)
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        ingest_directory(src, tmp_path / "f")
    with pytest.raises(InputError, match="is a file"):
        ingest_directory(tmp_path / "f", tmp_path / "a")


def test_colliding_stems_get_qualified_ids_and_the_source_is_recorded(tmp_path, fx):
    src = tmp_path / "in"
    fx.write_text(src / "ML" / "star1.dat", fx.good_rows(20))
    fx.write_text(src / "VARIABLE" / "star1.dat", fx.good_rows(30))
    fx.write_text(src / "VARIABLE" / "a.txt", fx.good_rows(21))
    fx.write_text(src / "VARIABLE" / "a.csv", fx.good_rows(22))
    fx.write_text(src / "VARIABLE" / "unique.dat", fx.good_rows(23))
    rep = ingest_directory(src, tmp_path / "a")
    assert rep.archived == 5
    rows = {lc.object_id: (lc.label, len(lc.time)) for b in rep.archive.batches() for lc in b}
    assert rows == {"ML/star1.dat": ("ML", 20), "VARIABLE/star1.dat": ("VARIABLE", 30), "VARIABLE/a.txt": ("VARIABLE", 21),
                    "VARIABLE/a.csv": ("VARIABLE", 22), "unique": ("VARIABLE", 23)}
    b = rep.archive.read_batch(0)
    assert sorted(os.path.relpath(p, src) for p in b.extra["source_file"]) == sorted(
        ["ML/star1.dat", "VARIABLE/star1.dat", "VARIABLE/a.txt", "VARIABLE/a.csv", "VARIABLE/unique.dat"])


def test_top_level_file_in_a_labelled_directory_has_label_null(tmp_path, fx):
    src = _src(tmp_path, fx, 2)
    fx.write_text(src / "loose.dat", fx.good_rows(25))
    a = ingest_directory(src, tmp_path / "a").archive
    labels = {lc.object_id: lc.label for b in a.batches() for lc in b}
    assert labels["loose"] is None and labels["s1"] == "ML"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_special_files_are_quarantined_and_counted(tmp_path, fx):
    src = _src(tmp_path, fx, 2)
    os.symlink(tmp_path / "gone.dat", src / "dangling.dat")
    os.mkfifo(src / "pipe.dat")
    (src / ".hidden.dat").write_text("1 2 3\n")
    (src / "README.md").write_text("# notes\n")
    rep = ingest_directory(src, tmp_path / "a")  # would block forever if the FIFO were opened
    q = rep.archive.quarantine().set_index("object_id")["reason"]
    assert rep.read == 4 and rep.archived == 2 and rep.quarantined == 2
    assert "dangling symbolic link" in q["dangling"] and "FIFO" in q["pipe"]
    assert rep.archive.summary["counts"]["ignored"] == 2  # hidden + documentation, by rule


@pytest.mark.parametrize("err", [0.0, -0.02])
def test_non_positive_errors_are_quarantined(tmp_path, fx, err):
    src = tmp_path / "in"
    fx.write_text(src / "good.dat", fx.good_rows())
    fx.write_text(src / "bad.dat", fx.good_rows()[:-1] + [(99.0, 18.0, err)])
    rep = ingest_directory(src, tmp_path / "a")
    q = rep.archive.quarantine().set_index("object_id")["reason"]
    assert rep.archived == 1 and q["bad"] == "1 of 20 epochs have a non-positive error (<= 0)"


def test_too_large_file_and_too_long_line_are_quarantined_unread(tmp_path, fx):
    src = tmp_path / "in"
    fx.write_text(src / "good.dat", fx.good_rows())
    (src / "oneline.dat").write_bytes(b"1 " * 200_000)  # 400 kB, one line
    fx.write_text(src / "big.dat", fx.good_rows(5000))
    rep = ingest_directory(src, tmp_path / "a", IngestConfig(max_file_bytes=50_000))
    q = rep.archive.quarantine().set_index("object_id")["reason"]
    assert rep.read == 3 and rep.archived == 1
    assert "exceeds max_file_bytes=50000" in q["big"] and "exceeds max_file_bytes" in q["oneline"]
    rep = ingest_directory(src, tmp_path / "b", IngestConfig(max_file_bytes=10**7, max_line_bytes=1000))
    q = rep.archive.quarantine().set_index("object_id")["reason"]
    assert "a line of 400000 bytes exceeds max_line_bytes=1000" in q["oneline"] and "big" not in q.index


@pytest.mark.parametrize("kw, match", [
    ({"validation": "min_points=0"}, "min_points must be a positive integer"),
    ({"files_per_partition": 0}, "files_per_partition must be a positive integer"),
    ({"max_file_bytes": -1}, "max_file_bytes must be a positive integer"),
    ({"partition_bytes": 0}, "partition_bytes must be a positive number"),
])
def test_bad_settings_are_refused_with_a_sentence(kw, match):
    with pytest.raises(InputError, match=match):
        if "validation" in kw:
            ValidationConfig(min_points=0)
        else:
            IngestConfig(**kw)


def test_cli_min_points_zero_is_one_sentence(tmp_path, fx, capsys):
    from lia_dask.cli import main

    src = _src(tmp_path, fx, 2)
    assert main(["ingest", "text", str(src), "--out", str(tmp_path / "a"), "--min-points", "0"]) == 2
    err = capsys.readouterr().err
    assert "--min-points must be at least 1" in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()


# ------------------------------------------------------------------------ long tables
def _long(n_obj=6, seed=1):
    rng = np.random.default_rng(seed)
    rows = [(1000 + i, float(t), float(rng.uniform(500, 2000)), 10.0, band)
            for i in range(n_obj) for band in "gr" for t in np.sort(rng.uniform(60000, 60300, 12))]
    return pd.DataFrame(rows, columns=["diaObjectId", "midpointMjdTai", "psfFlux", "psfFluxErr", "band"])


def test_string_in_a_flux_column_quarantines_that_lightcurve(tmp_path):
    df = _long().astype({"psfFlux": object})
    df.loc[3, "psfFlux"] = "12,5"
    df.to_csv(tmp_path / "dia.csv", index=False)
    rep = ingest_long(tmp_path / "dia.csv", tmp_path / "a", preset="rubin-dia")
    q = rep.archive.quarantine()
    assert rep.read == 12 == rep.archived + rep.quarantined and rep.quarantined == 1
    assert q.object_id.tolist() == ["1000"] and "non-numeric" in q.reason[0] and "psfFlux" in q.reason[0]


def test_datetime_time_column_is_refused_by_name(tmp_path):
    df = _long()
    df["midpointMjdTai"] = pd.to_datetime(df["midpointMjdTai"], unit="D", origin="1858-11-17")
    df.to_parquet(tmp_path / "dia.parquet")
    with pytest.raises(InputError, match="column 'midpointMjdTai' holds dates/times"):
        ingest_long(tmp_path / "dia.parquet", tmp_path / "a", preset="rubin-dia")


def test_null_object_ids_and_bands_have_their_own_reasons(tmp_path):
    df = _long().astype({"diaObjectId": "Int64"})
    df.loc[0:2, "diaObjectId"] = pd.NA
    df.loc[30:31, "band"] = None
    df.to_parquet(tmp_path / "dia.parquet")
    rep = ingest_long(tmp_path / "dia.parquet", tmp_path / "a", preset="rubin-dia")
    q = rep.archive.quarantine()
    reasons = " | ".join(q.reason)
    assert "3 epoch rows with a null object id (column diaObjectId)" in reasons
    assert "2 epoch rows with a null band (column band)" in reasons
    assert rep.read == rep.archived + rep.quarantined and rep.archived == 12
    assert sum(len(lc.time) for b in rep.archive.batches() for lc in b) == len(df) - 5


def test_npartitions_zero_is_refused(tmp_path):
    _long().to_parquet(tmp_path / "dia.parquet")
    with pytest.raises(InputError, match="npartitions must be a positive integer"):
        ingest_long(tmp_path / "dia.parquet", tmp_path / "a", preset="rubin-dia", npartitions=0)
