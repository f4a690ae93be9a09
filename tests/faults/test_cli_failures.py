"""The CLI's one failure path: one sentence naming the file and what to do, exit 1 / 2 / 130, no traceback.

Most cases run ``lia_dask.cli.main`` in-process (stderr captured); Ctrl-C and the traceback-free
output of a real run use real subprocesses.
"""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from lia_dask import _cli_common as common
from lia_dask.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------------ fixtures (real archive, real model)
@pytest.fixture(scope="module")
def archive(ogle_dir, tmp_path_factory) -> Path:
    from lia_dask.archive import IngestConfig, ingest_directory

    out = tmp_path_factory.mktemp("cli") / "ogle2"
    ingest_directory(ogle_dir, out, IngestConfig(files_per_partition=3))
    return out


@pytest.fixture(scope="module")
def model(archive, tmp_path_factory, local_client) -> Path:
    """A real (small) XGBoost artifact trained on lightcurves simulated on the OGLE-II cadences."""
    import lia_dask as lia

    d = tmp_path_factory.mktemp("cli_model")
    training = lia.simulate_training_set(archive, 15, d / "train", seed=3, client=local_client)
    lia.train_classifier(lia.extract_features(training, client=local_client), out=d / "model", evaluate=False,
                         client=local_client, random_state=0, params={"n_estimators": 10, "max_depth": 3})
    return d / "model"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _one_sentence(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("lia-dask: error: ")]
    assert len(errors) == 1, err
    assert "Traceback" not in err, err
    return errors[0]


# ------------------------------------------------------------------------ help explains itself
def test_every_subcommand_has_an_example_and_every_option_has_help():
    leaves = dict(common.subcommands(build_parser()))
    assert {"ingest text", "ingest long", "info", "features", "simulate", "train", "predict", "candidates",
            "cnn train", "cnn predict"} <= set(leaves)
    for path, parser in leaves.items():
        text = parser.format_help()
        assert "example:" in text and f"lia-dask {path}" in text, path
        undocumented = [a.option_strings or a.dest for a in parser._actions if a.help is None]
        assert not undocumented, f"{path}: {undocumented}"


# ------------------------------------------------------------------------ refused before any cluster starts
@pytest.mark.parametrize("argv, expected", [
    (["predict", "{missing}", "--model", "{model}", "--out", "{tmp}/p"], "ARCHIVE {missing} does not exist"),
    (["predict", "{archive}", "--model", "{missing}", "--out", "{tmp}/p"], "--model {missing} does not exist"),
    (["ingest", "text", "{file}", "--out", "{tmp}/a"], "{file} is a file; `lia-dask ingest text` reads a directory"),
    (["ingest", "long", "{tmp}/nothing-*.parquet", "--preset", "rubin-dia", "--out", "{tmp}/a"],
     "no file matches {tmp}/nothing-*.parquet"),
    (["info", "{file}"], "{file} is a file; `lia-dask info` takes an archive"),
    (["candidates", "{tmp}", "--top", "-1"], "--top must be at least 1, got -1"),
    (["ingest", "text", "{archive}", "--out", "{tmp}/a", "--min-points", "0"], "--min-points must be at least 1"),
    (["ingest", "cutouts", "{file}", "--out", "{tmp}/c", "--chunk", "0"], "--chunk must be at least 1"),
    (["predict", "{archive}", "--model", "{model}", "--out", "{file}"], "--out {file} is an existing file"),
    (["features", "{archive}", "--out", "{file}/sub"], "cannot be created: {file} is a file"),
    (["simulate", "--synthetic", "seasonal", "--n-per-class", "0", "--out", "{tmp}/s"], "--n-per-class must be at least 1"),
])
def test_bad_arguments_are_refused_in_one_sentence_before_any_cluster(argv, expected, archive, model, tmp_path, capsys):
    f = tmp_path / "a_file.txt"
    f.write_text("1 2 3\n")
    fill = {"missing": tmp_path / "missing", "model": model, "archive": archive, "tmp": tmp_path, "file": f}
    rc, out, err = _run(capsys, *[a.format(**fill) for a in argv])
    assert rc == 2
    line = _one_sentence(err)
    assert expected.format(**fill) in line
    assert "cluster" not in err  # refused before lia_dask started (or connected to) any cluster
    assert not (tmp_path / "p").exists() and not (tmp_path / "a").exists()


