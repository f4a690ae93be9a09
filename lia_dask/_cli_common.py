"""What every ``lia-dask`` sub-command shares: examples, argument checks, logging, the failure path.

* :data:`EXAMPLES` — the example shown at the end of each sub-command's ``--help``.
* :func:`validate_args` — input paths exist, globs match, counts are positive, ``--out`` is not a
  file, all before any cluster starts.
* :func:`setup_logging` — library messages through :mod:`logging` (``-v`` / ``-q``), Python
  warnings as one line without source, third-party loggers (Dask task dumps, shuffle notes)
  silenced, also in worker processes.
* :func:`explain` — any exception as the one sentence a user sees (``--debug``: the traceback).
* :func:`interrupt_handler` — Ctrl-C: one line, worker processes ended, exit 130 at once.
"""
from __future__ import annotations

import argparse
import contextlib
import errno
import glob
import logging
import os
import re
import signal
import sys
import warnings
from pathlib import Path
from typing import Any, Iterator

from .errors import LiaDaskError

log = logging.getLogger("lia_dask")

#: exit codes: bad input / refused (2, as argparse), failed while running (1), interrupted (130)
EXIT_INPUT, EXIT_FAILED, EXIT_INTERRUPTED = 2, 1, 130

#: one example per sub-command (the flow of README.md's command-line section)
EXAMPLES: dict[str, str] = {
    "ingest text": "lia-dask ingest text ogle2/ --out archives/ogle2\n"
                   "  (ogle2/microlensing/*.dat, ogle2/variables/*.dat: the sub-directory is the label)",
    "ingest long": "lia-dask ingest long 'dia/*.parquet' --preset rubin-dia --out archives/dp1\n"
                   "lia-dask ingest long sources.csv --map id=object_id --map hjd=time --map I=mag "
                   "--map Ierr=magerr --out archives/survey",
    "ingest cutouts": "lia-dask ingest cutouts images.npy --labels labels.npy --bands g,r,i --out stores/lenses",
    "info": "lia-dask info archives/ogle2\nlia-dask info archives/ogle2 --json",
    "features": "lia-dask features archives/ogle2 --out features/ogle2",
    "simulate": "lia-dask simulate --cadence archives/ogle2 --noise-from archives/ogle2 --n-per-class 1000 "
                "--out archives/train --features-out features/train",
    "evaluate": "lia-dask evaluate models/ogle2 --data features/test --plots plots/test",
    "train": "lia-dask train features/train --out models/ogle2 --tune-trials 20 --plots plots/train",
    "predict": "lia-dask predict archives/survey --model models/ogle2 --out predictions/survey --fit-filter\n"
               "  (interrupted? run it again: finished partitions are skipped)",
    "candidates": "lia-dask candidates predictions/survey --top 20 --plots plots/candidates",
    "cnn simulate": "lia-dask cnn simulate --n 2000 --out stores/sim_lenses",
    "cnn train": "lia-dask cnn train stores/sim_lenses --out models/cnn --epochs 20 --flip",
    "cnn predict": "lia-dask cnn predict stores/survey --model models/cnn --out predictions/cnn",
    "cnn evaluate": "lia-dask cnn evaluate stores/test_lenses --model models/cnn --out reports/cnn",
    "cnn study": "lia-dask cnn study stores/sim_lenses --val stores/val_lenses --out reports/study --epochs 8",
    "ingest hats": "lia-dask ingest hats dp1/dia_object_collection --hats-preset rubin --out archives/dp1",
}

#: per sub-command: arguments naming inputs that must exist (local paths; URLs are checked later)
INPUT_ARGS: dict[str, tuple[str, ...]] = {
    "ingest text": ("path",), "ingest cutouts": ("source", "labels"), "info": ("path",),
    "features": ("archive",), "simulate": ("cadence", "noise_from"), "train": ("source", "reweight_to"),
    "evaluate": ("model", "data"), "predict": ("archive", "model"), "candidates": ("out", "archive"),
    "cnn train": ("store", "config"), "cnn predict": ("store", "model"),
}
#: arguments holding globs or lists of files that must match something
GLOB_ARGS: dict[str, tuple[str, ...]] = {"ingest long": ("source",)}
#: arguments naming outputs (never an existing file where a directory is written)
OUTPUT_ARGS = ("out", "plots", "features_out")
#: integer options that must be >= 1, and those that must be >= 0
POSITIVE = ("top", "workers", "chunk", "min_points", "n_per_class", "files_per_partition", "partition_size",
            "npartitions", "n_cadences", "max_cadences", "n", "epochs", "batch_size", "image_size", "cv",
            "gmm_components", "threads")
