"""Real (tiny) TensorFlow trainings: loss, streaming vs memory, artifacts, schedules, metrics."""
from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from lia_dask.archive import write_cutouts  # noqa: E402
from lia_dask.cnn import AugmentConfig, CNNClassifier, CNNConfig, fit_normalization, normalize  # noqa: E402
from lia_dask.cnn.data import ArraySource, StreamSpec, Normalization, image_dataset  # noqa: E402
from lia_dask.cnn.metrics import epoch_metrics, f1_metric, learning_rate_at, rank_auc, weighted_bce  # noqa: E402
from lia_dask.cnn.models import build_model  # noqa: E402
from lia_dask.errors import ArtifactError, InputError  # noqa: E402



def test_normalization_per_band_clipped_nan_safe():
    x = np.array([[[[0.0, 10.0], [5.0, np.nan]], [[20.0, -1.0], [np.inf, 30.0]]]], np.float32)
    out = normalize(x, [0.0, 0.0], [10.0, 20.0])
    np.testing.assert_allclose(out[0, ..., 0], [[0.0, 0.5], [1.0, 0.0]])
    np.testing.assert_allclose(out[0, ..., 1], [[0.5, 0.0], [0.0, 1.0]])
    with pytest.raises(InputError, match="max_pixel must exceed"):
        Normalization([1.0], [1.0])
    src = ArraySource(np.random.default_rng(0).uniform(0, 100, (50, 4, 4, 2)).astype(np.float32), chunk=8)
    n = fit_normalization(src, low=0, high=100)
    assert n.min_pixel[0] >= 0 and n.max_pixel[1] <= 100 and n.max_pixel[0] > 95


def test_asinh_stretch_keeps_faint_contrast_and_round_trips():
    rng = np.random.default_rng(1)
    sky = rng.normal(0, 10.0, (40, 8, 8, 2)).astype(np.float32)  # sky noise sigma 10 counts
    sky[:, 4, 4] += 5000.0  # bright cores
    n = fit_normalization(ArraySource(sky, chunk=8), stretch="asinh")
    assert n.stretch == "asinh" and all(8.0 < a < 12.0 for a in n.softening)
    lin = fit_normalization(ArraySource(sky, chunk=8))
    faint = np.zeros((1, 2, 2, 2), np.float32)
    faint[0, 1] = 20.0  # a 2-sigma arc pixel next to a blank one
    gain = lambda norm: float(np.diff(norm(faint)[0, :, 0, 0])[0])  # noqa: E731
    assert gain(n) > 3 * gain(lin) > 0
    assert Normalization(**n.to_dict()) == n and n(sky).min() >= 0 and n(sky).max() <= 1
    with pytest.raises(InputError, match="stretch"):
        Normalization([0.0], [1.0], stretch="log")
    with pytest.raises(InputError, match="stretch"):
        CNNConfig(stretch="sqrt")


def test_learning_rate_schedules():
    assert learning_rate_at(0, 1.0, drop_every=3, drop_factor=0.5) == 1.0
    assert learning_rate_at(3, 1.0, drop_every=3, drop_factor=0.5) == 0.5
    assert learning_rate_at(7, 1.0, drop_every=3, drop_factor=0.5) == 0.25
    assert [learning_rate_at(e, 1.0, warmup_epochs=4) for e in range(5)] == [0.25, 0.5, 0.75, 1.0, 1.0]
    assert learning_rate_at(2, 1.0, decay=0.5) == 0.5


def test_weighted_bce_and_f1_match_formulas():
    from sklearn.metrics import f1_score

    y = np.array([1, 0, 1, 1, 0], np.float32)
    p = np.array([0.9, 0.2, 0.4, 0.7, 0.6], np.float32)
    want = -np.mean(3.0 * y * np.log(p) + (1 - y) * np.log(1 - p))
    assert float(weighted_bce(3.0)(y, p)) == pytest.approx(want, rel=1e-5)
    m = f1_metric()
    m.update_state(y, p)
    assert float(m.result()) == pytest.approx(f1_score(y, p >= 0.5), rel=1e-6)


