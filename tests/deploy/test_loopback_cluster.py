"""A real multi-process Dask cluster on loopback — `dask scheduler` and two `dask worker` processes
started through the image's entrypoint (fixture ``loopback_cluster`` in conftest.py) — classifies
an archive ingested into S3 (moto on loopback), driven by `lia-dask --cluster tcp://127.0.0.1:PORT`,
as on a SLURM or Kubernetes deployment."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest


def test_s3_ingest_then_predict_through_tcp_cluster(loopback_cluster, s3, s3_env, ogle_dir, tiny_model, tmp_path,
                                                   capsys):
    from lia_dask.archive import IngestConfig, ingest_directory, open_archive
    from lia_dask.cli import main
    from lia_dask.predict import predict_archive, read_predictions, read_quarantine

    bucket, _ = s3
    url = f"{bucket}/ogle2"
    # 1. ingest on the cluster: the workers write the parts straight to S3 (credentials from their environment)
    assert main(["--cluster", loopback_cluster, "ingest", "text", str(ogle_dir), "--out", url,
                 "--files-per-partition", "3"]) == 0
    assert "read == archived + quarantined: True" in capsys.readouterr().out
    arch = open_archive(url)
    assert arch.n_partitions == 3 and all(p.startswith(f"{url}/part.") for p in arch.partitions)
    # 2. predict on the cluster, reading the archive from S3
    out = tmp_path / "pred"
    assert main(["--cluster", loopback_cluster, "predict", url, "--model", str(tiny_model), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "input == predicted + quarantined: True" in text and "(0 already done" in text
    pred = read_predictions(out)
    n_q = len(read_quarantine(out))
    assert len(pred) + n_q == arch.n_objects == 7
    assert sorted(pred["object_id"].astype(str)) == sorted(
        str(o) for i in range(arch.n_partitions) for o in arch.read_batch(i).object_id
        if str(o) not in set(read_quarantine(out)["object_id"]))
    # 3. the same numbers as a local, single-process run on a local copy of the data
    ref_arch = ingest_directory(ogle_dir, tmp_path / "local", IngestConfig(files_per_partition=3)).archive
    predict_archive(ref_arch, tiny_model, tmp_path / "ref")
    ref = read_predictions(tmp_path / "ref")
    probs = [c for c in pred.columns if c.startswith("prob_")]
    got = pred.set_index(pred["object_id"].astype(str)).sort_index()
    want = ref.set_index(ref["object_id"].astype(str)).sort_index()
    np.testing.assert_allclose(got[probs].to_numpy(float), want[probs].to_numpy(float), rtol=1e-6)
    assert (got["prediction"] == want["prediction"]).all()
    # 4. a rerun (e.g. after preemption) finds every partition done
    assert main(["--cluster", loopback_cluster, "predict", url, "--model", str(tiny_model), "--out", str(out)]) == 0
    assert "nothing to do: all 3 partitions" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_predictions(out), pred)


def test_predict_reads_model_and_writes_outputs_on_s3(loopback_cluster, s3, s3_env, ogle_dir, tiny_model):
    from distributed import Client

    from lia_dask.archive import IngestConfig, ingest_directory, storage
    from lia_dask.predict import predict_archive, read_predictions

    bucket, so = s3
    fs, root = storage.filesystem(bucket, so)
    fs.put(str(tiny_model) + "/", f"{root}/models/tiny", recursive=True)
    with Client(loopback_cluster) as c:  # its workers have the credentials (another session client may not)
        ingest_directory(ogle_dir, f"{bucket}/ogle2", IngestConfig(files_per_partition=3), client=c)
        rep = predict_archive(f"{bucket}/ogle2", f"{bucket}/models/tiny", f"{bucket}/pred", client=c)
    assert rep.n_input == rep.predicted + rep.quarantined == 7
    assert len(read_predictions(f"{bucket}/pred")) == rep.predicted
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.glob(f"{root}/pred/part.*.parquet")) == [
        f"part.{i:05d}.parquet" for i in range(3)]
