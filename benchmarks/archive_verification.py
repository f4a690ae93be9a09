"""What verifying an archive costs: manifest check at open, page CRCs at read, side by side with raw pyarrow.

Run: .venv/bin/python benchmarks/archive_verification.py [--parts 400] [--rows 2000] [--epochs 100]

Measures, in one run on the same files (best of ``--repeat``, interleaved):
- open: ``open_archive`` (every part's size + footer digest checked against ``_archive.json``)
  vs listing the parts and reading their footers with raw ``pyarrow.parquet.read_metadata``;
- scan: ``Archive.batches()`` (reads verify Parquet page CRCs) vs raw ``pyarrow.parquet.read_table``
  without and with CRC verification; the ratios say what the page checks cost.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from lia_dask.archive import open_archive, write_archive
from lia_dask.batch import LightcurveBatch


def synth(n, k, seed=0):
    rng = np.random.default_rng(seed)
    lens = rng.integers(max(2, k // 2), k * 3 // 2, n)
    off = np.concatenate([[0], np.cumsum(lens)])
    return LightcurveBatch(np.arange(n, dtype=np.int64), np.full(n, "I", dtype=object), off,
                           np.sort(rng.uniform(0, 3000, off[-1])), rng.normal(18, 0.1, off[-1]),
                           rng.uniform(0.01, 0.1, off[-1]))


def best(fn, repeat):
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return min(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", type=int, default=400)
    ap.add_argument("--rows", type=int, default=2000, help="lightcurves per part")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="lia-verify-"))
    try:
        a = write_archive(synth(args.parts * args.rows, args.epochs), work / "a", partition_rows=args.rows)
        parts = sorted(str(p) for p in (work / "a").glob("part.*.parquet"))
        n_epochs = a.summary["n_epochs"]
        t_open = t_open_raw = t_scan = t_scan_raw = t_scan_crc = float("inf")
        for _ in range(args.repeat):  # interleaved, so machine load hits both sides alike
            t_open = min(t_open, best(lambda: open_archive(work / "a"), 1))
            t_open_raw = min(t_open_raw, best(lambda: [pq.read_metadata(p) for p in
                                                        sorted(str(x) for x in (work / "a").glob("part.*.parquet"))], 1))
            t_scan = min(t_scan, best(lambda: [len(b) for b in a.batches()], 1))
            t_scan_raw = min(t_scan_raw, best(lambda: [pq.read_table(p).num_rows for p in parts], 1))
            t_scan_crc = min(t_scan_crc, best(lambda: [pq.read_table(p, page_checksum_verification=True).num_rows
                                                       for p in parts], 1))
        res = {"parts": len(parts), "lightcurves": a.n_objects, "epochs": n_epochs,
               "open_verified_s": t_open, "open_raw_footers_s": t_open_raw,
               "open_ms_per_part": 1e3 * t_open / len(parts), "open_ratio_vs_raw_footers": t_open / t_open_raw,
               "scan_s": t_scan, "scan_raw_s": t_scan_raw, "scan_raw_crc_s": t_scan_crc,
               "scan_ratio_raw_over_lia": t_scan_raw / t_scan, "crc_cost_ratio_raw": t_scan_crc / t_scan_raw,
               "open_as_fraction_of_scan": t_open / t_scan, "load_average": os.getloadavg()}
        print(json.dumps(res, indent=1))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
