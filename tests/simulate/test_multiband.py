"""Multi-band simulation: per-band cadences, LSST noise in nJy, achromatic ML, chromatic variables, cuts."""
from __future__ import annotations

import numpy as np
import pytest

from lia_dask.errors import InputError
from lia_dask.simulate import SimulationConfig
from lia_dask.simulate.cadence import CadencePool, synthetic_cadences
from lia_dask.simulate.multiband import MultibandSimConfig, simulate_multiband, simulate_multiband_archive
from lia_dask.simulate.simulate import class_counts


@pytest.fixture(scope="module")
def lsst_pool():
    return synthetic_cadences("lsst", 40, seed=2, years=3, start=60600.0)


def _rows(batch, label):
    return np.flatnonzero(batch.label == label)


def test_every_class_and_band_with_truth_and_nJy_noise(lsst_pool):
    b = simulate_multiband(lsst_pool, 30, MultibandSimConfig())
    assert class_counts(b).to_dict() == {c: 30 for c in ("CONSTANT", "CV", "LPV", "ML", "VARIABLE")}
    assert set(b.band) <= set("ugrizy") and b.photometry == "flux" and b.zeropoint == 31.4
    ids = b.object_id
    assert np.all(np.diff(ids) >= 0)  # rows of an object adjacent
    assert np.all(b.yerr > 0) and np.isfinite(b.y).all()
    # noise follows the per-band depth: at equal flux, y (m5 22.55) is noisier than r (m5 24.52)
    const = _rows(b, "CONSTANT")
    rel = {}
    for band in ("r", "y"):
        rows = [i for i in const if b.band[i] == band]
        f = np.concatenate([b[i].y for i in rows])
        e = np.concatenate([b[i].yerr for i in rows])
        rel[band] = np.median(e / np.abs(f))
    assert rel["y"] > rel["r"]
    assert b.extra["sim_tE"][_rows(b, "ML")].min() > 0


def test_microlensing_is_achromatic_variables_are_not(lsst_pool):
    b = simulate_multiband(lsst_pool, 20, MultibandSimConfig(base=SimulationConfig(blend_range=(0.0, 0.0))),
                           seed=5)
    ml = b.take(_rows(b, "ML"))
    t0 = ml.extra["sim_t0"]
    near = [np.abs(ml[i].time - t0[i]) < 0.3 * ml.extra["sim_tE"][i] for i in range(len(ml))]
    # unblended: magnification (flux ratio peak / baseline) is the same in every band of an object
    ratios = {}
    for i in range(len(ml)):
        lc = ml[i]
        if near[i].sum() >= 1 and (~near[i]).sum() >= 10:
            ratios.setdefault(lc.object_id, []).append(np.median(lc.y[near[i]]) / np.median(lc.y[~near[i]]))
    spread = [np.std(np.log(v)) / np.mean(np.log(v)) for v in ratios.values() if len(v) >= 2 and np.mean(np.log(v)) > 0.3]
    assert spread and np.median(spread) < 0.25
    # RR Lyrae: amplitude falls from g to z
    rr = b.take(_rows(b, "VARIABLE"))
    amp = {}
    for lc in rr:
        if len(lc.y) >= 15:
            amp.setdefault(lc.band, []).append(np.log10(np.percentile(lc.y, 95) / np.percentile(lc.y, 5)))
    assert np.median(amp["g"]) > np.median(amp["z"])


def test_difference_fluxes_are_centred_on_zero(lsst_pool):
    b = simulate_multiband(lsst_pool, 10, MultibandSimConfig(difference=True, base=SimulationConfig(classes=("CONSTANT",))))
    assert abs(np.median(b.y / b.yerr)) < 0.2 and (b.y < 0).mean() > 0.4


def test_quality_cut_too_strict_for_the_cadence_names_the_flag():
    short = CadencePool.from_arrays([np.linspace(0, 30, 6)] * 3, [np.array(["g", "r"] * 3, dtype=object)] * 3, min_epochs=1)
    with pytest.raises(InputError, match="--ml-n1"):
        simulate_multiband(short, 5, MultibandSimConfig(base=SimulationConfig(classes=("ML",))))
    ok = simulate_multiband(short, 3, MultibandSimConfig(base=SimulationConfig(classes=("ML",), ml_n1=3, ml_min_z=1.0,
                                                                                ml_frac_significant=0.0,
                                                                                t0_range=(10.0, 20.0), u0_range=(0.05, 0.2))))
    assert len(np.unique(ok.object_id)) == 3


def test_archive_is_partitioned_and_deterministic(lsst_pool, tmp_path, local_client):
    a = simulate_multiband_archive(lsst_pool, 12, tmp_path / "a", partition_objects=25, client=local_client)
    b = simulate_multiband_archive(lsst_pool, 12, tmp_path / "b", partition_objects=25)
    assert a.n_partitions == 3 and sorted(a.bands) == sorted(set(lsst_pool.band_names))
    for i in range(a.n_partitions):
        x, y = a.read_batch(i), b.read_batch(i)
        np.testing.assert_array_equal(x.object_id, y.object_id)
        np.testing.assert_array_equal(x.y, y.y)
    ids = np.concatenate([a.read_batch(i).object_id for i in range(3)])
    assert len(np.unique(ids)) == 60


def test_hats_catalog_is_generated_pixel_by_pixel(lsst_pool, tmp_path, local_client):
    """The streaming builder: one task per pixel, lsdb's writer and metadata, every object in its pixel."""
    lsdb = pytest.importorskip("lsdb")
    from hats.pixel_math.spatial_index import spatial_index_to_healpix

    from lia_dask.archive.hats import open_hats
    from lia_dask.simulate.multiband import simulate_hats_catalog

    path = simulate_hats_catalog(lsst_pool, 130, tmp_path / "cat", {"CONSTANT": 0.9, "ML": 0.1}, objects_per_pixel=50,
                                 seed=4)
    cat = lsdb.open_catalog(path)
    assert [(p.order, p.pixel) for p in cat.get_healpix_pixels()] == [(6, 10_000), (6, 10_001), (6, 10_002)]
    assert cat.hc_structure.catalog_info.total_rows == 130 and (path / "dataset" / "_metadata").is_file()
    df = cat.compute()
    assert len(df) == 130 and df["diaObjectId"].is_unique and set(df["diaObjectId"]) == set(range(130))
    assert df["label"].value_counts().to_dict() == {"CONSTANT": 117, "ML": 13}  # 45 + 5 per full pixel, 27 + 3
    pix = spatial_index_to_healpix(df.index.to_numpy(), target_order=6)
    assert set(pix) == {10_000, 10_001, 10_002} and np.bincount(pix - 10_000).tolist() == [50, 50, 30]
    src = open_hats(path)
    batch, objects = src.read_batch(2)
    assert len(objects) == 30 and set(batch.band) == set("ugrizy") and (objects["n_epochs"] > 0).all()
    again = simulate_hats_catalog(lsst_pool, 130, tmp_path / "again", {"CONSTANT": 0.9, "ML": 0.1},
                                  objects_per_pixel=50, seed=4)
    pd_again = lsdb.open_catalog(again).compute()
    assert (pd_again["diaObjectForcedSource"].nest.to_flat()["psfFlux"].to_numpy()
            == df["diaObjectForcedSource"].nest.to_flat()["psfFlux"].to_numpy()).all()  # same seed: same catalog