def test_epoch_metrics_match_sklearn_and_the_loss():
    from sklearn.metrics import f1_score, roc_auc_score

    rng = np.random.default_rng(4)
    y = (rng.random(300) < 0.3).astype(np.float32)
    p = np.clip(0.3 * y + rng.random(300) * 0.7, 0, 1)
    p[:40] = np.round(p[:40], 1)  # ties across classes count one half
    m = epoch_metrics(y, p, pos_weight=2.5)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["f1"] == pytest.approx(f1_score(y, p >= 0.5), abs=1e-12)
    assert m["binary_accuracy"] == pytest.approx(np.mean((p > 0.5) == (y == 1)), abs=1e-12)
    assert m["loss"] == pytest.approx(float(weighted_bce(2.5)(y, p.astype(np.float32))), rel=1e-5)
    assert np.isnan(rank_auc(np.zeros(5), np.arange(5.0)))
    assert rank_auc([0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8]) == 1.0 and rank_auc([1, 0], [0.5, 0.5]) == 0.5


def test_binned_auc_metric_is_the_rank_auc_to_the_bin_width():
    from lia_dask.cnn.metrics import binned_auc, default_metrics

    rng = np.random.default_rng(5)
    y = (rng.random(2000) < 0.5).astype(np.float32)
    p = np.clip(rng.normal(0.4 + 0.2 * y, 0.15), 0, 1).astype(np.float32)
    auc = default_metrics()[2]
    for s in range(0, 2000, 128):  # accumulated over batches, like a training epoch
        auc.update_state(y[s:s + 128], p[s:s + 128])
    assert auc.name == "auc" and float(auc.result()) == pytest.approx(rank_auc(y, p), abs=2e-3)
    counts = np.asarray(auc.counts)
    assert counts.sum() == 2000 and float(auc.result()) == pytest.approx(binned_auc(counts[:1000], counts[1000:]), abs=1e-6)
    auc.reset_state()
    assert float(np.asarray(auc.counts).sum()) == 0.0


def test_fused_batch_norm_matches_keras_batch_normalization():
    from lia_dask.cnn._tf import keras
    from lia_dask.cnn.models import batch_norm

    x = np.random.default_rng(6).normal(2.0, 3.0, (16, 5, 5, 4)).astype(np.float32)
    ours, ref = batch_norm(0.9), keras().layers.BatchNormalization(momentum=0.9)
    a, b = np.asarray(ours(x, training=True)), np.asarray(ref(x, training=True))
    assert np.allclose(a, b, atol=1e-4) and abs(a.mean()) < 1e-4  # normalised by the batch's statistics
    assert np.allclose(np.asarray(ours.moving_mean), np.asarray(ref.moving_mean), atol=1e-5)
    n = x.size / x.shape[-1]  # TensorFlow's kernel moves the running variance by the unbiased batch variance
    assert np.allclose(np.asarray(ours.moving_variance), 0.9 + 0.1 * x.var(axis=(0, 1, 2)) * n / (n - 1), rtol=1e-4)
    inf = np.asarray(ours(x, training=False))  # inference: the running statistics
    want = (x - np.asarray(ours.moving_mean)) / np.sqrt(np.asarray(ours.moving_variance) + 1e-3)
    assert np.allclose(inf, want, atol=1e-4)
    seq = np.asarray(batch_norm()(x[:, 0], training=True))  # (N, L, C) series
    assert seq.shape == (16, 5, 4) and abs(seq.mean()) < 1e-4


