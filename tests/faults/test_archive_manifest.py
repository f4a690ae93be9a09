"""The manifest ``_archive.json`` is the authority: every damaged or foreign archive is refused by name."""
from __future__ import annotations

import json
import shutil

import pyarrow.parquet as pq
import pytest

from lia_dask.archive import open_archive
from lia_dask.archive.lightcurves import write_archive
from lia_dask.errors import ArchiveError, InputError, MissingInputError


def test_complete_archive_opens_and_knows_its_identity(make_archive):
    a = make_archive()
    assert a.n_partitions == 8 and a.n_objects == 40 and a.complete
    assert len(a.identity) == 64 and a.identity == open_archive(a.path).identity
    m = json.loads((a.path / "_archive.json").read_text())
    assert [p["name"] for p in m["parts"]] == [f"part.{i:05d}.parquet" for i in range(8)]
    assert all(p["n_rows"] == 5 and p["size"] > 0 and len(p["footer_sha256"]) == 64 for p in m["parts"])
    assert m["photometry"] == "mag" and m["bands"] == ["I"] and "object_id" in m["columns"]


def test_deleted_part_is_refused(make_archive):
    a = make_archive()
    (a.path / "part.00003.parquet").unlink()
    with pytest.raises(ArchiveError, match=r"incomplete: 1 of 8 parts .* missing \(first: part.00003.parquet\)"):
        open_archive(a.path)


def test_deleted_part_read_with_explicit_opt_in(make_archive):
    a = make_archive()
    (a.path / "part.00003.parquet").unlink()
    b = open_archive(a.path, allow_incomplete=True)
    assert b.n_partitions == 7 and b.n_objects == 35 and not b.complete
    assert "part.00003.parquet" not in " ".join(b.partitions)


def test_part_copied_in_from_another_archive_is_refused(make_archive):
    a, other = make_archive("a"), make_archive("b", n_objects=60, seed=3)
    shutil.copy(other.path / "part.00011.parquet", a.path / "part.00011.parquet")
    with pytest.raises(ArchiveError, match="not listed in _archive.json .*part.00011.parquet"):
        open_archive(a.path)


def test_part_replaced_by_another_archives_part_is_refused(make_archive):
    a, other = make_archive("a"), make_archive("b", seed=3)
    shutil.copy(other.path / "part.00002.parquet", a.path / "part.00002.parquet")
    with pytest.raises(ArchiveError, match="part.00002.parquet does not match _archive.json"):
        open_archive(a.path)


@pytest.mark.parametrize("damage", ["truncate", "append", "empty", "text"])
def test_damaged_part_is_refused(make_archive, damage):
    a = make_archive()
    p = a.path / "part.00005.parquet"
    data = p.read_bytes()
    p.write_bytes({"truncate": data[: len(data) // 2], "append": data + b"junk", "empty": b"",
                   "text": b"1 2 3\n" * 50}[damage])
    with pytest.raises(ArchiveError, match="part.00005.parquet"):
        open_archive(a.path)


def test_part_with_other_photometry_copied_in_is_refused_even_with_opt_in(make_archive, tmp_path, fx):
    a = make_archive()
    flux = fx.survey_batch(10, seed=4).to_flux()
    write_archive(flux, tmp_path / "flux", partition_rows=5)
    (a.path / "_archive.json").unlink()  # an ingest that did not finish
    shutil.copy(tmp_path / "flux" / "part.00001.parquet", a.path / "part.00009.parquet")
    with pytest.raises(ArchiveError, match="part.00009.parquet has another schema"):
        open_archive(a.path, allow_incomplete=True)


def test_missing_manifest_means_unfinished_ingest(make_archive):
    a = make_archive()
    (a.path / "_archive.json").unlink()
    with pytest.raises(ArchiveError, match="no _archive.json: the ingest that wrote it did not finish; rerun"):
        open_archive(a.path)
    assert open_archive(a.path, allow_incomplete=True).n_objects == 40


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "\xff\xfe"])
def test_damaged_manifest_is_refused(make_archive, text):
    a = make_archive()
    (a.path / "_archive.json").write_bytes(text.encode("latin-1"))
    with pytest.raises(ArchiveError, match="_archive.json"):
        open_archive(a.path)


def test_not_an_archive(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArchiveError, match="holds no part"):
        open_archive(tmp_path / "empty")
    with pytest.raises(MissingInputError, match="does not exist"):
        open_archive(tmp_path / "nope")
    (tmp_path / "f.parquet").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        open_archive(tmp_path / "f.parquet")


def test_foreign_parquet_named_like_a_part_is_refused(make_archive):
    a = make_archive()
    t = pq.read_table(a.path / "part.00000.parquet").replace_schema_metadata({})
    pq.write_table(t, a.path / "part.00000.parquet")
    with pytest.raises(ArchiveError, match="part.00000.parquet does not match"):
        open_archive(a.path)


def test_info_cli_refuses_incomplete_and_reads_with_opt_in(make_archive, capsys):
    from lia_dask.cli import main

    a = make_archive()
    (a.path / "part.00007.parquet").unlink()
    assert main(["info", str(a.path)]) == 2
    assert "incomplete: 1 of 8 parts" in capsys.readouterr().err
    assert main(["info", str(a.path), "--json", "--allow-incomplete"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["objects"] == 35 and info["complete"] is False


def test_duplicate_object_band_is_refused_and_nothing_is_left(tmp_path, fx):
    from lia_dask.batch import concat_batches

    b = fx.survey_batch(10, seed=1)
    with pytest.raises(InputError, match="object 3 appears twice in band 'I'"):
        write_archive([b, b.take([3])], tmp_path / "a", partition_rows=5)
    assert not list((tmp_path / "a").glob("part.*"))
    two_bands = concat_batches([b, fx.survey_batch(10, seed=1, band="V")])
    assert write_archive(two_bands, tmp_path / "b").n_objects == 20  # (object, band) is the key


def test_flipped_byte_inside_a_data_page_is_caught_on_read(make_archive):
    from lia_dask.archive.manifest import footer_digest

    a = make_archive(n_objects=10, partition_rows=10)
    p = a.path / "part.00000.parquet"
    data = bytearray(p.read_bytes())
    data[200] ^= 0xFF  # inside the first column chunk: the footer (and so the manifest) does not change
    p.write_bytes(bytes(data))
    b = open_archive(a.path)
    assert footer_digest(str(p))[1] == json.loads((a.path / "_archive.json").read_text())["parts"][0]["footer_sha256"]
    with pytest.raises(ArchiveError, match="part.00000.parquet cannot be read"):
        b.read_batch(0)