NON_NEGATIVE = ("select_trials", "tune_trials", "shift", "lr_drop_every", "warmup_epochs", "patience")
#: float options that must lie in [0, 1]
FRACTIONS = ("lens_fraction", "val_fraction", "threshold")


def _is_url(text: str) -> bool:
    return "://" in str(text)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


# ------------------------------------------------------------------------ parser decoration
def subcommands(parser: argparse.ArgumentParser, prefix: str = "") -> Iterator[tuple[str, argparse.ArgumentParser]]:
    """(``"ingest text"``, parser) for every leaf sub-command, depth first."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        if prefix:
            yield prefix, parser
        return
    for name, p in subs[0].choices.items():
        yield from subcommands(p, f"{prefix} {name}".strip())


def decorate(parser: argparse.ArgumentParser) -> None:
    """Give every sub-command its example (epilog) and its name (``args.command_path``)."""
    for path, p in subcommands(parser):
        example = EXAMPLES.get(path)
        if example and not p.epilog:
            p.epilog = "example:\n" + "\n".join("  " + line for line in example.splitlines())
            p.formatter_class = argparse.RawDescriptionHelpFormatter
        p.set_defaults(command_path=path,
                       positional_args=tuple(a.dest for a in p._actions if not a.option_strings))


# ------------------------------------------------------------------------ validation
def validate_args(args: argparse.Namespace) -> None:
    """Refuse arguments that cannot work, before any cluster starts.

    Raises
    ------
    InputError, MissingInputError
        One sentence naming the option and what to do.
    """
    from .errors import InputError, MissingInputError

    cmd = getattr(args, "command_path", "")
    for dest in POSITIVE:
        v = getattr(args, dest, None)
        if isinstance(v, int) and not isinstance(v, bool) and v < 1:
            raise InputError(f"{_flag(dest)} must be at least 1, got {v}.")
    for dest in NON_NEGATIVE:
        v = getattr(args, dest, None)
        if isinstance(v, int) and not isinstance(v, bool) and v < 0:
            raise InputError(f"{_flag(dest)} must be 0 or more, got {v}.")
    for dest in FRACTIONS:
        v = getattr(args, dest, None)
        if isinstance(v, float) and not 0.0 <= v <= 1.0:
            raise InputError(f"{_flag(dest)} must lie between 0 and 1, got {v}.")
    for dest in INPUT_ARGS.get(cmd, ()):
        value = getattr(args, dest, None)
        for v in value if isinstance(value, (list, tuple)) else [value]:  # nargs="+" gives a list
            if v is None or _is_url(v):
                continue
            if not Path(v).exists():
                what = dest.upper() if dest in getattr(args, "positional_args", ()) else _flag(dest)
                raise MissingInputError(f"{what} {v} does not exist; check the path (`lia-dask {cmd} --help`).")
    for dest in GLOB_ARGS.get(cmd, ()):
        for pattern in getattr(args, dest, None) or ():
            if not _is_url(pattern) and not glob.glob(pattern):
                raise MissingInputError(f"no file matches {pattern}; check the path or quote the glob.")
    _command_checks(cmd, args)
    for dest in OUTPUT_ARGS:
        v = getattr(args, dest, None)
        if v is None or _is_url(v) or (cmd == "candidates" and dest == "out"):
            continue
        check_output_dir(Path(v), _flag(dest))


def _command_checks(cmd: str, args: argparse.Namespace) -> None:
    """Checks that name what was meant, for the mistakes users make most."""
    from .errors import InputError

    if cmd == "ingest text" and not _is_url(args.path) and Path(args.path).is_file():
        raise InputError(f"{args.path} is a file; `lia-dask ingest text` reads a directory of text lightcurves "
                         "(one object per file), so put the file(s) in a directory and give that.")
    if cmd == "info" and not _is_url(args.path):
        p = Path(args.path)
        if p.is_file() and p.suffix != ".zip":
            raise InputError(f"{p} is a file; `lia-dask info` takes an archive or cutout store directory, or a "
                             "model artifact (directory or .zip).")


def check_output_dir(path: Path, what: str = "--out") -> None:
    """Refuse an output directory that is an existing file, or that cannot be created or written."""
    from .errors import InputError

    if path.exists() and not path.is_dir():
        raise InputError(f"{what} {path} is an existing file; give a directory (a new or an empty one).")
    parent = path
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(f"{what} {path} cannot be created: {parent} is a file, not a directory.")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path} cannot be written: no write permission in {parent}; "
                         "choose a directory you can write.")


# ------------------------------------------------------------------------ outputs of a failed run
def snapshot_outputs(args: argparse.Namespace) -> list[Path]:
    """Local output directories that do not exist yet (removed again if the command fails empty)."""
    return [p for p in output_dirs(args) if not p.exists()]


def remove_empty_outputs(paths: list[Path]) -> list[Path]:
    """Remove the directories among ``paths`` (created by this run) that hold no file; returns them.

    Directories holding files are kept: finished partitions make ``--resume`` continue from there.
    """
    removed = []
    for p in paths:
        if not p.is_dir():
            continue
        if any(f.is_file() and not f.name.endswith(".tmp") for f in p.rglob("*")):
            continue
        for f in sorted(p.rglob("*"), key=lambda q: len(q.parts), reverse=True):
            f.unlink() if f.is_file() else f.rmdir()
        p.rmdir()
        removed.append(p)
    return removed


# ------------------------------------------------------------------------ logging and noise
class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        msg = record.getMessage()
        if record.levelno >= logging.WARNING and record.name.startswith("lia_dask"):
            return f"lia-dask: {record.levelname.lower()}: {msg}"
        return f"lia-dask: {msg}" if record.name.startswith("lia_dask") else f"{record.name}: {msg}"


_THIRD_PARTY = ("distributed", "dask", "numba", "bokeh", "tornado", "asyncio", "fsspec", "urllib3", "optuna",
                "tensorflow", "absl", "matplotlib", "h5py", "py.warnings")


@contextlib.contextmanager
def setup_logging(verbosity: int) -> Iterator[None]:
    """Logging for one CLI run; everything is restored afterwards (``main`` may run in-process).

    Parameters
    ----------
    verbosity : int
        -1 (``-q``: warnings and errors only), 0 (default: progress messages), 1 (``-v``: debug
        messages, third-party warnings), 2 (``--debug``: also Dask's own logs).
    """
    import dask

    root = logging.getLogger("lia_dask")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    old_level, old_prop = root.level, root.propagate
    root.addHandler(handler)
    root.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))
    root.propagate = False
    third = logging.CRITICAL if verbosity < 1 else logging.WARNING if verbosity == 1 else logging.INFO
    old_levels = {n: logging.getLogger(n).level for n in _THIRD_PARTY}
    for n in _THIRD_PARTY:
        logging.getLogger(n).setLevel(third)
    # worker processes start with their own logging and warnings: set both through the environment
    env = {"DASK_LOGGING__DISTRIBUTED": logging.getLevelName(third).lower()}
    if verbosity < 1:
        env["PYTHONWARNINGS"] = "ignore"
    old_env = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    old_showwarning = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        ours = "lia_dask" in str(filename)
        if verbosity >= 1 or (ours and verbosity >= 0):
            log.warning("%s", message)

    warnings.showwarning = showwarning
    try:
        with warnings.catch_warnings(), dask.config.set({"logging.distributed": logging.getLevelName(third).lower()}):
            warnings.simplefilter("default")  # each distinct warning once, through showwarning
            warnings.showwarning = showwarning
            yield
    finally:
        warnings.showwarning = old_showwarning
        root.removeHandler(handler)
        root.setLevel(old_level)
        root.propagate = old_prop
        for n, lvl in old_levels.items():
            logging.getLogger(n).setLevel(lvl)
        for k, v in old_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------------ one sentence per failure
def _os_sentence(exc: OSError) -> str:
    name = exc.filename or exc.filename2
    where = f" {name}" if name else ""
    if exc.errno == errno.ENOSPC:
        return f"no space left on the device holding{where or ' the output'}; free space or choose another --out, then rerun (finished parts are kept)."
    if exc.errno == errno.EROFS:
        return f"{name or 'the output'} is on a read-only file system; choose another --out."
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded writing{where}; free space or choose another --out, then rerun."
    if isinstance(exc, FileNotFoundError):
        return f"{name or 'a file'} does not exist; check the path."
    if isinstance(exc, PermissionError):
        return f"permission denied on {name or 'a file'}; choose a path you can read / write or fix its permissions."
    if isinstance(exc, IsADirectoryError):
        return f"{name or 'a path'} is a directory where a file is needed; give the file's path."
    if isinstance(exc, NotADirectoryError):
        return f"{name or 'a path'} is a file where a directory is needed; give a directory."
    if isinstance(exc, FileExistsError):
        return f"{name or 'the output'} already exists; choose another --out or use --overwrite."
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return f"a connection failed ({exc.strerror or exc}); check the scheduler address or the storage URL."
    return f"{exc.strerror or exc}{':' + where if where else ''}; check the path and rerun."


def _root_cause(exc: BaseException) -> BaseException:
    """The error a user can act on: a PartitionError's OSError cause, for instance."""
    from .errors import PartitionError

    seen = set()
    while isinstance(exc, PartitionError) and isinstance(exc.cause, OSError) and id(exc) not in seen:
        seen.add(id(exc))
        exc = exc.cause
    return exc


def explain(exc: BaseException) -> tuple[str, int]:
    """The one sentence (without the ``lia-dask: error:`` prefix) and the exit code for ``exc``."""
    exc = _root_cause(exc)
    if isinstance(exc, LiaDaskError):
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return text, EXIT_INPUT
    if isinstance(exc, MemoryError):
        return ("out of memory; use smaller partitions (--files-per-partition, --partition-size) or more "
                "memory per worker."), EXIT_FAILED
    if isinstance(exc, OSError):
        return _os_sentence(exc), EXIT_FAILED
    name = type(exc).__name__
    if name == "KilledWorker":
        return ("a Dask worker died repeatedly on one task (usually out of memory); use smaller partitions or "
                "more memory per worker, then rerun."), EXIT_FAILED
    first = (str(exc).strip().splitlines() or [""])[0][:300]
    return (f"unexpected {name}: {first}; rerun with --debug for the traceback and report it."
            if first else f"unexpected {name}; rerun with --debug for the traceback and report it."), EXIT_FAILED


# ------------------------------------------------------------------------ Ctrl-C
def _end_children() -> None:
    """Terminate the worker processes this process started (multiprocessing children only)."""
    import multiprocessing

    for child in multiprocessing.active_children():
        try:
            child.terminate()
        except OSError:  # pragma: no cover - already gone
            pass


#: sub-commands that continue where an interrupted run stopped
RESUMABLE = ("predict", "cnn predict")


def interrupted_sentence(command_path: str) -> str:
    """The line printed on Ctrl-C for ``command_path``."""
    if command_path in RESUMABLE:
        return "interrupted; rerun with --resume to continue (finished partitions are kept)."
    return "interrupted; rerun the command to start again (add --overwrite if it complains about the output)."


#: the line the SIGINT handler prints (set by ``main`` for the running sub-command)
interrupt_message = interrupted_sentence("predict")
#: (output directories of the running command, those of them this run created) for the handler
interrupt_outputs: tuple[list[Path], list[Path]] = ([], [])

#: temporary names lia_dask writes before renaming (``.part.00003.parquet.<32 hex>.tmp``, ``._archive.json.tmp``)
_TMP_NAME = re.compile(r"^\..+\.[0-9a-f]{32}\.tmp$|^\._archive\.json\.tmp$")


def output_dirs(args: argparse.Namespace) -> list[Path]:
    """The local output directories named by the arguments."""
    cmd = getattr(args, "command_path", "")
    return [Path(v) for dest in OUTPUT_ARGS
            if (v := getattr(args, dest, None)) is not None and not _is_url(v)
            and not (cmd == "candidates" and dest == "out")]


def remove_temporary_files(dirs: list[Path]) -> int:
    """Delete the temporary files lia_dask's atomic writes leave when a run is killed; returns how many.

    Only names of lia_dask's own temporary pattern are touched, never finished files.
    """
    n = 0
    for d in dirs:
        if not d.is_dir():
            continue
        for f in d.rglob(".*tmp"):
            if f.is_file() and _TMP_NAME.match(f.name):
                with contextlib.suppress(OSError):
                    f.unlink()
                    n += 1
    return n


def interrupt_handler(signum: int, frame: Any) -> None:  # pragma: no cover - exercised by a subprocess test
    """SIGINT: one line, the worker processes ended, exit 130 now (finished partitions stay)."""
    try:
        sys.stderr.write(f"lia-dask: {interrupt_message}\n")
        sys.stderr.flush()
        _end_children()
        outputs, created = interrupt_outputs
        remove_temporary_files(outputs)
        remove_empty_outputs(created)
    finally:
        os._exit(EXIT_INTERRUPTED)


@contextlib.contextmanager
def sigint_ignored() -> Iterator[None]:
    """Block SIGINT while worker processes start, so they inherit the blocked signal (the CLI ends them).

    Blocked, not ignored: a Ctrl-C pressed meanwhile stays pending and is handled as soon as the
    block ends. Threads started inside (Dask's event loop, which spawns the workers, also
    restarted ones) inherit the mask; the main thread gets its own back.
    """
    import threading

    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def exit_without_teardown(code: int) -> None:  # pragma: no cover - ends the process
    """End this process with ``code`` once its work is done, without the interpreter's module teardown.

    Exit handlers still run (temporary files, logging) and the standard streams are flushed; only the
    freeing of every module is skipped, which takes about a second once XGBoost, scikit-learn,
    numba and Dask are loaded. Used by the ``lia-dask`` program and by its LocalCluster's workers.
    """
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(int(code))