def test_info_describes_a_model_and_refuses_a_damaged_one(model, tmp_path, capsys):
    import json
    import shutil

    manifest = json.loads((model / "manifest.json").read_text())
    rc, out, err = _run(capsys, "info", model, "--json")
    assert rc == 0, err
    info = json.loads(out)
    assert info["kind"] == "ensemble" and info["model"] == "xgb"
    assert info["classes"] == manifest["classes"] and info["digest"] == manifest["digest"]
    assert info["features"] == {"input": len(manifest["feature_names"]), "selected": len(manifest["selected_features"])}
    assert info["feature_set"] == manifest["feature_set"] and info["signed"] is False
    assert sum(info["training"]["class_counts"].values()) == info["training"]["n_train"]
    rc, out, _ = _run(capsys, "info", model)
    assert rc == 0 and "classes" in out and manifest["digest"] in out
    damaged = tmp_path / "damaged"
    shutil.copytree(model, damaged)
    with open(damaged / "model.ubj", "ab") as fh:
        fh.write(b"x")
    rc, _, err = _run(capsys, "info", damaged)
    assert rc != 0
    assert "model.ubj" in _one_sentence(err)


def test_debug_shows_the_traceback(tmp_path, capsys):
    rc, _, err = _run(capsys, "--debug", "info", tmp_path / "missing")
    assert rc == 2 and "Traceback" in err and err.rstrip().splitlines()[-1].startswith("lia-dask: error: ")


def test_a_failed_train_leaves_no_empty_output(tmp_path, capsys):
    import pandas as pd

    feats = tmp_path / "unlabelled.parquet"
    pd.DataFrame({"object_id": [1, 2, 3], "band": ["I"] * 3, "Amplitude": [0.1, 0.2, 0.3]}).to_parquet(feats)
    out = tmp_path / "model"
    rc, _, err = _run(capsys, "--workers", "1", "train", feats, "--out", out)
    assert rc == 2
    assert str(feats) in _one_sentence(err)
    assert not out.exists()


def test_only_lia_dask_temporary_files_are_cleaned_up(tmp_path):
    ours = [tmp_path / f".part.00001.parquet.{'ab12' * 8}.tmp", tmp_path / "._archive.json.tmp"]
    theirs = [tmp_path / ".notes.tmp", tmp_path / "part.00000.parquet", tmp_path / "x.tmp"]
    for f in ours + theirs:
        f.write_text("x")
    assert common.remove_temporary_files([tmp_path]) == 2
    assert not any(f.exists() for f in ours) and all(f.exists() for f in theirs)


def test_interrupted_sentence_says_how_to_continue():
    assert common.interrupted_sentence("predict") == "interrupted; rerun with --resume to continue (finished partitions are kept)."
    assert "rerun the command" in common.interrupted_sentence("train")


# ------------------------------------------------------------------------ OS errors: one sentence, the file named
def test_disk_full_is_one_sentence_naming_the_file():
    try:
        with open("/dev/full", "w") as fh:  # a real ENOSPC from the kernel
            fh.write("x" * 10)
            fh.flush()
    except OSError as exc:
        exc.filename = exc.filename or "/dev/full"
        text, code = common.explain(exc)
    else:  # pragma: no cover
        pytest.skip("/dev/full does not refuse writes here")
    assert code == 1 and "no space left" in text and "/dev/full" in text and "rerun" in text


@pytest.mark.parametrize("err, words", [
    (OSError(errno.EROFS, os.strerror(errno.EROFS), "/mnt/ro/out"), ["/mnt/ro/out", "read-only", "another --out"]),
    (PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/data/x"), ["/data/x", "permission denied"]),
    (FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), "/data/y"), ["/data/y", "does not exist"]),
    (IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), "/data/z"), ["/data/z", "is a directory"]),
])
def test_common_os_errors_name_the_file_and_what_to_do(err, words):
    text, code = common.explain(err)
    assert code == 1 and all(w in text for w in words) and "\n" not in text


