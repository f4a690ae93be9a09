"""Challenge metrics, positive-class metrics, plots and ``lia-dask cnn evaluate``."""
from __future__ import annotations

import json

import numpy as np
import pytest

from lia_dask.cnn.evaluate import (challenge_metrics, plot_pr, plot_roc, positive_class_metrics, tpr_at_fpr,
                                   tpr_below_fp)
from lia_dask.errors import InputError


def _scores():
    neg = np.linspace(0.0, 0.9, 20)
    pos = np.array([0.95, 0.92, 0.5, 0.3])
    return np.r_[np.ones(4), np.zeros(20)], np.r_[pos, neg]


def test_tpr0_tpr10_and_tpr_at_fpr_by_hand():
    y, p = _scores()
    assert tpr_below_fp(y, p, 1) == 0.5  # two lenses above the highest non-lens (0.9)
    assert tpr_below_fp(y, p, 10) == 0.75  # 10th highest non-lens is 0.474: three lenses above
    assert tpr_at_fpr(y, p, 0.01) == 0.5  # 1 % of 20 allows no false positive
    assert tpr_at_fpr(y, p, 0.10) == 0.5  # two false positives allowed: threshold above 0.805
    m = challenge_metrics(y, p)
    assert m["tpr0"] == 0.5 and m["tpr10"] == 0.75 and m["n_positive"] == 4 and m["n_negative"] == 20
    assert m["auroc"] == pytest.approx(np.mean([(pp > neg).mean() for pp in p[:4] for neg in [p[4:]]]))
    # a lens tied with the top non-lens is not counted as found
    assert tpr_below_fp([1, 0, 0], [0.9, 0.9, 0.1], 1) == 0.0
    assert tpr_below_fp([1, 0], [0.2, 0.1], 10) == 1.0  # fewer than 10 non-lenses: every threshold qualifies


def test_positive_class_metrics_and_bad_input():
    y = np.r_[np.ones(5), np.zeros(565)]
    p = np.r_[[0.9, 0.8, 0.7, 0.2, 0.1], np.full(560, 0.05), [0.95, 0.6, 0.6, 0.6, 0.6]]
    m = positive_class_metrics(y, p, 0.5)
    assert m["recall"] == pytest.approx(3 / 5) and m["precision"] == pytest.approx(3 / 8)
    assert 0 < m["average_precision"] < 1 and m["best_f1"] >= m["f1"]
    assert len(m["pr_curve"]["precision"]) == len(m["pr_curve"]["recall"])
    with pytest.raises(InputError, match="both classes"):
        challenge_metrics(np.zeros(4), np.arange(4.0))
    with pytest.raises(InputError, match="NaN"):
        challenge_metrics([1, 0], [np.nan, 0.1])


def test_plots_are_written(tmp_path):
    y, p = _scores()
    assert plot_roc({"a": (y, p), "b": (y, p[::-1])}, tmp_path / "roc.png").stat().st_size > 5000
    assert plot_pr({"a": (y, p)}, tmp_path / "pr.png").stat().st_size > 5000


def test_cli_evaluate_writes_metrics_and_roc(tiny_lens_model, tmp_path, capsys):
    from lia_dask.cli import main

    store, model, clf = tiny_lens_model
    assert main(["cnn", "evaluate", str(store.path), "--model", str(model), "--out", str(tmp_path / "ev")]) == 0
    res = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    y = np.asarray(store.label).astype(str) == "LENS"
    ref = challenge_metrics(y, clf.predict_positive(store))
    for k in ("auroc", "tpr0", "tpr10", "tpr_at_fpr_1pct"):
        assert res[k] == pytest.approx(ref[k])
    assert (tmp_path / "ev" / "roc.png").stat().st_size > 5000
    assert res["model_digest"] == clf.digest_ or res["model_digest"]


def test_breakdown_names_the_missed_lenses_and_the_fooling_kinds():
    import pandas as pd

    from lia_dask.cnn.evaluate import breakdown, score_threshold_at_fpr

    rng = np.random.default_rng(0)
    n = 400
    y = np.arange(n) < 200
    te = np.where(y, rng.uniform(0.5, 2.0, n), np.nan)
    kind = np.where(y, "lens", np.where(np.arange(n) % 2, "spiral", "elliptical"))
    # big lenses and spirals score high, small lenses and ellipticals low
    p = np.where(y, (te > 1.0) * 0.9 + 0.001 * rng.random(n), np.where(kind == "spiral", 0.5, 0.2) + 0.01 * rng.random(n))
    t = pd.DataFrame({"theta_e": te, "kind": kind})
    b = breakdown(t, y, p, fpr=0.5)
    cut = score_threshold_at_fpr(y, p, 0.5)
    assert (p[~y] > cut).sum() <= 100
    te_rows = b[b.group == "theta_e"].set_index("bin")
    assert te_rows.loc["0.5-0.7", "tpr"] == 0.0 and te_rows.loc["1.4-2", "tpr"] == 1.0
    kinds = b[b.group == "kind"].set_index("bin")
    assert kinds.loc["elliptical", "fpr"] == 0.0 and kinds.loc["spiral", "share_of_fp"] == 1.0
    assert kinds.n.sum() == 200 and te_rows.n.sum() == 200
