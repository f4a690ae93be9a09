"""``make demo``: the main job end to end on the local default cluster.

Stages run so far: ingest the bundled OGLE-II samples into an archive on a LocalCluster and
print its summary (``lia-dask info``). Later stages (simulate, train, predict) extend it.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from . import cluster
from .archive import IngestConfig, ingest_directory
from .archive._cli import archive_info
from .data import ogle2_samples


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lia_dask.demo", description=__doc__)
    ap.add_argument("--out", default="demo_output", help="directory for everything the demo writes")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args(argv)
    out = Path(args.out)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    with cluster.client("local", n_workers=args.workers) as client:
        t0 = time.perf_counter()
        report = ingest_directory(ogle2_samples(), out / "ogle2_archive", IngestConfig(files_per_partition=20),
                                  client=client)
        print(f"[ingest] {report}  ({time.perf_counter() - t0:.1f} s)")
        info = archive_info(str(out / "ogle2_archive"))
        print("[info] lia-dask info", out / "ogle2_archive")
        for k, v in info.items():
            print(f"{k:>18}: {v}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
