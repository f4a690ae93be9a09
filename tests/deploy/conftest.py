"""Fixtures of the deployment tests: a local S3-compatible server (moto) and a small real model."""
from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ENTRYPOINT = Path(__file__).resolve().parents[2] / "deploy" / "docker" / "entrypoint.sh"

ACCESS = {"AWS_ACCESS_KEY_ID": "lia-dask-test", "AWS_SECRET_ACCESS_KEY": "lia-dask-test-secret",
          "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3 server on 127.0.0.1 (a real HTTP endpoint speaking the S3 protocol); yields its URL."""
    pytest.importorskip("s3fs")
    server_mod = pytest.importorskip("moto.server")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = server_mod.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture()
def s3(s3_server):
    """A fresh bucket; yields ``(bucket_url, storage_options)`` (``s3://bucket``, options for s3fs)."""
    import boto3

    bucket = f"lia-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, aws_access_key_id=ACCESS["AWS_ACCESS_KEY_ID"],
                 aws_secret_access_key=ACCESS["AWS_SECRET_ACCESS_KEY"],
                 region_name=ACCESS["AWS_DEFAULT_REGION"]).create_bucket(Bucket=bucket)
    so = {"key": ACCESS["AWS_ACCESS_KEY_ID"], "secret": ACCESS["AWS_SECRET_ACCESS_KEY"],
          "client_kwargs": {"endpoint_url": s3_server, "region_name": ACCESS["AWS_DEFAULT_REGION"]}}
    return f"s3://{bucket}", so


@pytest.fixture()
def s3_env(s3_server, monkeypatch):
    """Credentials and endpoint in the environment, as a cluster's pods have them (no storage_options)."""
    for k, v in {**ACCESS, "AWS_ENDPOINT_URL": s3_server}.items():
        monkeypatch.setenv(k, v)
    import fsspec

    fsspec.filesystem("s3").clear_instance_cache()
    yield
    fsspec.filesystem("s3").clear_instance_cache()


@pytest.fixture(scope="session")
def tiny_model(ogle_dir, tmp_path_factory):
    """A real XGBoost ensemble artifact, trained on the features of the bundled OGLE-II lightcurves
    (labels microlensing / variables, 4 jittered copies); deployment tests need a real model, not a good one."""
    import numpy as np
    import pandas as pd

    from lia_dask.archive import IngestConfig, ingest_directory
    from lia_dask.features.extract import extract_batch_with_reasons
    from lia_dask.features.registry import FeatureSettings
    from lia_dask.train.ensemble import EnsembleClassifier

    d = tmp_path_factory.mktemp("deploy-model")
    batch = ingest_directory(ogle_dir, d / "ogle", IngestConfig(files_per_partition=100)).archive.read_batch(0)
    settings = {"zp": 22.0, "convert": None, "apply_weights": True}
    values, names, _ = extract_batch_with_reasons(batch, FeatureSettings.from_dict(settings))
    rng = np.random.default_rng(0)
    X = pd.DataFrame(np.vstack([values] * 4) * (1 + rng.normal(0, 1e-3, (4 * len(values), values.shape[1]))), columns=names)
    clf = EnsembleClassifier(model="xgb", cv=2, random_state=0, params={"n_estimators": 10, "max_depth": 3})
    clf.fit(X, list(batch.label.astype(str)) * 4, feature_set="microlia-2.8.1", feature_settings=settings)
    clf.save(d / "model")
    return d / "model"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def loopback_cluster(s3_server, tmp_path_factory):
    """Scheduler + 2 single-threaded workers (separate processes) on 127.0.0.1; yields the address.

    The processes get the object-store credentials in their environment, as pods / SLURM jobs do.
    """
    from distributed import Client

    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("loopback")
    env = {**os.environ, **ACCESS, "AWS_ENDPOINT_URL": s3_server,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmds = [["scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"]]
    cmds += [["worker", addr, "--nthreads", "1", "--memory-limit", "1.5GiB", "--no-dashboard", "--name", f"w{i}",
              "--local-directory", str(logs / f"w{i}")] for i in range(2)]
    procs = []
    try:
        for i, cmd in enumerate(cmds):
            procs.append(subprocess.Popen(["sh", str(ENTRYPOINT), *cmd], env=env, stdout=open(logs / f"{i}.log", "w"),
                                          stderr=subprocess.STDOUT))
            if i == 0:
                time.sleep(0.5)
        with Client(addr, timeout="60s") as c:
            c.wait_for_workers(2, timeout=120)
            assert sorted(w["name"] for w in c.scheduler_info()["workers"].values()) == ["w0", "w1"]
        yield addr
    finally:
        for p in reversed(procs):  # exec'd by the entrypoint: these are the Dask processes themselves
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
