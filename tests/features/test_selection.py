"""Compute only what is needed, and the features a model learned are the features it gets.

* A feature set restricted to a subset of columns computes exactly those values (bit for bit the
  full set's columns), through the generated driver of the subset.
* A feature table records its resolved settings as Parquet metadata; training from it keeps them,
  an artifact records them, prediction applies exactly them (and only the model's columns), and
  contradicting options or data are refused with one sentence.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from lia_dask.batch import LightcurveBatch
from lia_dask.errors import ConfigError, InputError
from lia_dask.features import (
    FeatureSet, FeatureSettings, extract_batch_with_reasons, extract_one, get_feature_set, read_feature_settings,
    register_feature_set,
)
from lia_dask.features.driver import NAMES, _driver_source
from lia_dask.features.registry import kernel_table, model_feature_settings

RNG = np.random.default_rng(11)
#: subsets that exercise every branch of the generated loop: one series only, no order needed, ...
SUBSETS = {
    "order_free": ("meanMag", "skewness", "stetsonK", "MaxSlope_deriv"),
    "raw_only": ("amplitude", "median_buffer_range_deriv"),
    "deriv_only": tuple(n for n in NAMES if n.endswith("_deriv"))[::7],
    "flux_only": tuple(n for n in NAMES if not n.endswith("_deriv"))[::5],
    "random30": tuple(sorted(RNG.choice(len(NAMES), 30, replace=False))),
}


def _names(key):
    sub = SUBSETS[key]
    return tuple(NAMES[i] for i in sub) if isinstance(sub[0], (int, np.integer)) else sub


@pytest.mark.parametrize("key", list(SUBSETS))
@pytest.mark.parametrize("weighted", [True, False])
def test_subset_equals_full_columns_bit_for_bit(conformance, key, weighted):
    b = conformance["batch"]
    full, names, r_full = extract_batch_with_reasons(b, FeatureSettings(apply_weights=weighted))
    want = _names(key)
    sub, sub_names, r_sub = extract_batch_with_reasons(b, FeatureSettings(apply_weights=weighted, features=want))
    assert sub_names == [n for n in NAMES if n in set(want)]  # kept in the set's order
    idx = [names.index(n) for n in sub_names]
    np.testing.assert_array_equal(sub.view(np.uint64), full[:, idx].view(np.uint64))
    np.testing.assert_array_equal(r_sub, r_full)


def test_subset_driver_calls_only_selected_kernels_and_sorts_only_what_they_read():
    src = _driver_source(("meanMag", "skewness"))
    assert src.count("post_value(k") == 2 and "f_meanMag" in src and "f_skewness" in src
    assert "o = eo" in src and "o0[a:b]" not in src  # neither kernel reads the order: no argsort
    assert "tn = " not in src and "tu = " not in src  # no derivative series is touched
    full = _driver_source(NAMES)
    assert full.count("post_value(k") == 168


def test_median_only_selection_sorts_nothing_and_equals_the_full_set_with_signed_zero_ties():
    """Kernels that read the order only for the median get the batch's medians by selection (no argsort in
    the driver); on fluxes with +0 / -0 ties (zero medians: NumPy's order decides) the values are the full set's."""
    med_only = {sp.name for sp in kernel_table() if "median" in sp.needs and not sp.reads_order}
    assert {"stetsonK", "cusum", "above1", "below1", "number_of_crossings", "shannon_entropy"} <= med_only
    cols = tuple(n for n in NAMES if n.removesuffix("_deriv") in med_only)
    src = _driver_source(cols)
    assert "o = eo" in src and "on = eo" in src and "md[0][i]" in src and "md[3][i]" in src
    rng = np.random.default_rng(5)
    lens = rng.integers(2, 60, 200)
    off = np.concatenate([[0], np.cumsum(lens)])
    t = np.concatenate([np.sort(rng.uniform(0, 100, n)) for n in lens])
    y = rng.choice(np.array([0.0, -0.0, 1.0, -1.0, 2.0, 3.0]), off[-1])
    e = rng.uniform(0.1, 1, off[-1])
    fs = get_feature_set()
    for weighted in (True, False):
        full, r_full = fs.compute(off, t, y, e, convert=False, apply_weights=weighted)
        for sel in (cols, ("stetsonK",), ("cusum_deriv", "above1")):
            sub, r_sub = fs.restrict(sel).compute(off, t, y, e, convert=False, apply_weights=weighted)
            idx = [j for j, c in enumerate(NAMES) if c in sel]  # restrict keeps the set's order
            np.testing.assert_array_equal(sub.view(np.uint64), full[:, idx].view(np.uint64))
            np.testing.assert_array_equal(r_sub, r_full)


def test_subset_keeps_reasons_for_bad_lightcurves():
    t = [np.arange(10.0), np.array([1.0]), np.arange(5.0)]
    m = [17 + 0.1 * np.sin(t[0]), np.array([17.0]), np.full(5, 17.0)]  # ok, one epoch, constant flux
    e = [np.full(10, 0.01), np.array([0.01]), np.full(5, 0.01)]
    b = LightcurveBatch.from_lightcurves([1, 2, 3], t, m, e, zeropoint=22.0)
    vals, _, reason = extract_batch_with_reasons(b, FeatureSettings(features=("stetsonK",)))
    assert reason.tolist() == [0, 2, 3] and np.isfinite(vals[0, 0]) and np.isnan(vals[1:, 0]).all()


def test_extract_one_selection_and_unknown_names():
    t = np.linspace(0, 100, 50)
    m = 17 + 0.2 * np.sin(t / 5)
    e = np.full(50, 0.02)
    full = extract_one(t, m, e)
    one = extract_one(t, m, e, features=["vonNeumannRatio_deriv", "Gskew"])
    assert list(one) == ["Gskew", "vonNeumannRatio_deriv"]
    assert one["Gskew"] == full["Gskew"] and one["vonNeumannRatio_deriv"] == full["vonNeumannRatio_deriv"]
    with pytest.raises(ConfigError, match="no column"):
        extract_one(t, m, e, features=["stetsonZ"])


def test_a_set_without_select_is_restricted_by_slicing():
    def compute(offsets, time, y, yerr, *, zp, convert, apply_weights):
        n = len(offsets) - 1
        lens = np.diff(offsets).astype(float)
        return np.stack([lens, lens * 2, lens * 3], 1), np.zeros(n, np.int8)

    register_feature_set(FeatureSet("toy-block", ("a", "b", "c"), compute), replace=True)
    b = LightcurveBatch.from_lightcurves([1, 2], [np.arange(3.0), np.arange(5.0)], [np.ones(3), np.ones(5)],
                                         [np.ones(3), np.ones(5)], zeropoint=22.0)
    vals, names, _ = extract_batch_with_reasons(b, FeatureSettings(feature_set="toy-block", features=("c", "a")))
    assert names == ["a", "c"] and vals.tolist() == [[3.0, 9.0], [5.0, 15.0]]


def test_the_table_is_the_only_list_of_names():
    table = kernel_table()
    assert [sp.name for sp in table] == list(NAMES[:84]) and [sp.index for sp in table] == list(range(84))
    assert {sp.name for sp in table if sp.series == "raw"} == {"amplitude", "median_buffer_range"}
    assert get_feature_set().names == NAMES


# ------------------------------------------------------------------ settings recorded and applied
def test_resolved_settings_and_refusals():
    s = FeatureSettings(zp=None, convert=None, apply_weights=False)
    r = s.resolved("mag", 24.0)
    assert (r.zp, r.convert, r.apply_weights) == (24.0, True, False)
    assert FeatureSettings.from_dict(json.loads(json.dumps(r.to_dict()))) == r
    with pytest.raises(InputError, match="zp 24.0 vs 22.0"):
        r.require_same(FeatureSettings(zp=22.0, apply_weights=False), "the model", "table t")
    with pytest.raises(InputError, match="hold fluxes"):
        model_feature_settings(r.to_dict(), None, "flux", "model m")
    with pytest.raises(InputError, match="hold magnitudes"):
        model_feature_settings(FeatureSettings(zp=31.4, convert=False).to_dict(), None, "mag", "model m")
    got = model_feature_settings(r.to_dict(), ["skewness", "amplitude"], "mag")
    assert got.features == ("skewness", "amplitude") and got.zp == 24.0


@pytest.fixture(scope="module")
def zp24_archive(conformance, tmp_path_factory):
    """The 60 OGLE-II lightcurves as a labelled magnitude archive that says zero point 24."""
    from lia_dask.archive import write_archive

    d = conformance["data"][1:]
    labels = [k.split("/")[0] for k in conformance["keys"][1:]]
    b = LightcurveBatch.from_lightcurves(list(range(60)), [x[:, 0] for x in d], [x[:, 1] for x in d],
                                         [x[:, 2] for x in d], labels=labels, zeropoint=24.0)
    return write_archive(b, tmp_path_factory.mktemp("zp24") / "archive", partition_rows=25), b


def test_feature_table_keeps_its_settings_through_training_and_prediction(zp24_archive, tmp_path, thread_client,
                                                                         capsys):
    """`features --no-weights --zp 30` -> the table records them -> `train` keeps them -> the artifact
    records them -> `predict` applies exactly them; contradicting options are refused."""
    from lia_dask.cli import main
    from lia_dask.predict import predict_archive, read_predictions

    arch, b = zp24_archive
    addr = thread_client.scheduler.address
    table = tmp_path / "t"
    assert main(["--cluster", addr, "features", str(arch.path), "--out", str(table), "--no-weights", "--zp", "30"]) == 0
    rec = read_feature_settings(table)
    assert (rec.zp, rec.convert, rec.apply_weights, rec.features) == (30.0, True, False, None)
    ref, names = extract_batch_with_reasons(b, FeatureSettings(zp=30.0, apply_weights=False))[:2]
    df = pd.read_parquet(table).sort_values("object_id")
    np.testing.assert_array_equal(df[names].to_numpy(), ref)

    # contradicting the table is refused with one sentence, before any training
    assert main(["--cluster", addr, "train", str(table), "--out", str(tmp_path / "bad"), "--zp", "22"]) != 0
    assert "was computed with zp 30.0, not --zp 22" in capsys.readouterr().err

    model = tmp_path / "model"
    assert main(["--cluster", addr, "train", str(table), "--out", str(model), "--model", "rf", "--cv", "2",
                 "--no-eval", "--param", "n_estimators=20", "--threads", "1"]) == 0
    man = json.loads((model / "manifest.json").read_text())
    assert man["feature_settings"] == rec.to_dict()

    out = predict_archive(arch, model, tmp_path / "pred", client=thread_client)
    pred = read_predictions(tmp_path / "pred").sort_values("object_id")
    from lia_dask.train import EnsembleClassifier

    clf = EnsembleClassifier.load(model)
    want = clf.predict_proba(pd.DataFrame(ref, columns=names))  # the features of the table, zp 30 unweighted
    got = pred[[f"prob_{c}" for c in clf.classes_]].to_numpy()
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    assert out.predicted == 60

    # a table with other settings is refused at evaluation
    other = tmp_path / "t22"
    assert main(["--cluster", addr, "features", str(arch.path), "--out", str(other), "--zp", "22"]) == 0
    capsys.readouterr()
    assert main(["--cluster", addr, "evaluate", str(model), "--data", str(other)]) != 0
    assert "different feature settings" in capsys.readouterr().err


def test_model_of_selected_features_computes_only_those(zp24_archive, tmp_path, thread_client):
    """A model trained on 30 columns gets the same probabilities from the 30-column compute as from all 168."""
    from lia_dask.predict import predict_archive, read_predictions
    from lia_dask.train import EnsembleClassifier

    arch, b = zp24_archive
    settings = FeatureSettings(zp=24.0, convert=True)
    vals, names, _ = extract_batch_with_reasons(b, settings)
    cols = list(_names("random30"))
    frame = pd.DataFrame(vals, columns=names)
    clf = EnsembleClassifier(model="rf", cv=2, random_state=0, params={"n_estimators": 20}, n_jobs=1)
    clf.fit(frame[cols], np.asarray(b.label), feature_set="microlia-2.8.1", feature_settings=settings.to_dict())
    clf.save(tmp_path / "m30")
    got = model_feature_settings(settings.to_dict(), clf.selected_features_, "mag")
    assert set(got.features) == set(cols)
    predict_archive(arch, tmp_path / "m30", tmp_path / "p30", client=thread_client)
    pred = read_predictions(tmp_path / "p30").sort_values("object_id")
    want = EnsembleClassifier.load(tmp_path / "m30").predict_proba(frame)
    np.testing.assert_allclose(pred[[f"prob_{c}" for c in clf.classes_]].to_numpy(), want, rtol=0, atol=1e-12)


def test_flux_archive_refused_for_a_magnitude_model(zp24_archive, tmp_path):
    from lia_dask.archive import write_archive
    from lia_dask.predict import predict_archive
    from lia_dask.train import EnsembleClassifier

    arch, b = zp24_archive
    settings = FeatureSettings(zp=24.0, convert=True)
    vals, names, _ = extract_batch_with_reasons(b, settings)
    clf = EnsembleClassifier(model="rf", cv=2, random_state=0, params={"n_estimators": 5}, n_jobs=1)
    clf.fit(pd.DataFrame(vals[:, :10], columns=names[:10]), np.asarray(b.label), feature_settings=settings.to_dict())
    clf.save(tmp_path / "m")
    fb = write_archive(b.to_flux(), tmp_path / "flux", partition_rows=30)
    with pytest.raises(InputError, match="hold fluxes"):
        predict_archive(fb, tmp_path / "m", tmp_path / "p")
