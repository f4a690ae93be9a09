"""Small data and one tiny trained lens model shared by the CNN tests."""
from __future__ import annotations

import numpy as np
import pytest


def _easy_images(n: int = 48, size: int = 16, bands: int = 2, seed: int = 0):
    """Separable set: positives carry a bright central blob, negatives are noise only."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, size, size, bands)).astype(np.float32)
    y = np.where(np.arange(n) % 2 == 0, "LENS", "NONLENS")
    rr, cc = np.mgrid[:size, :size]
    blob = 6 * np.exp(-((rr - size / 2) ** 2 + (cc - size / 2) ** 2) / 8.0)
    x[y == "LENS"] += blob[None, ..., None].astype(np.float32)
    return x, y


_TINY_RESNET = dict(architecture="resnet", model_params=dict(width=0.25, stages=2, units_per_stage=1),
                   batch_size=16, learning_rate=3e-3)


@pytest.fixture(scope="session")
def tiny_lens_model(tmp_path_factory):
    """(store, artifact dir, classifier): a 2-epoch tiny ResNet on 64 simulated 20x20 cutouts."""
    pytest.importorskip("tensorflow")
    from lia_dask.cnn import CNNClassifier, CNNConfig, LensSimConfig, simulate_lens_store

    root = tmp_path_factory.mktemp("cnn_model")
    store = simulate_lens_store(root / "store", 64, LensSimConfig(image_size=20), seed=3, chunk=16)
    clf = CNNClassifier(CNNConfig(epochs=2, image_size=16, **_TINY_RESNET)).fit(store)
    clf.save(root / "model")
    return store, root / "model", clf


@pytest.fixture(scope="session")
def easy_images():
    """The separable-set generator ``easy_images(n, size, bands, seed) -> (x, y)``."""
    return _easy_images


@pytest.fixture(scope="session")
def tiny():
    """Keyword arguments of CNNConfig for a test-sized ResNet."""
    return dict(_TINY_RESNET)
