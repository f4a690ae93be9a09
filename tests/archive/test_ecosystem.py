"""An archive directory is a plain Parquet dataset: pandas and dask read the lightcurves only."""
from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd

from lia_dask.archive import IngestConfig, ingest_directory


def test_pandas_and_dask_read_parquet_of_an_archive_read_lightcurves_only(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        rows = [(float(t), 18.0, 0.02) for t in range(20)]
        (src / f"s{i}.dat").write_text("\n".join(" ".join(map(str, r)) for r in rows))
    (src / "bad.dat").write_text("1 2\n")
    rep = ingest_directory(src, tmp_path / "a", IngestConfig(files_per_partition=2))
    assert rep.quarantined == 1 and rep.archive.n_partitions == 3
    for df in (pd.read_parquet(tmp_path / "a"), dd.read_parquet(tmp_path / "a").compute()):
        assert len(df) == 5 and "reason" not in df.columns
        assert sorted(df["object_id"]) == [f"s{i}" for i in range(5)]
        assert all(len(t) == 20 for t in df["time"]) and np.isfinite(np.concatenate(list(df["mag"]))).all()
    assert len(rep.archive.quarantine()) == 1  # still there, beside the lightcurves
