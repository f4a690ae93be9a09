"""Accelerator settings: mixed precision and XLA only on a GPU (the GPU test skips without one)."""
from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from lia_dask.cnn import CNNClassifier, CNNConfig  # noqa: E402
from lia_dask.cnn.train import accelerator_settings, gpu_available  # noqa: E402


def test_auto_acceleration_follows_the_device():
    gpu = gpu_available()
    assert accelerator_settings(CNNConfig()) == (gpu, gpu)
    assert accelerator_settings(CNNConfig(mixed_precision=False, jit_compile=True)) == (False, True)


@pytest.mark.skipif(not gpu_available(), reason="needs a GPU visible to TensorFlow")
def test_gpu_training_uses_mixed_precision_and_xla(easy_images, tiny, tmp_path):
    x, y = easy_images(128, size=16, seed=7)
    clf = CNNClassifier(CNNConfig(epochs=3, **tiny)).fit(x, y)
    assert clf.accelerator_ == {"device": "GPU", "mixed_precision": True, "jit_compile": True}
    assert any(layer.dtype_policy.compute_dtype == "float16" for layer in clf.model_.layers)
    assert clf.model_.layers[-1].dtype_policy.compute_dtype == "float32"  # float32 sigmoid output
    p = clf.predict_positive(x)
    assert p.dtype == np.float64 and np.isfinite(p).all()
    assert np.mean((p >= 0.5) == (y == "LENS")) > 0.9
    clf.save(tmp_path / "m")
    np.testing.assert_allclose(CNNClassifier.load(tmp_path / "m").predict_positive(x), p, atol=1e-3)
