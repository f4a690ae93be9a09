"""The ``lia-dask`` start-up path: only the named sub-command's module is imported."""
from __future__ import annotations

import argparse
import importlib
import json
import subprocess
import sys
from pathlib import Path

from lia_dask import cli

ROOT = Path(__file__).resolve().parents[1]


def test_commands_table_matches_what_each_module_registers():
    for name in cli.COMMAND_MODULES:
        p = argparse.ArgumentParser()
        sub = p.add_subparsers()
        importlib.import_module(name).register(sub)
        assert tuple(sub.choices) == cli.COMMANDS[name], name
    assert list(cli.COMMANDS) == cli.COMMAND_MODULES


def test_a_named_command_registers_only_its_module_and_parses_as_the_full_parser():
    argv = ["--cluster", "local", "-v", "--workers", "2", "predict", "A", "--model", "M", "--out", "O", "--fit-filter"]
    assert cli.command_module(argv) == "lia_dask.predict._cli"
    assert cli.command_module(["--cluster", "train", "ingest", "text", "x"]) == "lia_dask.archive._cli"  # a value is skipped
    assert cli.command_module(["--help"]) is None and cli.command_module(["nonsense"]) is None
    only = cli.build_parser(argv)
    sub = next(a for a in only._actions if isinstance(a, argparse._SubParsersAction))
    assert set(sub.choices) == {"predict", "candidates"}
    full = vars(cli.build_parser().parse_args(argv))
    part = vars(only.parse_args(argv))
    assert {k: v for k, v in part.items() if k != "func"} == {k: v for k, v in full.items() if k != "func"}


def test_predict_start_up_imports_no_model_library_zarr_numba_or_tensorflow():
    """What `lia-dask predict` runs before it starts the cluster: parse, open the archive, read what
    is left to do. The heavy libraries load meanwhile (client) or in the workers (warm-up)."""
    code = (
        "import sys, json\n"
        "import lia_dask.cli as c\n"
        "c.build_parser(['predict', 'A', '--model', 'M', '--out', 'O'])\n"
        "from lia_dask.archive import open_archive\n"
        "from lia_dask.predict.lightcurves import PredictConfig, pending_partitions, predict_archive\n"
        "from lia_dask.predict.fitfilter import FitFilterConfig\n"
        "import lia_dask.cluster, lia_dask.cluster_warm\n"
        "heavy = ('sklearn', 'xgboost', 'zarr', 'numba', 'tensorflow', 'astropy', 'scipy', 'matplotlib', 'lsdb')\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules)))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == []
