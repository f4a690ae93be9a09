"""HATS in and out end to end: simulate on a DP1-schema catalog's cadences, train multi-band, predict, read back."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

lsdb = pytest.importorskip("lsdb")

from lia_dask.archive.hats import batch_to_nested, open_hats, write_hats_catalog
from lia_dask.errors import InputError
from lia_dask.features.multiband import MultibandSettings, load_multiband_features
from lia_dask.predict.hats import MARKER, REASON, predict_hats
from lia_dask.predict.lightcurves import PredictConfig, predict_archive, read_predictions, received_counts
from lia_dask.simulate.cadence import CadencePool, synthetic_cadences
from lia_dask.simulate.multiband import MultibandSimConfig, simulate_multiband, simulate_multiband_archive
from lia_dask.train.ensemble import EnsembleClassifier

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """A DP1-schema catalog (ugrizy, 150 objects of 5 known classes) and a g,r,i multi-band model."""
    d = tmp_path_factory.mktemp("rubin")
    pool = synthetic_cadences("lsst", 40, seed=3, years=3, start=60600.0)
    truth = simulate_multiband(pool, 30, MultibandSimConfig(), seed=11, id_offset=10**15)
    n = len(np.unique(truth.object_id))
    rng = np.random.default_rng(0)
    nf = batch_to_nested(truth, rng.uniform(50, 70, n), rng.uniform(-35, -20, n))
    # one object whose every epoch is flagged: it must come out with a reason, not vanish
    flat = nf["diaObjectForcedSource"].nest.to_flat()
    flags = (flat.index.to_numpy() == 0)
    nf["diaObjectForcedSource.psfFlux_flag"] = flags
    cat = write_hats_catalog(nf, d / "dp1", partition_rows=40)
    # training set on the catalog's own cadences
    src = open_hats(cat)
    from lia_dask.batch import concat_batches

    pool_cat = CadencePool.from_batch(concat_batches([src.read_batch(i)[0] for i in range(src.n_partitions)]), min_epochs=1)
    simulate_multiband_archive(pool_cat, 60, d / "train", partition_objects=150)
    table = load_multiband_features(d / "train", MultibandSettings(bands=("g", "r", "i")))
    clf = EnsembleClassifier(model="xgb", impute=False, params={"n_estimators": 40, "max_depth": 4}, random_state=0,
                             n_jobs=1)
    clf.fit(table.X, table.labels, feature_set="multiband", feature_settings=table.feature_settings)
    clf.save(d / "model")
    return {"dir": d, "catalog": cat, "truth": truth, "model": d / "model", "n": n}


def test_predict_hats_one_row_per_object_with_position_and_pixel(survey, local_client):
    out = survey["dir"] / "pred"
    before = local_client.run(received_counts)
    rep = predict_hats(survey["catalog"], survey["model"], out, client=local_client)
    assert rep.n_input == survey["n"] == rep.predicted + rep.quarantined and rep.quarantined == 1
    got = local_client.run(received_counts)
    # the model reaches every worker exactly once per job (a plugin, not a graph argument), whatever the pixels
    assert rep.partitions > len(got)
    assert {w: v.get(rep.model_digest, 0) - before.get(w, {}).get(rep.model_digest, 0) for w, v in got.items()} \
        == {w: 1 for w in got}, (before, got)
    assert local_client.run(lambda: __import__("lia_dask.predict.engine", fromlist=["_INSTALLED"])._INSTALLED) \
        == {w: {} for w in got}  # removed from the workers when the job ends
    cat = lsdb.open_catalog(out)
    assert len(cat.get_healpix_pixels()) == len(lsdb.open_catalog(survey["catalog"]).get_healpix_pixels())
    props = (out / "hats.properties").read_text()
    assert f"lia_dask_model_digest={rep.model_digest}" in props.replace(" ", "")
    df = cat.compute()
    assert df.index.name == "_healpix_29" and df["diaObjectId"].is_unique and len(df) == survey["n"]
    src = lsdb.open_catalog(survey["catalog"]).compute()
    m = df.join(src[["diaObjectId", "ra"]].set_index("diaObjectId"), on="diaObjectId", rsuffix="_in")
    np.testing.assert_allclose(m["ra"], m["ra_in"])
    bad = df[df[REASON] != ""]
    assert len(bad) == 1 and bad["prediction"].isna().all() and "unflagged" in bad[REASON].iloc[0]
    good = df[df[REASON] == ""]
    assert np.allclose(good.filter(like="prob_").sum(axis=1), 1.0, atol=1e-5)
    assert (good["bands"].str.count(",") >= 3).mean() > 0.9  # all 6 bands seen, a g,r,i model used
    truth = pd.Series(survey["truth"].label, index=survey["truth"].object_id).groupby(level=0).first()
    acc = (good["prediction"].to_numpy() == truth.reindex(good["diaObjectId"]).to_numpy()).mean()
    assert acc > 0.8
    # rerun: finished, skipped; another model is refused
    again = predict_hats(survey["catalog"], survey["model"], out, client=local_client)
    assert again.skipped and again.predicted == rep.predicted
    (out / MARKER).write_text(json.dumps({"model_digest": "0" * 64}))
    with pytest.raises(InputError, match="another model"):
        predict_hats(survey["catalog"], survey["model"], out)


def test_multiband_model_on_an_archive_counts_objects(survey, tmp_path):
    from lia_dask.archive.hats import ingest_hats

    ingest_hats(survey["catalog"], tmp_path / "arch")
    rep = predict_archive(tmp_path / "arch", survey["model"], tmp_path / "out", config=PredictConfig(slice_rows=50))
    pred = read_predictions(tmp_path / "out")
    assert pred["object_id"].is_unique and rep.n_input == survey["n"] - 1 == rep.predicted + rep.quarantined
    assert "band" not in pred.columns and pred["bands"].str.len().min() > 0


def test_cli_predict_detects_a_hats_catalog(survey, tmp_path, local_client, capsys):
    from lia_dask.cli import main

    out = tmp_path / "cli"
    rc = main(["--cluster", local_client.scheduler.address, "predict", str(survey["catalog"]), "--model",
               str(survey["model"]), "--out", str(out)])
    printed = capsys.readouterr().out
    assert rc == 0 and f"objects={survey['n']}" in printed and "(objects == predicted + quarantined: True)" in printed
    assert len(lsdb.open_catalog(out).compute()) == survey["n"]


def test_multiband_model_computes_only_its_selected_columns(survey):
    """A model of a few columns gets exactly the values of the full table, without the rest computed."""
    from lia_dask.features.multiband import multiband_frame
    from lia_dask.predict.multiband import VETTING_COLUMNS, predict_multiband_batch

    b, s = survey["truth"], MultibandSettings(bands=("g", "r", "i"))
    names = s.feature_names()
    full, _ = multiband_frame(b, s)
    full = full.set_index("object_id")
    per_band = [names[3], names[40], names[168 + 3], names[2 * 168 + 100]]  # g, g, r, i statistics
    for cols in (per_band, per_band + ["mb_log_tE", "mb_dchi2_frac"]):
        sub, quar = multiband_frame(b, s, columns=cols[::-1])  # table order whatever the order given
        assert list(sub.columns) == ["object_id", "label"] + [n for n in names if n in cols]
        assert len(sub) + len(quar) == survey["n"]
        np.testing.assert_allclose(sub.set_index("object_id")[cols].to_numpy(), full.loc[sub["object_id"], cols].to_numpy())
    clf = EnsembleClassifier(model="xgb", impute=False, params={"n_estimators": 10, "max_depth": 3}, random_state=0,
                             n_jobs=1)
    clf.fit(full[per_band].reset_index(drop=True), full["label"].to_numpy(), feature_set="multiband",
            feature_settings=s.to_dict())
    pred, quar = predict_multiband_batch(b, clf, "digest")
    assert len(pred) + len(quar) == survey["n"]
    np.testing.assert_allclose(pred.filter(like="prob_").to_numpy(),
                               clf.predict_proba(full.loc[pred["object_id"], per_band]), atol=1e-6)
    assert pred[list(VETTING_COLUMNS)].isna().all().all()  # no mb_* feature used: the joint fit was not run
