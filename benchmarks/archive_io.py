"""Ingest and scan throughput of the lightcurve archive, side by side with raw pyarrow.

Run: .venv/bin/python benchmarks/archive_io.py [--objects 100000] [--epochs 100]

Measures, in one run on the same files:
- scan: reading every partition into LightcurveBatch objects (``Archive.batches()``) vs a raw
  ``pyarrow.parquet.read_table`` of the same files (ratio lia_dask / raw; aim >= 0.8);
- text ingest: OGLE-style text files -> archive, epochs/s (1 and 2 workers);
- long ingest: long Parquet table (Rubin DiaSource names) -> nested archive via a Dask shuffle, epochs/s.
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from lia_dask.archive import IngestConfig, ingest_directory, ingest_long, open_archive, write_archive
from lia_dask.batch import LightcurveBatch


def synth_batch(n, k, seed=0):
    rng = np.random.default_rng(seed)
    lens = rng.integers(max(2, k // 2), k * 3 // 2, n)
    off = np.concatenate([[0], np.cumsum(lens)])
    t = np.sort(rng.uniform(0, 3000, off[-1]))
    return LightcurveBatch(np.arange(n, dtype=np.int64), np.full(n, "I", dtype=object), off, t,
                           rng.normal(18, 0.1, off[-1]), rng.uniform(0.01, 0.1, off[-1]))


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--objects", type=int, default=100_000)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--text-files", type=int, default=2000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lia_bench_"))
    try:
        b = synth_batch(args.objects, args.epochs)
        a = write_archive(b, work / "arch", partition_bytes=50e6)
        n_ep = b.n_epochs
        print(f"archive: {a.n_objects} lightcurves, {n_ep} epochs, {a.n_partitions} partitions")

        def raw():
            return sum(pq.read_table(p).num_rows for p in a.partitions)

        def lia():
            return sum(len(x) for x in a.batches())

        raw(); lia()  # warm the page cache
        t_raw, t_lia = np.inf, np.inf
        for _ in range(7):  # interleaved, best of 7: robust to other load on the machine
            t_raw = min(t_raw, best_of(raw, 1)[0])
            t_lia = min(t_lia, best_of(lia, 1)[0])
        print(f"scan raw pyarrow : {n_ep / t_raw / 1e6:8.1f} M epochs/s ({a.n_objects / t_raw:,.0f} lc/s)")
        print(f"scan lia_dask    : {n_ep / t_lia / 1e6:8.1f} M epochs/s ({a.n_objects / t_lia:,.0f} lc/s)")
        print(f"scan ratio lia_dask/raw = {t_raw / t_lia:.2f}")

        # text ingest
        src = work / "text"
        src.mkdir()
        tb = synth_batch(args.text_files, 500, seed=1)
        for lc in tb:
            np.savetxt(src / f"{lc.object_id}.dat", np.column_stack([lc.time, lc.y, lc.yerr]), fmt="%.5f %.3f %.3f")
        from lia_dask import cluster

        for nw in (1, 2):
            with cluster.client("local", n_workers=nw, threads_per_worker=1) as c:
                t0 = time.perf_counter()
                rep = ingest_directory(src, work / f"ti{nw}", IngestConfig(files_per_partition=250), client=c)
                dt = time.perf_counter() - t0
            print(f"text ingest {nw} worker(s): {rep.n_epochs / dt / 1e6:6.2f} M epochs/s, {rep.read / dt:,.0f} files/s")

        # long ingest
        long = b.take(np.arange(min(len(b), 20_000))).to_long()
        long = long.rename(columns={"object_id": "diaObjectId", "time": "midpointMjdTai", "mag": "psfFlux",
                                    "magerr": "psfFluxErr"})
        long["psfFlux"] = 10 ** (-(long["psfFlux"] - 31.4) / 2.5)
        long = long.sample(frac=1.0, random_state=0)
        (work / "long").mkdir()
        for i, idx in enumerate(np.array_split(np.arange(len(long)), 4)):
            long.iloc[idx].to_parquet(work / "long" / f"p{i}.parquet")
        with cluster.client("local", n_workers=2, threads_per_worker=1) as c:
            t0 = time.perf_counter()
            rep = ingest_long(str(work / "long" / "*.parquet"), work / "li", preset="rubin-dia", npartitions=4, client=c)
            dt = time.perf_counter() - t0
        print(f"long ingest 2 workers: {rep.n_epochs / dt / 1e6:6.2f} M epochs/s ({rep.archived} lightcurves)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
