"""Prediction outputs know their source: resume verifies, deletion touches only our own files."""
from __future__ import annotations

import shutil

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from lia_dask.archive import open_archive
from lia_dask.errors import InputError
from lia_dask.predict import PredictConfig, predict_archive, read_predictions, read_quarantine


def _every_object_once(out, archive):
    pred, q = read_predictions(out), read_quarantine(out)
    got = sorted(pred.object_id.tolist() + [int(x) for x in q.object_id])
    want = sorted(lc.object_id for b in archive.batches() for lc in b)
    return got == want


def test_outputs_record_their_input_part_archive_and_model(make_archive, tiny_model, tmp_path):
    from lia_dask import artifact

    a = make_archive()
    rep = predict_archive(a, tiny_model, tmp_path / "p")
    assert rep.n_input == 40 == rep.predicted + rep.quarantined and rep.partitions == 8
    kv = pq.read_schema(tmp_path / "p" / "part.00003.parquet").metadata
    assert kv[b"lia_dask.input_part"] == b"part.00003.parquet" and kv[b"lia_dask.output"] == b"predictions"
    assert kv[b"lia_dask.input_identity"].decode() == a.identity
    assert kv[b"lia_dask.input_digest"].decode() == a.part_digest(3)
    assert kv[b"lia_dask.model_digest"].decode() == artifact.digest(tiny_model)
    assert _every_object_once(tmp_path / "p", a)


def test_out_equal_to_the_input_is_refused_and_the_archive_survives(make_archive, tiny_model, fx):
    a = make_archive()
    before = fx.snapshot(a.path)
    for resume in (True, False):
        with pytest.raises(InputError, match="is the input itself"):
            predict_archive(a, tiny_model, a.path, resume=resume)
    assert fx.snapshot(a.path) == before and open_archive(a.path).n_objects == 40


def test_out_holding_another_archive_is_refused(make_archive, tiny_model, fx):
    a, b = make_archive("a"), make_archive("b", seed=2)
    before = fx.snapshot(b.path)
    with pytest.raises(InputError, match="holds a lightcurve archive"):
        predict_archive(a, tiny_model, b.path, resume=False)
    assert fx.snapshot(b.path) == before


def test_out_that_is_a_file_is_refused(make_archive, tiny_model, tmp_path):
    a = make_archive()
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="is an existing file"):
        predict_archive(a, tiny_model, tmp_path / "f")


def test_no_resume_never_deletes_a_file_lia_dask_did_not_write(make_archive, tiny_model, tmp_path):
    a = make_archive()
    out = tmp_path / "p"
    out.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_parquet(out / "part.00000.parquet")
    with pytest.raises(InputError, match="was not written by lia_dask predict"):
        predict_archive(a, tiny_model, out, resume=False)
    assert pd.read_parquet(out / "part.00000.parquet").x.tolist() == [1, 2]


def test_resume_with_another_model_is_refused_before_any_write(make_archive, tiny_model, tmp_path, fx):
    a = make_archive()
    out = tmp_path / "p"
    predict_archive(a, tiny_model, out)
    (out / "part.00004.parquet").unlink()
    shutil.copytree(tiny_model, tmp_path / "m2")
    m2 = tmp_path / "m2"
    import json

    from lia_dask import artifact

    man = json.loads((m2 / "manifest.json").read_text())
    man["metrics"] = {"note": "retrained"}
    man["digest"] = artifact.hashlib.sha256(artifact._canonical(man)).hexdigest()
    (m2 / "manifest.json").write_text(json.dumps(man))
    before = fx.snapshot(out)
    with pytest.raises(InputError, match="another model"):
        predict_archive(a, m2, out)
    assert fx.snapshot(out) == before  # the missing part was not written by the new model


def test_resume_into_another_archives_output_is_refused(make_archive, tiny_model, tmp_path, fx):
    a, b = make_archive("a"), make_archive("b", seed=2)
    predict_archive(a, tiny_model, tmp_path / "p")
    before = fx.snapshot(tmp_path / "p")
    for resume in (True, False):
        with pytest.raises(InputError, match="another input"):
            predict_archive(b, tiny_model, tmp_path / "p", resume=resume)
    assert fx.snapshot(tmp_path / "p") == before


def test_output_part_holding_another_input_part_is_refused(make_archive, tiny_model, tmp_path):
    a = make_archive()
    out = tmp_path / "p"
    predict_archive(a, tiny_model, out)
    (out / "part.00002.parquet").unlink()
    shutil.copy(out / "part.00001.parquet", out / "part.00002.parquet")  # a neighbour's objects under 2's name
    with pytest.raises(InputError, match="holds predictions of input part 'part.00001.parquet'"):
        predict_archive(a, tiny_model, out)


def test_truncated_output_part_on_resume_is_one_sentence(make_archive, tiny_model, tmp_path):
    a = make_archive()
    out = tmp_path / "p"
    predict_archive(a, tiny_model, out)
    data = (out / "part.00006.parquet").read_bytes()
    (out / "part.00006.parquet").write_bytes(data[:100])
    with pytest.raises(InputError, match="part.00006.parquet cannot be read .*truncated or damaged.*delete it"):
        predict_archive(a, tiny_model, out)


