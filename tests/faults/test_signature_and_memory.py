"""Keyed artifact signatures (tampering the digest cannot catch) and bounded-memory streaming."""
from __future__ import annotations

import json
import shutil

import pytest

from lia_dask import artifact
from lia_dask.errors import ArtifactError, ConfigError, InputError
from lia_dask.predict import PredictConfig, predict_archive

KEY = "s3cret-key-of-the-survey-team"


def _tamper_classes(path):
    """Permute the classes and recompute the digest: what the digest alone cannot catch."""
    man = json.loads((path / "manifest.json").read_text())
    man["classes"] = man["classes"][::-1]
    man["digest"] = artifact.hashlib.sha256(artifact._canonical(man)).hexdigest()
    (path / "manifest.json").write_text(json.dumps(man))


def test_tampered_manifest_with_recomputed_digest_passes_the_digest_but_not_the_signature(tiny_model, tmp_path):
    m = tmp_path / "m"
    shutil.copytree(tiny_model, m)
    artifact.sign(m, KEY)
    assert artifact.verify_signature(m, KEY)
    _tamper_classes(m)
    artifact.read_manifest(m)  # the digest is consistent again: damage checks cannot see it
    with pytest.raises(ArtifactError, match="invalid signature"):
        artifact.verify_signature(m, KEY)


def test_predict_requiring_a_signature(make_archive, tiny_model, tmp_path, monkeypatch):
    a = make_archive()
    m = tmp_path / "m"
    shutil.copytree(tiny_model, m)
    cfg = PredictConfig(require_signature=True)
    monkeypatch.setenv("LIA_DASK_ARTIFACT_KEY", KEY)
    with pytest.raises(ArtifactError, match="is not signed but a signature is required"):
        predict_archive(a, m, tmp_path / "p", config=cfg)
    assert not (tmp_path / "p").exists()
    artifact.sign(m)  # key from the environment
    rep = predict_archive(a, m, tmp_path / "p", config=cfg)
    assert rep.n_input == 40
    monkeypatch.setenv("LIA_DASK_ARTIFACT_KEY", "another key")
    with pytest.raises(ArtifactError, match="invalid signature"):
        predict_archive(a, m, tmp_path / "p2", config=cfg)
    monkeypatch.delenv("LIA_DASK_ARTIFACT_KEY")
    with pytest.raises(ConfigError, match="no key is configured"):
        predict_archive(a, m, tmp_path / "p3", config=cfg)
    with pytest.raises(InputError, match="given in memory"):
        predict_archive(a, artifact.load(m), tmp_path / "p4", config=cfg)


def test_key_in_dask_config_signs_every_saved_artifact(tiny_model, tmp_path):
    import dask

    from lia_dask.train.ensemble import EnsembleClassifier

    clf = EnsembleClassifier.load(tiny_model)
    with dask.config.set({"lia_dask.artifact_key": KEY}):
        clf.save(tmp_path / "m")
        assert (tmp_path / "m" / "signature.json").exists() and artifact.verify_signature(tmp_path / "m")


def test_unsigned_artifact_is_accepted_when_not_required(tiny_model):
    assert artifact.verify_signature(tiny_model, KEY, required=False) is False


def test_simulation_streams_a_bounded_window_of_parts():
    """``simulate --n-per-class 10**9``: ranges are lazy and at most ``window`` tasks are ever pending."""
    import itertools

    from lia_dask.simulate.simulate import _ranges, plan_training_set, stream_tasks

    plan = plan_training_set(10**9, ("ML", "CONSTANT"))
    r = _ranges(plan, 5000)
    assert next(r) == (0, 0, 5000) and not isinstance(r, list)  # 400,000 parts, none materialized
    consumed = []

    def args():
        for i in range(40):
            consumed.append(i)
            yield (i,)

    seen = []

    def task(i):
        seen.append((i, len(consumed)))
        return {"index": i}

    import dask

    with dask.config.set(scheduler="sync"):  # in this process, whatever Client the session has
        out = stream_tasks(task, args(), (), client=None, window=4)
    assert [o["index"] for o in out] == list(range(40))
    assert max(n - i for i, n in seen) <= 4  # never more than a window ahead of the task running
    assert list(itertools.islice(_ranges(plan, 5000), 399_999, None)) == [(399_999, 1_999_995_000, 2_000_000_000)]


def test_simulation_streams_on_a_real_cluster(ogle_dir, tmp_path, local_client):
    from lia_dask.simulate import SimulationConfig
    from lia_dask.simulate.simulate import simulate_training_set

    arch = simulate_training_set(ogle_dir, 6, tmp_path / "t", SimulationConfig(seed=3, partition_size=4),
                                 client=local_client)
    assert arch.complete and arch.n_partitions == len(arch.summary["parts"]) and arch.n_objects >= 6 * 5


def test_simulate_overwrite_never_deletes_foreign_files(ogle_dir, tmp_path):
    from lia_dask.simulate.simulate import simulate_training_set

    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="did not write"):
        simulate_training_set(ogle_dir, 2, tmp_path / "t", overwrite=True)
    assert (tmp_path / "t" / "notes.txt").read_text() == "mine"
