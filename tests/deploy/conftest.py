"""Fixtures of the deployment tests: a local S3-compatible server (moto) and a small real model."""
from __future__ import annotations

import logging
import os
import uuid

import pytest

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
    """A real XGBoost ensemble artifact trained on a small simulated set (OGLE-II cadences)."""
    import pandas as pd

    from lia_dask.archive import IngestConfig, ingest_directory
    from lia_dask.features.registry import get_feature_set
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set
    from lia_dask.train.ensemble import EnsembleClassifier

    d = tmp_path_factory.mktemp("deploy-model")
    ingest_directory(ogle_dir, d / "cadences", IngestConfig(files_per_partition=30))
    simulate_training_set(d / "cadences", 12, d / "train", SimulationConfig(seed=3), features_out=d / "feat")
    feats = pd.read_parquet(d / "feat")
    names = list(get_feature_set().names)
    clf = EnsembleClassifier(model="xgb", cv=2, random_state=0, params={"n_estimators": 10, "max_depth": 3})
    clf.fit(feats[names], feats["label"], feature_set="microlia-2.8.1",
            feature_settings={"zp": 22.0, "convert": None, "apply_weights": True})
    clf.save(d / "model")
    return d / "model"


def env_without_aws() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
