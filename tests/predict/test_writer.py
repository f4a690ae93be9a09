"""The shared writer on an fsspec output (memory://): provenance, resume, refusals, deletion rules."""
from __future__ import annotations

import uuid

import dask
import numpy as np
import pytest

from lia_dask.archive import storage, write_archive
from lia_dask.batch import LightcurveBatch
from lia_dask.errors import InputError
from lia_dask.predict import predict_archive, read_predictions, read_quarantine


def _archive(path, seed=0, n=30):
    rng = np.random.default_rng(seed)
    times = [np.sort(rng.uniform(0, 1000, 80)) for _ in range(n)]
    b = LightcurveBatch.from_lightcurves(list(range(n)), times, [18 + rng.normal(0, 0.02, 80) for _ in times],
                                         [np.full(80, 0.02) for _ in times])
    return write_archive(b, path, partition_rows=10)


def test_remote_output_resume_and_refusals(model_dir, tmp_path):
    a, b = _archive(tmp_path / "a"), _archive(tmp_path / "b", seed=1)
    url = f"memory://lia-writer-{uuid.uuid4().hex[:8]}/out"
    with dask.config.set(scheduler="threads"):  # memory:// lives in this process
        rep = predict_archive(a, model_dir, url)
        assert rep.n_input == 30 == rep.predicted + rep.quarantined and rep.partitions == 3
        assert len(read_predictions(url)) + len(read_quarantine(url)) == 30
        loc = storage.Location(url)
        kv = loc.read_metadata("part.00001.parquet").metadata
        assert kv[b"lia_dask.input_part"] == b"part.00001.parquet" and kv[b"lia_dask.input_identity"] == a.identity.encode()
        assert predict_archive(a, model_dir, url).skipped == 3
        with pytest.raises(InputError, match="another input"):
            predict_archive(b, model_dir, url)
        loc.write_bytes(b"not ours", "part.00009.parquet")
        with pytest.raises(InputError, match="cannot be read"):
            predict_archive(a, model_dir, url, resume=False)
        assert loc.exists("part.00009.parquet") and loc.read_json("_summary.json")["kind"] == "lightcurves"