@pytest.mark.parametrize("arch,shape,params", [
    ("alexnet", (32, 32, 3), dict(width=1 / 32)),
    ("vgg16", (32, 32, 3), dict(width=1 / 32)),
    ("resnet", (24, 24, 1), dict(width=0.25)),
    ("cnn1d", (64, 2), dict(width=0.5)),
])
def test_architectures_build_and_output_a_probability(arch, shape, params):
    m = build_model(arch, shape, **params)
    out = np.asarray(m(np.random.default_rng(0).normal(size=(3, *shape)).astype(np.float32)))
    assert out.shape == (3, 1) and np.all((out > 0) & (out < 1))
    if arch == "vgg16":  # sized to the input: 32 px -> 4 pooling blocks, a 2 x 2 last map
        assert sum(type(l).__name__ == "MaxPooling2D" for l in m.layers) == 4
    if arch == "resnet":
        assert type(m.layers[2]).__name__ == "ELU" and type(m.layers[3]).__name__ == "FusedBatchNorm"
        assert sum(type(l).__name__ == "Add" for l in m.layers) == 6


def test_loss_decreases_on_an_easy_separable_set(easy_images, tiny):
    x, y = easy_images(48)
    clf = CNNClassifier(CNNConfig(epochs=4, **tiny)).fit(x, y)
    loss = clf.history_["loss"]
    assert loss[-1] < loss[0]
    p = clf.predict_proba(x)
    assert p.shape == (48, 2) and np.allclose(p.sum(axis=1), 1.0) and clf.classes_ == ["NONLENS", "LENS"]
    assert set(clf.history_) >= {"binary_accuracy", "f1", "auc", "loss"}


def test_streaming_from_zarr_matches_in_memory(tmp_path, easy_images, tiny):
    x, y = easy_images(40, seed=1)
    store = write_cutouts(tmp_path / "s", x, np.arange(40), y, bands=["g", "r"], chunk=8)
    cfg = CNNConfig(epochs=2, image_size=12, chunk=8, validation_fraction=0.25,
                    augment=AugmentConfig(horizontal_flip=True, width_shift=1, rotation=10), **tiny)
    a = CNNClassifier(cfg).fit(x, y)
    b = CNNClassifier(cfg).fit(store)
    assert a.norm_ == b.norm_
    np.testing.assert_allclose(a.history_["loss"], b.history_["loss"], rtol=1e-4)
    np.testing.assert_allclose(a.predict_proba(x), b.predict_proba(store), atol=1e-4)
    np.testing.assert_allclose(b.predict_proba(x), b.predict_proba(store), atol=1e-6)


def test_stream_reads_whole_chunks_and_is_seeded(easy_images, tiny):
    class Counting(ArraySource):
        reads: list = []

        def read(self, start, stop):
            Counting.reads.append(stop - start)
            return super().read(start, stop)

    x, _ = easy_images(40)
    src = Counting(x, chunk=8)
    spec = StreamSpec(np.arange(40), Normalization([0, 0], [1, 1]), None, shuffle=True, seed=4)
    first = np.concatenate([b[0].numpy() for b in image_dataset(src, spec, batch_size=16)])
    assert max(Counting.reads) == 8 and len(Counting.reads) == 5  # one read per chunk, never the whole array
    again = np.concatenate([b[0].numpy() for b in image_dataset(src, spec, batch_size=16)])
    np.testing.assert_array_equal(first, again)
    order = [int(np.argmin([np.abs(normalize(x[i], [0, 0], [1, 1]) - f).sum() for i in range(40)])) for f in first]
    assert sorted(order) == list(range(40)) and order != list(range(40))
    # augmented: one seeded draw per batch and per epoch; labels travel with their images
    y = np.arange(40, dtype=np.float32)
    aug = StreamSpec(np.arange(40), Normalization([0, 0], [1, 1]), 12, AugmentConfig(horizontal_flip=True, width_shift=2),
                     shuffle=True, seed=1, repeat=True, cache=True)
    ds = image_dataset(ArraySource(x, chunk=8), aug, y, batch_size=8)
    ep = [(b[0].numpy(), b[1].numpy()) for b in ds.take(10)]
    assert ep[0][0].shape == (8, 12, 12, 2)
    assert sorted(np.concatenate([e[1] for e in ep[:5]]).tolist()) == list(range(40))
    xs = normalize(x, [0, 0], [1, 1])
    for imgs, labs in ep[:2]:
        for im, k in zip(imgs, labs.astype(int)):
            ref = xs[k]
            cands = [np.roll(r, d, axis=1)[2:14, 2:14] for r in (ref, ref[:, ::-1]) for d in range(-2, 3)]
            assert min(np.abs(c - im)[:, 2:10].max() for c in cands) < 1e-5
    again = [(b[0].numpy(), b[1].numpy()) for b in image_dataset(ArraySource(x, chunk=8), aug, y, batch_size=8).take(10)]
    assert all(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) for a, b in zip(ep, again))


