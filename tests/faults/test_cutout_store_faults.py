"""Cutout stores: bad settings are one sentence, --overwrite never replaces anything but a store."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.archive import ingest_npy, open_archive, write_cutouts
from lia_dask.errors import InputError


def test_chunk_zero_is_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8, 1), np.float32))
    with pytest.raises(InputError, match="chunk must be a positive integer"):
        ingest_npy(tmp_path / "x.npy", tmp_path / "s", chunk=0)
    assert not (tmp_path / "s").exists()


def test_cli_chunk_zero_is_one_sentence(tmp_path, capsys):
    from lia_dask.cli import main

    np.save(tmp_path / "x.npy", np.zeros((4, 8, 8, 1), np.float32))
    assert main(["ingest", "cutouts", str(tmp_path / "x.npy"), "--out", str(tmp_path / "s"), "--chunk", "0"]) == 2
    assert "--chunk must be at least 1" in capsys.readouterr().err


def test_overwrite_never_replaces_a_lightcurve_archive(make_archive, fx):
    a = make_archive()
    before = fx.snapshot(a.path)
    with pytest.raises(InputError, match="is not a cutout store"):
        write_cutouts(a.path, np.zeros((4, 8, 8, 1), np.float32), np.arange(4), overwrite=True)
    assert fx.snapshot(a.path) == before and open_archive(a.path).n_objects == 40


def test_store_out_that_is_a_file_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is an existing file"):
        write_cutouts(tmp_path / "f", np.zeros((4, 8, 8, 1), np.float32), np.arange(4))


def test_overwrite_of_a_store_replaces_it(tmp_path):
    write_cutouts(tmp_path / "s", np.zeros((4, 8, 8, 1), np.float32), np.arange(4))
    st = write_cutouts(tmp_path / "s", np.ones((6, 8, 8, 1), np.float32), np.arange(6), overwrite=True)
    assert st.n_images == 6


def test_chunk_digest_changes_when_pixels_are_rewritten(tmp_path):
    from lia_dask.predict.cutouts import chunk_job

    rng = np.random.default_rng(0)
    a = write_cutouts(tmp_path / "s", rng.random((8, 8, 8, 1), np.float32), np.arange(8), chunk=4)
    job_a, _ = chunk_job(a, "m")
    imgs = np.asarray(a.images).copy()
    imgs[5:] = 0.0  # chunk 1 rewritten in place, same ids
    b = write_cutouts(tmp_path / "s", imgs, np.arange(8), chunk=4, overwrite=True)
    job_b, _ = chunk_job(b, "m")
    assert job_a.parts[0] == job_b.parts[0] and job_a.parts[1] != job_b.parts[1]
    assert job_a.input_identity == job_b.input_identity  # same ids and shape: only the chunk digest tells them apart
