"""Entry points: extract_one / extract_batch agreement, settings, registry, wide layout, archive + CLI."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lia_dask.batch import LightcurveBatch
from lia_dask.errors import ConfigError, InputError
from lia_dask.features import (
    DEFAULT_FEATURE_SET, REASON_COLUMN, FeatureSet, FeatureSettings, extract_archive, extract_batch,
    extract_one, feature_sets, features_frame, get_feature_set, register_feature_set, to_wide,
)


def _lcs(k=5, seed=1):
    r = np.random.default_rng(seed)
    out = []
    for i in range(k):
        n = 20 + 15 * i
        t = np.sort(r.uniform(0, 300, n))
        out.append((t, np.round(17 + 0.3 * np.sin(t / (7 + i)) + r.normal(0, 0.02, n), 3), np.full(n, 0.02)))
    return out


def _batch(lcs, ids=None, bands="I", labels=None, photometry="mag"):
    ids = list(range(len(lcs))) if ids is None else ids
    return LightcurveBatch.from_lightcurves(ids, [a[0] for a in lcs], [a[1] for a in lcs], [a[2] for a in lcs],
                                            bands=bands, labels=labels, photometry=photometry)


def test_extract_batch_rows_equal_extract_one():
    lcs = _lcs()
    for w in (True, False):
        vals, names = extract_batch(_batch(lcs), FeatureSettings(apply_weights=w))
        for i, (t, m, e) in enumerate(lcs):
            one = extract_one(t, m, e, apply_weights=w)
            assert list(one) == names
            np.testing.assert_array_equal(np.array(list(one.values())), vals[i])


def test_zero_point_only_moves_amplitude():
    t, m, e = _lcs(1)[0]
    a = extract_one(t, m, e, zp=22.0)
    b = extract_one(t, m, e, zp=24.0)
    moved = {k for k in a if not (a[k] == b[k] or (np.isnan(a[k]) and np.isnan(b[k])))}
    assert moved >= {"amplitude", "amplitude_deriv"}
    assert np.isclose(b["amplitude"] / a["amplitude"], 10 ** 0.8)
    # everything else sees normalised data; allow last-bit changes from the scaled flux
    for k in moved - {"amplitude", "amplitude_deriv"}:
        assert np.isclose(a[k], b[k], rtol=1e-6, atol=1e-9), k


def test_flux_batch_is_not_converted():
    lcs = _lcs(3)
    flux = [(t, 10 ** (-(m - 22.0) / 2.5), e) for t, m, e in lcs]
    vals, _ = extract_batch(_batch(flux, photometry="flux"), FeatureSettings(convert=None))
    for i, (t, f, e) in enumerate(flux):
        np.testing.assert_array_equal(vals[i], np.array(list(extract_one(t, f, e, convert=False).values())))
    with pytest.raises(InputError, match="convert=True"):
        extract_batch(_batch(flux, photometry="flux"), FeatureSettings(convert=True))


def test_settings_round_trip_and_registry():
    s = FeatureSettings(zp=None, convert=None, apply_weights=False)
    assert FeatureSettings.from_dict(s.to_dict()) == s
    with pytest.raises(ConfigError, match="unknown feature settings"):
        FeatureSettings.from_dict({"zp": 22, "bogus": 1})
    assert DEFAULT_FEATURE_SET in feature_sets()
    assert len(get_feature_set().names) == 168
    with pytest.raises(ConfigError, match="unknown feature set"):
        get_feature_set("nope")

    def tiny(offsets, time, y, yerr, *, zp, convert, apply_weights):
        n = len(offsets) - 1
        lens = np.diff(offsets)
        return np.stack([lens.astype(float), np.array([np.nanmean(y[offsets[i]:offsets[i + 1]])
                                                       if lens[i] else np.nan for i in range(n)])], 1), \
            (lens == 0).astype(np.int8)

    register_feature_set(FeatureSet("test-tiny", ("n_epochs", "mean_y"), tiny, {0: "ok", 1: "empty"}),
                         replace=True)
    with pytest.raises(ConfigError, match="already registered"):
        register_feature_set(FeatureSet("test-tiny", ("a",), tiny))
    lcs = _lcs(3)
    vals, names = extract_batch(_batch(lcs), FeatureSettings(feature_set="test-tiny"))
    assert names == ["n_epochs", "mean_y"]
    assert vals[:, 0].tolist() == [len(a[0]) for a in lcs]


def test_to_wide_multiband():
    lcs = _lcs(5)
    b = _batch(lcs, ids=[10, 10, 11, 11, 12], bands=["g", "r", "g", "r", "g"],
               labels=["ML", "ML", "CV", "CV", "LPV"])
    long = features_frame(b)
    assert list(long.columns[:3]) == ["object_id", "band", "label"] and long.columns[-1] == REASON_COLUMN
    wide = to_wide(long)
    assert list(wide.index) == [10, 11, 12]
    assert wide.shape[1] == 2 * 169 + 1
    assert "g_stetsonJ" in wide and "r_stetsonJ_deriv" in wide and "r_" + REASON_COLUMN in wide
    assert wide.loc[11, "r_stetsonJ"] == long.loc[3, "stetsonJ"]
    assert np.isnan(wide.loc[12, "r_stetsonJ"]) and wide.loc[12, "r_" + REASON_COLUMN] == -1
    assert wide["label"].tolist() == ["ML", "CV", "LPV"]
    with pytest.raises(InputError, match="more than one row"):
        to_wide(pd.concat([long, long]))


@pytest.fixture()
def small_archive(tmp_path):
    archive = pytest.importorskip("lia_dask.archive", reason="lia_dask.archive (lead's archive module) is missing")
    lcs = _lcs(6) + [(np.array([1.0]), np.array([17.0]), np.array([0.02]))]
    b = _batch(lcs, ids=list(range(100, 107)), bands=["g", "r"] * 3 + ["g"], labels=["ML"] * 7)
    return archive.write_archive(b, tmp_path / "arch", partition_rows=3), b


def test_extract_archive_on_local_cluster(small_archive, thread_client):
    arch, b = small_archive
    assert arch.n_partitions >= 2
    ddf = extract_archive(arch, FeatureSettings(zp=None))
    assert list(ddf.columns[:3]) == ["object_id", "band", "label"] and ddf.columns[-1] == REASON_COLUMN
    df = ddf.compute().sort_values("object_id").reset_index(drop=True)
    assert len(df) == 7 and df["object_id"].tolist() == list(range(100, 107))
    assert df[REASON_COLUMN].tolist() == [0] * 6 + [2]
    ref, names = extract_batch(b)
    np.testing.assert_array_equal(df[names].to_numpy(), ref)


def test_cli_features(small_archive, tmp_path, capsys, thread_client):
    from lia_dask.cli import main

    arch, b = small_archive
    out = tmp_path / "feat.parquet"
    addr = thread_client.scheduler.address  # in-process cluster: no worker processes to start
    rc = main(["--cluster", addr, "features", str(arch.path), "--out", str(out), "--no-weights", "--wide"])
    assert rc == 0
    assert "7 rows" in capsys.readouterr().out
    df = pd.read_parquet(out).sort_values("object_id")
    ref, names = extract_batch(b, FeatureSettings(apply_weights=False))
    np.testing.assert_array_equal(df[names].to_numpy(), ref)
    wide = pd.read_parquet(str(out) + ".wide.parquet")
    assert "g_AndersonDarling" in wide.columns and len(wide) == 7


def test_driver_releases_the_gil_and_has_every_kernel():
    from lia_dask.features import driver
    from lia_dask.features.preprocess import _preprocess_batch

    mod = driver.driver_module()
    assert mod.run.targetoptions.get("nogil") and _preprocess_batch.targetoptions.get("nogil")
    assert len(driver.NAMES) == 168 and len({sp for sp, _ in driver.COLUMNS.values()}) == 84


def test_extract_archive_flux_archive_is_not_converted(tmp_path):
    archive = pytest.importorskip("lia_dask.archive", reason="lia_dask.archive (lead's archive module) is missing")
    lcs = [(t, 10 ** (-(m - 22.0) / 2.5), e) for t, m, e in _lcs(3)]
    b = _batch(lcs, ids=["a", "b", "c"], photometry="flux")
    arch = archive.write_archive(b, tmp_path / "flux_arch")
    assert arch.photometry == "flux"
    df = extract_archive(arch, FeatureSettings(zp=None, convert=None)).compute(scheduler="sync")
    assert df["object_id"].tolist() == ["a", "b", "c"]
    names = list(get_feature_set().names)
    for i, (t, f, e) in enumerate(lcs):
        np.testing.assert_array_equal(df[names].to_numpy()[i], np.array(list(extract_one(t, f, e, convert=False).values())))
    with pytest.raises(InputError, match="convert=True"):
        extract_archive(arch, FeatureSettings(convert=True))


def test_default_feature_set_registration_is_thread_safe():
    import threading

    from lia_dask.features import registry

    saved = registry._REGISTRY.pop(registry.DEFAULT_FEATURE_SET)
    errors, barrier = [], threading.Barrier(8)

    def get():
        barrier.wait()
        try:
            registry.get_feature_set()
        except Exception as exc:  # the race used to raise ConfigError("already registered")
            errors.append(exc)

    try:
        threads = [threading.Thread(target=get) for _ in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        assert errors == [] and registry.DEFAULT_FEATURE_SET in registry._REGISTRY
    finally:
        registry._REGISTRY.setdefault(registry.DEFAULT_FEATURE_SET, saved)
