import os
import signal
import threading
import time

import numpy as np
import pandas as pd
import pytest

from lia_dask import artifact
from lia_dask.archive import open_archive, write_archive
from lia_dask.batch import LightcurveBatch, concat_batches
from lia_dask.errors import InputError, PartitionError
from lia_dask.predict import (PredictConfig, predict_archive, predict_batch, read_predictions, read_quarantine,
                              received_counts)


def test_outputs_follow_the_contract(ogle_archive, model_dir, tmp_path):
    rep = predict_archive(ogle_archive, model_dir, tmp_path / "p")
    files = sorted((tmp_path / "p").glob("part.*.parquet"))
    assert len(files) == ogle_archive.n_partitions == rep.partitions
    pred = read_predictions(tmp_path / "p")
    classes = artifact.read_manifest(model_dir)["classes"]
    assert list(pred.columns[:3]) == ["object_id", "band", "prediction"]
    probs = pred[[f"prob_{c}" for c in classes]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert set(pred["prediction"]) <= set(classes)
    assert (pred["model_digest"] == artifact.digest(model_dir)).all()
    assert rep.n_input == rep.predicted + rep.quarantined == 7 and rep.predicted == 7
    # the single-partition path gives the same answer as the job
    m = predict_batch(ogle_archive.read_batch(0), artifact.load(model_dir))[0]
    first = pd.read_parquet(files[0])
    np.testing.assert_allclose(m[[f"prob_{c}" for c in classes]], first[[f"prob_{c}" for c in classes]])


def test_model_is_sent_to_each_worker_once(model_dir, tmp_path, local_client, make_survey):
    arch = make_survey(tmp_path / "s", n_objects=120, partition_rows=10)
    assert arch.n_partitions == 12
    before = local_client.run(received_counts)
    rep = predict_archive(arch, model_dir, tmp_path / "p", client=local_client)
    after = local_client.run(received_counts)
    digest = artifact.digest(model_dir)
    for w in after:
        assert after[w].get(digest, 0) - before[w].get(digest, 0) == 1, after
    assert rep.predicted == 120 and rep.partitions == 12


def test_resume_skips_finished_partitions(ogle_archive, model_dir, tmp_path):
    out = tmp_path / "p"
    predict_archive(ogle_archive, model_dir, out)
    files = sorted(out.glob("part.*.parquet"))
    stamps = {f: f.stat().st_mtime_ns for f in files}
    files[1].unlink()
    rep = predict_archive(ogle_archive, model_dir, out)
    assert rep.skipped == ogle_archive.n_partitions - 1 and rep.predicted == 7
    for f in (files[0], files[2]):
        assert f.stat().st_mtime_ns == stamps[f]
    assert files[1].exists()
    rep = predict_archive(ogle_archive, model_dir, out, resume=False)
    assert rep.skipped == 0


def test_few_partitions_are_split_finer_than_the_archive(model_dir, tmp_path, local_client, make_survey):
    """2 partitions on a cluster: each is classified in row ranges, written as one file, equal to unsplit."""
    arch = make_survey(tmp_path / "s", n_objects=120, partition_rows=60)
    assert arch.n_partitions == 2
    cfg = PredictConfig(min_piece_rows=10)
    rep = predict_archive(arch, model_dir, tmp_path / "split", client=local_client, config=cfg)
    assert rep.predicted + rep.quarantined == 120 and len(list((tmp_path / "split").glob("part.*.parquet"))) == 2
    ref = predict_archive(arch, model_dir, tmp_path / "whole")  # no cluster: one task per partition
    for k in range(2):
        a = pd.read_parquet(tmp_path / "split" / f"part.{k:05d}.parquet")
        b = pd.read_parquet(tmp_path / "whole" / f"part.{k:05d}.parquet")
        pd.testing.assert_frame_equal(a, b)
    again = predict_archive(arch, model_dir, tmp_path / "split", client=local_client, config=cfg)
    assert again.skipped == 2 and again.classified == 0 and again.throughput == 0.0
    assert str(again).startswith("nothing to do") and again.n_input == 120


def test_resume_refuses_outputs_of_another_model(ogle_archive, model_dir, tmp_path):
    out = tmp_path / "p"
    predict_archive(ogle_archive, model_dir, out)
    other = artifact.load(model_dir)
    other.digest_ = "0" * 64
    with pytest.raises(InputError, match="another model"):
        predict_archive(ogle_archive, other, out)


def test_crash_in_a_partition_leaves_no_partial_file_and_resumes(ogle_archive, model_dir, tmp_path):
    import shutil

    arch_dir = tmp_path / "a"
    shutil.copytree(ogle_archive.path, arch_dir)
    arch = open_archive(arch_dir)
    good = arch_dir / "part.00001.parquet"
    saved = good.read_bytes()
    good.write_bytes(b"PAR1" + b"\0" * 64)
    out = tmp_path / "p"
    with pytest.raises(PartitionError, match=r"partition 1 \("):
        predict_archive(arch, model_dir, out, config=PredictConfig(show_progress=False))
    names = sorted(p.name for p in out.iterdir())
    assert "part.00001.parquet" not in names and not [n for n in names if n.endswith(".tmp")]
    good.write_bytes(saved)
    rep = predict_archive(arch, model_dir, out)
    assert rep.predicted == 7 and len(read_predictions(out)) == 7


def test_unprocessable_lightcurves_are_quarantined_and_counts_reconcile(model_dir, tmp_path):
    t = np.arange(50.0)
    lcs = [(t, 17 + 0.01 * np.sin(t), np.full(50, 0.01)),       # fine
           (t, np.full(50, 17.0), np.full(50, 0.01)),            # constant: no finite derivative error
           (t[:1], np.array([17.0]), np.array([0.01]))]          # one epoch
    b = LightcurveBatch.from_lightcurves(["ok", "flat", "single"], *zip(*lcs))
    arch = write_archive(b, tmp_path / "a")
    rep = predict_archive(arch, model_dir, tmp_path / "p")
    q = read_quarantine(tmp_path / "p").set_index("object_id")
    assert rep.n_input == 3 and rep.predicted == 1 and rep.quarantined == 2
    assert set(q.index) == {"flat", "single"} and q["reason"].str.startswith("features not computable").all()


def test_fit_filter_columns_and_cuts(model_dir, tmp_path, make_survey):
    from lia_dask.predict.fitfilter import FIT_COLUMNS, FitFilterConfig

    arch = make_survey(tmp_path / "s", n_objects=60, partition_rows=30, n_ml=10)
    cfg = FitFilterConfig()
    rep = predict_archive(arch, model_dir, tmp_path / "p", config=PredictConfig(fit_filter=True, fit=cfg))
    pred = read_predictions(tmp_path / "p")
    assert set(FIT_COLUMNS) <= set(pred.columns)
    ml = pred["prediction"] == "ML"
    assert pred.loc[~ml, "fit_tE"].isna().all() and not pred.loc[~ml, "passes_fit"].any()
    passed = pred[pred["passes_fit"]]
    # every candidate: a significant point lens that beats each competitor, physical parameters
    assert ((passed.fit_tE >= cfg.tE_min) & (passed.fit_tE <= cfg.tE_max) & (passed.fit_u0 <= cfg.u0_max)).all()
    assert (passed.fit_dbic_const >= cfg.dbic_const_min).all() and (passed.fit_fs > 0).all()
    assert ((passed.fit_dbic_trend >= cfg.dbic_min) & (passed.fit_dbic_periodic >= cfg.dbic_min)
            & (passed.fit_dbic_fred >= -cfg.dbic_min)).all()
    assert (passed.fit_dbic_burst >= -cfg.dbic_min).all()
    rejected = pred[ml & ~pred["passes_fit"]]
    from lia_dask.predict.fitfilter import cut_results

    cuts = cut_results(rejected[list(FIT_COLUMNS[:-1])].to_numpy(float), cfg)
    assert (~cuts.all(axis=1)).all()  # every rejected object fails at least one documented cut
    assert cut_results(passed[list(FIT_COLUMNS[:-1])].to_numpy(float), cfg).all()
    # the injected events the classifier found are candidates (bright PSPL events on flat stars)
    truth = arch.to_dask().compute().set_index("object_id")["sim_is_ml"]
    found = pred[ml & pred["object_id"].map(truth).to_numpy()]
    assert len(found) >= 5 and found["passes_fit"].mean() >= 0.8
    assert rep.predicted == 60


def test_fit_filter_vets_the_configured_classes(model_dir, tmp_path, make_survey):
    from lia_dask.predict.fitfilter import FitFilterConfig

    arch = make_survey(tmp_path / "s", n_objects=40, partition_rows=40, n_ml=8, seed=3)
    batch = concat_batches(list(arch.batches()))
    vet = ("ML", "CV", "LPV")
    pred, _ = predict_batch(batch, model_dir, PredictConfig(fit_filter=True, fit=FitFilterConfig(classes=vet)))
    vetted = pred["prediction"].isin(vet)
    assert pred.loc[vetted, "fit_dbic_const"].notna().all() and pred.loc[~vetted, "fit_tE"].isna().all()
    assert not pred.loc[~vetted, "passes_fit"].any()
    only_ml, _ = predict_batch(batch, model_dir, PredictConfig(fit_filter=True))
    # the ML-only flag is the rescue flag restricted to objects predicted ML
    np.testing.assert_array_equal(only_ml["passes_fit"], pred["passes_fit"] & (pred["prediction"] == "ML"))


@pytest.mark.timeout(300)
def test_worker_killed_mid_job_every_object_predicted_once(model_dir, tmp_path, make_survey):
    from distributed import Client, LocalCluster

    arch = make_survey(tmp_path / "s", n_objects=400, partition_rows=10, seed=5)
    out = tmp_path / "p"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        pids = client.run(os.getpid)
        result = {}

        def job():
            result["report"] = predict_archive(arch, model_dir, out, client=client)

        th = threading.Thread(target=job)
        th.start()
        deadline = time.time() + 120
        while time.time() < deadline and len(list(out.glob("part.*.parquet"))) < 3:
            time.sleep(0.05)
        done_before = len(list(out.glob("part.*.parquet")))
        victim = sorted(pids.values())[0]
        os.kill(victim, signal.SIGKILL)
        th.join(240)
        assert not th.is_alive()
        rep = result["report"]
        assert done_before < arch.n_partitions  # the kill happened mid-job
        pred = read_predictions(out)
        assert len(pred) == 400 and pred["object_id"].is_unique and rep.predicted == 400
        again = predict_archive(arch, model_dir, out, client=client)
        assert again.skipped == arch.n_partitions and again.predicted == 400


def test_cli_predict_and_candidates(ogle_archive, model_dir, tmp_path, capsys):
    from lia_dask.cli import main

    out = tmp_path / "p"
    assert main(["--workers", "1", "predict", str(ogle_archive.path), "--model", str(model_dir), "--out", str(out),
                 "--fit-filter"]) == 0
    text = capsys.readouterr().out
    assert "input=7 predicted=7 quarantined=0" in text
    assert main(["candidates", str(out), "--top", "3", "--all", "--plots", str(tmp_path / "plots")]) == 0
    text = capsys.readouterr().out
    pngs = list((tmp_path / "plots").glob("*.png"))
    assert "object_id" in text and len(pngs) >= 1 and all(p.stat().st_size > 5000 for p in pngs)


def test_slices_of_a_partition_give_the_same_predictions(model_dir, tmp_path, make_survey):
    arch = make_survey(tmp_path / "s", n_objects=50, partition_rows=50)
    predict_archive(arch, model_dir, tmp_path / "whole")
    predict_archive(arch, model_dir, tmp_path / "sliced", config=PredictConfig(slice_rows=7))
    a, b = read_predictions(tmp_path / "whole"), read_predictions(tmp_path / "sliced")
    pd.testing.assert_frame_equal(a, b)


def test_cli_resume_with_nothing_to_do_starts_no_cluster(ogle_archive, model_dir, tmp_path, capsys):
    """The second run finds every partition done from the footers: it needs no cluster at all
    (an unreachable scheduler address proves none is contacted) and reports no rate."""
    from lia_dask.cli import main
    from lia_dask.predict import pending_partitions

    out = tmp_path / "p"
    assert pending_partitions(ogle_archive, model_dir, out) == list(range(ogle_archive.n_partitions))
    predict_archive(ogle_archive, model_dir, out)
    assert pending_partitions(ogle_archive, model_dir, out) == []
    capsys.readouterr()
    rc = main(["--cluster", "tcp://127.0.0.1:9", "predict", str(ogle_archive.path), "--model", str(model_dir),
               "--out", str(out)])
    assert rc == 0 and capsys.readouterr().out.startswith("nothing to do")
