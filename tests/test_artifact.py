"""Artifact manifest helpers: digests, tamper detection, zips, no pickle."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lia_dask import artifact
from lia_dask.errors import ArtifactError, MissingInputError


def _make(tmp_path, kind="ensemble"):
    d = tmp_path / "model"
    d.mkdir()
    artifact.save_arrays(d, "weights", {"w": np.arange(6.0).reshape(2, 3), "names": np.array(["a", "b"])})
    (d / "model.json").write_text('{"trees": [1, 2, 3]}')
    m = artifact.write_manifest(d, {"kind": kind, "classes": ["ML", "VARIABLE"], "metrics": {"f1": np.float64(0.5)}},
                                ["weights.npz", "model.json"])
    return d, m


def test_roundtrip_and_digest(tmp_path):
    d, m = _make(tmp_path)
    got = artifact.read_manifest(d, expected_kind="ensemble")
    assert got["digest"] == m["digest"] and len(got["digest"]) == 64
    assert got["classes"] == ["ML", "VARIABLE"] and got["metrics"]["f1"] == 0.5
    assert set(got["files"]) == {"weights.npz", "model.json"}
    for field in artifact.MANIFEST_FIELDS:
        assert field in got
    arr = artifact.load_arrays(d, "weights")
    np.testing.assert_array_equal(arr["w"], np.arange(6.0).reshape(2, 3))
    assert list(arr["names"]) == ["a", "b"]
    assert artifact.digest(d) == m["digest"]


def test_tampered_file_fails(tmp_path):
    d, _ = _make(tmp_path)
    (d / "model.json").write_text('{"trees": [1, 2, 4]}')
    with pytest.raises(ArtifactError, match="tampered"):
        artifact.read_manifest(d)


def test_edited_manifest_fails(tmp_path):
    d, _ = _make(tmp_path)
    m = json.loads((d / "manifest.json").read_text())
    m["classes"] = ["VARIABLE", "ML"]
    (d / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="edited"):
        artifact.read_manifest(d)


def test_missing_file_wrong_kind_newer_format(tmp_path):
    d, _ = _make(tmp_path)
    with pytest.raises(ArtifactError, match="kind 'ensemble', expected 'cnn'"):
        artifact.read_manifest(d, expected_kind="cnn")
    (d / "weights.npz").unlink()
    with pytest.raises(ArtifactError, match="missing"):
        artifact.read_manifest(d)
    (tmp_path / "x").mkdir()
    d2, _ = _make(tmp_path / "x")
    m = json.loads((d2 / "manifest.json").read_text())
    m["format_version"] = artifact.FORMAT_VERSION + 1
    (d2 / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError, match="format_version"):
        artifact.read_manifest(d2)
    with pytest.raises(MissingInputError):
        artifact.read_manifest(tmp_path / "nope")


def test_zip_and_pickle_refused(tmp_path):
    d, m = _make(tmp_path)
    z = artifact.zip_artifact(d, tmp_path / "model.zip")
    assert artifact.read_manifest(z)["digest"] == m["digest"]
    np.save(d / "evil.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with open(d / "evil.npz", "wb") as fh:
        np.savez(fh, x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ArtifactError, match="pickled"):
        artifact.load_arrays(d, "evil")


def test_write_manifest_rejects_bad_input(tmp_path):
    d = tmp_path / "m"
    d.mkdir()
    with pytest.raises(ArtifactError, match="kind"):
        artifact.write_manifest(d, {"kind": "svm", "classes": []}, [])
    with pytest.raises(ArtifactError, match="not written"):
        artifact.write_manifest(d, {"kind": "cnn", "classes": []}, ["absent.keras"])
    with pytest.raises(ArtifactError, match="not empty"):
        (d / "x").write_text("1")
        artifact.prepare_dir(d)
