"""The augmentation x learning-rate study (grid and Optuna) and its CLI."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("tensorflow")

from lia_dask.archive import write_cutouts  # noqa: E402
from lia_dask.cnn.metrics import learning_rate_at  # noqa: E402


def test_cosine_and_constant_schedules():
    lr = [learning_rate_at(e, 1.0, schedule="cosine", warmup_epochs=1, total_epochs=5, min_factor=0.0) for e in range(5)]
    np.testing.assert_allclose(lr, [1.0, 1.0, 0.5 + 0.5 * np.cos(np.pi / 3), 0.5 + 0.5 * np.cos(2 * np.pi / 3), 0.0],
                               atol=1e-12)
    assert [learning_rate_at(e, 2.0, drop_every=2, schedule="constant") for e in range(4)] == [2.0] * 4
    assert [learning_rate_at(e, 2.0, drop_every=2) for e in range(4)] == [2.0, 2.0, 1.0, 1.0]


def test_study_grid_cli_writes_table_curves_and_scores(easy_images, tmp_path):
    from lia_dask.cli import main

    x, y = easy_images(48, size=16, seed=3)
    vx, vy = easy_images(24, size=16, seed=4)
    write_cutouts(tmp_path / "tr", x, np.arange(48), y, bands=["g", "r"], chunk=16)
    write_cutouts(tmp_path / "va", vx, np.arange(24), vy, bands=["g", "r"], chunk=16)
    rc = main(["cnn", "study", str(tmp_path / "tr"), "--val", str(tmp_path / "va"), "--out", str(tmp_path / "st"),
               "--width", "0.25", "--stages", "1", "--units", "1", "--epochs", "2", "--batch-size", "16", "--augment", "none,mild",
               "--schedules", "cosine"])
    assert rc == 0
    table = pd.read_csv(tmp_path / "st" / "study.csv")
    assert sorted(table.run) == ["mild+cosine", "none+cosine"]
    assert table.epochs.eq(2).all() and table.auroc.between(0, 1).all()
    assert {"tpr0", "tpr10", "tpr_at_fpr_1pct", "best_val_auc"} <= set(table.columns)
    hist = json.loads((tmp_path / "st" / "history.json").read_text())
    assert all(len(h["val_auc"]) == 2 and len(h["loss"]) == 2 for h in hist.values())
    assert (tmp_path / "st" / "curves.png").stat().st_size > 10000
    # the separable set is learnt by every run
    assert table.auroc.max() > 0.9


def test_study_optuna_search(easy_images):
    from lia_dask.cnn import CNNConfig
    from lia_dask.cnn.study import StudyConfig, run_study

    x, y = easy_images(32, size=16, seed=5)
    vx, vy = easy_images(16, size=16, seed=6)
    base = CNNConfig(architecture="resnet", model_params=dict(width=0.25, stages=1, units_per_stage=1), epochs=1,
                     batch_size=16)
    table, hist = run_study(x, vx, base, StudyConfig(search="optuna", n_trials=2),
                             validation_labels=vy, train_labels=y)
    assert len(table) == 2 and set(hist) == set(table.run) and table.schedule.isin(["constant", "step", "cosine"]).all()