def test_an_os_error_inside_a_partition_is_explained_as_the_os_error():
    from lia_dask.errors import PartitionError

    cause = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/out/part.00003.parquet")
    text, code = common.explain(PartitionError(3, "/in/part.00003.parquet", cause))
    assert code == 1 and "no space left" in text and "/out/part.00003.parquet" in text


def test_unexpected_errors_point_to_debug():
    text, code = common.explain(ValueError("shapes (3,) and (4,) not aligned\nmore lines"))
    assert code == 1 and text.startswith("unexpected ValueError: shapes (3,) and (4,) not aligned;")
    assert "--debug" in text and "\n" not in text


def test_real_read_only_output_directory(archive, model, tmp_path, capsys):
    """An output directory that cannot be written (root ignores modes: then only the check is tested)."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: directory modes do not refuse writes")
        rc, _, err = _run(capsys, "predict", archive, "--model", model, "--out", ro / "p")
        assert rc == 2 and f"no write permission in {ro}" in _one_sentence(err)
    finally:
        ro.chmod(0o755)


# ------------------------------------------------------------------------ logging and third-party noise
def test_warnings_are_one_line_without_source_and_third_party_ones_hidden(capsys):
    with common.setup_logging(0):
        warnings.warn_explicit("3 columns are all NaN", UserWarning, "/x/lia_dask/train/ensemble.py", 10)
        warnings.warn_explicit("P2P shuffle noise", UserWarning, "/x/site-packages/distributed/shuffle.py", 20)
        common.log.info("started a local cluster")
    err = capsys.readouterr().err
    assert "lia-dask: warning: 3 columns are all NaN" in err
    assert "P2P" not in err and "ensemble.py" not in err and "lia-dask: started a local cluster" in err
    with common.setup_logging(-1):
        common.log.info("progress message")
        common.log.warning("a warning")
    err = capsys.readouterr().err
    assert "progress message" not in err and "a warning" in err
    assert os.environ.get("DASK_LOGGING__DISTRIBUTED") is None  # restored after the run


def _children(pid: int) -> list[int]:
    import psutil

    return [p.pid for p in psutil.Process(pid).children(recursive=True)]


def test_a_real_run_prints_no_dask_noise_and_ctrl_c_ends_in_one_line(archive, model, tmp_path):
    """Subprocess: a real predict run, then Ctrl-C (SIGINT to the process group) during another."""
    import psutil

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "lia_dask", "--workers", "1", "predict", str(archive), "--model", str(model)]
    done = subprocess.run([*cmd, "--out", str(tmp_path / "p1")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    noise = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("lia-dask: ")]
    assert not noise, done.stderr  # no distributed.* log lines, no warnings with source lines

    p = subprocess.Popen([*cmd, "--out", str(tmp_path / "p2")], env=env, stderr=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, start_new_session=True)
    try:
        head = ""
        deadline = time.monotonic() + 120
        while "dashboard" not in head and time.monotonic() < deadline:
            head += p.stderr.readline()
        assert "dashboard" in head, head
        workers = _children(p.pid)
        t0 = time.monotonic()
        os.killpg(p.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        out, err = p.communicate(timeout=30)
        elapsed = time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 130
    assert elapsed < 3.0, elapsed
    lines = [ln for ln in (head + err).splitlines() if ln.strip()]
    assert lines[-1] == "lia-dask: interrupted; rerun with --resume to continue (finished partitions are kept)."
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert not list((tmp_path / "p2").glob(".*.tmp"))  # no half-written file left behind
    time.sleep(1.0)
    alive = [w for w in workers if psutil.pid_exists(w) and psutil.Process(w).status() != psutil.STATUS_ZOMBIE]
    assert not alive  # the worker processes it started are gone