def test_artifact_loads_in_a_fresh_process(tiny_lens_model, tmp_path):
    """The custom layers (fused batch norm) are registered by ``load`` itself, as on a new Dask worker."""
    import subprocess
    import sys
    from pathlib import Path

    store, path, clf = tiny_lens_model
    root = Path(__file__).resolve().parents[2]
    code = (f"import numpy as np; from lia_dask.cnn import CNNClassifier; "
            f"np.save({str(tmp_path / 'p.npy')!r}, CNNClassifier.load({str(path)!r}).predict_positive({str(store.path)!r}))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, cwd=root,
                   env={**__import__("os").environ, "PYTHONPATH": str(root)})
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), clf.predict_positive(store), atol=1e-6)


def test_artifact_round_trip_gives_identical_predictions(tiny_lens_model, tmp_path):
    from lia_dask import artifact

    store, path, clf = tiny_lens_model
    loaded = CNNClassifier.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(store), clf.predict_proba(store))
    assert loaded.digest_ == clf.digest_ == artifact.digest(path)
    m = json.loads((path / "manifest.json").read_text())
    assert m["kind"] == "cnn" and m["classes"] == ["NONLENS", "LENS"]
    assert m["settings"]["bands"] == ["g", "r", "i"] and m["settings"]["image_size"] == 16
    assert len(m["settings"]["normalization"]["min_pixel"]) == 3
    assert isinstance(artifact.load(path), CNNClassifier)
    zp = artifact.zip_artifact(path, tmp_path / "m.zip")
    np.testing.assert_array_equal(CNNClassifier.load(zp).predict_proba(store), clf.predict_proba(store))
    # a changed manifest field is refused
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(path, bad)
    m["settings"]["image_size"] = 12
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(ArtifactError):
        CNNClassifier.load(bad)


def test_early_stopping_and_balanced_sampling(easy_images, tiny):
    x, y = easy_images(32, seed=2)
    cfg = CNNConfig(epochs=8, patience=1, monitor="loss", min_delta=10.0, balance="sample", **tiny)
    clf = CNNClassifier(cfg).fit(x, y)
    assert len(clf.history_["loss"]) == 2  # no epoch improves by 10: stops after patience + 1
    assert clf.pos_weight_ == 1.0
    from lia_dask.cnn.data import balanced_dataset

    y01 = (y == "LENS").astype(np.float32)
    ds = balanced_dataset(ArraySource(x), StreamSpec(np.arange(32), Normalization([0, 0], [1, 1]), None, seed=0),
                          y01, 16)
    frac = np.mean([np.asarray(b[1]).mean() for b in ds.take(30)])
    assert 0.4 < frac < 0.6


def test_label_errors(easy_images, tiny):
    x, y = easy_images(8)
    with pytest.raises(InputError, match="positive class"):
        CNNClassifier(CNNConfig(epochs=1)).fit(x, np.where(y == "LENS", "A", "B"))
    with pytest.raises(InputError, match="not fitted"):
        CNNClassifier().predict_proba(x)


