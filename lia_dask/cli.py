"""``lia-dask`` command line.

Each stage owns its sub-commands in a small ``_cli`` module exposing ``register(subparsers)``;
the functions it registers receive the parsed ``argparse.Namespace``. The global option
``--cluster`` picks where Dask runs (see ``lia_dask.cluster``). What every sub-command shares —
examples in ``--help``, argument checks before any cluster starts, logging (``-v`` / ``-q``),
one-sentence failures (``--debug`` for the traceback), Ctrl-C — lives in
:mod:`lia_dask._cli_common`.

Exit codes: 0 done, 2 refused (bad arguments or input, a :class:`~lia_dask.errors.LiaDaskError`),
1 failed while running (disk full, read-only output, a worker died, an unexpected error),
130 interrupted.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys
import threading
import traceback

from . import __version__
from . import _cli_common as common

#: modules that contribute sub-commands, in the order they appear in ``--help``
COMMAND_MODULES = [
    "lia_dask.archive._cli",
    "lia_dask.features._cli",
    "lia_dask.simulate._cli",
    "lia_dask.predict._cli",
    "lia_dask.cnn._cli",
    "lia_dask.train._cli",
]
#: the top-level sub-commands each module registers (a test checks it against ``register``): a
#: command line naming one of them imports only that module, not every stage's package
COMMANDS: dict[str, tuple[str, ...]] = {
    "lia_dask.archive._cli": ("ingest", "info"),
    "lia_dask.features._cli": ("features",),
    "lia_dask.simulate._cli": ("simulate",),
    "lia_dask.predict._cli": ("predict", "candidates"),
    "lia_dask.cnn._cli": ("cnn",),
    "lia_dask.train._cli": ("train", "evaluate"),
}
#: global options that take a value (skipped when looking for the sub-command's name)
_VALUED = ("--cluster", "--workers", "--adapt")

EPILOG = """\
the flow:
  lia-dask ingest text ogle2/ --out archives/ogle2
  lia-dask simulate --cadence archives/ogle2 --noise-from archives/ogle2 --n-per-class 1000 --out archives/train
  lia-dask train archives/train --out models/ogle2
  lia-dask predict archives/survey --model models/ogle2 --out predictions/survey --fit-filter
  lia-dask candidates predictions/survey --top 20 --plots plots/candidates
`lia-dask COMMAND --help` shows each command's options and an example.
exit codes: 0 done, 2 refused (bad arguments or input), 1 failed while running, 130 interrupted."""


def command_module(argv: list[str] | None) -> str | None:
    """The module registering the sub-command ``argv`` names (None: no known sub-command, e.g. ``--help``)."""
    args = list(argv or [])
    i = 0
    while i < len(args):
        a = args[i]
        if a in _VALUED:
            i += 2
            continue
        if not a.startswith("-"):
            return next((m for m, cmds in COMMANDS.items() if a in cmds), None)
        i += 1
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``lia-dask`` parser with every stage's sub-commands, examples included.

    Given the command line ``argv`` that names a sub-command, only the module of that sub-command is
    imported and registered (the start-up of one command does not pay every stage's imports); the
    parser then parses ``argv`` as the full one would.
    """
    parser = argparse.ArgumentParser(
        prog="lia-dask",
        description="Classify survey lightcurves and cutouts on Dask clusters.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"lia-dask {__version__}")
    parser.add_argument(
        "--cluster", default=None,
        help="where to run: 'local' (default LocalCluster), 'tcp://host:8786', a scheduler file "
             "'*.json', 'slurm' or 'kubernetes' (default: lia_dask.cluster.spec in the Dask config)",
    )
    parser.add_argument("--workers", type=int, default=None, help="number of workers (local, slurm, kubernetes)")
    parser.add_argument("--adapt", default=None, metavar="MIN:MAX", help="adaptive scaling bounds (slurm, kubernetes)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="more messages: debug messages and third-party warnings")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="only warnings and errors")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of a failure and Dask's own logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    only = command_module(argv) if argv is not None else None
    for name in COMMAND_MODULES:
        if only is None or name == only:
            importlib.import_module(name).register(sub)
    common.decorate(parser)
    return parser


def _verbosity(args: argparse.Namespace) -> int:
    if args.debug:
        return 2
    return max(-1, min(1, args.verbose - args.quiet))


def main(argv: list[str] | None = None) -> int:
    """Run ``lia-dask`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit code.

    Every failure ends in one line ``lia-dask: error: ...`` on stderr (the traceback only with
    ``--debug``); directories this run created and left empty are removed.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    common.interrupt_message = common.interrupted_sentence(getattr(args, "command_path", ""))
    in_main_thread = threading.current_thread() is threading.main_thread()
    old_handler = signal.signal(signal.SIGINT, common.interrupt_handler) if in_main_thread else None
    created: list = []
    try:
        with common.setup_logging(_verbosity(args)):
            try:
                common.validate_args(args)
                created = common.snapshot_outputs(args)
                common.interrupt_outputs = (common.output_dirs(args), created)
                return int(args.func(args) or 0)
            except KeyboardInterrupt:  # only where the handler could not be installed
                print(f"lia-dask: {common.interrupt_message}", file=sys.stderr)
                return common.EXIT_INTERRUPTED
            except Exception as exc:
                if args.debug:
                    traceback.print_exc()
                common.remove_temporary_files(common.output_dirs(args))
                common.remove_empty_outputs(created)
                sentence, code = common.explain(exc)
                print(f"lia-dask: error: {sentence}", file=sys.stderr)
                return code
    finally:
        if old_handler is not None:
            signal.signal(signal.SIGINT, old_handler)


def run() -> None:  # pragma: no cover - exercised through `python -m lia_dask` in subprocess tests
    """The ``lia-dask`` program: :func:`main`, then exit without the interpreter's module teardown.

    Once the command is done (outputs written and closed, the cluster closed) there is nothing left
    to free; tearing down the modules of XGBoost, scikit-learn, numba and Dask takes about a second.
    Non-daemon threads are joined and the exit handlers run (temporary files, logging) as at a
    normal exit; then the process ends with the command's exit code.
    """
    code = main()
    for t in threading.enumerate():
        if t is not threading.current_thread() and not t.daemon:
            t.join()
    common.exit_without_teardown(code)


if __name__ == "__main__":  # pragma: no cover
    run()