def test_missing_output_part_is_recomputed_every_object_once(make_archive, tiny_model, tmp_path):
    a = make_archive()
    out = tmp_path / "p"
    predict_archive(a, tiny_model, out)
    first = read_predictions(out)
    (out / "part.00005.parquet").unlink()
    rep = predict_archive(a, tiny_model, out)
    assert rep.skipped == 7 and rep.predicted + rep.quarantined == 40
    pd.testing.assert_frame_equal(read_predictions(out), first)


def test_removed_and_restored_input_part_keeps_outputs_matched(make_archive, tiny_model, tmp_path):
    """Issue 13 case 3: outputs are matched by input part name and digest, never by position."""
    a = make_archive()
    keep = tmp_path / "saved.parquet"
    shutil.move(a.path / "part.00002.parquet", keep)
    partial = open_archive(a.path, allow_incomplete=True)
    rep = predict_archive(partial, tiny_model, tmp_path / "p")
    assert rep.n_input == 35 and sorted(p.name for p in (tmp_path / "p").glob("part.*")) == [
        f"part.{i:05d}.parquet" for i in (0, 1, 3, 4, 5, 6, 7)]
    shutil.move(keep, a.path / "part.00002.parquet")
    rep = predict_archive(open_archive(a.path), tiny_model, tmp_path / "p")
    assert rep.skipped == 7 and rep.n_input == 40 == rep.predicted + rep.quarantined
    assert _every_object_once(tmp_path / "p", a)
    for i in range(8):  # each output part holds exactly its input part's objects
        ids = set(pd.read_parquet(tmp_path / "p" / f"part.{i:05d}.parquet").object_id)
        assert ids <= set(a.read_batch(i).object_id.tolist())


def test_no_resume_with_another_model_replaces_only_our_files(make_archive, tiny_model, tmp_path):
    a = make_archive()
    out = tmp_path / "p"
    predict_archive(a, tiny_model, out)
    (out / "mine.txt").write_text("keep")
    rep = predict_archive(a, tiny_model, out, resume=False)
    assert rep.skipped == 0 and (out / "mine.txt").read_text() == "keep" and _every_object_once(out, a)


def test_pandas_and_dask_read_parquet_of_outputs_read_predictions_only(make_archive, tiny_model, tmp_path):
    a = make_archive()
    b = a.read_batch(0)
    rep = predict_archive(a, tiny_model, tmp_path / "p")
    for df in (pd.read_parquet(tmp_path / "p"), dd.read_parquet(tmp_path / "p").compute()):
        assert len(df) == rep.predicted and "prediction" in df.columns and "reason" not in df.columns
    assert b is not None


def test_bad_prediction_settings_are_refused(make_archive, tiny_model, tmp_path):
    a = make_archive()
    with pytest.raises(InputError, match="slice_rows must be a positive integer"):
        predict_archive(a, tiny_model, tmp_path / "p", config=PredictConfig(slice_rows=0))
    assert not (tmp_path / "p").exists()


def test_label_null_stays_null_in_predictions(tmp_path, tiny_model, fx):
    from lia_dask.archive import ingest_directory

    src = tmp_path / "in"
    rng = np.random.default_rng(0)
    rows = lambda: [(float(t), 18 + rng.normal(0, 0.02), 0.02) for t in np.sort(rng.uniform(0, 1000, 80))]  # noqa: E731
    fx.write_text(src / "ML" / "a.dat", rows())
    fx.write_text(src / "loose.dat", rows())
    arch = ingest_directory(src, tmp_path / "a").archive
    predict_archive(arch, tiny_model, tmp_path / "p")
    pred = read_predictions(tmp_path / "p").set_index("object_id")
    assert pred.loc["a", "label"] == "ML" and pd.isna(pred.loc["loose", "label"])
    assert "None" not in pred["label"].astype(object).tolist()


def test_cli_candidates_top_negative_is_refused(make_archive, tiny_model, tmp_path, capsys):
    from lia_dask.cli import main

    a = make_archive()
    predict_archive(a, tiny_model, tmp_path / "p")
    assert main(["candidates", str(tmp_path / "p"), "--top", "-1"]) == 2
    assert "--top must be at least 1" in capsys.readouterr().err


def test_cli_predict_refuses_incomplete_archive_and_reads_with_opt_in(make_archive, tiny_model, tmp_path, capsys):
    from lia_dask.cli import main

    a = make_archive()
    (a.path / "part.00001.parquet").unlink()
    assert main(["predict", str(a.path), "--model", str(tiny_model), "--out", str(tmp_path / "p")]) == 2
    assert "incomplete: 1 of 8 parts" in capsys.readouterr().err and not (tmp_path / "p").exists()
    assert main(["--workers", "1", "predict", str(a.path), "--model", str(tiny_model), "--out", str(tmp_path / "p"),
                 "--allow-incomplete"]) == 0
    assert "input=35" in capsys.readouterr().out


def test_input_part_swapped_after_the_job_started_is_refused(make_archive, tiny_model, tmp_path):
    from lia_dask.errors import ArchiveError, PartitionError

    a, other = make_archive("a"), make_archive("b", seed=9)
    opened = open_archive(a.path)
    shutil.copy(other.path / "part.00004.parquet", a.path / "part.00004.parquet")  # e.g. a concurrent re-ingest
    with pytest.raises(PartitionError, match="part.00004.parquet changed while predicting") as info:
        predict_archive(opened, tiny_model, tmp_path / "p")
    assert isinstance(info.value.cause, ArchiveError)
    assert not (tmp_path / "p" / "part.00004.parquet").exists()
