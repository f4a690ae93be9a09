"""``lia-dask`` command line.

Each stage owns its sub-commands in a small ``_cli`` module exposing ``register(subparsers)``;
the functions it registers receive the parsed ``argparse.Namespace``. The global option
``--cluster`` picks where Dask runs (see ``lia_dask.cluster``).
"""
from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import LiaDaskError

#: modules that contribute sub-commands, in the order they appear in ``--help``
COMMAND_MODULES = [
    "lia_dask.archive._cli",
    "lia_dask.features._cli",
    "lia_dask.simulate._cli",
    "lia_dask.predict._cli",
    "lia_dask.cnn._cli",
    "lia_dask.train._cli",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lia-dask",
        description="Classify survey lightcurves and cutouts on Dask clusters.",
    )
    parser.add_argument("--version", action="version", version=f"lia-dask {__version__}")
    parser.add_argument(
        "--cluster", default=None,
        help="where to run: 'local' (default LocalCluster), 'tcp://host:8786', 'slurm' or 'kubernetes'",
    )
    parser.add_argument("--workers", type=int, default=None, help="number of workers (local, slurm, kubernetes)")
    parser.add_argument("--adapt", default=None, metavar="MIN:MAX", help="adaptive scaling bounds (slurm, kubernetes)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except LiaDaskError as exc:
        print(f"lia-dask: error: {exc}", file=sys.stderr)
        return 2
    return int(rc or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
