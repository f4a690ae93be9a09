import numpy as np
import pytest

from lia_dask.archive import ingest_fits, ingest_npy, open_cutouts, write_cutouts
from lia_dask.errors import ArchiveError, InputError, MissingInputError


def test_write_and_open_store_layout(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.normal(size=(10, 8, 8, 2)).astype("float32")
    s = write_cutouts(tmp_path / "s", imgs, np.arange(10) + 100, label=["lens"] * 5 + ["other"] * 5,
                      bands=["g", "r"], pixel_scale=0.2, chunk=4)
    s = open_cutouts(tmp_path / "s")
    assert s.n_images == 10 and s.image_shape == (8, 8, 2) and s.bands == ["g", "r"] and s.pixel_scale == 0.2
    assert s.zarr_images.chunks == (4, 8, 8, 2) and s.images.chunks[0] == (4, 4, 2)
    np.testing.assert_array_equal(s.images.compute(), imgs)
    assert list(s.object_id) == list(range(100, 110)) and s.label[6] == "other"


def test_npy_ingest_quarantines_nan_pixels(tmp_path, local_client):
    rng = np.random.default_rng(1)
    imgs = rng.normal(size=(12, 6, 6, 1)).astype("float32")
    imgs[3, 2, 2, 0] = np.nan
    imgs[7, :, :, 0] = np.inf
    np.save(tmp_path / "c.npy", imgs)
    labels = np.array([i % 2 for i in range(12)])
    np.save(tmp_path / "l.npy", labels)
    s = ingest_npy(tmp_path / "c.npy", tmp_path / "s", label=tmp_path / "l.npy", chunk=5, client=local_client)
    assert s.n_images == 10
    q = s.quarantine()
    assert list(q["object_id"]) == ["3", "7"] and q["reason"].str.contains("NaN or infinite pixels").all()
    keep = [i for i in range(12) if i not in (3, 7)]
    np.testing.assert_array_equal(s.images.compute(), imgs[keep])
    assert list(s.object_id) == keep and list(s.label) == [str(labels[i]) for i in keep]


def test_npy_ingest_errors(tmp_path):
    with pytest.raises(MissingInputError):
        ingest_npy(tmp_path / "none.npy", tmp_path / "s")
    np.save(tmp_path / "bad.npy", np.zeros((3, 4)))
    with pytest.raises(InputError, match=r"shape \(N, H, W, C\)"):
        ingest_npy(tmp_path / "bad.npy", tmp_path / "s")
    np.save(tmp_path / "ok.npy", np.zeros((3, 4, 4, 1)))
    with pytest.raises(InputError, match="3 entries"):
        ingest_npy(tmp_path / "ok.npy", tmp_path / "s", object_id=[1, 2])


def test_fits_directory_ingest_labels_and_mismatched_shapes(tmp_path):
    from astropy.io import fits

    rng = np.random.default_rng(2)
    for cls in ("lens", "nonlens"):
        for i in range(4):
            (tmp_path / "in" / cls).mkdir(parents=True, exist_ok=True)
            fits.PrimaryHDU(rng.normal(size=(2, 10, 10)).astype("float32")).writeto(tmp_path / "in" / cls / f"{cls}{i}.fits")
    fits.PrimaryHDU(np.zeros((2, 12, 12), "float32")).writeto(tmp_path / "in" / "lens" / "big.fits")
    nan = np.zeros((2, 10, 10), "float32")
    nan[0, 0, 0] = np.nan
    fits.PrimaryHDU(nan).writeto(tmp_path / "in" / "nonlens" / "hole.fits")
    (tmp_path / "in" / "lens" / "broken.fits").write_bytes(b"not a fits file")
    s = ingest_fits(tmp_path / "in", tmp_path / "s", bands=["g", "r"], chunk=3)
    assert s.n_images == 8 and s.image_shape == (10, 10, 2)
    q = s.quarantine().set_index("object_id")["reason"]
    assert set(q.index) == {"big", "hole", "broken"}
    assert "differs" in q["big"] and "NaN" in q["hole"] and "unreadable" in q["broken"]
    assert sorted(set(s.label)) == ["lens", "nonlens"]
    lens0 = fits.getdata(tmp_path / "in" / "lens" / "lens0.fits")
    i = list(s.object_id).index("lens0")
    np.testing.assert_array_equal(s.images[i].compute(), np.moveaxis(lens0, 0, -1))


def test_open_cutouts_errors(tmp_path):
    with pytest.raises(MissingInputError):
        open_cutouts(tmp_path / "none")
    import zarr

    zarr.open_group(str(tmp_path / "g"), mode="w")
    with pytest.raises(ArchiveError, match="images"):
        open_cutouts(tmp_path / "g")
