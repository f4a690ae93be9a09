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
    assert "chunk must be a positive integer" in capsys.readouterr().err


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