def test_1d_cnn_on_flux_series():
    from lia_dask.cnn import simulate_series
    from lia_dask.cnn.series import prepare_series, series_dataset
    from lia_dask.cnn.simulate_series import SeriesSimConfig

    flux, lab, _ = simulate_series(64, SeriesSimConfig(length=128, depth=(0.02, 0.04)), seed=0)
    x = prepare_series(flux, smooth=5)
    assert x.shape == (64, 128, 2)
    from scipy.ndimage import uniform_filter1d

    np.testing.assert_allclose(x[..., 1], uniform_filter1d(x[..., 0], 5, axis=1, mode="wrap"), atol=1e-5)
    y01 = (lab == "TRANSIT").astype(np.float32)
    shifted = next(iter(series_dataset(x[:4], y01[:4], batch_size=4, shift=True, seed=1)))[0].numpy()
    for s, orig in zip(shifted, x[:4]):  # each is a circular shift of its input, both channels alike
        assert any(np.array_equal(s, np.roll(orig, k, axis=0)) for k in range(128))
    clf = CNNClassifier(CNNConfig(architecture="cnn1d", model_params=dict(width=0.5, blocks=3), epochs=3,
                                  batch_size=16, balance="sample", smooth=5, learning_rate=3e-3)).fit(flux, lab)
    assert clf.classes_ == ["NONTRANSIT", "TRANSIT"] and clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert clf.predict_proba(flux).shape == (64, 2)


@pytest.mark.slow
def test_resnet_finds_simulated_lenses(tmp_path):
    """A small DeepLens-style ResNet separates simulated lenses (AUC > 0.9 on 400 held-out cutouts)."""
    from sklearn.metrics import roc_auc_score

    from lia_dask.cnn import LensSimConfig, simulate_lens_store

    sim = LensSimConfig(image_size=32)
    train = simulate_lens_store(tmp_path / "train", 1200, sim, seed=11, chunk=200)
    test = simulate_lens_store(tmp_path / "test", 400, sim, seed=12, chunk=200)
    cfg = CNNConfig(architecture="resnet", model_params=dict(width=0.25, stages=3, units_per_stage=1), epochs=6,
                    image_size=28, batch_size=32, learning_rate=2e-3, validation_fraction=0.1,
                    augment=AugmentConfig(horizontal_flip=True, vertical_flip=True))
    clf = CNNClassifier(cfg).fit(train)
    p = clf.predict_positive(test)
    assert roc_auc_score(test.label.astype(str) == "LENS", p) > 0.9


def test_fused_adam_takes_the_steps_of_keras_adam():
    from lia_dask.cnn._tf import keras
    from lia_dask.cnn.metrics import make_optimizer

    K = keras()
    rng = np.random.default_rng(2)
    w0 = [rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=(5,)).astype(np.float32)]
    grads = [[rng.normal(size=w.shape).astype(np.float32) for w in w0] for _ in range(3)]
    got = {}
    for name in ("keras", "fused"):
        opt = K.optimizers.Adam(1e-2) if name == "keras" else make_optimizer("adam", 1e-2)
        ws = [K.Variable(w) for w in w0]
        opt.build(ws)
        for g in grads:  # three steps: bias corrections with t = 1, 2, 3
            opt.apply_gradients(zip(g, ws))
        got[name] = [w.numpy() for w in ws]
    assert type(opt).__name__ == "FusedAdam"
    # NumPy reference (Kingma & Ba 2015, epsilon added to sqrt(v), Keras' defaults)
    ref = []
    for j, w in enumerate(w0):
        w, m, v = w.astype(np.float64), 0.0, 0.0
        for t, g in enumerate(grads, start=1):
            g = g[j]
            m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g**2
            w = w - 1e-2 * np.sqrt(1 - 0.999**t) / (1 - 0.9**t) * m / (np.sqrt(v) + 1e-7)
        ref.append(w)
    for a, b, r, w in zip(got["keras"], got["fused"], ref, w0):
        assert np.abs(a - w).max() > 1e-2  # the steps moved the variables
        np.testing.assert_allclose(b, a, atol=1e-6)
        np.testing.assert_allclose(b, r, atol=1e-6)
