"""Multi-band features: one row per object, per-band blocks, joint point-lens fit, difference fluxes."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lia_dask.batch import LightcurveBatch
from lia_dask.features import extract_batch_with_reasons
from lia_dask.features.multiband import (
    CROSS_NAMES, MultibandSettings, joint_pspl_features, multiband_frame, sort_bands,
)
from lia_dask.features.registry import FeatureSettings, get_feature_set
from lia_dask.simulate.models import pspl_magnification


def _event(rng, t0=200.0, u0=0.2, tE=25.0, bands="gri", n=80, blend=(0.0, 0.5, 1.5), offset=0.0):
    ids, T, Y, E, B = [], [], [], [], []
    for k, b in enumerate(bands):
        t = np.sort(rng.uniform(0, 400, n))
        fs = 2000.0 * (1 + k)
        f = fs * pspl_magnification(np.sqrt(u0 ** 2 + ((t - t0) / tE) ** 2)) + blend[k] * fs - offset * fs * (1 + blend[k])
        e = np.full(n, 40.0)
        ids.append(7), T.append(t), Y.append(f + rng.normal(0, 40.0, n)), E.append(e), B.append(b)
    return ids, T, Y, E, B


def test_joint_fit_recovers_shared_parameters_with_per_band_blending():
    rng = np.random.default_rng(0)
    ids, T, Y, E, B = _event(rng)
    t = np.concatenate(T)
    order = rng.permutation(len(t))  # epochs of all bands, in no particular order
    bidx = np.repeat(np.arange(3), 80)[order]
    out = joint_pspl_features(np.array([0, len(t)]), t[order], np.concatenate(Y)[order], np.concatenate(E)[order],
                              bidx.astype(np.int64), 3, 5)[0]
    f = dict(zip(CROSS_NAMES, out))
    assert abs(10 ** f["mb_log_tE"] - 25.0) < 3.0
    assert abs(10 ** f["mb_log_u0"] - 0.2) < 0.05
    assert 0.8 < f["mb_chi2_red_pspl"] < 1.3 and f["mb_chi2_red_flat"] > 20 and f["mb_dchi2_frac"] > 0.95
    assert f["mb_t0_spread"] < 0.1 and f["mb_u0_spread"] < 0.3  # achromatic: the bands agree
    assert f["mb_blend_spread"] > 0.1  # per-band blending is a free parameter, not a mismatch


def test_difference_fluxes_give_the_same_fit_as_total_fluxes():
    rng = np.random.default_rng(1)
    _, T, Y, E, B = _event(rng)
    _, _, Yd, _, _ = _event(np.random.default_rng(1), offset=1.0)  # the same draws, baseline subtracted
    def fit(Ys):
        return joint_pspl_features(np.array([0, 240]), np.concatenate(T), np.concatenate(Ys), np.concatenate(E),
                                   np.repeat(np.arange(3), 80).astype(np.int64), 3, 5)[0]
    assert (np.concatenate(Yd) < 0).mean() > 0.2  # baseline epochs scatter around zero
    a, b = fit(Y), fit(Yd)
    for name in ("mb_log_tE", "mb_log_u0", "mb_chi2_red_pspl", "mb_t0_frac"):
        k = CROSS_NAMES.index(name)
        assert abs(a[k] - b[k]) < 1e-3 * max(1.0, abs(a[k])), name


def test_chromatic_variable_is_inconsistent_across_bands():
    rng = np.random.default_rng(2)
    t = [np.sort(rng.uniform(0, 400, 100)) for _ in range(3)]
    # a periodic variable whose phase and amplitude change with the band: no achromatic shape fits
    f = [1000 * (1 + 0.5 * (1 - 0.3 * k) * np.sin(2 * np.pi * ti / 37.0 + 0.8 * k)) for k, ti in enumerate(t)]
    e = [np.full(100, 10.0)] * 3
    out = joint_pspl_features(np.array([0, 300]), np.concatenate(t), np.concatenate(f) + rng.normal(0, 10, 300),
                              np.concatenate(e), np.repeat(np.arange(3), 100).astype(np.int64), 3, 5)[0]
    fv = dict(zip(CROSS_NAMES, out))
    assert fv["mb_chi2_red_pspl"] > 20 and fv["mb_dchi2_frac"] < 0.5


def test_one_row_per_object_and_per_band_block_equals_single_band_features():
    rng = np.random.default_rng(3)
    rows = [_event(rng) for _ in range(3)]
    ids = [k for k in range(3) for _ in range(3)]
    T = [x for r in rows for x in r[1]]
    Y = [x for r in rows for x in r[2]]
    E = [x for r in rows for x in r[3]]
    B = [x for r in rows for x in r[4]]
    # object 2 lacks band i (too few points) and object 1 lacks band g entirely
    T[8], Y[8], E[8] = T[8][:3], Y[8][:3], E[8][:3]
    keep = [i for i in range(9) if i != 3]
    batch = LightcurveBatch.from_lightcurves([ids[i] for i in keep], [T[i] for i in keep], [Y[i] for i in keep],
                                             [E[i] for i in keep], bands=[B[i] for i in keep], photometry="flux",
                                             zeropoint=31.4)
    settings = MultibandSettings(bands=("r", "g", "i"))
    assert settings.bands == ("g", "r", "i")  # wavelength order
    df, q = multiband_frame(batch, settings)
    assert len(df) == 3 and len(q) == 0 and list(df["object_id"]) == [0, 1, 2]
    names = list(get_feature_set().names)
    assert list(df.columns[1:]) == settings.feature_names() and not any("reason" in c for c in df.columns)
    single, _, reason = extract_batch_with_reasons(batch.take([0]), FeatureSettings(zp=None, convert=None))
    np.testing.assert_allclose(df.loc[0, [f"g_{n}" for n in names]].to_numpy(float), single[0], equal_nan=True)
    assert df.loc[1, [f"g_{n}" for n in names]].isna().all()   # band absent: NaN, no indicator column
    assert df.loc[2, [f"i_{n}" for n in names]].isna().all()   # 3 < min_band_points
    assert df[list(CROSS_NAMES[:6])].notna().all().all()


def test_objects_without_features_are_quarantined_and_rows_may_arrive_unordered():
    rng = np.random.default_rng(4)
    t = [np.sort(rng.uniform(0, 100, m)) for m in (20, 2, 20)]
    batch = LightcurveBatch.from_lightcurves([5, 6, 5], t, [np.full(len(x), 100.0) + rng.normal(0, 1, len(x)) for x in t],
                                             [np.ones(len(x)) for x in t], bands=["g", "g", "r"], photometry="flux")
    df, q = multiband_frame(batch, MultibandSettings(bands=("g", "r")))
    assert list(df["object_id"]) == [5] and list(q["object_id"]) == ["6"]
    assert "min_band_points" in q["reason"].iloc[0]
    assert df[[c for c in df.columns if c.startswith("r_")]].notna().any(axis=1).all()


def test_sort_bands():
    assert sort_bands(["z", "u", "Y", "g", "y"]) == ("u", "g", "z", "y", "Y")
